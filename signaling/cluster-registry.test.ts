import { describe, expect, it } from 'vitest';
import type { JoinRequest } from '../runtime/protocol/signaling.ts';
import { ClusterRegistry, randomNodeId } from './cluster-registry.ts';

function req(over: Partial<JoinRequest> = {}): JoinRequest {
  return { role: 'node', cluster: 'lab', token: 's3cret', resources: { CPU: 2 }, gpuFallback: false, ...over };
}
const coordinator = (over: Partial<JoinRequest> = {}): JoinRequest => req({ role: 'coordinator', ...over });

function counterRegistry(): ClusterRegistry {
  let n = 0;
  return new ClusterRegistry({ newNodeId: () => `n-${n++}` });
}

describe('ClusterRegistry', () => {
  it('lets the first coordinator create a cluster and answers with itself as the whole node table', () => {
    const r = counterRegistry();
    const out = r.join('c1', coordinator({ label: 'head' }));
    expect(out).toEqual({
      ok: true,
      cluster: 'lab',
      member: { nodeId: 'n-0', role: 'coordinator', resources: { CPU: 2 }, gpuFallback: false, label: 'head' },
      coordinator: { connection: 'c1', info: expect.objectContaining({ nodeId: 'n-0' }) },
      reply: { ok: true, nodeId: 'n-0', coordinatorId: 'n-0', members: [expect.objectContaining({ nodeId: 'n-0' })] },
    });
    expect(r.size).toBe(1);
    expect(r.membership('c1')).toEqual({ cluster: 'lab', nodeId: 'n-0' });
  });

  it('admits nodes with the right token and introduces them to the coordinator only', () => {
    const r = counterRegistry();
    r.join('c1', coordinator());
    const a = r.join('a', req({ resources: { CPU: 4, GPU: 1 }, gpuFallback: true }));
    const b = r.join('b', req());
    expect(a.ok && b.ok).toBe(true);
    if (!a.ok || !b.ok) return;
    expect(a.member).toEqual({ nodeId: 'n-1', role: 'node', resources: { CPU: 4, GPU: 1 }, gpuFallback: true });
    expect(a.coordinator.connection).toBe('c1');
    expect(a.reply).toEqual({ ok: true, nodeId: 'n-1', coordinatorId: 'n-0', members: [r.members('lab')[0], a.member] });
    expect(b.reply.members.map((m) => m.nodeId)).toEqual(['n-0', 'n-2']);
    expect(r.members('lab').map((m) => m.nodeId)).toEqual(['n-0', 'n-1', 'n-2']);
  });

  it('keeps no reference to the request’s resources object', () => {
    const r = counterRegistry();
    const resources = { CPU: 1 };
    r.join('c1', coordinator({ resources }));
    resources.CPU = 99;
    expect(r.members('lab')[0]?.resources).toEqual({ CPU: 1 });
  });

  it('refuses a second coordinator for a running cluster, whatever its token', () => {
    const r = counterRegistry();
    r.join('c1', coordinator());
    for (const token of ['s3cret', 'other']) {
      const out = r.join('c2', coordinator({ token }));
      expect(out).toMatchObject({ ok: false, code: 'coordinator_exists' });
    }
    expect(r.members('lab')).toHaveLength(1);
    expect(r.membership('c2')).toBeUndefined();
  });

  it('refuses a node when no coordinator runs the cluster, saying how to start one', () => {
    const r = counterRegistry();
    const out = r.join('a', req({ cluster: 'nowhere' }));
    expect(out).toEqual({
      ok: false,
      code: 'no_coordinator',
      message: 'no coordinator is running cluster nowhere: open the demo page and start it first',
    });
    expect(r.size).toBe(0);
  });

  it('refuses a wrong token without naming any member', () => {
    const r = counterRegistry();
    r.join('c1', coordinator({ label: 'alice-laptop' }));
    r.join('a', req());
    for (const token of ['', 's3cre', 's3cret ', 'S3CRET', 'x'.repeat(256)]) {
      const out = r.join('z', req({ token }));
      expect(out.ok, token).toBe(false);
      if (out.ok) continue;
      expect(out.code).toBe('wrong_token');
      expect(out.message).not.toMatch(/n-\d|alice|s3cret|coordinator n-/);
    }
    expect(r.members('lab')).toHaveLength(2);
    expect(r.membership('z')).toBeUndefined();
  });

  it('accepts the empty token when the coordinator chose it, and tokens are case- and byte-exact', () => {
    const r = counterRegistry();
    r.join('c1', coordinator({ token: '' }));
    expect(r.join('a', req({ token: '' })).ok).toBe(true);
    expect(r.join('b', req({ token: ' ' })).ok).toBe(false);
    r.join('c2', coordinator({ cluster: 'uni', token: 'Grüße' }));
    expect(r.join('d', req({ cluster: 'uni', token: 'Grüße' })).ok).toBe(true);
    expect(r.join('e', req({ cluster: 'uni', token: 'Grusse' })).ok).toBe(false);
  });

  it('lets a connection hold one membership at a time', () => {
    const r = counterRegistry();
    r.join('c1', coordinator());
    r.join('c2', coordinator({ cluster: 'other' }));
    r.join('a', req());
    expect(r.join('a', req())).toMatchObject({ ok: false, code: 'already_joined' });
    expect(r.join('a', req({ cluster: 'other' }))).toMatchObject({ ok: false, code: 'already_joined' });
    expect(r.join('c1', coordinator({ cluster: 'third' }))).toMatchObject({ ok: false, code: 'already_joined' });
    r.leave('a');
    expect(r.join('a', req({ cluster: 'other' })).ok).toBe(true);
  });

  it('removes a node that leaves and reports it, keeping the cluster', () => {
    const r = counterRegistry();
    r.join('c1', coordinator());
    r.join('a', req());
    r.join('b', req());
    expect(r.leave('a')).toEqual({ kind: 'node_left', cluster: 'lab', member: expect.objectContaining({ nodeId: 'n-1' }) });
    expect(r.members('lab').map((m) => m.nodeId)).toEqual(['n-0', 'n-2']);
    expect(r.membership('a')).toBeUndefined();
    expect(r.leave('a')).toBeUndefined();
    expect(r.leave('never-joined')).toBeUndefined();
  });

  it('closes the cluster when its coordinator leaves, releasing every node and freeing the name', () => {
    const r = counterRegistry();
    r.join('c1', coordinator());
    r.join('a', req());
    r.join('b', req());
    const d = r.leave('c1');
    expect(d).toMatchObject({ kind: 'cluster_closed', cluster: 'lab', member: { nodeId: 'n-0' } });
    if (d?.kind !== 'cluster_closed') return;
    expect(d.volunteers.map((v) => v.connection)).toEqual(['a', 'b']);
    expect(r.size).toBe(0);
    expect(r.membership('a')).toBeUndefined();
    expect(r.leave('b')).toBeUndefined();
    // A new coordinator may take the name, with a new token; the old nodes can join it again.
    expect(r.join('c9', coordinator({ token: 'new' })).ok).toBe(true);
    expect(r.join('a', req({ token: 's3cret' }))).toMatchObject({ ok: false, code: 'wrong_token' });
    expect(r.join('a', req({ token: 'new' })).ok).toBe(true);
  });

  it('keeps clusters apart', () => {
    const r = counterRegistry();
    r.join('c1', coordinator());
    r.join('c2', coordinator({ cluster: 'other', token: 'x' }));
    r.join('a', req());
    r.join('o', req({ cluster: 'other', token: 'x' }));
    expect(r.members('lab').map((m) => m.nodeId)).toEqual(['n-0', 'n-2']);
    expect(r.members('other').map((m) => m.nodeId)).toEqual(['n-1', 'n-3']);
    r.leave('c1');
    expect(r.members('other')).toHaveLength(2);
  });

  it('routes signals only between two members of the same cluster', () => {
    const r = counterRegistry();
    r.join('c1', coordinator()); // n-0
    r.join('a', req()); // n-1
    r.join('c2', coordinator({ cluster: 'other' })); // n-2
    expect(r.route('a', 'n-0')).toEqual({ from: 'n-1', connection: 'c1' });
    expect(r.route('c1', 'n-1')).toEqual({ from: 'n-0', connection: 'a' });
    expect(r.route('a', 'n-2')).toBeUndefined(); // another cluster
    expect(r.route('c2', 'n-1')).toBeUndefined();
    expect(r.route('a', 'n-1')).toBeUndefined(); // itself
    expect(r.route('stranger', 'n-0')).toBeUndefined(); // not a member
    expect(r.route('a', 'n-404')).toBeUndefined();
    expect(r.route('a', '__proto__')).toBeUndefined();
    r.leave('a');
    expect(r.route('c1', 'n-1')).toBeUndefined();
  });

  it('never hands out a node id that is in use', () => {
    const ids = ['n-same', 'n-same', 'n-same', 'n-other'];
    const r = new ClusterRegistry({ newNodeId: () => ids.shift() ?? 'n-end' });
    r.join('c1', coordinator());
    const a = r.join('a', req());
    expect(a.ok && a.member.nodeId).toBe('n-other');
  });

  it('mints random node ids: n- and 10 base36 characters', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => randomNodeId()));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^n-[0-9a-z]{10}$/);
  });
});
