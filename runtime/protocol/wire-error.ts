// How an error crosses a worker, channel or peer boundary: plain data, rebuilt into the same class
// on the other side (Ray's RayError serialization in python/ray/exceptions.py).

export interface WireError {
  /** Class name: a webray error class (`RayTaskError`, `ActorDiedError`, …) or the remote error's own. */
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  /** For a remote error: the names of its class chain, most derived first (for `retryExceptions`). */
  readonly classChain?: readonly string[];
  readonly cause?: WireError;
  /** Extra fields of webray errors (`taskName`, `objectId`, `actorId`, …). */
  readonly props?: Readonly<Record<string, string | number | boolean>>;
}

export function isWireError(x: unknown): x is WireError {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as WireError).name === 'string' &&
    typeof (x as WireError).message === 'string'
  );
}
