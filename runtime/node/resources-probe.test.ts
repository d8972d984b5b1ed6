import { afterEach, describe, expect, it, vi } from 'vitest';
import { defaultObjectStoreMemory, probeResources } from './resources-probe.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

afterEach(() => {
  vi.unstubAllGlobals();
});

// README: "objectStoreMemory defaults to a quarter of navigator.deviceMemory, within
// [256 MiB, 2 GiB] (browsers round deviceMemory and cap it at 8 GiB; where it is missing, as in
// Firefox and Safari, 4 GiB is assumed, giving 1 GiB)". The figures are written out, not derived
// from the constants, so changing a constant fails here.
describe('default objectStoreMemory', () => {
  it.each([
    // deviceMemory (GiB), as browsers report it → bytes
    [0.25, 256 * MiB], // a quarter is 64 MiB: raised to the 256 MiB floor
    [0.5, 256 * MiB], // 128 MiB: raised to the floor
    [1, 256 * MiB], // exactly the floor
    [2, 512 * MiB],
    [4, 1 * GiB],
    [8, 2 * GiB], // exactly the ceiling (browsers report at most 8)
  ])('is %s GiB / 4 within [256 MiB, 2 GiB] → %i bytes', (deviceMemory, bytes) => {
    expect(defaultObjectStoreMemory(deviceMemory)).toBe(bytes);
  });

  it('is a quarter in between the bounds, and capped at 2 GiB above them', () => {
    expect(defaultObjectStoreMemory(1.5)).toBe(384 * MiB);
    expect(defaultObjectStoreMemory(3)).toBe(768 * MiB);
    expect(defaultObjectStoreMemory(12)).toBe(2 * GiB);
    expect(defaultObjectStoreMemory(64)).toBe(2 * GiB);
  });

  it('assumes 4 GiB (giving 1 GiB) where deviceMemory is missing or meaningless', () => {
    expect(defaultObjectStoreMemory(undefined)).toBe(1 * GiB);
    expect(defaultObjectStoreMemory(0)).toBe(1 * GiB);
    expect(defaultObjectStoreMemory(-2)).toBe(1 * GiB);
    expect(defaultObjectStoreMemory(NaN)).toBe(1 * GiB);
  });
});

describe('probeResources: objectStoreMemory', () => {
  it('reads navigator.deviceMemory', async () => {
    vi.stubGlobal('navigator', { hardwareConcurrency: 4, deviceMemory: 2 });
    expect((await probeResources({})).objectStoreMemory).toBe(512 * MiB);
    vi.stubGlobal('navigator', { hardwareConcurrency: 4, deviceMemory: 0.5 });
    expect((await probeResources({})).objectStoreMemory).toBe(256 * MiB);
    vi.stubGlobal('navigator', { hardwareConcurrency: 4, deviceMemory: 8 });
    expect((await probeResources({})).objectStoreMemory).toBe(2 * GiB);
  });

  it('gives 1 GiB in a browser without navigator.deviceMemory (Firefox, Safari) or without a navigator', async () => {
    vi.stubGlobal('navigator', { hardwareConcurrency: 4 });
    expect((await probeResources({})).objectStoreMemory).toBe(1 * GiB);
    vi.stubGlobal('navigator', undefined);
    expect((await probeResources({})).objectStoreMemory).toBe(1 * GiB);
  });

  it('takes an explicit objectStoreMemory as it is, outside the default’s bounds too', async () => {
    vi.stubGlobal('navigator', { hardwareConcurrency: 4, deviceMemory: 8 });
    expect((await probeResources({ objectStoreMemory: 64 * MiB })).objectStoreMemory).toBe(64 * MiB);
    expect((await probeResources({ objectStoreMemory: 5 * GiB })).objectStoreMemory).toBe(5 * GiB);
  });
});
