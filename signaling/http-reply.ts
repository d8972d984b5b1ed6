// Small HTTP helpers shared by the main origin (server.ts) and the task origin (task-origin.ts).
import type { ServerResponse } from 'node:http';

/** A plain-text reply with the origin's own security headers. */
export function sendText(res: ServerResponse, status: number, body: string, headers: Readonly<Record<string, string>>): void {
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** A bind address as a URL host: wildcard binds become localhost, IPv6 gets brackets. */
export function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}
