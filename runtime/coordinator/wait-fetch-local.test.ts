import { describe, expect, it } from 'vitest';
import type { NodeId, ObjectId } from '../protocol/ids.ts';
import type { CoordinatorToNode } from '../protocol/node-messages.ts';
import { Coordinator, type NodeLink } from './coordinator.ts';

class FakeLink implements NodeLink {
  readonly sent: CoordinatorToNode[] = [];
  send(msg: CoordinatorToNode): void {
    this.sent.push(msg);
  }
}

const here = 'here' as NodeId;
const there = 'there' as NodeId;
const o = (s: string) => s as ObjectId;
const tick = () => new Promise((r) => setTimeout(r, 0));

function setup() {
  const c = new Coordinator(here);
  const links = { here: new FakeLink(), there: new FakeLink() };
  c.addNode(here, { CPU: 1 }, links.here, { isCoordinator: true, gpuFallback: false });
  c.addNode(there, { CPU: 1 }, links.there, { isCoordinator: false, gpuFallback: false });
  return { c, links };
}

describe('Coordinator: wait with fetchLocal', () => {
  it('counts an object made on another node only once this node has pulled it', async () => {
    const { c, links } = setup();
    c.putObject(o('big'), 1e6, undefined, there);
    let result: number[] | undefined;
    void c.waitObjects([o('big')], 1, null, here).then((r) => (result = r));
    await tick();
    expect(result).toBeUndefined();
    expect(links.here.sent).toContainEqual({ type: 'fetch_objects', objects: [{ id: o('big'), nodes: [there] }] });
    c.handleNodeMessage(here, { type: 'object_located', id: o('big') });
    await tick();
    expect(result).toEqual([0]);
    expect(c.locate(o('big'))?.nodes).toEqual([there, here]);
  });

  it('without fetchLocal, counts it as soon as it exists anywhere', async () => {
    const { c, links } = setup();
    c.putObject(o('big'), 1e6, undefined, there);
    await expect(c.waitObjects([o('big')], 1, null)).resolves.toEqual([0]);
    expect(links.here.sent.filter((m) => m.type === 'fetch_objects')).toEqual([]);
  });

  it('counts inline objects and local ones at once, and asks for a pull when a pending object becomes ready elsewhere', async () => {
    const { c, links } = setup();
    c.putObject(o('small'), 8, { v: 1, size: 8 }, there);
    c.putObject(o('local'), 1e6, undefined, here);
    await expect(c.waitObjects([o('small'), o('local')], 2, null, here)).resolves.toEqual([0, 1]);
    let result: number[] | undefined;
    void c.waitObjects([o('later')], 1, null, here).then((r) => (result = r));
    c.putObject(o('later'), 1e6, undefined, there);
    await tick();
    expect(links.here.sent).toContainEqual({ type: 'fetch_objects', objects: [{ id: o('later'), nodes: [there] }] });
    c.handleNodeMessage(here, { type: 'object_located', id: o('later'), failed: true });
    await tick();
    expect(result).toEqual([0]);
  });

  it('returns what is local when the timeout passes', async () => {
    const { c } = setup();
    c.putObject(o('far'), 1e6, undefined, there);
    c.putObject(o('near'), 1e6, undefined, here);
    await expect(c.waitObjects([o('far'), o('near')], 2, 20, here)).resolves.toEqual([1]);
  });
});
