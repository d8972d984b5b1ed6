import { describe, expect, it } from 'vitest';
import type { NodeId, ObjectId } from '../protocol/ids.ts';
import { ObjectDirectory } from './object-directory.ts';

const oid = (s: string): ObjectId => s as ObjectId;
const nid = (s: string): NodeId => s as NodeId;

describe('ObjectDirectory', () => {
  it('knows nothing about an object until asked to track it, then holds it pending', () => {
    const d = new ObjectDirectory();
    expect(d.get(oid('a'))).toBeUndefined();
    expect(d.isReady(oid('a'))).toBe(false);
    const e = d.ensure(oid('a'));
    expect(e.ready).toBe(false);
    expect(d.ensure(oid('a'))).toBe(e);
    expect(d.size).toBe(1);
  });

  it('records size, the inline copy and the holding node when an object becomes ready', () => {
    const d = new ObjectDirectory();
    d.setReady(oid('a'), 100, { v: 1, size: 100 }, nid('n1'));
    d.setReady(oid('a'), 100, undefined, nid('n2'));
    const e = d.get(oid('a'))!;
    expect(e.ready).toBe(true);
    expect(e.size).toBe(100);
    expect(e.obj).toEqual({ v: 1, size: 100 });
    expect([...e.locations]).toEqual(['n1', 'n2']);
  });

  it('wakes every waiter once when the object becomes ready', () => {
    const d = new ObjectDirectory();
    const calls: string[] = [];
    d.onReady(oid('a'), () => calls.push('w1'));
    d.onReady(oid('a'), () => calls.push('w2'));
    expect(calls).toEqual([]);
    d.setReady(oid('a'), 1, undefined, nid('n1'));
    d.setReady(oid('a'), 1, undefined, nid('n2'));
    expect(calls).toEqual(['w1', 'w2']);
  });

  it('calls a waiter at once when the object is already ready', () => {
    const d = new ObjectDirectory();
    d.setReady(oid('a'), 1, { v: 1, size: 1 }, undefined);
    let called = 0;
    d.onReady(oid('a'), () => called++);
    expect(called).toBe(1);
  });

  it('does not call a waiter whose wait was cancelled', () => {
    const d = new ObjectDirectory();
    const calls: string[] = [];
    const cancel = d.onReady(oid('a'), () => calls.push('cancelled'));
    d.onReady(oid('a'), () => calls.push('kept'));
    cancel();
    d.setReady(oid('a'), 1, undefined, nid('n1'));
    expect(calls).toEqual(['kept']);
  });

  it('makes a ready object pending again and forgets its copies', () => {
    const d = new ObjectDirectory();
    d.setReady(oid('a'), 10, { v: 1, size: 10 }, nid('n1'));
    d.setPending(oid('a'));
    const e = d.get(oid('a'))!;
    expect(e.ready).toBe(false);
    expect(e.obj).toBeUndefined();
    expect(e.locations.size).toBe(0);
    let woke = false;
    d.onReady(oid('a'), () => (woke = true));
    d.setReady(oid('a'), 10, undefined, nid('n2'));
    expect(woke).toBe(true);
  });

  it('reports objects whose only copy was on a node that left, not those held elsewhere or inline', () => {
    const d = new ObjectDirectory();
    d.setReady(oid('only'), 1e6, undefined, nid('gone'));
    d.setReady(oid('both'), 1e6, undefined, nid('gone'));
    d.setReady(oid('both'), 1e6, undefined, nid('stays'));
    d.setReady(oid('inline'), 8, { v: 1, size: 8 }, nid('gone'));
    d.setReady(oid('other'), 1e6, undefined, nid('stays'));
    expect(d.dropNode(nid('gone'))).toEqual(['only']);
    expect([...d.get(oid('both'))!.locations]).toEqual(['stays']);
  });

  it('forgets a deleted object', () => {
    const d = new ObjectDirectory();
    d.setReady(oid('a'), 1, undefined, nid('n1'));
    d.delete(oid('a'));
    expect(d.get(oid('a'))).toBeUndefined();
    expect(d.size).toBe(0);
  });
});
