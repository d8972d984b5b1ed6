import { describe, expect, it } from 'vitest';
import type { HolderId, NodeId, ObjectId } from '../protocol/ids.ts';
import { ReferenceTable } from './reference-table.ts';

const h = (s: string): HolderId => s as HolderId;

const o = (s: string) => s as ObjectId;
const n = (s: string) => s as NodeId;

describe('ReferenceTable', () => {
  it('counts each holder once per object, however often it reports it', () => {
    const t = new ReferenceTable();
    t.holderAdd(h('driver'), undefined, [o('a'), o('a')]);
    t.holderAdd(h('driver'), undefined, [o('a')]);
    t.holderAdd(h('w1'), n('n1'), [o('a')]);
    expect(t.count(o('a'))).toBe(2);
    expect(t.holderRelease(h('driver'), [o('a')])).toEqual([]);
    expect(t.holderRelease(h('driver'), [o('a')])).toEqual([]);
    expect(t.holderRelease(h('w1'), [o('a')])).toEqual([o('a')]);
    expect(t.count(o('a'))).toBe(0);
  });

  it('keeps an object alive while anything else (a containing object, a task argument) counts it', () => {
    const t = new ReferenceTable();
    t.holderAdd(h('driver'), undefined, [o('inner')]);
    t.add(o('inner'));
    expect(t.holderRelease(h('driver'), [o('inner')])).toEqual([]);
    expect(t.release(o('inner'))).toBe(true);
    expect(t.release(o('inner'))).toBe(false);
  });

  it('drops every ref of a dead holder, and of every holder on a node that left', () => {
    const t = new ReferenceTable();
    t.holderAdd(h('w1'), n('n1'), [o('a'), o('b')]);
    t.holderAdd(h('w2'), n('n1'), [o('b'), o('c')]);
    t.holderAdd(h('w3'), n('n2'), [o('c')]);
    expect(t.dropHolder(h('w1')).sort()).toEqual([o('a')]);
    expect(t.dropNode(n('n1')).sort()).toEqual([o('b')]);
    expect(t.count(o('c'))).toBe(1);
    expect(t.holds(h('w3'), o('c'))).toBe(true);
  });
});
