// fetchServerConfig against a server named by `address` that is not (or not quite) a webray server.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { IceServer } from '../protocol/rtc-config.ts';
import { AdvertisedIceServers, fetchServerConfig, runnerUrlOf, type ServerConfig } from './server-config.ts';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('fetchServerConfig', () => {
  it('reads the task origin and checks the ICE servers a webray server advertises', async () => {
    const address = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ taskOrigin: 'https://tasks.example.org', iceServers: [{ urls: 'stun:stun.example.org:3478' }] }));
    });
    const config = await fetchServerConfig(address);
    expect(config).toEqual({ taskOrigin: 'https://tasks.example.org', iceServers: [{ urls: 'stun:stun.example.org:3478' }] });
    expect(runnerUrlOf(config)).toBe('https://tasks.example.org/runner.html');
  });

  it('refuses ICE servers a browser would throw on, naming where they came from', async () => {
    const address = await serve((_req, res) => res.end(JSON.stringify({ taskOrigin: 'https://t.example.org', iceServers: [{ urls: 'turn:t.example.org' }] })));
    await expect(fetchServerConfig(address)).rejects.toThrow(`iceServers of ${address}/config.json[0] is a TURN server`);
  });

  it('says "is this a webray server?" when the address answers 200 with an HTML page (an SPA fallback)', async () => {
    const address = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<!doctype html><title>some app</title>');
    });
    await expect(fetchServerConfig(address)).rejects.toThrow(/is not JSON \(HTTP 200\); is this a webray server/);
  });

  it('stops reading a body over 64 KiB', async () => {
    const address = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      // Chunked: no Content-Length to judge it by.
      const chunk = 'x'.repeat(16 * 1024);
      for (let i = 0; i < 64; i++) res.write(chunk);
      res.end();
    });
    await expect(fetchServerConfig(address)).rejects.toThrow(/is over 65536 bytes; is this a webray server/);
  });

  it('gives up on a server that accepts the request and never answers', { timeout: 20_000 }, async () => {
    const address = await serve(() => {
      /* never answers */
    });
    await expect(fetchServerConfig(address)).rejects.toThrow(/did not answer within 10 s; is this a webray server/);
  });
});

describe('AdvertisedIceServers: minted TURN credentials stay fresh for a long session', () => {
  const minted = (expirySeconds: number): IceServer[] => [{ urls: 'stun:s.example.org' }, { urls: 'turn:t.example.org:3478', username: `${expirySeconds}:webray`, credential: `c-${expirySeconds}` }];

  it('fetches the config again once half the credentials\' lifetime has passed, and hands out the new ones', async () => {
    let now = 1_800_000_000_000;
    const fetched: string[] = [];
    let answer: ServerConfig = { taskOrigin: 'https://t.example.org', iceServers: minted(1_800_000_000 + 600) };
    const ice = new AdvertisedIceServers('https://webray.example.org', minted(1_800_000_000 + 600), () => now, async (address) => {
      fetched.push(address);
      return answer;
    });
    // Valid for 600 s: nothing to renew for the first 300 s.
    now += 299_000;
    expect(ice.current()[1]!.username).toBe('1800000600:webray');
    expect(fetched).toEqual([]);
    answer = { taskOrigin: 'https://t.example.org', iceServers: minted(1_800_000_000 + 1200) };
    now += 2_000;
    // Due: links made meanwhile get the current (still valid) ones, the renewal runs behind.
    expect(ice.current()[1]!.username).toBe('1800000600:webray');
    expect(ice.current()[1]!.username).toBe('1800000600:webray');
    await Promise.resolve();
    await Promise.resolve();
    expect(fetched).toEqual(['https://webray.example.org']);
    expect(ice.current()[1]).toEqual({ urls: 'turn:t.example.org:3478', username: '1800001200:webray', credential: 'c-1800001200' });
  });

  it('retries a failed renewal every 10 s at most, and never renews servers without minted credentials', async () => {
    let now = 1_800_000_000_000;
    let tries = 0;
    const ice = new AdvertisedIceServers('https://w.example.org', minted(1_800_000_000 + 60), () => now, async () => {
      tries++;
      throw new Error('offline');
    });
    now += 31_000;
    for (let i = 0; i < 5; i++) {
      ice.current();
      await new Promise((r) => setTimeout(r, 0));
    }
    expect(tries).toBe(1);
    now += 10_000;
    ice.current();
    await new Promise((r) => setTimeout(r, 0));
    expect(tries).toBe(2);

    const fixed = new AdvertisedIceServers('https://w.example.org', [{ urls: 'turn:t.example.org', username: 'static', credential: 'x' }], () => now, async () => {
      throw new Error('must not be asked');
    });
    now += 10 ** 9;
    expect(fixed.current()).toEqual([{ urls: 'turn:t.example.org', username: 'static', credential: 'x' }]);
  });
});
