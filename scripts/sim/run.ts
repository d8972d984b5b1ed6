// `npm run sim`: the coordinator at 100, 1,000 and 10,000 simulated nodes (scripts/sim/cluster-sim.ts),
// with and without churn, and MET/MISS for issue 12's targets. Options: --tasks N (per size,
// default 100,000), --sizes 100,1000,10000, --million (also 1,000,000 tasks on 1,000 nodes, for the
// memory target). Run with --expose-gc (the npm script does) for the heap figures.
import { simulate, type SimResult } from './cluster-sim.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const tasks = Number(arg('--tasks') ?? 100_000);
const sizes = (arg('--sizes') ?? '100,1000,10000').split(',').map(Number);
const million = process.argv.includes('--million');

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const bytes = (n: number | null): string => (n === null ? 'n/a (run with --expose-gc)' : `${fmt(n)} B`);

function row(label: string, r: SimResult): string {
  return [
    label.padEnd(22),
    `${fmt(r.tasksPerSec)} tasks/s`.padStart(16),
    `${fmt(r.usPerTask, 1)} µs/task`.padStart(15),
    `p50 ${fmt(r.dispatchP50Ms, 1)} ms`.padStart(13),
    `p99 ${fmt(r.dispatchP99Ms, 1)} ms`.padStart(13),
    `heap/node ${bytes(r.heapPerNodeBytes)}`.padStart(20),
    `heap/task ${bytes(r.heapPerTaskBytes)}`.padStart(20),
    r.nodesLeft > 0 ? `left ${r.nodesLeft}, retries ${r.retries}` : '',
    r.lost > 0 ? `LOST ${r.lost}` : '',
  ].join('  ');
}

const results: { label: string; r: SimResult }[] = [];
for (const nodes of sizes) {
  const r = await simulate({ nodes, tasks });
  results.push({ label: `${fmt(nodes)} nodes`, r });
  console.log(row(`${fmt(nodes)} nodes`, r));
}
const churnNodes = sizes.includes(1_000) ? 1_000 : sizes[0]!;
const churned = await simulate({ nodes: churnNodes, tasks, churnFraction: 0.01, churnEveryMs: 1_000 });
console.log(row(`${fmt(churnNodes)} nodes, churn`, churned));
let big: SimResult | undefined;
if (million) {
  big = await simulate({ nodes: 1_000, tasks: 1_000_000 });
  console.log(row('1,000 nodes, 1M tasks', big));
}

console.log('\nTargets (issue 12):');
const first = results[0]!.r;
const last = results[results.length - 1]!.r;
const growth = last.usPerTask / first.usPerTask;
console.log(`${growth <= 2 ? 'MET ' : 'MISS'}  cost per task from ${results[0]!.label} to ${results[results.length - 1]!.label}: ${fmt(growth, 2)}× (target ≤ 2×)`);
const lostAll = [...results.map((x) => x.r), churned, ...(big ? [big] : [])].reduce((n, r) => n + r.lost + (r.tasks - r.finished), 0);
console.log(`${churned.lost === 0 && churned.finished === churned.tasks ? 'MET ' : 'MISS'}  no task lost under churn: ${churned.nodesLeft} nodes left and as many joined, ${churned.retries} retries, ${churned.tasks - churned.finished + churned.lost} lost`);
if (big?.heapPerTaskBytes !== null && big?.heapPerTaskBytes !== undefined) {
  const growthMb = (big.heapPerTaskBytes * big.finished) / 1e6;
  console.log(`${growthMb <= 50 ? 'MET ' : 'MISS'}  coordinator heap after 1,000,000 tasks with their refs dropped: +${fmt(growthMb, 1)} MB (task records are capped; target flat)`);
}
if (lostAll > 0) {
  console.error(`sim: ${lostAll} task(s) lost or wrong`);
  process.exitCode = 1;
}
