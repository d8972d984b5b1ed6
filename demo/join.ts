// The volunteer page (`/join`): shows which cluster and server this tab would join and what it
// would offer, joins only when the person presses Join (or the URL says `autojoin=1`), then shows
// what the tab does for the cluster until they press Leave or the coordinator goes away.
import { byId, describeError } from './dom.ts';
import { formatBytes, formatCount } from './format.ts';
import { describeGpu, probeGpu, type GpuProbe } from './gpu-probe.ts';
import { loadWebray, type NodeHandle } from './load-webray.ts';

const REFRESH_MS = 500;
/**
 * After the coordinator goes away (its tab reloaded, its network dropped), this tab tries to join
 * again on its own — the coordinator's tab reclaims the cluster with the same name and token, and
 * the server meanwhile answers that its coordinator is away — for REJOIN_FOR_MS, the first try
 * after REJOIN_FIRST_MS, then backing off to REJOIN_MAX_MS, each with up to a second of jitter so
 * that a room of volunteers does not knock at once.
 */
const REJOIN_FIRST_MS = 1_000;
const REJOIN_MAX_MS = 8_000;
const REJOIN_FOR_MS = 60_000;
/** Refusals that mean "not back yet": try again later, quietly. */
const NOT_BACK_YET = /is away|no coordinator|cannot reach|did not answer|WebRTC|link|too many failed joins/i;

const params = new URLSearchParams(location.search);
/** The server: the page's own origin unless the link names another (`?server=`). */
const address = params.get('server') ?? location.origin;

const form = byId<HTMLFormElement>('join-form');
const fields = byId<HTMLFieldSetElement>('join-fields');
const clusterInput = byId<HTMLInputElement>('join-cluster');
const tokenInput = byId<HTMLInputElement>('join-token');
const cpusInput = byId<HTMLInputElement>('join-cpus');
const closeReason = byId('close-reason');
const gpuBox = byId<HTMLInputElement>('join-gpu');
const gpuLabel = byId('join-gpu-label');
const gpuNote = byId('join-gpu-note');
const joinButton = byId<HTMLButtonElement>('join-button');
const status = byId('join-status');
const errorBox = byId('join-error');
const membership = byId('membership');
const leaveButton = byId<HTMLButtonElement>('leave-button');
const nowRunning = byId('now-running');
const stat = {
  tasks: byId('stat-tasks'),
  running: byId('stat-running'),
  queued: byId('stat-queued'),
  sent: byId('stat-sent'),
  received: byId('stat-received'),
  objects: byId('stat-objects'),
};

const cores = Math.max(1, navigator.hardwareConcurrency || 1);
clusterInput.value = params.get('cluster') ?? '';
tokenInput.value = params.get('token') ?? '';
cpusInput.max = String(cores);
cpusInput.value = String(cores);
byId('cpu-note').textContent = `This device has ${cores} CPU${cores === 1 ? '' : 's'}; each one you give runs one task at a time in a Web Worker.`;
byId('summary-server').textContent = address;
// The link names the cluster: its name and token stay folded away unless the person opens them.
byId<HTMLDetailsElement>('cluster-details').open = !params.get('cluster');

function renderSummary(): void {
  byId('summary-cluster').textContent = clusterInput.value.trim() || '– (enter the cluster name from your invite)';
}
renderSummary();
setStatus(clusterInput.value ? `Not joined yet: press Join to lend this tab to cluster ${clusterInput.value}.` : 'Not joined.');
clusterInput.addEventListener('input', renderSummary);

let node: NodeHandle | undefined;
let timer: ReturnType<typeof setInterval> | undefined;
let leaving = false;
/** Joining again on its own after the coordinator went away: until when, how many tries so far. */
let rejoin: { cluster: string; until: number; attempt: number; delayMs: number; timer: ReturnType<typeof setTimeout> | undefined } | undefined;

const gpuProbe: Promise<GpuProbe> = probeGpu().then((gpu) => {
  gpuNote.textContent = describeGpu(gpu);
  gpuBox.disabled = gpu.kind === 'none';
  gpuBox.checked = gpu.kind === 'hardware';
  gpuLabel.textContent = gpu.kind === 'fallback' ? 'Offer the fallback GPU' : 'Offer the GPU';
  return gpu;
});

function setStatus(text: string, joined = false): void {
  status.textContent = text;
  status.classList.toggle('joined', joined);
}

function showError(text: string): void {
  errorBox.textContent = text;
  errorBox.hidden = false;
}

/** A join error plus what the person can do about it. */
function explainJoinError(e: unknown): string {
  const text = describeError(e);
  const hints: string[] = [];
  // The server answers a wrong token and a cluster nobody runs alike (it tells no one which names
  // are in use), so both hints apply.
  if (/wrong token/i.test(text)) hints.push('Check that the token matches the invite link exactly.');
  if (/is away/i.test(text)) hints.push('Its coordinator is reloading or reconnecting: press Join again in a few seconds.');
  if (/no coordinator/i.test(text)) hints.push('If the cluster is not running, ask whoever invited you to start it on the demo page, then press Join again.');
  if (/too many failed joins/i.test(text)) hints.push('Wait as long as it says, check the cluster name and token, then press Join again.');
  else if (/cannot reach|did not answer/i.test(text)) hints.push(`Check that the server at ${address} is running and reachable, then press Join again.`);
  else if (/WebRTC|link/i.test(text)) hints.push('The tabs could not connect directly (WebRTC). On different networks the cluster needs STUN/TURN servers.');
  return [`Could not join: ${text}`, ...hints].join('\n');
}

function renderStats(): void {
  if (!node) return;
  const s = node.stats();
  stat.tasks.textContent = formatCount(s.tasksRun);
  stat.running.textContent = formatCount(s.running);
  stat.queued.textContent = formatCount(s.queued);
  stat.sent.textContent = formatBytes(s.bytesSent);
  stat.received.textContent = formatBytes(s.bytesReceived);
  stat.objects.textContent = `${formatCount(s.objects)} (${formatBytes(s.memoryBytes)})`;
  nowRunning.textContent =
    s.running > 0
      ? `Running ${s.running} task${s.running === 1 ? '' : 's'} right now${runningList(s.runningNames)}${s.queued ? `, ${s.queued} more waiting here` : ''}.`
      : 'Idle: waiting for tasks from the coordinator.';
}

/** " (samplingTask ×2, Counter.incr)": what the workers run, most frequent first. */
function runningList(names: readonly string[]): string {
  if (names.length === 0) return '';
  const counts = new Map<string, number>();
  for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
  const parts = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([n, c]) => (c > 1 ? `${n} ×${c}` : n));
  return `: ${parts.join(', ')}${counts.size > 4 ? ', …' : ''}`;
}

function setJoined(joined: boolean): void {
  fields.disabled = joined;
  joinButton.hidden = joined;
  membership.hidden = !joined && !node;
  leaveButton.hidden = !joined;
  if (joined && timer === undefined) timer = setInterval(renderStats, REFRESH_MS);
  if (!joined && timer !== undefined) {
    clearInterval(timer);
    timer = undefined;
  }
}

/** Stops joining again on its own (the person pressed Join, or it is over). */
function stopRejoining(): void {
  if (rejoin?.timer !== undefined) clearTimeout(rejoin.timer);
  rejoin = undefined;
  leaveButton.textContent = 'Leave';
  leaveButton.hidden = !node || node.state !== 'joined';
}

function wentAway(cluster: string): string {
  return `The coordinator of cluster ${cluster} went away, so this tab is no longer part of it and runs nothing.`;
}

/** The next try of joining again on its own, or the end of trying. */
function scheduleRejoin(): void {
  const r = rejoin;
  if (!r) return;
  const delayMs = r.delayMs + Math.random() * 1000;
  if (Date.now() + delayMs > r.until) {
    stopRejoining();
    setStatus(`${wentAway(r.cluster)} It did not come back within a minute: press Join again once the cluster is back.`);
    return;
  }
  r.delayMs = Math.min(REJOIN_MAX_MS, r.delayMs * 1.5);
  // While it tries, the Leave button stops the tries.
  leaveButton.textContent = 'Stop rejoining';
  leaveButton.hidden = false;
  r.timer = setTimeout(() => {
    r.timer = undefined;
    r.attempt++;
    setStatus(`${wentAway(r.cluster)} Joining again on its own as soon as it is back (try ${r.attempt})…`);
    void join(true);
  }, delayMs);
}

/** `auto`: a try of joining again on its own: a cluster not back yet is tried again later, quietly. */
async function join(auto = false): Promise<void> {
  if (!auto) stopRejoining();
  else if (!rejoin) return;
  errorBox.hidden = true;
  if (!auto) closeReason.hidden = true;
  const cluster = clusterInput.value.trim();
  if (!cluster) {
    showError('Enter the cluster name from your invite link.');
    byId<HTMLDetailsElement>('cluster-details').open = true;
    clusterInput.focus();
    return;
  }
  joinButton.disabled = true;
  fields.disabled = true;
  if (!auto) setStatus(`Joining cluster ${cluster} on ${address}…`);
  try {
    const ray = await loadWebray();
    await gpuProbe;
    const numCpus = Math.max(1, Math.min(cores, Math.floor(Number(cpusInput.value) || 1)));
    const joined = await ray.join({
      address,
      cluster,
      token: tokenInput.value,
      numCpus,
      numGpus: gpuBox.checked ? 1 : 0,
    });
    node = joined;
    leaving = false;
    stopRejoining();
    closeReason.hidden = true;
    const gpu = joined.resources.GPU ? ` and ${joined.resources.GPU} GPU` : '';
    setStatus(`Joined cluster ${cluster} as node ${joined.nodeId}, giving ${joined.resources.CPU ?? 0} CPU${joined.resources.CPU === 1 ? '' : 's'}${gpu}.`, true);
    setJoined(true);
    renderStats();
    joined.onClose((reason) => {
      // The figures stay as last shown: the node's own counters are gone with it.
      setJoined(false);
      joinButton.textContent = 'Join again';
      nowRunning.textContent = 'The figures above are the last ones before this tab left.';
      if (leaving) {
        setStatus(`You left cluster ${cluster}. Nothing runs in this tab now; its unfinished tasks are retried on other nodes.`);
      } else if (/shut it down/.test(reason)) {
        // Stopped on purpose: nothing to wait for.
        setStatus(`${wentAway(cluster)} Press Join again once the cluster is back.`);
        closeReason.textContent = `Reason: ${reason}.`;
        closeReason.hidden = false;
      } else {
        setStatus(`${wentAway(cluster)} Joining again on its own as soon as it is back (for up to a minute); or press Join again.`);
        closeReason.textContent = `Reason: ${reason}.`;
        closeReason.hidden = false;
        rejoin = { cluster, until: Date.now() + REJOIN_FOR_MS, attempt: 0, delayMs: REJOIN_FIRST_MS, timer: undefined };
        scheduleRejoin();
      }
    });
  } catch (e) {
    fields.disabled = false;
    // Not back yet (no coordinator runs it, or the server restarts): try again later, quietly.
    if (auto && rejoin && NOT_BACK_YET.test(describeError(e))) {
      scheduleRejoin();
    } else {
      stopRejoining();
      setStatus('Not joined.');
      showError(explainJoinError(e));
    }
  } finally {
    joinButton.disabled = false;
  }
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  if (form.reportValidity()) void join();
});

leaveButton.addEventListener('click', () => {
  if (rejoin) {
    const { cluster } = rejoin;
    stopRejoining();
    setStatus(`${wentAway(cluster)} Stopped joining again: press Join again once the cluster is back.`);
    return;
  }
  if (!node || node.state !== 'joined') return;
  leaving = true;
  leaveButton.disabled = true;
  node
    .leave()
    .catch((e: unknown) => showError(`Leaving failed: ${describeError(e)}`))
    .finally(() => (leaveButton.disabled = false));
});

/**
 * Shown inside another page (the server's CSP forbids it, but another server or an old browser may
 * not): that page could hide or disguise this one, so the person must press Join themselves.
 */
function framed(): boolean {
  try {
    return window.top !== window;
  } catch {
    return true;
  }
}

if (params.get('autojoin') === '1') {
  if (framed()) {
    setStatus(
      `Not joined: this page is shown inside another page, so it will not join by itself. ` +
        `Press Join only if you want to lend this tab to cluster ${clusterInput.value || '(none given)'}.`,
    );
  } else void join();
}
