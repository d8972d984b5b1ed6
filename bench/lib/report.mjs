// Turns measured rows into the stdout table, the targets summary and bench/results.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const intFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function formatValue(value, unit) {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-';
  if (unit === 'GB/s') return value >= 100 ? intFormat.format(value) : value.toFixed(2);
  if (unit === 'MB/s') return value >= 1000 ? intFormat.format(value) : value.toFixed(1);
  if (unit === 'jobs/s') return value >= 100 ? intFormat.format(value) : value.toFixed(2);
  return intFormat.format(value);
}

function formatRatio(r) {
  if (r === null || !Number.isFinite(r)) return '';
  return `${r >= 10 ? r.toFixed(0) : r.toFixed(2)}x`;
}

/** Adds the baseline and peer figures (looked up by name among the rows) and their ratios. */
export function withComparisons(rows) {
  const byName = new Map(rows.map((r) => [r.name, r]));
  const compare = (otherName, row) => {
    if (!otherName) return null;
    const other = byName.get(otherName);
    const value = other && other.error === null ? other.value : null;
    const ratio = value && row.error === null ? row.value / value : null;
    return { name: otherName, value, ratio };
  };
  return rows.map((row) => {
    const out = { ...row, baseline: compare(row.baselineName, row), peer: compare(row.peerName, row) };
    delete out.baselineName;
    delete out.peerName;
    if (row.target !== null) out.targetMet = row.error === null ? row.value >= row.target : null;
    // A relative target (a share of the baseline in the same run): unknown without the baseline.
    else if (row.targetRatio != null) out.targetMet = out.baseline?.ratio != null ? out.baseline.ratio >= row.targetRatio : null;
    return out;
  });
}

function pad(text, width, right = false) {
  const s = String(text);
  return right ? s.padStart(width) : s.padEnd(width);
}

function targetText(r) {
  if (r.target !== null) return `>=${formatValue(r.target, r.unit)}`;
  if (r.targetRatio != null) return `>=${formatRatio(r.targetRatio)} baseline`;
  return null;
}

function targetCell(r) {
  const text = targetText(r);
  if (text === null) return '';
  return `${r.targetMet === null ? 'N/A' : r.targetMet ? 'ok' : 'MISS'} ${text}`;
}

/** The table printed at the end of a run. */
export function renderTable(rows) {
  const header = ['benchmark', 'value', 'unit', '±sd', 'baseline (raw browser)', 'ratio', 'peer (workerpool)', 'ratio', 'target', 'Ray 64-core'];
  const cmp = (c, unit) => (c ? [`${c.name} ${formatValue(c.value, unit)}`, formatRatio(c.ratio)] : ['', '']);
  const cells = (r) => [
    r.name,
    formatValue(r.value, r.unit),
    r.unit,
    r.value ? `${((100 * r.sd) / r.value).toFixed(1)}%` : '',
    ...cmp(r.baseline, r.unit),
    ...cmp(r.peer, r.unit),
    targetCell(r),
    r.ray === null ? '' : formatValue(r.ray, r.unit),
  ];
  const ok = rows.filter((r) => r.error === null).map(cells);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (i === 0 ? r.name.length : 0)), ...ok.map((l) => l[i].length)));
  const rightAligned = new Set([1, 3, 5, 7, 9]);
  const fmt = (line) => line.map((c, i) => pad(c, widths[i], rightAligned.has(i))).join('  ').trimEnd();
  const lines = rows.map((r) =>
    r.error === null
      ? fmt(cells(r))
      : `${pad(r.name, widths[0])}  ${pad('ERROR', widths[1], true)}  ${r.error.split('\n')[0].slice(0, 140)}`,
  );
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines].join('\n');
}

/** One line per target of the issue: met or missed, and whether webray beat its peer. */
export function renderTargets(rows) {
  const out = [];
  for (const r of rows) {
    const text = targetText(r);
    if (text === null) continue;
    let figure = r.error === null ? `${formatValue(r.value, r.unit)} ${r.unit}` : 'not measured';
    if (r.target === null && r.error === null) figure += `, ${formatRatio(r.baseline?.ratio ?? null) || '?'} ${r.baseline?.name ?? 'baseline'}`;
    const status = r.targetMet === null ? 'N/A ' : r.targetMet ? 'MET ' : 'MISS';
    let line = `${status}  ${r.name}: ${figure} (target ${text})`;
    if (r.peer && r.peer.value !== null && r.error === null) {
      line += r.value > r.peer.value ? `, ahead of ${r.peer.name}` : `, BEHIND ${r.peer.name}`;
    }
    if (r.note) line += `; ${r.note}`;
    out.push(line);
  }
  return out.join('\n');
}

export function writeResults(path, results) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
}
