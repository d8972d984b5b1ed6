// Tiny DOM helpers for the demo pages: find an element the page must have, and build elements.

/** The element with this id; throws when the page lacks it (a broken page should fail loudly). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

type Child = Node | string | null | undefined | false;

/** `h('td', { className: 'num' }, '42')`: an element with properties/attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<Record<string, string | number | boolean>> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === false) continue;
    if (k === 'className') el.className = String(v);
    else if (k === 'text') el.textContent = String(v);
    // Through the CSSOM: the pages' CSP (style-src 'self') refuses style attributes set as markup.
    else if (k === 'style') el.style.cssText = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element with attributes. */
export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** The message of anything thrown, with its name, and the cause's when it has one (RayTaskError). */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  let text = `${err.name}: ${err.message}`;
  const cause = (err as Error & { cause?: unknown }).cause;
  if (cause instanceof Error && !err.message.includes(cause.message)) text += `\n  caused by ${cause.name}: ${cause.message}`;
  return text;
}
