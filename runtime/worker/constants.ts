// Worker tunables, units in their names.

/**
 * Longest a message from task code may wait in the worker's outbox while a synchronous body
 * keeps the worker busy; messages posted sooner after the last batch share the next one.
 */
export const OUTBOX_MAX_DELAY_MS = 5;

/**
 * Most objects visited under worker globals when checking that a result's buffers are not held
 * there before transferring them; past it the result is copied instead.
 */
export const GLOBALS_SCAN_MAX_OBJECTS = 10_000;
