// Page-side waits on states, for specs that drive webray from inside the page (`rayPage.evaluate`).
// A test waits until something is so — a row of `ray.tasks()`, resources coming back, a mark that
// task code posted — never for an amount of time that usually suffices on an idle machine.
//
// Marks travel on a BroadcastChannel: in local mode task code runs in Web Workers of the page's own
// origin, so a task's `mark('started')` reaches the page at once, even when the task then spins
// synchronously (measured: a spinning worker's posts arrive while it spins). Gates go the other way:
// a task that calls `gate('g')` waits until the page opens gate 'g', so the test, not a timer,
// decides how long a task stays running.
//
// Task code gets `mark` and `gate` through `scope` (they ship as source):
//   const { taskMark: mark, taskGate: gate } = globalThis;
//   const f = ray.remote({ scope: { mark, gate } }, async function f() { mark('f started'); await gate('f'); });
import type { Page } from '@playwright/test';

/** The marks task code posted, as the page sees them; and the gates the page opens. */
export interface Marks {
  /** How many times `mark` has arrived so far. */
  count(mark: string): number;
  /** Every mark received, in arrival order (a gate's waiting tasks show as `waiting:<gate>`). */
  readonly seen: readonly string[];
  /** Resolves once `mark` has arrived `times` times (default 1); rejects after `timeoutMs` naming it. */
  wait(mark: string, times?: number, timeoutMs?: number): Promise<void>;
  /** Opens gate `name`: every task waiting at it now or arriving later goes on. */
  open(name: string): void;
  close(): void;
}

/** What a truthy value of type T can be. */
export type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

declare global {
  /**
   * Polls `probe` until it returns a truthy value and returns that value. Rejects with an error
   * naming `what` after `timeoutMs` (default 20 s, inside the test's own timeout, so the failure
   * says what never happened).
   */
  var waitUntil: <T>(what: string, probe: () => T | Promise<T>, timeoutMs?: number) => Promise<Truthy<T>>;
  /** Starts listening for marks; call it before starting the tasks that post them. */
  var listenMarks: () => Marks;
  /** For task code (ship it in `scope`): posts `mark` to the page's `listenMarks()`. */
  var taskMark: (mark: string) => void;
  /** For task code (ship it in `scope`): resolves once the page has opened gate `name`. */
  var taskGate: (name: string) => Promise<void>;
}

/** Runs in the page: defines the globals above. Self-contained: it is sent as source. */
function define(): void {
  const CHANNEL = 'webray-e2e-state';
  const DEFAULT_TIMEOUT_MS = 20_000;
  const POLL_MS = 5;
  globalThis.waitUntil = async <T>(what: string, probe: () => T | Promise<T>, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Truthy<T>> => {
    const t0 = performance.now();
    for (;;) {
      const v = await probe();
      if (v) return v as Truthy<T>;
      if (performance.now() - t0 > timeoutMs) throw new Error(`waited ${timeoutMs} ms for ${what}; it never happened`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  };
  globalThis.listenMarks = (): Marks => {
    const bc = new BroadcastChannel(CHANNEL);
    const seen: string[] = [];
    const counts = new Map<string, number>();
    const waiters = new Set<() => void>();
    const opened = new Set<string>();
    bc.onmessage = (e: MessageEvent) => {
      const mark = String(e.data);
      if (mark.startsWith('open:')) return; // another task's view of a gate, not a mark
      seen.push(mark);
      counts.set(mark, (counts.get(mark) ?? 0) + 1);
      // A task that reached a gate already open goes straight on.
      if (mark.startsWith('waiting:') && opened.has(mark.slice('waiting:'.length))) bc.postMessage(`open:${mark.slice('waiting:'.length)}`);
      for (const w of [...waiters]) w();
    };
    const count = (mark: string) => counts.get(mark) ?? 0;
    return {
      count,
      seen,
      wait: (mark, times = 1, timeoutMs = DEFAULT_TIMEOUT_MS) =>
        new Promise<void>((resolve, reject) => {
          const check = () => {
            if (count(mark) < times) return;
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(() => {
            waiters.delete(check);
            reject(new Error(`waited ${timeoutMs} ms for mark '${mark}' ×${times}; saw [${seen.join(', ')}]`));
          }, timeoutMs);
          waiters.add(check);
          check();
        }),
      open: (name) => {
        opened.add(name);
        bc.postMessage(`open:${name}`);
      },
      close: () => bc.close(),
    };
  };
  globalThis.taskMark = (mark: string) => {
    // One channel per worker, never closed: a channel closed right after its first post (before
    // it has joined its name) can lose that post, and the test then waits for a mark never sent.
    const g = globalThis as { webrayE2eMarks?: BroadcastChannel };
    (g.webrayE2eMarks ??= new BroadcastChannel('webray-e2e-state')).postMessage(mark);
  };
  globalThis.taskGate = (name: string) =>
    new Promise<void>((resolve) => {
      const bc = new BroadcastChannel('webray-e2e-state');
      bc.onmessage = (e: MessageEvent) => {
        if (e.data !== `open:${name}`) return;
        bc.close();
        resolve();
      };
      bc.postMessage(`waiting:${name}`);
    });
}

/** Defines `waitUntil`, `listenMarks`, `taskMark` and `taskGate` in the page (again after a navigation). */
export async function installStateWaits(page: Page): Promise<void> {
  await page.evaluate(define);
}
