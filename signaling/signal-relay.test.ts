import { describe, expect, it } from 'vitest';
import { MAX_SIGNAL_BYTES, type JoinRequest } from '../runtime/protocol/signaling.ts';
import { ClusterRegistry } from './cluster-registry.ts';
import { jsonBytes, routeSignal } from './signal-relay.ts';

function cluster(): ClusterRegistry {
  let n = 0;
  const r = new ClusterRegistry({ newNodeId: () => `n-${n++}` });
  const join = (conn: string, role: JoinRequest['role'], name = 'lab'): void => {
    r.join(conn, { role, cluster: name, token: 'test-token-value', resources: {}, gpuFallback: false });
  };
  join('c', 'coordinator'); // n-0
  join('a', 'node'); // n-1
  join('x', 'coordinator', 'other'); // n-2
  return r;
}

describe('routeSignal', () => {
  it('relays { from, data } to the target member of the same cluster, data untouched', async () => {
    const data = { type: 'offer', sdp: 'v=0\r\n…' };
    expect(await routeSignal(cluster(), 'a', { to: 'n-0', data })).toEqual({
      kind: 'relay',
      connection: 'c',
      message: { from: 'n-1', data },
    });
  });

  it('counts payloads of the wrong shape as garbage', async () => {
    const r = cluster();
    for (const bad of [undefined, null, 'n-0', 42, [], ['n-0', {}], { to: '' }, { to: 5, data: 1 }, { to: 'n-0', data: 1, x: 1 }]) {
      expect(await routeSignal(r, 'a', bad), JSON.stringify(bad)).toMatchObject({ kind: 'drop', garbage: true });
    }
  });

  it('counts a signal over MAX_SIGNAL_BYTES of JSON as garbage, and relays one just under', async () => {
    const r = cluster();
    const overhead = jsonBytes({ to: 'n-0', data: '' }) ?? 0;
    const fits = { to: 'n-0', data: 'x'.repeat(MAX_SIGNAL_BYTES - overhead) };
    expect(jsonBytes(fits)).toBe(MAX_SIGNAL_BYTES);
    expect((await routeSignal(r, 'a', fits)).kind).toBe('relay');
    expect(await routeSignal(r, 'a', { to: 'n-0', data: fits.data + 'x' })).toMatchObject({ kind: 'drop', garbage: true });
    // Bytes, not characters: 3 bytes per '€'.
    expect(await routeSignal(r, 'a', { to: 'n-0', data: '€'.repeat(MAX_SIGNAL_BYTES / 3) })).toMatchObject({ kind: 'drop', garbage: true });
  });

  it('drops signals to strangers, to itself or from non-members without counting them as garbage', async () => {
    const r = cluster();
    expect(await routeSignal(r, 'a', { to: 'n-2', data: 1 })).toMatchObject({ kind: 'drop', garbage: false });
    expect(await routeSignal(r, 'a', { to: 'n-1', data: 1 })).toMatchObject({ kind: 'drop', garbage: false });
    expect(await routeSignal(r, 'nobody', { to: 'n-0', data: 1 })).toMatchObject({ kind: 'drop', garbage: false });
  });

  it('measures JSON in UTF-8 bytes and gives up on values without JSON', async () => {
    expect(jsonBytes({ a: 'é' })).toBe(10);
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(jsonBytes(cyclic)).toBeUndefined();
    expect(jsonBytes(undefined)).toBeUndefined();
  });
});
