// The GPU job card: runs jobs/gpu-matmul.ts on the nodes that offer a GPU and checks it against
// the CPU; when none does, says so and how to get one instead of waiting forever.
import { byId } from './dom.ts';
import { formatMs } from './format.ts';
import { JobNotice, runJob } from './job-runner.ts';
import { clusterHasGpu, runGpuMatmul } from './jobs/gpu-matmul.ts';
import type { Session } from './session.ts';

export class GpuPanel {
  readonly button = byId<HTMLButtonElement>('run-gpu');
  private readonly size = byId<HTMLSelectElement>('gpu-size');
  private readonly status = byId('gpu-status');

  constructor(
    private readonly session: Session,
    private readonly nodeLabel: (nodeId: string) => string,
    onSettled: () => void,
  ) {
    this.button.addEventListener('click', () => {
      void runJob({ button: this.button, status: this.status, onSettled, canRun: () => session.running }, 'GPU job', () => this.run());
    });
  }

  /** What to do when no node offers a GPU, for this page's session. */
  private noGpuHelp(): string {
    if (this.session.state.kind === 'local') {
      return (
        'This tab offers no GPU, so GPU tasks would wait for one. Press Stop, tick "Offer a GPU from this tab" ' +
        '(or "Offer the fallback GPU from this tab": software, slow) and run in local mode again.'
      );
    }
    return (
      'No node of this cluster offers a GPU, so GPU tasks would wait for one. To get one: open the invite link ' +
      'in a browser with WebGPU (recent Chrome or Edge) and leave "Offer the GPU" ticked; or tick ' +
      '"Offer the fallback GPU" on a volunteer page (software, slow); or stop this cluster and start it again ' +
      'with this tab\'s GPU offered.'
    );
  }

  private async run(): Promise<string> {
    const ray = this.session.ray;
    if (!clusterHasGpu(ray)) throw new JobNotice(this.noGpuHelp());
    const gpus = ray.clusterResources().GPU ?? 0;
    const r = await runGpuMatmul(ray, { n: Number(this.size.value), blocks: Math.max(2, Math.ceil(gpus) * 2) });
    if (!r.correct) {
      throw new Error(`the GPU result differs from the CPU result (largest relative error ${r.maxRelativeError.toExponential(2)})`);
    }
    const where = Object.entries(r.perNode)
      .map(([node, n]) => `${this.nodeLabel(node)}: ${n}`)
      .join(', ');
    return (
      `${r.n} × ${r.n} product in ${r.blocks} GPU tasks matches the CPU ✓ (largest relative error ` +
      `${r.maxRelativeError.toExponential(1)}; CPU took ${formatMs(r.cpuMs)}).\nBlocks per node: ${where}.\n` +
      `Adapters: ${r.adapters.join(', ')}.`
    );
  }
}
