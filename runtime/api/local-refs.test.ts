import { describe, expect, it } from 'vitest';
import type { ObjectId } from '../protocol/ids.ts';
import type { RefUpdate } from '../protocol/node-messages.ts';
import { LocalRefs } from './local-refs.ts';

const o = (s: string) => s as ObjectId;
const tick = () => new Promise((r) => setTimeout(r, 0));

function setup() {
  const sent: RefUpdate[] = [];
  const refs = new LocalRefs((u) => sent.push(u));
  return { refs, sent };
}

describe('LocalRefs', () => {
  it('reports nothing for refs the coordinator already counts (task returns, puts) until the last instance is collected', async () => {
    const { refs, sent } = setup();
    refs.track({}, o('r'), true);
    refs.track({}, o('r'), false);
    await tick();
    expect(sent).toEqual([]);
    refs.collected(o('r'));
    await tick();
    expect(sent).toEqual([]);
    refs.collected(o('r'));
    await tick();
    expect(sent).toEqual([{ release: [o('r')] }]);
  });

  it('adds a ref that arrived inside a value, in one batch with other changes', async () => {
    const { refs, sent } = setup();
    refs.track({}, o('a'), true);
    refs.track({}, o('b'), false);
    refs.track({}, o('c'), false);
    refs.collected(o('a'));
    await tick();
    expect(sent).toEqual([{ add: [o('b'), o('c')], release: [o('a')] }]);
  });

  it('sends nothing for a ref collected and revived within one batch', async () => {
    const { refs, sent } = setup();
    refs.track({}, o('x'), true);
    refs.collected(o('x'));
    refs.track({}, o('x'), false);
    await tick();
    expect(sent).toEqual([]);
    refs.collected(o('x'));
    await tick();
    expect(sent).toEqual([{ release: [o('x')] }]);
  });

  it('flush() sends at once (a worker does it before each message to its node)', () => {
    const { refs, sent } = setup();
    refs.track({}, o('y'), false);
    expect(refs.pending).toBe(true);
    refs.flush();
    expect(sent).toEqual([{ add: [o('y')] }]);
    expect(refs.pending).toBe(false);
  });

  it('reports nothing after stop()', async () => {
    const { refs, sent } = setup();
    refs.track({}, o('z'), true);
    refs.stop();
    refs.collected(o('z'));
    await tick();
    expect(sent).toEqual([]);
  });
});
