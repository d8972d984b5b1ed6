// Volunteers behind NATs that map every destination to a new port (symmetric NAT: mobile and
// corporate networks), on the topology of e2e/net/topology.ts with both routers symmetric. STUN
// alone cannot connect them: the join must fail with an error that says TURN is needed. With the
// TURN server the webray server advertises — credentials minted per page from coturn's shared
// secret (TURN_URL, TURN_SECRET) and fetched from /config.json, with no ICE option in the
// program — the link goes through coturn's relay and a job moves 16 MiB each way. The server speaks
// HTTPS (TLS_CERT, TLS_KEY: a self-signed certificate for its address, which the test's browsers
// accept), so the pages are secure contexts and cross-origin isolated without any flag that treats
// plain http as secure.
//
// Needs root, iproute2, iptables and coturn (CI installs them: .ci/run); skipped, saying why,
// without them.
import { test, expect } from '@playwright/test';
import { byteJob, openOn, peerInfo } from './net/pages.ts';
import { natSuite } from './net/nat-suite.ts';

const suite = natSuite({
  natA: 'symmetric',
  natB: 'symmetric',
  // The deployment: the server mints TURN credentials for each page from coturn's secret.
  server: (coturn) => ({ tls: true, env: { TURN_URL: coturn.turnUrl, TURN_SECRET: coturn.secret, TURN_TTL: '600' } }),
});
const MiB = 1024 * 1024;

const names = () => ({ cluster: `sym-${process.pid}-${Math.random().toString(36).slice(2, 8)}`, token: `tok-${crypto.randomUUID()}` });

test('with STUN only, the join fails at the connect timeout and its error says a TURN relay is needed', async () => {
  const t = suite.topo;
  const { cluster, token } = names();
  // The program overrides the server's ICE servers with STUN alone.
  const iceServers = suite.coturn.stunServers();
  const [head, vol] = await Promise.all([openOn(t.a, suite.server, '/', suite.browsers), openOn(t.b, suite.server, '/join', suite.browsers)]);
  await head.page.evaluate(
    async ({ cluster, token, iceServers }) => {
      await globalThis.ray.init({ address: location.origin, cluster, token, numCpus: 1, numGpus: 0, iceServers });
    },
    { cluster, token, iceServers },
  );
  const started = Date.now();
  const error = await vol.page.evaluate(
    async ({ cluster, token, iceServers }) => {
      try {
        await globalThis.ray.join({ address: location.origin, cluster, token, numCpus: 1, numGpus: 0, iceServers });
        return 'joined';
      } catch (e) {
        return (e as Error).message;
      }
    },
    { cluster, token, iceServers },
  );
  const ms = Date.now() - started;
  test.info().annotations.push({ type: 'failed join', description: `${ms} ms: ${error}` });
  expect(error).toMatch(/could not open a WebRTC link to its coordinator/);
  // Both sides learnt their public mappings from STUN, and no check got through.
  expect(error).toMatch(/candidates gathered here: [^;]*srflx/);
  expect(error).toMatch(/from the other tab: [^;]*srflx/);
  expect(error).toMatch(/symmetric NAT.*need a TURN relay.*TURN_URL, TURN_SECRET/);
  expect([...head.errors, ...vol.errors]).toEqual([]);
});

test("over HTTPS, with the TURN server the webray server advertises (no ICE option in the program), the link goes through the relay and 16 MiB move each way", async () => {
  const t = suite.topo;
  const { cluster, token } = names();
  const [head, vol] = await Promise.all([openOn(t.a, suite.server, '/', suite.browsers), openOn(t.b, suite.server, '/join', suite.browsers)]);
  // Served over HTTPS from 203.0.113.10: secure contexts, cross-origin isolated, with what webray needs.
  for (const p of [head.page, vol.page]) {
    expect(
      await p.evaluate(() => ({
        origin: location.origin,
        secure: isSecureContext,
        isolated: crossOriginIsolated,
        sharedArrayBuffer: typeof SharedArrayBuffer === 'function',
        subtle: typeof crypto.subtle?.digest === 'function',
      })),
    ).toEqual({ origin: suite.server.url, secure: true, isolated: true, sharedArrayBuffer: true, subtle: true });
  }
  expect(suite.server.url).toMatch(/^https:\/\/203\.0\.113\.10:/);
  await head.page.evaluate(
    async ({ cluster, token }) => {
      await globalThis.ray.init({ address: location.origin, cluster, token, numCpus: 1, numGpus: 0 });
    },
    { cluster, token },
  );
  const joinStarted = Date.now();
  const volId = await vol.page.evaluate(
    async ({ cluster, token }) => {
      globalThis.e2eNode = await globalThis.ray.join({ address: location.origin, cluster, token, numCpus: 1, numGpus: 0, resources: { machineB: 1 } });
      return globalThis.e2eNode.nodeId;
    },
    { cluster, token },
  );
  test.info().annotations.push({ type: 'join', description: `joined through TURN in ${Date.now() - joinStarted} ms` });
  const jobStarted = Date.now();
  expect(await byteJob(head.page, 16 * MiB, 'machineB')).toEqual({ nodeId: volId, length: 16 * MiB, sumMatches: true, outLength: 16 * MiB, wrongBytes: 0 });
  test.info().annotations.push({ type: 'job', description: `16 MiB each way through the relay in ${Date.now() - jobStarted} ms` });

  const [headPeers, volPeers] = await Promise.all([peerInfo(head.page), peerInfo(vol.page)]);
  const info = JSON.stringify({ head: headPeers, volunteer: volPeers }, null, 1);
  for (const peers of [headPeers, volPeers]) {
    const connected = peers.filter((p) => p.connectionState === 'connected');
    expect(connected, info).toHaveLength(1);
    // The server's TURN entry reached the page through /config.json, with minted credentials.
    expect(connected[0]!.config.urls, info).toEqual([suite.coturn.turnUrl]);
    const pair = connected[0]!.selected!;
    // Through coturn: one end of the selected pair (at least) is a relay address.
    expect([pair.local.type, pair.remote.type], info).toContain('relay');
    expect(pair.bytesSent, info).toBeGreaterThan(16 * MiB);
    expect(pair.bytesReceived, info).toBeGreaterThan(16 * MiB);
  }
  expect([...head.errors, ...vol.errors]).toEqual([]);
});
