// HTTPS for both origins (the pages and the task origin): off loopback, a page served over plain
// http is not a secure context, so browsers withhold WebGPU, SharedArrayBuffer (COOP is ignored),
// crypto.subtle and crypto.randomUUID — webray needs them. Given a certificate and its key (PEM;
// env TLS_CERT and TLS_KEY name the files), the server speaks HTTPS on both ports and WSS for
// signaling. A reverse proxy that terminates TLS in front of plain http does the same job.

import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createSecureContext } from 'node:tls';

/** A certificate (chain) and its private key, PEM. */
export interface TlsOptions {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
}

export type Scheme = 'http' | 'https';

/** An http or https server: the same surface for what the server does with it. */
export type WebServer = ReturnType<typeof createHttpServer> | ReturnType<typeof createHttpsServer>;

/** Checks that the key matches the certificate and both parse; throws naming what is wrong. */
export function checkTls(tls: TlsOptions): void {
  try {
    createSecureContext({ cert: tls.cert, key: tls.key });
  } catch (e) {
    throw new Error(`TLS certificate and key cannot be used (${(e as Error).message}): give a PEM certificate (TLS_CERT) and the PEM private key it was issued for (TLS_KEY)`, {
      cause: e,
    });
  }
}

/** An https server when `tls` is given, else plain http. */
export function createWebServer(tls: TlsOptions | undefined, handler: RequestListener<typeof IncomingMessage, typeof ServerResponse>): WebServer {
  return tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, handler) : createHttpServer(handler);
}

/** TLS_CERT and TLS_KEY (file paths) from the environment: both or neither. */
export function tlsFromEnv(env: NodeJS.ProcessEnv): TlsOptions | undefined {
  const certPath = env['TLS_CERT'];
  const keyPath = env['TLS_KEY'];
  if (!certPath && !keyPath) return undefined;
  if (!certPath || !keyPath) throw new Error('TLS_CERT and TLS_KEY go together: the certificate file and its private key file (PEM)');
  const read = (p: string, name: string): Buffer => {
    try {
      return readFileSync(p);
    } catch (e) {
      throw new Error(`${name}: cannot read ${p} (${(e as Error).message})`, { cause: e });
    }
  };
  return { cert: read(certPath, 'TLS_CERT'), key: read(keyPath, 'TLS_KEY') };
}
