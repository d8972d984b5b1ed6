// The wire codec between tabs (msgpackr in structured-clone mode): typed arrays, Map, Set, Date,
// RegExp, Error and cycles round-trip, as they do through postMessage within a tab.

import { Packr } from 'msgpackr';

const packr = new Packr({ structuredClone: true, moreTypes: true });

export function encode(value: unknown): Uint8Array {
  return packr.pack(value);
}

export function decode(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}
