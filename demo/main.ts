// The demo page (`/`): composition root. Wires the session (start a cluster or local mode), the
// jobs, the live cluster view, the timeline and the playground. Nothing starts on load: the
// person clicks (docs/api.md, "Loading it").
import { ClusterView } from './cluster-view.ts';
import { byId } from './dom.ts';
import { GpuPanel } from './gpu-panel.ts';
import { PiPanel } from './pi-panel.ts';
import { Playground } from './playground.ts';
import { QuicksortPanel } from './quicksort-panel.ts';
import { SessionPanel } from './session-panel.ts';
import { Session } from './session.ts';
import { TimelineView } from './timeline-view.ts';

const REFRESH_MS = 500;

const session = new Session();
const sessionPanel = new SessionPanel(session);
const clusterView = new ClusterView();
const timeline = new TimelineView(() => session.ray);
/** After a job: show its tasks on the timeline. */
const afterJob = (): void => {
  if (session.running) void timeline.refresh();
};
const jobButtons = [
  new PiPanel(session, clusterView.isCoordinator, afterJob).button,
  new QuicksortPanel(session, afterJob).button,
  new GpuPanel(session, clusterView.nodeLabel, afterJob).button,
];
new Playground(session, afterJob);
const jobsHint = byId('jobs-hint');

let timer: ReturnType<typeof setInterval> | undefined;
let refreshing = false;
async function refresh(): Promise<void> {
  if (!session.running || refreshing) return;
  refreshing = true;
  try {
    sessionPanel.update(await clusterView.refresh(session.ray));
  } catch (e) {
    // The session may stop between the check and the call; the next tick sees it.
    if (session.running) console.warn('cluster view refresh failed', e);
  } finally {
    refreshing = false;
  }
}

session.onChange((s) => {
  const running = session.running;
  for (const b of [...jobButtons, timeline.downloadButton, timeline.refreshButton]) b.disabled = !running || b.dataset['busy'] === '1';
  jobsHint.textContent =
    s.kind === 'cluster'
      ? 'Jobs run on every node of the cluster: invite volunteers to spread them further.'
      : s.kind === 'local'
        ? 'Jobs run on this tab’s Web Workers (local mode).'
        : 'Start a cluster or local mode to run these jobs on it.';
  clusterView.show(running);
  if (running && timer === undefined) {
    clusterView.reset();
    timeline.reset();
    void refresh();
    timer = setInterval(() => void refresh(), REFRESH_MS);
  } else if (!running && timer !== undefined) {
    clearInterval(timer);
    timer = undefined;
  }
});
