// The Monte Carlo π card: runs jobs/monte-carlo-pi.ts on the session and shows its progress bar,
// the estimate converging live and how many samples each node computed.
import { byId, h } from './dom.ts';
import { formatCount } from './format.ts';
import { runJob } from './job-runner.ts';
import { runMonteCarloPi, type PiProgress } from './jobs/monte-carlo-pi.ts';
import type { Session } from './session.ts';

/** Sampling tasks for a cluster: a few per CPU so the work spreads and a leaving node costs little. */
export function piTaskCount(totalCpus: number): number {
  return Math.min(64, Math.max(8, Math.round(totalCpus * 3)));
}

export class PiPanel {
  readonly button = byId<HTMLButtonElement>('run-pi');
  private readonly samples = byId<HTMLSelectElement>('pi-samples');
  private readonly verify = byId<HTMLInputElement>('pi-verify');
  private readonly bar = byId('pi-progress');
  private readonly fill = this.bar.querySelector<HTMLElement>('.progress-fill')!;
  private readonly estimate = byId<HTMLOutputElement>('pi-estimate');
  private readonly done = byId('pi-samples-done');
  private readonly table = byId<HTMLTableElement>('pi-per-node');
  private readonly status = byId('pi-status');

  constructor(
    private readonly session: Session,
    private readonly isCoordinator: (nodeId: string) => boolean,
    onSettled: () => void,
  ) {
    this.button.addEventListener('click', () => {
      void runJob({ button: this.button, status: this.status, onSettled, canRun: () => session.running }, 'Monte Carlo π', () => this.run());
    });
  }

  private async run(): Promise<string> {
    const ray = this.session.ray;
    this.show({ fraction: 0, samplesDone: 0, totalSamples: Number(this.samples.value), estimate: null, perNode: {}, elapsedMs: 0 });
    const numTasks = piTaskCount(ray.clusterResources().CPU ?? 1);
    const r = await runMonteCarloPi(ray, { totalSamples: Number(this.samples.value), numTasks, verify: this.verify.checked }, (p) => this.show(p));
    this.show(r);
    const err = Math.abs(r.pi - Math.PI);
    const retried = r.retried > 0 ? `; ${r.retried} re-ran on another node after theirs left` : '';
    const verified = r.verified ? '; every count agreed on by two nodes' : '';
    return `π ≈ ${r.pi.toFixed(6)} (off by ${err.toExponential(1)}) from ${formatCount(r.totalSamples)} samples in ${r.numTasks} tasks${retried}${verified}.`;
  }

  private show(p: PiProgress): void {
    const pct = Math.floor(p.fraction * 100);
    this.bar.setAttribute('aria-valuenow', String(pct));
    this.bar.setAttribute('aria-valuetext', `${pct}% (${formatCount(p.samplesDone)} of ${formatCount(p.totalSamples)} samples)`);
    this.fill.style.width = `${p.fraction * 100}%`;
    this.estimate.textContent = p.estimate === null ? '–' : p.estimate.toFixed(6);
    this.done.textContent = `${formatCount(p.samplesDone)} of ${formatCount(p.totalSamples)} samples`;
    const rows = Object.entries(p.perNode).sort((a, b) => b[1] - a[1]);
    this.table.hidden = rows.length === 0;
    const total = Math.max(1, rows.reduce((sum, [, n]) => sum + n, 0));
    this.table.tBodies[0]!.replaceChildren(
      ...rows.map(([node, n]) =>
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, h('span', { className: 'node-id', text: node }), ' ', this.isCoordinator(node) && h('span', { className: 'tag', text: 'coordinator' })),
          h(
            'td',
            { className: 'share' },
            h('span', { className: 'share-bar', style: `--w:${((n / total) * 100).toFixed(1)}%`, 'aria-hidden': 'true' }),
            h('span', { className: 'visually-hidden', text: `${Math.round((n / total) * 100)}%` }),
          ),
          h('td', { className: 'num', text: formatCount(n) }),
        ),
      ),
    );
  }
}
