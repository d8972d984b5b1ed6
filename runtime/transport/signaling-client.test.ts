// The tab's signaling client against a real socket.io server in Node that misbehaves on purpose.
import { createServer, type Server as HttpServer } from 'node:http';
import { afterEach, expect, it, vi } from 'vitest';
import { Server } from 'socket.io';
import { SignalingClient } from './signaling-client.ts';

let http: HttpServer | undefined;
let io: Server | undefined;
let client: SignalingClient | undefined;
afterEach(async () => {
  client?.close();
  await new Promise<void>((r) => {
    if (io === undefined) r();
    else void io.close(() => r());
  });
});

it('gives up resuming its membership once the window since the connection was lost has passed, however often a reconnection drops before its resume is answered', async () => {
  http = createServer();
  io = new Server(http);
  let resumes = 0;
  io.on('connection', (s) => {
    s.on('join', (_req: unknown, ack: (r: unknown) => void) =>
      ack({ ok: true, nodeId: 'n-1', coordinatorId: 'n-0', members: [{ nodeId: 'n-0', role: 'coordinator', resources: {}, gpuFallback: false }], resumeSecret: 'r' }),
    );
    // A server that takes the connection and loses it before answering the resume (a crash loop).
    s.on('resume', () => {
      resumes++;
      s.conn.close();
    });
  });
  await new Promise<void>((r) => http!.listen(0, '127.0.0.1', r));
  const port = (http.address() as { port: number }).port;
  const lost: string[] = [];
  const handlers = { onSignal() {}, onNodeJoined() {}, onNodeLeft() {}, onClusterClosed() {}, onDisconnect: (r: string) => lost.push(r) };
  const joined = await SignalingClient.connect(
    `http://127.0.0.1:${port}`,
    { role: 'node', cluster: 'c', token: 's3cret-token-value', resources: {}, gpuFallback: false },
    handlers,
    { resumeWindowMs: 2_000 },
  );
  client = joined.client;
  // The membership's connection drops (the transport closes: not a kick, so it is resumed).
  for (const s of io.sockets.sockets.values()) s.conn.close();
  await vi.waitFor(() => expect(lost).toEqual(['could not resume the membership within 2 s']), { timeout: 12_000, interval: 50 });
  expect(resumes).toBeGreaterThanOrEqual(1);
}, 15_000);
