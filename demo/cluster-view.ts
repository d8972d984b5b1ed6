// The live cluster view of the demo page: every node with its resources, load and object store
// (nodes that left stay listed, marked "left"), task counts by state, and the throughput chart.
// Refreshed by the page's loop from ray.nodes() and ray.tasks().
import { byId, h } from './dom.ts';
import { formatAmount, formatBytes } from './format.ts';
import type { NodeInfo, TaskInfo, TaskState, Webray } from './load-webray.ts';
import { ThroughputChart, finishedPerSecond } from './throughput-chart.ts';

const STATES: readonly { state: TaskState; label: string }[] = [
  { state: 'PENDING_ARGS_AVAIL', label: 'Waiting for arguments' },
  { state: 'PENDING_NODE_ASSIGNMENT', label: 'Waiting for a node' },
  { state: 'SUBMITTED_TO_WORKER', label: 'Submitted to a worker' },
  { state: 'RUNNING', label: 'Running' },
  { state: 'FINISHED', label: 'Finished' },
  { state: 'FAILED', label: 'Failed' },
];

/** "CPU 4 · GPU 1 (fallback) · disk 2". */
export function describeResources(n: Pick<NodeInfo, 'resources' | 'gpuFallback'>): string {
  const parts: string[] = [];
  const { CPU, GPU, ...custom } = n.resources;
  parts.push(`CPU ${formatAmount(CPU ?? 0)}`);
  if (GPU) parts.push(`GPU ${formatAmount(GPU)}${n.gpuFallback ? ' (fallback)' : ''}`);
  for (const [k, v] of Object.entries(custom)) parts.push(`${k} ${formatAmount(v)}`);
  return parts.join(' · ');
}

export class ClusterView {
  private readonly summary = byId('cluster-summary');
  private readonly live = byId('cluster-live');
  private readonly tbody = byId<HTMLTableElement>('nodes-table').tBodies[0]!;
  private readonly states = byId('task-states');
  private readonly chart = new ThroughputChart(byId('throughput'));
  /** Every node seen this session, so one that disappears from ray.nodes() stays listed as left. */
  private readonly seen = new Map<string, NodeInfo>();
  private coordinatorId: string | undefined;

  readonly isCoordinator = (nodeId: string): boolean => nodeId === this.coordinatorId;

  /** "n-abc123 (coordinator)" for the coordinator, the id for others. */
  readonly nodeLabel = (nodeId: string): string => (this.isCoordinator(nodeId) ? `${nodeId} (coordinator)` : nodeId);

  /** Shows the live parts (tables, chart) while a session runs. */
  show(running: boolean): void {
    this.live.hidden = !running;
    if (!running) this.summary.textContent = 'Not running: start a cluster or local mode above.';
  }

  reset(): void {
    this.seen.clear();
    this.coordinatorId = undefined;
    this.tbody.replaceChildren();
    this.states.replaceChildren();
    this.chart.update([]);
  }

  /** One refresh: returns the node list for others on the page (the volunteer count). */
  async refresh(ray: Webray): Promise<NodeInfo[]> {
    const nodes = ray.nodes();
    const listed = new Set(nodes.map((n) => n.nodeId));
    for (const n of nodes) this.seen.set(n.nodeId, n);
    for (const [id, n] of this.seen) if (!listed.has(n.nodeId) && n.alive) this.seen.set(id, { ...n, alive: false, runningTasks: 0 });
    this.coordinatorId = nodes.find((n) => n.isCoordinator)?.nodeId ?? this.coordinatorId;
    this.renderNodes([...this.seen.values()]);
    this.renderSummary(ray, [...this.seen.values()]);
    const tasks = await ray.tasks();
    this.renderStates(tasks);
    this.chart.update(finishedPerSecond(tasks, Date.now()));
    return nodes;
  }

  private renderSummary(ray: Webray, nodes: readonly NodeInfo[]): void {
    const total = ray.clusterResources();
    const free = ray.availableResources();
    const alive = nodes.filter((n) => n.alive).length;
    const left = nodes.length - alive;
    const res = [`CPU ${formatAmount(total.CPU ?? 0)} (${formatAmount(free.CPU ?? 0)} free)`];
    if (total.GPU) res.push(`GPU ${formatAmount(total.GPU)} (${formatAmount(free.GPU ?? 0)} free)`);
    this.summary.textContent = `${alive} node${alive === 1 ? '' : 's'} alive${left ? `, ${left} left` : ''} · ${res.join(' · ')}`;
  }

  private renderNodes(nodes: readonly NodeInfo[]): void {
    // Coordinator first, then live volunteers, then those that left.
    const order = (n: NodeInfo): number => (n.isCoordinator ? 0 : n.alive ? 1 : 2);
    const sorted = [...nodes].sort((a, b) => order(a) - order(b) || a.nodeId.localeCompare(b.nodeId));
    this.tbody.replaceChildren(
      ...sorted.map((n) => {
        const cpus = n.resources.CPU ?? 0;
        const load = h('meter', { min: 0, max: Math.max(1, cpus), value: Math.min(n.runningTasks, Math.max(1, cpus)), 'aria-label': `Load of ${n.nodeId}` });
        return h(
          'tr',
          { className: n.alive ? '' : 'left' },
          h('th', { scope: 'row' }, h('span', { className: 'node-id', text: n.nodeId }), ' ', h('span', { className: 'tag', text: n.isCoordinator ? 'coordinator' : 'volunteer' }), ...(n.label ? [' ', h('span', { className: 'hint', text: n.label })] : [])),
          h('td', { 'data-label': 'Status' }, h('span', { className: n.alive ? 'badge alive' : 'badge left', text: n.alive ? 'alive' : 'left' })),
          h('td', { 'data-label': 'Resources', text: describeResources(n) }),
          h('td', { className: 'load', 'data-label': 'Load' }, h('span', {}, load, ` ${n.runningTasks} / ${formatAmount(cpus)}`)),
          h('td', { className: 'num', 'data-label': 'Object store', text: `${formatBytes(n.objectStore.memoryBytes)} (${n.objectStore.objects})` }),
          h('td', { className: 'num', 'data-label': 'Spilled', text: formatBytes(n.objectStore.spilledBytes) }),
          h('td', { className: 'num', 'data-label': 'Verified' }, ...verification(n)),
        );
      }),
    );
  }

  private renderStates(tasks: readonly TaskInfo[]): void {
    const counts = new Map<TaskState, number>();
    for (const t of tasks) counts.set(t.state, (counts.get(t.state) ?? 0) + 1);
    const items = STATES.flatMap(({ state, label }) => [
      h('dt', { text: label, title: state }),
      h('dd', { className: `state-${state.toLowerCase()}`, text: String(counts.get(state) ?? 0) }),
    ]);
    const waiting = tasks.find((t) => t.pendingReason && t.state.startsWith('PENDING'));
    this.states.replaceChildren(...items);
    if (waiting) {
      const n = tasks.filter((t) => t.pendingReason && t.state.startsWith('PENDING')).length;
      this.states.append(h('dt', { className: 'wide', text: 'Why tasks wait' }), h('dd', { className: 'wide reason', text: `${n} task${n === 1 ? '' : 's'}: ${waiting.pendingReason}` }));
    }
  }
}

/** A node's record on verified tasks: agreed / disagreed replicas, trusted or quarantined. */
function verification(n: NodeInfo): (HTMLElement | string)[] {
  const out: (HTMLElement | string)[] = [`${n.verified} ✓ / ${n.mismatches} ✗`];
  if (n.quarantined) out.push(' ', h('span', { className: 'badge quarantined', text: 'quarantined', title: 'Its results disagreed with the majority twice: dropped, no more tasks' }));
  else if (n.trusted && !n.isCoordinator) out.push(' ', h('span', { className: 'tag', text: 'trusted' }));
  return out;
}
