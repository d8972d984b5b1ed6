import { describe, expect, it } from 'vitest';
import { LocalChannel } from './local-channel.ts';

const microtask = (): Promise<void> => Promise.resolve();

describe('LocalChannel', () => {
  it('delivers nothing synchronously, then everything sent in the turn, in order, on one microtask', async () => {
    const got: number[] = [];
    const ch = new LocalChannel<number>((m) => got.push(m));
    ch.send(1);
    ch.send(2);
    ch.send(3);
    expect(got).toEqual([]);
    await microtask();
    expect(got).toEqual([1, 2, 3]);
  });

  it('delivers a message sent from inside a delivery after the current batch, never re-entering', async () => {
    const got: string[] = [];
    let depth = 0;
    const ch: LocalChannel<string> = new LocalChannel<string>((m) => {
      depth++;
      expect(depth).toBe(1);
      got.push(m);
      if (m === 'a') ch.send('reply-to-a');
      depth--;
    });
    ch.send('a');
    ch.send('b');
    await microtask();
    expect(got).toEqual(['a', 'b']);
    await microtask();
    expect(got).toEqual(['a', 'b', 'reply-to-a']);
  });

  it('drops what is queued and whatever is sent once closed', async () => {
    const got: number[] = [];
    const ch = new LocalChannel<number>((m) => got.push(m));
    ch.send(1);
    ch.close();
    ch.send(2);
    await microtask();
    expect(got).toEqual([]);
  });

  it('stops a batch at the message whose delivery closes the channel', async () => {
    const got: number[] = [];
    const ch: LocalChannel<number> = new LocalChannel<number>((m) => {
      got.push(m);
      if (m === 2) ch.close();
    });
    for (const m of [1, 2, 3]) ch.send(m);
    await microtask();
    expect(got).toEqual([1, 2]);
  });
});
