// The "Cluster" section of the demo page: the start form (cluster name and token prefilled with
// random values, CPUs and GPU to offer), then the running session with its invite link, a copy
// button and the number of connected volunteers.
import { byId, describeError } from './dom.ts';
import { describeGpu, probeGpu } from './gpu-probe.ts';
import type { NodeInfo } from './load-webray.ts';
import { loadLastCluster, saveLastCluster, type LastCluster } from './last-cluster.ts';
import { randomClusterName, randomToken } from './random-id.ts';
import type { Session, SessionState } from './session.ts';

export function inviteLink(address: string, cluster: string, token: string): string {
  const url = new URL('/join', address);
  url.searchParams.set('cluster', cluster);
  url.searchParams.set('token', token);
  return url.href;
}

export class SessionPanel {
  private readonly form = byId<HTMLFormElement>('start-form');
  private readonly name = byId<HTMLInputElement>('cluster-name');
  private readonly token = byId<HTMLInputElement>('cluster-token');
  private readonly cpus = byId<HTMLInputElement>('num-cpus');
  private readonly offerGpu = byId<HTMLInputElement>('offer-gpu');
  private readonly gpuNote = byId('gpu-note');
  private readonly localButton = byId<HTMLButtonElement>('start-local');
  private readonly running = byId('session-running');
  private readonly status = byId('session-status');
  private readonly invite = byId('invite');
  private readonly link = byId<HTMLInputElement>('invite-link');
  private readonly copyButton = byId<HTMLButtonElement>('copy-invite');
  private readonly copyFeedback = byId('copy-feedback');
  private readonly volunteers = byId('volunteer-count');
  private readonly stopButton = byId<HTMLButtonElement>('stop-session');
  private readonly error = byId('session-error');

  constructor(private readonly session: Session) {
    byId('server-address').textContent = location.origin;
    // After a reload, the cluster this tab ran: starting it again reclaims the seat within a minute.
    const last = loadLastCluster();
    this.last = last;
    this.name.value = last?.cluster ?? randomClusterName();
    this.token.value = last?.token ?? randomToken();
    this.cpus.value = String(last?.numCpus ?? Math.max(1, navigator.hardwareConcurrency || 1));
    void probeGpu().then((gpu) => {
      this.gpuNote.textContent = describeGpu(gpu);
      this.offerGpu.disabled = gpu.kind === 'none';
      this.offerGpu.checked = gpu.kind === 'hardware';
      const label = this.offerGpu.nextElementSibling;
      if (label && gpu.kind === 'fallback') label.textContent = 'Offer the fallback GPU from this tab';
    });

    this.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.startCluster({ cluster: this.name.value.trim(), token: this.token.value, ...this.offer() });
    });
    this.localButton.addEventListener('click', () => {
      if (this.cpus.reportValidity()) this.start(() => this.session.startLocal(this.offer()));
    });
    this.copyButton.addEventListener('click', () => void this.copy());
    this.stopButton.addEventListener('click', () => {
      this.stopButton.disabled = true;
      // Stopped on purpose: a reload offers it again but does not restart it.
      if (this.last) saveLastCluster((this.last = { ...this.last, running: false }));
      this.session
        .stop()
        .catch((e: unknown) => this.showError(`Stopping failed: ${describeError(e)}`))
        .finally(() => (this.stopButton.disabled = false));
    });
    session.onChange((s) => this.render(s));
    this.render(session.state);
    if (last?.running) {
      // It was running when the page reloaded: restart it, so the invite keeps working.
      this.startCluster({ cluster: last.cluster, token: last.token, numCpus: last.numCpus, numGpus: last.numGpus });
    }
  }

  /** The cluster this tab runs or last ran (sessionStorage), to restore after a reload. */
  private last: LastCluster | undefined;

  /** Called by the page's refresh loop with the current node list. */
  update(nodes: readonly NodeInfo[]): void {
    this.volunteers.textContent = String(nodes.filter((n) => n.alive && !n.isCoordinator).length);
  }

  private offer(): { numCpus: number; numGpus: number } {
    return { numCpus: Math.max(0, Math.floor(Number(this.cpus.value) || 0)), numGpus: this.offerGpu.checked ? 1 : 0 };
  }

  private startCluster(o: { cluster: string; token: string; numCpus: number; numGpus: number }): void {
    this.offered = { numCpus: o.numCpus, numGpus: o.numGpus };
    this.start(() => this.session.startCluster(o));
  }

  /** What the cluster being started offers from this tab (kept with it for a reload). */
  private offered = { numCpus: 1, numGpus: 0 };

  private start(run: () => Promise<void>): void {
    this.error.hidden = true;
    run().catch((e: unknown) => this.showError(`Could not start: ${describeError(e)}`));
  }

  private showError(text: string): void {
    this.error.textContent = text;
    this.error.hidden = false;
  }

  private async copy(): Promise<void> {
    try {
      await navigator.clipboard.writeText(this.link.value);
      this.copyFeedback.textContent = 'Copied. Open it in other tabs or send it to other machines.';
    } catch {
      // No clipboard permission (or not a secure context): select it so Ctrl+C works.
      this.link.select();
      this.copyFeedback.textContent = 'Selected: press Ctrl+C (⌘C) to copy.';
    }
  }

  private render(s: SessionState): void {
    const idle = s.kind === 'idle' || s.kind === 'starting';
    this.form.hidden = !idle;
    for (const el of this.form.querySelectorAll<HTMLInputElement | HTMLButtonElement>('input, button')) {
      if (el !== this.offerGpu) el.disabled = s.kind === 'starting';
    }
    this.running.hidden = idle;
    this.invite.hidden = s.kind !== 'cluster';
    this.copyFeedback.textContent = '';
    switch (s.kind) {
      case 'idle':
        return;
      case 'starting':
        this.running.hidden = true;
        return;
      case 'local':
        this.status.textContent = `Local mode: this tab alone (node ${s.nodeId}). Stop it to start a cluster.`;
        return;
      case 'cluster':
        this.status.textContent = `Cluster ${s.cluster} is running on ${s.address}; this tab is its coordinator (node ${s.nodeId}).`;
        this.link.value = inviteLink(s.address, s.cluster, s.token);
        this.last = { cluster: s.cluster, token: s.token, running: true, ...this.offered };
        saveLastCluster(this.last);
        this.volunteers.textContent = '0';
        return;
    }
  }
}
