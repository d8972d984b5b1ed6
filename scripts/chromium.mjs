// Headless Chromium as every browser run of this project starts it (tests, benchmarks, `npm run
// demo`): the flags docs/browser-facts.md found necessary here, and where the browser is.
import { existsSync } from 'node:fs';

/** Quiet networking, WebRTC between tabs on loopback (needs the fake media UI to gather ICE
 * candidates), software WebGPU when asked for. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--allow-loopback-in-peer-connection',
  '--enable-unsafe-webgpu',
  '--use-fake-ui-for-media-stream',
];

/** CHROMIUM_PATH, else Debian's /usr/bin/chromium; undefined means Playwright's own browser. */
export function chromiumPath() {
  return [process.env.CHROMIUM_PATH, '/usr/bin/chromium'].find((p) => p && existsSync(p));
}
