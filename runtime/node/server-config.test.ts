// fetchServerConfig against a server named by `address` that is not (or not quite) a webray server.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchServerConfig, runnerUrlOf } from './server-config.ts';

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
