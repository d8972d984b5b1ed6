// The distributed quicksort card: sorts as many random numbers as the person asks with
// jobs/quicksort.ts and says whether the result matches Array.prototype.sort.
import { byId } from './dom.ts';
import { formatCount, formatMs } from './format.ts';
import { runJob } from './job-runner.ts';
import { runQuicksort } from './jobs/quicksort.ts';
import type { Session } from './session.ts';

export class QuicksortPanel {
  readonly button = byId<HTMLButtonElement>('run-sort');
  private readonly size = byId<HTMLInputElement>('sort-size');
  private readonly status = byId('sort-status');

  constructor(
    private readonly session: Session,
    onSettled: () => void,
  ) {
    this.button.addEventListener('click', () => {
      if (!this.size.reportValidity()) return;
      void runJob({ button: this.button, status: this.status, onSettled, canRun: () => session.running }, 'Quicksort', () => this.run());
    });
  }

  private async run(): Promise<string> {
    const r = await runQuicksort(this.session.ray, { size: Number(this.size.value) });
    if (!r.correct) {
      throw new Error(`the sorted result differs from Array.prototype.sort at index ${r.firstMismatch}`);
    }
    return (
      `Sorted ${formatCount(r.size)} numbers in ${r.tasks} quickSort tasks: matches Array.prototype.sort ✓ ` +
      `(which takes ${formatMs(r.referenceMs)} in this tab).`
    );
  }
}
