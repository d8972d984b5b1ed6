import { describe, expect, it } from 'vitest';
import { findProblems, importGraph } from './check-layers.mjs';

describe('check-layers', () => {
  it('passes the tree as it is', () => {
    expect(findProblems(importGraph())).toEqual([]);
  });

  it('refuses an upward import, naming the file and the rule', () => {
    const graph = new Map([
      ['runtime/protocol/ids.ts', ['runtime/coordinator/coordinator.ts']],
      ['runtime/coordinator/coordinator.ts', []],
    ]);
    expect(findProblems(graph)).toEqual([
      'runtime/protocol/ids.ts imports runtime/coordinator/coordinator.ts: protocol/ may import only nothing',
    ]);
  });

  it('refuses node/ and coordinator/ importing each other, and signaling/ reaching past protocol/', () => {
    const graph = new Map([
      ['runtime/node/node.ts', ['runtime/coordinator/coordinator.ts']],
      ['signaling/server.ts', ['runtime/api/errors.ts', 'runtime/protocol/signaling.ts']],
    ]);
    const problems = findProblems(graph);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain('node/ may import only');
    expect(problems[1]).toContain('signaling/ may import only protocol');
  });

  it('finds a cycle inside one folder', () => {
    const graph = new Map([
      ['runtime/coordinator/a.ts', ['runtime/coordinator/b.ts']],
      ['runtime/coordinator/b.ts', ['runtime/coordinator/c.ts']],
      ['runtime/coordinator/c.ts', ['runtime/coordinator/a.ts']],
    ]);
    expect(findProblems(graph)).toEqual([
      'import cycle: runtime/coordinator/a.ts -> runtime/coordinator/b.ts -> runtime/coordinator/c.ts -> runtime/coordinator/a.ts',
    ]);
  });
});
