// One logger per component, off unless enabled (`localStorage.debug = 'webray:*'` or
// `globalThis.WEBRAY_DEBUG = 'webray:*'`), lines prefixed with the node id — like `debug`.

export interface Logger {
  (msg: string, ...rest: unknown[]): void;
  readonly enabled: boolean;
  warn(msg: string, ...rest: unknown[]): void;
}

function pattern(): string {
  const g = globalThis as { WEBRAY_DEBUG?: string; localStorage?: Storage };
  if (typeof g.WEBRAY_DEBUG === 'string') return g.WEBRAY_DEBUG;
  try {
    return g.localStorage?.getItem('debug') ?? '';
  } catch {
    return '';
  }
}

function matches(ns: string, pat: string): boolean {
  return pat.split(/[\s,]+/).some((p) => p !== '' && new RegExp(`^${p.replace(/\*/g, '.*')}$`).test(ns));
}

export function createLogger(namespace: string, prefix = ''): Logger {
  const enabled = matches(namespace, pattern());
  const tag = prefix ? `${namespace} [${prefix}]` : namespace;
  const log = ((msg: string, ...rest: unknown[]) => {
    if (enabled) console.debug(`${tag} ${msg}`, ...rest);
  }) as Logger & { enabled: boolean };
  Object.defineProperty(log, 'enabled', { value: enabled });
  log.warn = (msg: string, ...rest: unknown[]) => console.warn(`${tag} ${msg}`, ...rest);
  return log;
}
