// A macrotask without timer clamping: runs a function behind the events already queued (in a
// browser, a MessageChannel message). Work that can wait for them — batching what they add to it
// — goes here rather than in a microtask.

let taskQueue: ((fn: () => void) => void) | undefined;

/** Runs `fn` in a task of its own, behind the tasks already queued (a MessageChannel message: no timer clamping). */
export function afterQueuedTasks(fn: () => void): void {
  if (!taskQueue) {
    if (typeof MessageChannel === 'undefined' || (globalThis as { document?: unknown }).document === undefined) {
      // Node (unit tests, the simulator) and workers without a document: a timer is as good, and
      // an open MessagePort would keep Node's event loop alive.
      taskQueue = (f) => setTimeout(f, 0);
    } else {
      const ch = new MessageChannel();
      const queue: (() => void)[] = [];
      ch.port1.onmessage = () => queue.shift()?.();
      taskQueue = (f) => {
        queue.push(f);
        ch.port2.postMessage(null);
      };
    }
  }
  taskQueue(fn);
}
