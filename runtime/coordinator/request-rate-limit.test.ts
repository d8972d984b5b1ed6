// Requests per volunteer node: a token bucket; moderate excess is refused without a strike, a
// flood is struck and cut off. Time is fake: the bucket refills only as the clock moves.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { HolderId, TaskId } from '../protocol/ids.ts';
import type { CoordinatorToNode } from '../protocol/node-messages.ts';
import { REQUEST_BURST, REQUEST_FLOOD_DEBT, REQUESTS_PER_S, VOLUNTEER_STRIKE_LIMIT } from './constants.ts';
import { cluster, nid, taskSpec, type Cluster } from './coordinator.fixture.ts';
import { RequestRateLimit } from './request-rate-limit.ts';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['performance', 'Date', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
  vi.spyOn(console, 'warn').mockImplementation(() => {});
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('RequestRateLimit', () => {
  const node = {};
  const limits = { perSecond: 10, burst: 5, floodDebt: 8 };

  it('allows a burst, then refuses until the bucket refills at its rate', () => {
    const rl = new RequestRateLimit<object>(limits);
    expect(Array.from({ length: 6 }, () => rl.take(node))).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'limited']);
    expect(rl.refusedInARow(node)).toBe(1);
    vi.advanceTimersByTime(50); // half a token: still less than one (one refused request owed)
    expect(rl.take(node)).toBe('limited'); // owes 1.5
    vi.advanceTimersByTime(200); // 2 tokens: 0.5
    expect(rl.take(node)).toBe('limited'); // owes 0.5
    vi.advanceTimersByTime(200); // 1.5
    expect(rl.take(node)).toBe('ok');
    expect(rl.refusedInARow(node)).toBe(0);
    vi.advanceTimersByTime(60_000); // refills to the burst, no further
    expect(Array.from({ length: 6 }, () => rl.take(node))).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'limited']);
  });

  it('calls a flood a node that keeps sending floodDebt requests past its allowance', () => {
    const rl = new RequestRateLimit<object>(limits);
    const verdicts = Array.from({ length: 5 + 10 }, () => rl.take(node));
    expect(verdicts.slice(5, 12)).toEqual(Array(7).fill('limited'));
    expect(verdicts.slice(12)).toEqual(['flood', 'flood', 'flood']);
    // Pausing pays the debt back: requests are handled again.
    vi.advanceTimersByTime(1000);
    expect(rl.take(node)).toBe('ok');
  });

  it('keeps one bucket per node', () => {
    const rl = new RequestRateLimit<object>(limits);
    const other = {};
    for (let i = 0; i < 5; i++) rl.take(node);
    expect(rl.take(node)).toBe('limited');
    expect(rl.take(other)).toBe('ok');
  });
});

describe('the coordinator limits requests from each volunteer node', () => {
  const V1 = nid('v1');
  function start(): { k: Cluster; taskId: TaskId } {
    const k = cluster({ head: { CPU: 0 }, v1: { CPU: 1 }, v2: { CPU: 1 } });
    const t = k.submit(taskSpec({ strategy: { nodeId: V1, soft: false } }));
    return { k, taskId: t.taskId };
  }
  const ask = (k: Cluster, from: string, taskId: TaskId | null): CoordinatorToNode[] => {
    const replies: CoordinatorToNode[] = [];
    k.c.handleNodeMessage(nid(from), { type: 'client_request', reqId: 7, taskId, req: { type: 'clusterView' }, holder: `${from}-w0` as HolderId }, (m) => replies.push(m));
    return replies;
  };
  const refused = [{ type: 'client_reply', reqId: 7, ok: false, error: { name: 'RateLimitError', message: expect.stringMatching(/^webray refused this request: too many requests from this node: at most 5000 a second/) } }];

  it(`answers ${REQUEST_BURST} at once, then refuses with a RateLimitError to task code (no strike), then answers again as time passes`, () => {
    const { k, taskId } = start();
    for (let i = 0; i < REQUEST_BURST; i++) expect(ask(k, 'v1', taskId)[0]).toMatchObject({ ok: true });
    expect(ask(k, 'v1', taskId)).toEqual(refused);
    expect(ask(k, 'v1', taskId)).toEqual(refused);
    expect(k.c.strikesOf(V1)).toBe(0);
    expect(console.warn).toHaveBeenCalledTimes(1); // once per run of refusals
    vi.advanceTimersByTime(1000); // REQUESTS_PER_S tokens, 2 of them owed
    for (let i = 0; i < REQUESTS_PER_S - 2; i++) expect(ask(k, 'v1', taskId)[0]).toMatchObject({ ok: true });
    expect(ask(k, 'v1', taskId)).toEqual(refused);
    // The driver is not limited.
    expect(ask(k, 'head', null)[0]).toMatchObject({ ok: true });
  });

  it(`strikes a flood (${REQUEST_FLOOD_DEBT} refused requests without a pause) and drops the node at the strike limit`, () => {
    const { k, taskId } = start();
    for (let i = 0; i < REQUEST_BURST + REQUEST_FLOOD_DEBT - 1; i++) ask(k, 'v1', taskId);
    expect(k.c.strikesOf(V1)).toBe(0);
    for (let i = 0; i < VOLUNTEER_STRIKE_LIMIT - 1; i++) ask(k, 'v1', taskId);
    expect(k.c.strikesOf(V1)).toBe(VOLUNTEER_STRIKE_LIMIT - 1);
    expect(k.c.nodeInfos().find((n) => n.nodeId === V1)?.alive).toBe(true);
    ask(k, 'v1', taskId);
    expect(k.c.nodeInfos().find((n) => n.nodeId === V1)?.alive).not.toBe(true);
  });
});
