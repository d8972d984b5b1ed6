// Runs one job of the demo page behind its button: disables the button while it runs, shows the
// elapsed time live, then the job's summary, or its error in plain words.
import { describeError } from './dom.ts';
import { formatMs } from './format.ts';

export interface JobControls {
  readonly button: HTMLButtonElement;
  /** Where "Running… 1.2 s", the summary or the error go. */
  readonly status: HTMLElement;
  /** Called after the job ends, successful or not (e.g. to refresh the timeline). */
  readonly onSettled?: () => void;
  /** Whether the button may be enabled again afterwards (false once the session stopped). */
  readonly canRun: () => boolean;
}

/** A job's outcome to show instead of a failure, e.g. "no GPU: here is how to get one". */
export class JobNotice extends Error {
  override name = 'JobNotice';
}

export async function runJob(c: JobControls, title: string, job: () => Promise<string>): Promise<void> {
  const started = performance.now();
  c.button.disabled = true;
  c.button.dataset['busy'] = '1';
  c.status.className = 'job-status running';
  const tick = (): void => {
    c.status.textContent = `Running… ${formatMs(performance.now() - started)}`;
  };
  tick();
  const timer = setInterval(tick, 100);
  try {
    const summary = await job();
    c.status.className = 'job-status ok';
    c.status.textContent = `${summary}\nElapsed: ${formatMs(performance.now() - started)}`;
  } catch (e) {
    if (e instanceof JobNotice) {
      c.status.className = 'job-status notice';
      c.status.textContent = e.message;
    } else {
      c.status.className = 'job-status error';
      c.status.textContent = `${title} failed after ${formatMs(performance.now() - started)}: ${describeError(e)}`;
      console.error(e);
    }
  } finally {
    clearInterval(timer);
    delete c.button.dataset['busy'];
    c.button.disabled = !c.canRun();
    c.onSettled?.();
  }
}
