// Firefox for the e2e suite: Debian's firefox-esr driven by puppeteer-core over WebDriver BiDi
// (Playwright 1.65 cannot drive this Firefox: docs/browser-facts.md), inside the same
// loopback-only network namespace as the Chromium tests. WebRTC on loopback needs two prefs:
// without a granted microphone Firefox gathers no ICE candidate in a namespace with no route out.
import { existsSync } from 'node:fs';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import type * as RayModule from '../runtime/index.ts';
// fixtures.ts declares the page global `ray`; cluster-helpers.ts `rayNode` and `rayNodeClosed`.
import type {} from './fixtures.ts';
import type {} from './cluster-helpers.ts';

type Ray = typeof RayModule;

export const FIREFOX_PATH = process.env['FIREFOX_PATH'] ?? '/usr/bin/firefox-esr';

/** The prefs a Firefox needs for WebRTC between tabs on loopback (a real volunteer's needs none). */
export const FIREFOX_LOOPBACK_PREFS = {
  'media.peerconnection.ice.loopback': true,
  'permissions.default.microphone': 1,
} as const;

/** Why Firefox cannot run here, or undefined (for test.skip). */
export function firefoxUnavailable(): string | undefined {
  return existsSync(FIREFOX_PATH) ? undefined : `no Firefox at ${FIREFOX_PATH}: install firefox-esr (.ci/run does) or set FIREFOX_PATH`;
}

export function launchFirefox(): Promise<Browser> {
  return puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX_PATH, headless: true, extraPrefsFirefox: FIREFOX_LOOPBACK_PREFS });
}

export interface FirefoxPage {
  readonly page: Page;
  /** Uncaught page errors since webray was imported. */
  readonly errors: string[];
  close(): Promise<void>;
}

/** Opens `url` in a fresh browser context (its own storage, like another person's browser) and imports webray as `globalThis.ray`. */
export async function openFirefoxPage(browser: Browser, url: string): Promise<FirefoxPage> {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.goto(url, { waitUntil: 'load' });
  await page.evaluate(async () => {
    const lib = '/webray.js';
    globalThis.ray = (await import(lib)) as Ray;
    globalThis.rayNodeClosed = [];
  });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err instanceof Error ? err.message : String(err)}`));
  return { page, errors, close: () => context.close().catch(() => {}) };
}
