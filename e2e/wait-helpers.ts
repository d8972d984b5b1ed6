// Waits for the specs' driving code: on an event or a state, never a fixed sleep. A cap here is
// only there to turn "it never happened" into a failure that says what was awaited, instead of
// the test's own timeout; it bounds nothing under test, so it is generous.

/** Resolves with `event`'s value; rejects naming `what` if it has not settled within `capMs`. */
export async function eventWithin<T>(event: Promise<T>, capMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const cap = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`waited ${capMs} ms for ${what}, in vain`)), capMs);
  });
  try {
    return await Promise.race([event, cap]);
  } finally {
    clearTimeout(timer);
  }
}
