import { describe, expect, it, vi } from 'vitest';
import type { Logger } from '../common/logger.ts';
import type { NodeId } from '../protocol/ids.ts';
import { coordinatorToNodeSchema, nodeToCoordinatorSchema } from '../protocol/message-schemas.ts';
import type { CoordinatorToNode, NodeToCoordinator } from '../protocol/node-messages.ts';
import type { PeerMessage } from '../protocol/peer-messages.ts';
import { makeTaskSpec } from '../protocol/task-spec.fixture.ts';
import { encode } from './codec.ts';
import { MAX_DATA_MESSAGE_BYTES, PEER_STRIKE_LIMIT, PULL_REPLY_ENVELOPE_BYTES } from './constants.ts';
import { CONTROL_LANE, DATA_LANE, frames } from './framing.ts';
import { Inbox } from './inbox.ts';

// The tab → tab boundary: every control message enters through a link's Inbox. For each of the
// three unions that cross it — a node's messages to the coordinator, the coordinator's to a node,
// and the peer envelope itself — a malformed message of every type is refused (never handed on),
// logged naming the field, counted as a strike, and never thrown. Each table is keyed by its
// union's types, so a new message type without a case fails to compile.

type Case = readonly [unknown, RegExp];

const TO_COORDINATOR: Record<NodeToCoordinator['type'], Case> = {
  task_started: [{ type: 'task_started', taskId: 't1', workerId: 'w1', atMs: 'now' }, /msg\.atMs/],
  task_done: [{ type: 'task_done', taskId: 't1', attempt: -1, workerId: 'w1', startMs: 0, endMs: 1 }, /msg\.attempt/],
  generator_item: [{ type: 'generator_item', taskId: 't1', attempt: 0, index: 1.5, result: { id: 't1.1', size: 8 } }, /msg\.index/],
  actor_died: [{ type: 'actor_died', actorId: 'a1', error: { name: 'ActorDiedError' } }, /msg\.error\.message/],
  task_blocked: [{ type: 'task_blocked', taskId: '' }, /msg\.taskId: expected a task id/],
  task_unblocked: [{ type: 'task_unblocked', taskId: 7 }, /msg\.taskId: expected a task id/],
  tasks_waiting: [{ type: 'tasks_waiting', taskIds: 't1' }, /msg\.taskIds/],
  object_put: [{ type: 'object_put', id: 'p1', size: -1 }, /msg\.size/],
  client_request: [{ type: 'client_request', reqId: -2, taskId: null, req: { type: 'timeline' } }, /msg\.reqId/],
  refs: [{ type: 'refs', holder: { driver: true }, add: [] }, /msg\.holder/],
  object_located: [{ type: 'object_located', id: 'x.0', failed: false }, /msg\.failed/],
  node_stats: [{ type: 'node_stats', memoryBytes: 1, spilledBytes: 0, objects: -1 }, /msg\.objects/],
};

const TO_NODE: Record<CoordinatorToNode['type'], Case> = {
  run_task: [{ type: 'run_task', spec: makeTaskSpec(), attempt: 'first', args: [] }, /msg\.attempt/],
  start_task: [{ type: 'start_task', taskId: ['t1'] }, /msg\.taskId: expected a task id/],
  cancel_task: [{ type: 'cancel_task', taskId: 't1', force: 'yes' }, /msg\.force/],
  kill_actor: [{ type: 'kill_actor', actorId: null }, /msg\.actorId: expected an actor id/],
  generator_ack: [{ type: 'generator_ack', taskId: 't1', consumed: -1 }, /msg\.consumed/],
  fetch_objects: [{ type: 'fetch_objects', objects: [{ id: 'x.0', nodes: 'n1' }] }, /msg\.objects\.0\.nodes/],
  expect_pulls: [{ type: 'expect_pulls', puller: '', ids: [] }, /msg\.puller: expected a node id/],
  free_objects: [{ type: 'free_objects', ids: [1] }, /msg\.ids\.0: expected an object id/],
  client_reply: [{ type: 'client_reply', reqId: 1, ok: false, error: { name: 'E' } }, /msg\.error\.message/],
};

const PEER: Record<PeerMessage['type'], Case> = {
  to_node: [{ type: 'to_node', msg: 'cancel everything' }, /msg/],
  to_coordinator: [{ type: 'to_coordinator', msg: null }, /msg/],
  ping: [{ type: 'ping', n: 'one' }, /^n:/],
  pong: [{ type: 'pong', n: 1.5 }, /^n:/],
  pull: [{ type: 'pull', reqId: Infinity, id: 'x.0' }, /^reqId:/],
  pull_ok: [{ type: 'pull_ok', reqId: 1, obj: { v: 1 } }, /^obj\.size:/],
  pull_err: [{ type: 'pull_err', reqId: 1, error: 'boom' }, /^error:/],
};

/** The message types a schema of a union on `type` lists (a nested variant counted by its own options). */
function typesOf(schema: { readonly options: readonly unknown[] }): string[] {
  return schema.options.flatMap((o) => {
    const opt = o as { options?: readonly unknown[]; entries?: { type: { literal: string } } };
    return opt.options ? typesOf({ options: opt.options }) : [opt.entries!.type.literal];
  });
}

/** An inbox from node-a, with what it handed on, its warnings and its cut-off reason. */
function inbox() {
  const delivered: PeerMessage[] = [];
  const warnings: string[] = [];
  const cutOff: string[] = [];
  const log = Object.assign(() => {}, { enabled: false, warn: (m: string) => warnings.push(m) }) as Logger;
  const box = new Inbox('node-a' as NodeId, log, (m) => delivered.push(m), (r) => cutOff.push(r));
  let msgNo = 0;
  /** Sends `batch` as one control-lane message, as a link does. */
  const send = (batch: readonly unknown[]): void => {
    for (const f of frames(CONTROL_LANE, msgNo++, encode(batch))) box.push(f);
  };
  return { delivered, warnings, cutOff, send };
}

function refusesEach(cases: Record<string, Case>, envelope: (msg: unknown) => unknown): void {
  for (const [type, [msg, field]] of Object.entries(cases)) {
    const { delivered, warnings, cutOff, send } = inbox();
    expect(() => send([envelope(msg)]), type).not.toThrow();
    expect(delivered, type).toEqual([]);
    expect(warnings, type).toEqual([expect.stringMatching(/^dropping a malformed message: .* from node-a \(strike 1 of \d+\)$/)]);
    expect(warnings[0]!.replace(/^dropping a malformed message: /, ''), type).toMatch(field);
    expect(cutOff, type).toEqual([]);
  }
}

describe('Inbox: a malformed message of every type is refused, counted, not thrown', () => {
  it('has a case for every type each schema lists', () => {
    expect(Object.keys(TO_COORDINATOR).sort()).toEqual(typesOf(nodeToCoordinatorSchema).sort());
    expect(Object.keys(TO_NODE).sort()).toEqual([...new Set(typesOf(coordinatorToNodeSchema))].sort());
  });

  it('node → coordinator', () => refusesEach(TO_COORDINATOR, (msg) => ({ type: 'to_coordinator', msg })));
  it('coordinator → node', () => refusesEach(TO_NODE, (msg) => ({ type: 'to_node', msg })));
  it('peer ↔ peer (the envelope)', () => refusesEach(PEER, (msg) => msg));

  it('counts every refusal against the sender and cuts it off at the strike limit, still delivering what is well formed', () => {
    const { delivered, warnings, cutOff, send } = inbox();
    const all = [...Object.values(TO_COORDINATOR).map(([m]) => ({ type: 'to_coordinator', msg: m })), ...Object.values(PEER).map(([m]) => m)];
    expect(all.length).toBeGreaterThan(PEER_STRIKE_LIMIT);
    const honest = { type: 'ping', n: 1 };
    expect(() => send([honest, ...all.slice(0, PEER_STRIKE_LIMIT - 1), honest])).not.toThrow();
    expect(delivered).toEqual([honest, honest]);
    expect(warnings.map((w) => /strike (\d+) of/.exec(w)?.[1])).toEqual(Array.from({ length: PEER_STRIKE_LIMIT - 1 }, (_, i) => String(i + 1)));
    expect(cutOff).toEqual([]);
    send(all.slice(PEER_STRIKE_LIMIT - 1));
    expect(cutOff).toEqual([expect.stringMatching(new RegExp(`node-a sent ${PEER_STRIKE_LIMIT} malformed frames or messages .*cut off`))]);
    send([honest]);
    expect(delivered).toHaveLength(2);
  });

  it('keeps going when handing a message on throws', () => {
    const warn = vi.fn();
    const log = Object.assign(() => {}, { enabled: false, warn }) as Logger;
    const got: PeerMessage[] = [];
    const box = new Inbox('node-a' as NodeId, log, (m) => {
      got.push(m);
      throw new Error('handler bug');
    }, () => {});
    for (const f of frames(CONTROL_LANE, 0, encode([{ type: 'ping', n: 1 }, { type: 'ping', n: 2 }]))) expect(() => box.push(f)).not.toThrow();
    expect(got).toHaveLength(2);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/error handling ping from node-a: handler bug/));
  });
});

describe('Inbox: a message over its decode budget is refused before it is decoded', () => {
  /** 8 MiB of empty maps in one array: ~8M objects, seconds and GiBs if decoded. */
  function emptyMapsBomb(): Uint8Array {
    const bytes = new Uint8Array(8 * 1024 * 1024);
    bytes[0] = 0xdd;
    new DataView(bytes.buffer).setUint32(1, bytes.length - 5);
    bytes.fill(0x80, 5);
    return bytes;
  }

  for (const lane of [CONTROL_LANE, DATA_LANE]) {
    it(`on the ${lane === CONTROL_LANE ? 'control' : 'data'} lane: a strike naming the budget, nothing handed on, the link goes on`, () => {
      const warnings: string[] = [];
      const delivered: PeerMessage[] = [];
      const log = Object.assign(() => {}, { enabled: false, warn: (m: string) => warnings.push(m) }) as Logger;
      const box = new Inbox('node-a' as NodeId, log, (m) => delivered.push(m), () => {});
      const t0 = performance.now();
      for (const f of frames(lane, 0, emptyMapsBomb())) expect(() => box.push(f)).not.toThrow();
      const ms = performance.now() - t0;
      expect(warnings).toEqual([expect.stringMatching(/^dropping a message over its decode budget \(8388608 bytes\): it holds more than \d+ containers .* from node-a \(strike 1 of \d+\)$/)]);
      expect(delivered).toEqual([]);
      expect(ms).toBeLessThan(2000); // decoding it takes seconds (4.4 s in Node on this machine)
      for (const f of frames(CONTROL_LANE, 1, encode([{ type: 'ping', n: 1 }]))) box.push(f);
      expect(delivered).toEqual([{ type: 'ping', n: 1 }]);
    });
  }

  it('refuses an array header claiming 2^32 − 1 items in a 16-byte message', () => {
    const warnings: string[] = [];
    const log = Object.assign(() => {}, { enabled: false, warn: (m: string) => warnings.push(m) }) as Logger;
    const box = new Inbox('node-a' as NodeId, log, () => expect.unreachable(), () => {});
    const bytes = new Uint8Array(16);
    bytes[0] = 0xdd;
    new DataView(bytes.buffer).setUint32(1, 0xffffffff);
    for (const f of frames(CONTROL_LANE, 0, bytes)) box.push(f);
    expect(warnings).toEqual([expect.stringMatching(/decode budget \(16 bytes\): a container claims 4294967295 values but only 11 bytes remain/)]);
  });
});

describe('Inbox: object sizes are what arrived, not what the sender claims', () => {
  function box() {
    const delivered: PeerMessage[] = [];
    const warnings: string[] = [];
    const log = Object.assign(() => {}, { enabled: false, warn: (m: string) => warnings.push(m) }) as Logger;
    const inbox = new Inbox('node-a' as NodeId, log, (m) => delivered.push(m), () => {});
    let msgNo = 0;
    const send = (lane: typeof CONTROL_LANE, value: unknown): void => {
      for (const f of frames(lane, msgNo++, encode(value))) inbox.push(f);
    };
    return { delivered, warnings, send };
  }

  it("a pull reply: its object is as large as the data-lane message that carried it, less at most the envelope; an honest claim stays", () => {
    const { delivered, send } = box();
    const v = new Uint8Array(100_000);
    const sizes = [1, 1e12, 100_000].map((claimed) => {
      send(DATA_LANE, { type: 'pull_ok', reqId: 1, obj: { v, size: claimed } });
      return (delivered.at(-1) as Extract<PeerMessage, { type: 'pull_ok' }>).obj.size;
    });
    const bytes = encode({ type: 'pull_ok', reqId: 1, obj: { v, size: 1 } }).length;
    expect(sizes).toEqual([bytes - PULL_REPLY_ENVELOPE_BYTES, encode({ type: 'pull_ok', reqId: 1, obj: { v, size: 1e12 } }).length, 100_000]);
    expect(bytes).toBeGreaterThan(100_000);
  });

  it('a pull reply on the control lane is refused as a strike (an honest holder sends it on the data lane)', () => {
    const { delivered, warnings, send } = box();
    send(CONTROL_LANE, [{ type: 'pull_ok', reqId: 1, obj: { v: 1, size: 8 } }]);
    expect(delivered).toEqual([]);
    expect(warnings).toEqual([expect.stringMatching(/^dropping a pull reply on the control lane from node-a \(strike 1 of/)]);
  });

  it("a report's inline object measures as its value encodes; a held object's claim is capped at the largest pullable message", () => {
    const { delivered, send } = box();
    const v = 'x'.repeat(50_000);
    send(CONTROL_LANE, [
      { type: 'to_coordinator', msg: { type: 'task_done', taskId: 't1', attempt: 0, workerId: 'w1', startMs: 0, endMs: 1, results: [{ id: 't1.0', size: 0, obj: { v, size: 0 } }, { id: 't1.1', size: 1e15 }] } },
    ]);
    const done = (delivered[0] as Extract<PeerMessage, { type: 'to_coordinator' }>).msg as Extract<NodeToCoordinator, { type: 'task_done' }>;
    expect(done.results![0]!.size).toBe(encode(v).length);
    expect(done.results![0]!.obj!.size).toBe(encode(v).length);
    expect(done.results![1]!.size).toBe(MAX_DATA_MESSAGE_BYTES);
  });
});
