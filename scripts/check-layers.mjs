// Checks that imports point downward (ARCHITECTURE.md, "Layers") and that no module imports
// itself back through others (a cycle). Run by `npm run lint`; exits 1 naming each offending import.
//
// The rule, per folder of runtime/ (a folder may import itself and the folders listed for it,
// nothing else), plus signaling/ (the server), which may use only the wire types:
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LAYERS = {
  protocol: [],
  common: ['protocol'],
  api: ['protocol'],
  transport: ['api', 'common', 'protocol'],
  coordinator: ['api', 'common', 'protocol'],
  worker: ['api', 'common', 'protocol'],
  runner: ['worker', 'protocol'],
  node: ['transport', 'api', 'common', 'protocol'],
  driver: ['coordinator', 'node', 'api', 'common', 'protocol'],
  session: ['driver', 'coordinator', 'node', 'transport', 'api', 'common', 'protocol'],
  // runtime/*.ts: the public entry index.ts, the test entry testing.ts and ray-context.ts, the
  // composition root (init/join state) both entries export.
  index: ['session', 'driver', 'coordinator', 'node', 'worker', 'runner', 'transport', 'api', 'common', 'protocol'],
  signaling: ['protocol'],
};

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const IMPORT_RE = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;

/** The layer of a file (relative to the repo root), or undefined when the rule does not cover it. */
function layerOf(file) {
  const parts = file.split(/[\\/]/);
  if (parts[0] === 'signaling') return 'signaling';
  if (parts[0] !== 'runtime') return undefined;
  if (parts.length === 2) return 'index';
  return parts[1];
}

function sourceFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|mts|js|mjs)$/.test(name) && !/\.(test|fixture)\.ts$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Relative imports of a file, as repo-relative paths of the files they name. */
function importsOf(file) {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const found = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (!spec || !spec.startsWith('.')) continue;
    found.push(relative(ROOT, resolve(ROOT, dirname(file), spec)));
  }
  return found;
}

/**
 * Problems in an import graph (file -> the files it imports, repo-relative): imports that break
 * the layer rule, and cycles between files.
 * @param {Map<string, string[]>} graph
 * @returns {string[]}
 */
export function findProblems(graph) {
  const problems = [];
  for (const [file, targets] of graph) {
    const from = layerOf(file);
    for (const target of targets) {
      const to = layerOf(target);
      if (from === undefined || to === undefined || from === to) continue;
      const allowed = LAYERS[from];
      if (!allowed) problems.push(`${file}: folder "${from}" has no rule in scripts/check-layers.mjs`);
      else if (!allowed.includes(to)) problems.push(`${file} imports ${target}: ${from}/ may import only ${allowed.join(', ') || 'nothing'}`);
    }
  }
  // Cycles between files: depth-first search, reporting each cycle by its edge back.
  const state = new Map(); // file -> 1 on the stack, 2 done
  const stack = [];
  const visit = (file) => {
    state.set(file, 1);
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === 1) problems.push(`import cycle: ${[...stack.slice(stack.indexOf(next)), next].join(' -> ')}`);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 2);
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return problems;
}

/** The import graph of runtime/ and signaling/ (tests and fixtures left out). */
export function importGraph() {
  const files = [...sourceFiles(join(ROOT, 'runtime')), ...sourceFiles(join(ROOT, 'signaling'))].map((f) => relative(ROOT, f));
  return new Map(files.map((file) => [file, importsOf(file)]));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const problems = findProblems(importGraph());
  for (const p of problems) console.error(`check-layers: ${p}`);
  if (problems.length > 0) {
    console.error(`check-layers: ${problems.length} problem(s); the rule is in scripts/check-layers.mjs and ARCHITECTURE.md`);
    process.exit(1);
  }
  console.log('check-layers: imports point downward, no cycles');
}
