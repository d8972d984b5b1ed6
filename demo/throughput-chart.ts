// A small inline-SVG area chart of tasks finished per second over the last minute, computed from
// the task table's end times (ray.tasks()).
import { h, svg } from './dom.ts';
import type { TaskInfo } from './load-webray.ts';

const WINDOW_S = 60;
const W = 600;
const H = 120;
const PAD_TOP = 4;

/** Tasks that ended in each of the last `WINDOW_S` whole seconds, oldest first. */
export function finishedPerSecond(tasks: readonly TaskInfo[], nowMs: number): number[] {
  const buckets = new Array<number>(WINDOW_S).fill(0);
  const end = Math.floor(nowMs / 1000);
  for (const t of tasks) {
    if (t.endedAtMs === null) continue;
    const age = end - Math.floor(t.endedAtMs / 1000);
    if (age >= 0 && age < WINDOW_S) buckets[WINDOW_S - 1 - age]!++;
  }
  return buckets;
}

export class ThroughputChart {
  private readonly root: SVGSVGElement;
  private readonly area = svg('path', { class: 'chart-area' });
  private readonly line = svg('path', { class: 'chart-line' });
  private readonly maxLabel = h('span', { className: 'chart-max' });
  private readonly caption: HTMLElement;

  constructor(container: HTMLElement) {
    this.root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', preserveAspectRatio: 'none', class: 'chart-svg' });
    const base = svg('line', { x1: 0, y1: H - 0.5, x2: W, y2: H - 0.5, class: 'chart-axis' });
    this.root.append(base, this.area, this.line);
    const labels = h('div', { className: 'chart-labels' }, h('span', { text: `${WINDOW_S} s ago` }), h('span', { text: 'now' }));
    this.caption = h('p', { className: 'hint chart-caption' });
    container.replaceChildren(h('div', { className: 'chart-frame' }, this.maxLabel, this.root), labels, this.caption);
    this.update([]);
  }

  update(perSecond: readonly number[]): void {
    const values = perSecond.length > 0 ? perSecond : new Array<number>(WINDOW_S).fill(0);
    const max = Math.max(1, ...values);
    const step = W / (values.length - 1 || 1);
    const pts = values.map((v, i) => `${(i * step).toFixed(1)},${(H - (v / max) * (H - PAD_TOP)).toFixed(1)}`);
    this.line.setAttribute('d', `M${pts.join('L')}`);
    this.area.setAttribute('d', `M0,${H}L${pts.join('L')}L${W},${H}Z`);
    this.maxLabel.textContent = `${max} / s`;
    // The last full second, not the one still filling.
    const current = values.length > 1 ? values[values.length - 2]! : 0;
    const total = values.reduce((a, b) => a + b, 0);
    const text = `${current} tasks finished in the last second; ${total} in the last minute (peak ${Math.max(...values)} / s).`;
    this.caption.textContent = text;
    this.root.setAttribute('aria-label', `Tasks finished per second over the last minute. ${text}`);
  }
}
