// The demo page: runs a Monte Carlo estimate of π as remote tasks in local mode. Nothing runs
// until the button is clicked (pages initialise nothing on load).
import { loadWebray } from './load-webray.ts';

const NUM_TASKS = 8;
const SAMPLES_PER_TASK = 2_000_000;

const button = document.querySelector<HTMLButtonElement>('#run-pi');
const output = document.querySelector<HTMLOutputElement>('#pi-result');
const taskCount = document.querySelector<HTMLSpanElement>('#task-count');
if (!button || !output || !taskCount) throw new Error('demo page is missing its elements');
taskCount.textContent = String(NUM_TASKS);

/** Counts random points of the unit square that fall inside the quarter circle. Runs remotely. */
function samplePi(samples: number): number {
  let inside = 0;
  for (let i = 0; i < samples; i++) {
    const x = Math.random();
    const y = Math.random();
    if (x * x + y * y <= 1) inside++;
  }
  return inside;
}

async function runPi(): Promise<string> {
  const ray = await loadWebray();
  const started = performance.now();
  if (!ray.isInitialized()) await ray.init();
  const sample = ray.remote(samplePi);
  const refs = Array.from({ length: NUM_TASKS }, () => sample.remote(SAMPLES_PER_TASK));
  const hits = await ray.get(refs);
  const totalSamples = NUM_TASKS * SAMPLES_PER_TASK;
  const pi = (4 * hits.reduce((a, b) => a + b, 0)) / totalSamples;
  const elapsedMs = performance.now() - started;
  return (
    `π ≈ ${pi.toFixed(5)} (error ${Math.abs(pi - Math.PI).toExponential(2)})\n` +
    `${NUM_TASKS} tasks × ${SAMPLES_PER_TASK.toLocaleString('en')} samples in ${elapsedMs.toFixed(0)} ms`
  );
}

button.addEventListener('click', () => {
  button.disabled = true;
  output.classList.remove('error');
  output.textContent = 'Running…';
  runPi()
    .then((text) => {
      output.textContent = text;
    })
    .catch((err: unknown) => {
      output.classList.add('error');
      const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      output.textContent = `Monte Carlo π failed: ${message}`;
      console.error(err);
    })
    .finally(() => {
      button.disabled = false;
    });
});
