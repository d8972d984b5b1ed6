// Pages on the "machines" of e2e/net/topology.ts: a Chromium per machine (services.ts), a page of
// the webray server in it with webray imported as `globalThis.ray`, every RTCPeerConnection it
// makes observed, and what each connection's ICE chose (getStats).
import type { Browser, Page } from '@playwright/test';
import type * as RayModule from '../../runtime/index.ts';
import type { NodeHandle } from '../../runtime/index.ts';
import { launchChromiumOn, type WebrayServerInNs } from './services.ts';
import type { Machine } from './topology.ts';
// fixtures.ts declares the page global `ray`.
import type {} from '../fixtures.ts';

type Ray = typeof RayModule;

declare global {
  // Every RTCPeerConnection the page made (installed by an init script: observation only).
  var e2ePeerConnections: RTCPeerConnection[];
  // The volunteer page's membership.
  var e2eNode: NodeHandle | undefined;
}

export interface CandidateInfo {
  type: string;
  address: string | undefined;
  protocol: string;
}

export interface PeerInfo {
  connectionState: RTCPeerConnectionState;
  /** The configuration the page gave the connection (its ICE servers' URLs and transport policy). */
  config: { urls: string[]; iceTransportPolicy: string };
  selected?: { state: string; nominated: boolean; bytesSent: number; bytesReceived: number; local: CandidateInfo; remote: CandidateInfo };
  /** The `a=candidate` lines of the local description: what this side told the other. */
  sdpCandidates: string[];
}

/** Records every RTCPeerConnection the page creates (simple-peer calls the global constructor). */
function observePeerConnections(): void {
  const seen: RTCPeerConnection[] = [];
  globalThis.e2ePeerConnections = seen;
  const Native = globalThis.RTCPeerConnection;
  globalThis.RTCPeerConnection = class extends Native {
    constructor(...args: ConstructorParameters<typeof RTCPeerConnection>) {
      super(...args);
      seen.push(this);
    }
  };
}

/**
 * A browser on `machine` (kept in `browsers`, for the spec to close), a page of `server` at
 * `path`, webray imported as `globalThis.ray`; page errors collected in `errors`.
 */
export async function openOn(machine: Machine, server: WebrayServerInNs, path: string, browsers: Browser[]): Promise<{ page: Page; errors: string[] }> {
  // Over HTTPS the pages are secure contexts by themselves (the test's self-signed certificate
  // accepted); plain http off loopback needs the flag that treats both origins as secure.
  const browser = await launchChromiumOn(machine, server.tls ? { args: ['--ignore-certificate-errors'] } : { secureOrigins: [server.url, server.taskUrl] });
  browsers.push(browser);
  const context = await browser.newContext();
  await context.addInitScript(observePeerConnections);
  const page = await context.newPage();
  await page.goto(server.url + path);
  await page.evaluate(async () => {
    const url = '/webray.js';
    globalThis.ray = (await import(url)) as Ray;
  });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  return { page, errors };
}

/** Each peer connection's state, configuration, selected candidate pair (getStats) and the candidates it announced. */
export function peerInfo(page: Page): Promise<PeerInfo[]> {
  return page.evaluate(async () => {
    const out: PeerInfo[] = [];
    for (const pc of globalThis.e2ePeerConnections) {
      const stats = await pc.getStats();
      const byId = (id: unknown) => (typeof id === 'string' ? (stats.get(id) as Record<string, unknown> | undefined) : undefined);
      const candidate = (id: unknown): CandidateInfo => {
        const c = byId(id) ?? {};
        return { type: String(c['candidateType']), address: (c['address'] ?? c['ip']) as string | undefined, protocol: String(c['protocol']) };
      };
      let pairId: unknown;
      stats.forEach((s: Record<string, unknown>) => {
        if (s['type'] === 'transport' && s['selectedCandidatePairId']) pairId = s['selectedCandidatePairId'];
      });
      const pair = byId(pairId);
      const config = pc.getConfiguration();
      out.push({
        connectionState: pc.connectionState,
        config: {
          urls: (config.iceServers ?? []).flatMap((s) => (typeof s.urls === 'string' ? [s.urls] : s.urls)),
          iceTransportPolicy: String(config.iceTransportPolicy),
        },
        sdpCandidates: (pc.localDescription?.sdp ?? '').split(/\r?\n/).filter((l) => l.startsWith('a=candidate:')),
        ...(pair && {
          selected: {
            state: String(pair['state']),
            nominated: pair['nominated'] === true,
            bytesSent: Number(pair['bytesSent']),
            bytesReceived: Number(pair['bytesReceived']),
            local: candidate(pair['localCandidateId']),
            remote: candidate(pair['remoteCandidateId']),
          },
        }),
      });
    }
    return out;
  });
}

/** What `byteJobInPage` saw. */
export interface ByteJobResult {
  nodeId: string;
  length: number;
  sumMatches: boolean;
  outLength: number;
  wrongBytes: number;
}

/**
 * Runs in the coordinator's page (Playwright's or Puppeteer's `evaluate`): `size` bytes from the
 * coordinator to a task pinned to the custom resource `resource`, and `size` transformed bytes
 * back; both sides check every byte.
 */
export async function byteJobInPage({ size, resource }: { size: number; resource: string }): Promise<ByteJobResult> {
  const ray = globalThis.ray;
  const input = new Uint8Array(size);
  for (let i = 0; i < size; i++) input[i] = (i * 31 + (i >>> 11)) & 255;
  const transform = ray.remote({ resources: { [resource]: 1 } }, (bytes: Uint8Array) => {
    let sum = 0;
    for (let i = 0; i < bytes.length; i++) sum = (sum + bytes[i]! * ((i % 251) + 1)) >>> 0;
    const out = new Uint8Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) out[i] = (bytes[i]! * 7 + 3) & 255;
    return { nodeId: ray.getRuntimeContext().nodeId as string, length: bytes.length, sum, out };
  });
  const r = await ray.get(transform.remote(ray.put(input)));
  let sum = 0;
  for (let i = 0; i < input.length; i++) sum = (sum + input[i]! * ((i % 251) + 1)) >>> 0;
  let wrongBytes = 0;
  for (let i = 0; i < input.length; i++) if (r.out[i] !== ((input[i]! * 7 + 3) & 255)) wrongBytes++;
  return { nodeId: r.nodeId, length: r.length, sumMatches: r.sum === sum, outLength: r.out.length, wrongBytes };
}

/** `byteJobInPage` in a Playwright page. */
export function byteJob(head: Page, size: number, resource: string): Promise<ByteJobResult> {
  return head.evaluate(byteJobInPage, { size, resource });
}
