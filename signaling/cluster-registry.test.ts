import { describe, expect, it } from 'vitest';
import type { JoinRequest } from '../runtime/protocol/signaling.ts';
import { ClusterRegistry, randomCoordinatorSecret, randomNodeId } from './cluster-registry.ts';

const TOKEN = 's3cret-token-value';
const OTHER_TOKEN = 'another-token-value';

function req(over: Partial<JoinRequest> = {}): JoinRequest {
  return { role: 'node', cluster: 'lab', token: TOKEN, resources: { CPU: 2 }, gpuFallback: false, ...over };
}
const coordinator = (over: Partial<JoinRequest> = {}): JoinRequest => req({ role: 'coordinator', ...over });

/** Node ids n-0, n-1, …; secrets secret-0, secret-1, …; a clock the test moves (`clock.now`). */
function counterRegistry(clock = { now: 0 }): ClusterRegistry {
  let n = 0;
  let k = 0;
  return new ClusterRegistry({ newNodeId: () => `n-${n++}`, newSecret: () => `secret-${k++}`, now: () => clock.now, holdMs: 60_000 });
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
      reply: {
        ok: true,
        nodeId: 'n-0',
        coordinatorId: 'n-0',
        members: [expect.objectContaining({ nodeId: 'n-0' })],
        coordinatorSecret: 'secret-0',
        resumeSecret: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/),
      },
    });
    expect(r.clusterCount()).toBe(1);
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
    expect(a.reply).toEqual({ ok: true, nodeId: 'n-1', coordinatorId: 'n-0', members: [r.members('lab')[0], a.member], resumeSecret: expect.any(String) });
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
    for (const token of [TOKEN, OTHER_TOKEN]) {
      const out = r.join('c2', coordinator({ token }));
      expect(out).toMatchObject({ ok: false, code: 'coordinator_exists' });
    }
    expect(r.members('lab')).toHaveLength(1);
    expect(r.membership('c2')).toBeUndefined();
  });

  it('refuses a node when no coordinator runs the cluster exactly as it refuses a wrong token', () => {
    const r = counterRegistry();
    r.join('c1', coordinator({ cluster: 'somewhere' }));
    const missing = r.join('a', req({ cluster: 'nowhere' }));
    const wrong = r.join('b', req({ cluster: 'somewhere', token: OTHER_TOKEN }));
    expect(missing).toEqual({
      ok: false,
      code: 'wrong_token',
      message:
        'no coordinator is running cluster nowhere with this token (wrong token, or the cluster is not started): ' +
        'check the token in your invite link, or ask whoever started the cluster to start it',
      strike: true,
    });
    // Same code, same words but the name the joiner gave: nothing tells that `somewhere` runs.
    expect(wrong).toEqual({ ...missing, message: missing.ok ? '' : missing.message.replace('nowhere', 'somewhere') });
    expect(r.clusterCount()).toBe(1);
  });

  it('refuses a wrong token without naming any member', () => {
    const r = counterRegistry();
    r.join('c1', coordinator({ label: 'alice-laptop' }));
    r.join('a', req());
    for (const token of ['', 's3cret-token-valu', 's3cret-token-value ', 'S3CRET-TOKEN-VALUE', 'x'.repeat(256)]) {
      const out = r.join('z', req({ token }));
      expect(out.ok, token).toBe(false);
      if (out.ok) continue;
      expect(out.code).toBe('wrong_token');
      expect(out.strike).toBe(true);
      expect(out.message).not.toMatch(/n-\d|alice|s3cret|coordinator n-/);
    }
    expect(r.members('lab')).toHaveLength(2);
    expect(r.membership('z')).toBeUndefined();
  });

  it('refuses a coordinator whose token is empty or weak, saying what a good token is', () => {
    const r = counterRegistry();
    const weak = ['', 'abc12', 'aaaaaaaaaaaaaaaaaaaa', 'abababababababababab', 'abcabcabc', 'Grüße-Grüße-Grüße-Grüße', 'has spaces in it here', 'x'.repeat(257)];
    for (const token of weak) {
      const out = r.join('c1', coordinator({ token }));
      expect(out, JSON.stringify(token)).toMatchObject({ ok: false, code: 'weak_token', strike: false });
      if (out.ok) continue;
      expect(out.message).toContain('at least 6 characters of A–Z a–z 0–9 - _');
      expect(out.message).toContain('use 16 or more random ones');
      if (token.length > 0) expect(out.message).not.toContain(token);
    }
    expect(r.clusterCount()).toBe(0);
    // The demo's tokens (20 of a 32-symbol alphabet), base64url and UUIDs pass.
    // The API's example token is the floor.
    const strong = ['s3cret', 'k7mqz3xw9tpa2bnc8dfh', randomCoordinatorSecret().slice(0, 16), crypto.randomUUID(), 'A1b2C3d4E5f6G7h8'];
    for (const [i, token] of strong.entries()) expect(r.join(`c${i}`, coordinator({ cluster: `lab${i}`, token })).ok, token).toBe(true);
  });

  it('compares tokens case- and byte-exact', () => {
    const r = counterRegistry();
    r.join('c2', coordinator({ cluster: 'uni', token: 'Gruesse-Gruesse-129' }));
    expect(r.join('d', req({ cluster: 'uni', token: 'Gruesse-Gruesse-129' })).ok).toBe(true);
    expect(r.join('e', req({ cluster: 'uni', token: 'gruesse-Gruesse-1' })).ok).toBe(false);
    expect(r.join('f', req({ cluster: 'uni', token: 'Grüße-Gruesse-1' })).ok).toBe(false);
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

  it('closes the cluster when its coordinator leaves, releasing every node and holding the name for it', () => {
    const clock = { now: 0 };
    const r = counterRegistry(clock);
    r.join('c1', coordinator());
    r.join('a', req());
    r.join('b', req());
    const d = r.leave('c1');
    expect(d).toMatchObject({ kind: 'cluster_closed', cluster: 'lab', member: { nodeId: 'n-0' } });
    if (d?.kind !== 'cluster_closed') return;
    expect(d.volunteers.map((v) => v.connection)).toEqual(['a', 'b']);
    expect(r.clusterCount()).toBe(0);
    expect(r.membership('a')).toBeUndefined();
    expect(r.leave('b')).toBeUndefined();
    expect(r.isHeld('lab')).toBe(true);
    // Once the hold is over, a new coordinator may take the name, with a new token; the old nodes can join it again.
    clock.now = 60_000;
    expect(r.isHeld('lab')).toBe(false);
    expect(r.join('c9', coordinator({ token: OTHER_TOKEN })).ok).toBe(true);
    expect(r.join('a', req({ token: TOKEN }))).toMatchObject({ ok: false, code: 'wrong_token' });
    expect(r.join('a', req({ token: OTHER_TOKEN })).ok).toBe(true);
  });

  it('keeps clusters apart', () => {
    const r = counterRegistry();
    r.join('c1', coordinator());
    r.join('c2', coordinator({ cluster: 'other', token: OTHER_TOKEN }));
    r.join('a', req());
    r.join('o', req({ cluster: 'other', token: OTHER_TOKEN }));
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

  it('after a shutdown (not away), volunteers with the token get the answer for a cluster nobody runs, struck as ever', () => {
    const r = counterRegistry({ now: 0 });
    r.join('c1', coordinator());
    r.leave('c1');
    expect(r.isHeld('lab')).toBe(true);
    expect(r.join('b', req())).toMatchObject({ ok: false, code: 'wrong_token', strike: true });
  });

  it('gives the coordinator alone a secret that reclaims the held name; a volunteer with the token cannot take it', () => {
    const clock = { now: 0 };
    const r = counterRegistry(clock);
    const head = r.join('c1', coordinator());
    const node = r.join('a', req());
    expect(head.ok && head.reply.coordinatorSecret).toBe('secret-0');
    expect(node.ok && node.reply).not.toHaveProperty('coordinatorSecret');
    r.leave('a');
    r.leave('c1', true); // away: a reload, a crash, a dropped connection
    clock.now = 59_000;
    // The volunteer, who knows the name and the token, tries to take the seat: no secret, a guessed one.
    const noSecret = r.join('a', coordinator());
    expect(noSecret).toMatchObject({ ok: false, code: 'name_held', strike: false });
    if (!noSecret.ok) expect(noSecret.message).toMatch(/held for the coordinator that just left it, for 1 s more/);
    expect(r.join('a', coordinator({ coordinatorSecret: 'secret-1' }))).toMatchObject({ ok: false, code: 'name_held', strike: true });
    expect(r.join('a', coordinator({ token: OTHER_TOKEN, coordinatorSecret: '' }))).toMatchObject({ ok: false, code: 'name_held' });
    // Nodes with the token are told to come back shortly (no strike); a wrong token gets the same
    // answer as for any cluster nobody runs.
    expect(r.join('b', req())).toMatchObject({ ok: false, code: 'coordinator_away', strike: false });
    expect(r.join('b', req({ token: OTHER_TOKEN }))).toMatchObject({ ok: false, code: 'wrong_token', strike: true });
    // The coordinator's tab, reloaded, shows its secret and gets the seat back (the same secret again).
    const back = r.join('c2', coordinator({ coordinatorSecret: 'secret-0' }));
    // (After a shutdown — not away — volunteers get the answer for a cluster nobody runs: see below.)
    expect(back).toMatchObject({ ok: true, reply: { coordinatorSecret: 'secret-0' } });
    expect(r.isHeld('lab')).toBe(false);
    expect(r.join('b', req()).ok).toBe(true);
  });

  it('lets the hold run out, after which the name is anyone’s and the old secret reclaims nothing', () => {
    const clock = { now: 0 };
    const r = counterRegistry(clock);
    r.join('c1', coordinator());
    r.leave('c1');
    clock.now = 60_000;
    const other = r.join('x', coordinator({ token: OTHER_TOKEN, coordinatorSecret: 'secret-0' }));
    expect(other).toMatchObject({ ok: true, reply: { coordinatorSecret: 'secret-1' } });
    r.leave('x');
    expect(r.join('c1', coordinator({ coordinatorSecret: 'secret-0' }))).toMatchObject({ ok: false, code: 'name_held', strike: true });
  });

  it('mints coordinator secrets of 32 base64url characters', () => {
    const secrets = new Set(Array.from({ length: 1000 }, () => randomCoordinatorSecret()));
    expect(secrets.size).toBe(1000);
    for (const s of secrets) expect(s).toMatch(/^[A-Za-z0-9_-]{32}$/);
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
