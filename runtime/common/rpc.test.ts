import { afterEach, describe, expect, it, vi } from 'vitest';
import { answer, answerNow, RpcCaller, type RpcAnswer, type RpcHandlers } from './rpc.ts';

interface Ops {
  readonly double: { readonly req: { readonly type: 'double'; readonly n: number }; readonly reply: number };
  readonly name: { readonly req: { readonly type: 'name' }; readonly reply: string };
}
type Note = { readonly type: 'note'; readonly text: string };

function caller(timeoutMs?: number) {
  const sent: { msg: unknown; reqId: number | undefined; ctx: string }[] = [];
  const rpc = new RpcCaller<Ops, Note, string>({ callee: 'the test', send: (msg, reqId, ctx) => sent.push({ msg, reqId, ctx }), timeoutMs });
  return { rpc, sent };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('RpcCaller', () => {
  it('numbers requests, and resolves each with its own reply, in any order', async () => {
    const { rpc, sent } = caller();
    const a = rpc.call({ type: 'double', n: 2 }, 'ctx-a');
    const b = rpc.call({ type: 'name' }, 'ctx-b');
    expect(sent).toEqual([
      { msg: { type: 'double', n: 2 }, reqId: 1, ctx: 'ctx-a' },
      { msg: { type: 'name' }, reqId: 2, ctx: 'ctx-b' },
    ]);
    expect(rpc.settle(2, { ok: true, value: 'b' })).toBe(true);
    expect(rpc.settle(1, { ok: true, value: 4 })).toBe(true);
    const [x, y]: [number, string] = [await a, await b];
    expect([x, y]).toEqual([4, 'b']);
    expect(rpc.waiting).toBe(0);
  });

  it('rejects a call with the error its reply carries, and ignores a second or unknown reply', async () => {
    const { rpc } = caller();
    const a = rpc.call({ type: 'name' }, '');
    expect(rpc.settle(1, { ok: false, error: new TypeError('no name') })).toBe(true);
    await expect(a).rejects.toThrow(TypeError);
    expect(rpc.settle(1, { ok: true, value: 'late' })).toBe(false);
    expect(rpc.settle(99, { ok: true, value: 'never asked' })).toBe(false);
  });

  it('sends a notification without an id and keeps nothing for it', () => {
    const { rpc, sent } = caller();
    rpc.notify({ type: 'note', text: 'hi' }, 'c');
    expect(sent).toEqual([{ msg: { type: 'note', text: 'hi' }, reqId: undefined, ctx: 'c' }]);
    expect(rpc.waiting).toBe(0);
  });

  it('times a call out, running onSettled once, and drops its late reply', async () => {
    vi.useFakeTimers();
    const { rpc } = caller(50);
    const settled = vi.fn();
    const a = rpc.call({ type: 'double', n: 1 }, '', { onSettled: settled });
    vi.advanceTimersByTime(50);
    await expect(a).rejects.toThrow('a "double" request to the test had no reply within 50 ms');
    expect(settled).toHaveBeenCalledTimes(1);
    expect(rpc.settle(1, { ok: true, value: 2 })).toBe(false);
    expect(settled).toHaveBeenCalledTimes(1);
  });

  it('rejects every waiting call on close, and every later one; notifications are dropped', async () => {
    const { rpc, sent } = caller();
    const a = rpc.call({ type: 'name' }, '');
    rpc.close('the link closed');
    await expect(a).rejects.toThrow('the test did not answer: the link closed');
    await expect(rpc.call({ type: 'name' }, '')).rejects.toThrow('no call can be made to the test: the link closed');
    rpc.notify({ type: 'note', text: 'x' }, '');
    expect(sent).toHaveLength(1);
  });

  it('fails a call whose send throws, keeping nothing', async () => {
    const rpc = new RpcCaller<Ops>({
      callee: 'x',
      send: () => {
        throw new Error('cannot send');
      },
    });
    await expect(rpc.call({ type: 'name' }, undefined)).rejects.toThrow('cannot send');
    expect(rpc.waiting).toBe(0);
  });
});

describe('answer', () => {
  const handlers: RpcHandlers<Ops> = {
    double: (req) => req.n * 2,
    name: () => {
      throw new Error('nameless');
    },
  };
  it('answers with the handler of the operation, and turns a throw into a rejection', async () => {
    await expect(answer(handlers, 'double', { type: 'double', n: 21 })).resolves.toBe(42);
    await expect(answer(handlers, 'name', { type: 'name' })).rejects.toThrow('nameless');
  });
});

describe('answerNow', () => {
  it('answers in the same turn when the handler returns its reply or throws', () => {
    const outcomes: RpcAnswer<unknown>[] = [];
    const handlers: RpcHandlers<Ops> = {
      double: (req) => req.n * 2,
      name: () => {
        throw new Error('nameless');
      },
    };
    answerNow(handlers, 'double', { type: 'double', n: 21 }, (o) => outcomes.push(o));
    answerNow(handlers, 'name', { type: 'name' }, (o) => outcomes.push(o));
    expect(outcomes).toEqual([
      { ok: true, value: 42 },
      { ok: false, error: new Error('nameless') },
    ]);
  });

  it('answers once a returned promise settles, a rejection as a failure', async () => {
    const outcomes: RpcAnswer<unknown>[] = [];
    let resolveName!: (s: string) => void;
    const handlers: RpcHandlers<Ops> = {
      double: () => Promise.reject(new Error('no')),
      name: () => new Promise<string>((r) => (resolveName = r)),
    };
    answerNow(handlers, 'name', { type: 'name' }, (o) => outcomes.push(o));
    answerNow(handlers, 'double', { type: 'double', n: 1 }, (o) => outcomes.push(o));
    expect(outcomes).toEqual([]);
    await vi.waitFor(() => expect(outcomes).toEqual([{ ok: false, error: new Error('no') }]));
    resolveName('n');
    await vi.waitFor(() => expect(outcomes).toEqual([{ ok: false, error: new Error('no') }, { ok: true, value: 'n' }]));
  });
});
