// Worker tunables, units in their names.

/**
 * Longest a message from task code may wait in the worker's outbox while a synchronous body
 * keeps the worker busy; messages posted sooner after the last batch share the next one.
 */
export const OUTBOX_MAX_DELAY_MS = 5;
