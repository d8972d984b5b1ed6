import { describe, expect, it } from 'vitest';
import { parsePeerMessage } from './peer-messages.ts';

describe('parsePeerMessage', () => {
  it('accepts each kind of peer message', () => {
    for (const m of [
      { type: 'to_node', msg: { type: 'cancel_task', taskId: 't', force: false } },
      { type: 'to_coordinator', msg: { type: 'task_blocked', taskId: 't' } },
      { type: 'ping', n: 1 },
      { type: 'pong', n: 1 },
      { type: 'pull', reqId: 1, id: 'x.0' },
      { type: 'pull_ok', reqId: 1, obj: { v: 1, size: 8 } },
      { type: 'pull_err', reqId: 1, error: { name: 'ObjectLostError', message: 'gone' } },
    ]) {
      expect(parsePeerMessage(m)).toEqual({ ok: true, msg: m });
    }
  });

  it('says what is wrong with garbage instead of throwing', () => {
    for (const bad of [null, 42, 'ping', [], { type: 'nope' }, { type: 'ping' }, { type: 'pull', reqId: '1', id: 'x' }, { type: 'pull_ok', reqId: 1, obj: {} }]) {
      const r = parsePeerMessage(bad);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason.length).toBeGreaterThan(0);
    }
  });

  it('refuses control messages of a type the other side does not send', () => {
    expect(parsePeerMessage({ type: 'to_node', msg: { type: 'task_done' } })).toEqual({ ok: false, reason: 'unknown control message task_done' });
    expect(parsePeerMessage({ type: 'to_coordinator', msg: { type: 'run_task' } })).toEqual({ ok: false, reason: 'unknown control message run_task' });
  });
});
