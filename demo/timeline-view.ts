// The timeline section: downloads ray.timeline() as a Chrome trace file, and draws it on the page
// as one SVG lane per node and worker with a box per task (the latest tasks when there are many).
import { byId, h, svg } from './dom.ts';
import { formatMs } from './format.ts';
import type { TraceEvent, Webray } from './load-webray.ts';

const MAX_BOXES = 4000;
const LANE_H = 18;
const LABEL_W = 150;
/** Narrowest plot (px): on small screens the view scrolls sideways rather than squeezing boxes. */
const MIN_PLOT_W = 480;
const AXIS_H = 20;

/** A stable colour per task name. */
function colour(name: string): string {
  let hash = 0;
  for (let i = 0; i < name.length; i++) hash = (hash * 31 + name.charCodeAt(i)) | 0;
  return `hsl(${Math.abs(hash) % 360} 65% 55%)`;
}

export function timelineFileName(date = new Date()): string {
  return `webray-timeline-${date.toISOString().replace(/[:.]/g, '-')}.json`;
}

/** Starts a download of `text` as a file, the way a person saves a file from the page. */
function download(text: string, fileName: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const a = h('a', { href: url, download: fileName });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

interface Lane {
  readonly key: string;
  readonly label: string;
  readonly events: TraceEvent[];
}

/** Groups complete events into lanes named after their process ("node …") and thread ("worker …"). */
export function lanesOf(events: readonly TraceEvent[]): Lane[] {
  const procNames = new Map<string, string>();
  const threadNames = new Map<string, string>();
  for (const e of events) {
    if (e.ph !== 'M') continue;
    const name = String(e.args?.['name'] ?? '');
    if (e.name === 'process_name') procNames.set(String(e.pid), name);
    if (e.name === 'thread_name') threadNames.set(`${e.pid}/${e.tid}`, name);
  }
  const lanes = new Map<string, Lane>();
  for (const e of events) {
    if (e.ph !== 'X') continue;
    const key = `${e.pid}/${e.tid}`;
    let lane = lanes.get(key);
    if (!lane) {
      const proc = procNames.get(String(e.pid)) ?? `process ${e.pid}`;
      const thread = threadNames.get(key) ?? `thread ${e.tid}`;
      // "worker 0605101c01-w3" → "w3": the node's id already names the prefix.
      const worker = thread.replace(/^worker /, '').replace(/^.*-(?=[^-]+$)/, '');
      lane = { key, label: `${proc.replace(/^node /, '')} · ${worker}`, events: [] };
      lanes.set(key, lane);
    }
    lane.events.push(e);
  }
  return [...lanes.values()].sort((a, b) => a.label.localeCompare(b.label));
}

export class TimelineView {
  readonly downloadButton = byId<HTMLButtonElement>('download-timeline');
  readonly refreshButton = byId<HTMLButtonElement>('refresh-timeline');
  private readonly status = byId('timeline-status');
  private readonly view = byId('timeline-view');

  constructor(private readonly getRay: () => Webray) {
    this.downloadButton.addEventListener('click', () => void this.download());
    this.refreshButton.addEventListener('click', () => void this.refresh());
  }

  reset(): void {
    this.view.replaceChildren();
    this.status.textContent = '';
  }

  async download(): Promise<void> {
    try {
      const events = await this.getRay().timeline();
      download(JSON.stringify(events), timelineFileName());
      this.status.textContent = `Downloaded ${events.filter((e) => e.ph === 'X').length} task events.`;
    } catch (e) {
      this.status.textContent = `Could not download the timeline: ${(e as Error).message}`;
    }
  }

  async refresh(): Promise<void> {
    let events: TraceEvent[];
    try {
      events = await this.getRay().timeline();
    } catch (e) {
      this.status.textContent = `Could not read the timeline: ${(e as Error).message}`;
      return;
    }
    this.draw(events);
  }

  private draw(all: readonly TraceEvent[]): void {
    const complete = all.filter((e) => e.ph === 'X').sort((a, b) => a.ts - b.ts);
    if (complete.length === 0) {
      this.view.replaceChildren();
      this.status.textContent = 'No tasks have finished yet: run a job, then refresh.';
      return;
    }
    const shown = complete.slice(-MAX_BOXES);
    const lanes = lanesOf([...all.filter((e) => e.ph === 'M'), ...shown]);
    const t0 = shown[0]!.ts;
    const t1 = Math.max(...shown.map((e) => e.ts + (e.dur ?? 0)));
    const span = Math.max(1, t1 - t0);
    const PLOT_W = Math.max(MIN_PLOT_W, this.view.clientWidth - LABEL_W - 10);
    const x = (ts: number): number => LABEL_W + ((ts - t0) / span) * PLOT_W;
    const height = AXIS_H + lanes.length * LANE_H;
    const root = svg('svg', {
      viewBox: `0 0 ${LABEL_W + PLOT_W + 10} ${height}`,
      width: LABEL_W + PLOT_W + 10,
      height,
      role: 'img',
      'aria-label': `Timeline: ${shown.length} tasks on ${lanes.length} workers over ${formatMs(span / 1000)}`,
      class: 'timeline-svg',
    });
    for (let i = 0; i <= 4; i++) {
      const tx = LABEL_W + (PLOT_W * i) / 4;
      root.append(svg('line', { x1: tx, y1: AXIS_H - 4, x2: tx, y2: height, class: 'tl-grid' }));
      const label = svg('text', { x: tx, y: 12, class: 'tl-axis', 'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle' });
      label.textContent = formatMs((span * i) / 4 / 1000);
      root.append(label);
    }
    lanes.forEach((lane, i) => {
      const y = AXIS_H + i * LANE_H;
      if (i % 2 === 0) root.append(svg('rect', { x: 0, y, width: LABEL_W + PLOT_W + 10, height: LANE_H, class: 'tl-stripe' }));
      const label = svg('text', { x: 4, y: y + LANE_H - 5, class: 'tl-lane' });
      label.textContent = lane.label;
      root.append(label);
      for (const e of lane.events) {
        const box = svg('rect', {
          x: x(e.ts).toFixed(2),
          y: y + 2,
          width: Math.max(1, ((e.dur ?? 0) / span) * PLOT_W).toFixed(2),
          height: LANE_H - 4,
          fill: e.args?.['error'] ? '#c0392b' : colour(e.name),
          class: 'tl-box',
        });
        const title = svg('title');
        title.textContent = `${e.name}: ${formatMs((e.dur ?? 0) / 1000)}${e.args?.['error'] ? ` — ${String(e.args['error'])}` : ''}`;
        box.append(title);
        root.append(box);
      }
    });
    const names = [...new Set(shown.map((e) => e.name))].slice(0, 12);
    const legend = h('ul', { className: 'legend', 'aria-label': 'Task names' }, ...names.map((n) => h('li', {}, h('span', { className: 'swatch', style: `background:${colour(n)}` }), n)));
    this.view.replaceChildren(root, legend);
    const more = complete.length > shown.length ? ` (the latest ${shown.length} of ${complete.length})` : '';
    this.status.textContent = `${shown.length} tasks${more} on ${lanes.length} workers over ${formatMs(span / 1000)}.`;
  }
}
