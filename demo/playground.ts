// The playground: runs a short program the person writes against the session, with `ray` and
// `print` in scope, and shows what it printed, what it returned, or the error it threw.
import { byId, describeError, h } from './dom.ts';
import { formatMs } from './format.ts';
import { PRESETS } from './playground-presets.ts';
import type { Session } from './session.ts';

type Program = (ray: unknown, print: (...args: unknown[]) => void) => Promise<unknown>;
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => Program;

/** A readable one-line-or-few rendering of a value, as a console shows it. */
export function formatValue(v: unknown, depth = 0): string {
  if (typeof v === 'string') return depth === 0 ? v : JSON.stringify(v);
  if (v === undefined || v === null || typeof v !== 'object') {
    return typeof v === 'bigint' ? `${v}n` : typeof v === 'function' ? `[function ${v.name || 'anonymous'}]` : String(v);
  }
  if (depth > 3) return '…';
  if (v instanceof Error) return `${v.name}: ${v.message}`;
  if (ArrayBuffer.isView(v)) {
    const arr = Array.from(v as unknown as ArrayLike<number>);
    return `${v.constructor.name}(${arr.length}) [${arr.slice(0, 8).join(', ')}${arr.length > 8 ? ', …' : ''}]`;
  }
  if (Array.isArray(v)) {
    const items = v.slice(0, 50).map((x) => formatValue(x, depth + 1));
    return `[${items.join(', ')}${v.length > 50 ? `, … ${v.length - 50} more` : ''}]`;
  }
  if (v instanceof Map) return `Map(${v.size}) {${[...v].slice(0, 20).map(([k, x]) => `${formatValue(k, depth + 1)} => ${formatValue(x, depth + 1)}`).join(', ')}}`;
  if (v instanceof Set) return `Set(${v.size}) {${[...v].slice(0, 20).map((x) => formatValue(x, depth + 1)).join(', ')}}`;
  if (v instanceof Date) return v.toISOString();
  const name = v.constructor && v.constructor !== Object ? `${v.constructor.name} ` : '';
  const entries = Object.entries(v).map(([k, x]) => `${k}: ${formatValue(x, depth + 1)}`);
  return `${name}{ ${entries.join(', ')} }`;
}

export class Playground {
  private readonly preset = byId<HTMLSelectElement>('playground-preset');
  private readonly code = byId<HTMLTextAreaElement>('playground-code');
  readonly button = byId<HTMLButtonElement>('run-playground');
  private readonly output = byId('playground-output');

  constructor(
    private readonly session: Session,
    private readonly onSettled: () => void,
  ) {
    this.preset.replaceChildren(...PRESETS.map((p, i) => h('option', { value: i, text: p.name })));
    this.code.value = PRESETS[0]!.code;
    this.preset.addEventListener('change', () => {
      this.code.value = PRESETS[Number(this.preset.value)]?.code ?? '';
    });
    this.button.addEventListener('click', () => void this.run());
    this.code.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        if (!this.button.disabled) void this.run();
      }
    });
  }

  private line(text: string, kind: 'print' | 'result' | 'error' | 'info'): void {
    this.output.append(h('span', { className: `line ${kind}`, text: `${text}\n` }));
  }

  async run(): Promise<void> {
    this.output.replaceChildren();
    let program: Program;
    try {
      program = new AsyncFunction('ray', 'print', this.code.value);
    } catch (e) {
      this.line(`✗ The program does not parse: ${describeError(e)}`, 'error');
      return;
    }
    let ray: unknown;
    try {
      ray = this.session.ray;
    } catch (e) {
      this.line(`✗ ${(e as Error).message}`, 'error');
      return;
    }
    this.button.disabled = true;
    const started = performance.now();
    const print = (...args: unknown[]): void => this.line(args.map((a) => formatValue(a)).join(' '), 'print');
    try {
      const value = await program(ray, print);
      this.line(`⇐ ${formatValue(value)}`, 'result');
      this.line(`finished in ${formatMs(performance.now() - started)}`, 'info');
    } catch (e) {
      this.line(`✗ ${describeError(e)}`, 'error');
      this.line(`failed after ${formatMs(performance.now() - started)}`, 'info');
    } finally {
      this.button.disabled = false;
      this.onSettled();
    }
  }
}
