// A self-signed certificate for tests (openssl, as .ci/run installs it): valid for the given IP
// addresses and host names, written to a temporary folder the caller removes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface TestCertificate {
  readonly dir: string;
  readonly certPath: string;
  readonly keyPath: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

export function selfSignedCertificate(names: { ips?: readonly string[]; dns?: readonly string[] }): TestCertificate {
  const dir = mkdtempSync(path.join(tmpdir(), 'webray-tls-'));
  const certPath = path.join(dir, 'cert.pem');
  const keyPath = path.join(dir, 'key.pem');
  const san = [...(names.ips ?? []).map((ip) => `IP:${ip}`), ...(names.dns ?? []).map((d) => `DNS:${d}`)].join(',');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=webray test', '-addext', `subjectAltName=${san}`, '-keyout', keyPath, '-out', certPath],
    { stdio: 'pipe' },
  );
  return { dir, certPath, keyPath, cert: readFileSync(certPath), key: readFileSync(keyPath) };
}
