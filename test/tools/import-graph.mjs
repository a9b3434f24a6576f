// The repository's imports, folder by folder: `node test/tools/import-graph.mjs` prints a Mermaid drawing of which
// folder of src/ imports which (the README's architecture drawing is its output); test/unit/layers.test.ts checks the
// same edges against the layer order. Plain JavaScript, reading the sources as text (no build needed).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = new URL('../../src/', import.meta.url).pathname;

export function sourceFiles(dir = root) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : name.endsWith('.ts') ? [path] : [];
  });
}

/** The folder a file belongs to, as the layers name them: `operations/enroll`, `cli/commands`, or `.` for src/ itself. */
export function folderOf(file) {
  return relative(root, dirname(file)) || '.';
}

/** Every relative import of `file` (type-only ones included: they are dependencies of the design too). */
export function importsOf(file) {
  const text = readFileSync(file, 'utf8');
  const found = [];
  for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'(\.[^']+)'|import\('(\.[^']+)'\)/g)) {
    const target = match[1] ?? match[2];
    found.push({ spec: target, file: resolve(dirname(file), target.replace(/\.js$/, '.ts')), line: match[0] });
  }
  return found;
}

/** Folder → folders it imports (not itself). */
export function folderEdges() {
  const edges = new Map();
  for (const file of sourceFiles()) {
    const from = folderOf(file);
    for (const imported of importsOf(file)) {
      const to = folderOf(imported.file);
      if (to === from) continue;
      if (!edges.has(from)) edges.set(from, new Set());
      edges.get(from).add(to);
    }
  }
  return edges;
}

/** The layers, bottom first (README's architecture table); src/ itself (errors.ts) is beneath them all. */
export const LAYERS = ['.', 'standards', 'bytes', 'crypto', 'transport', 'piv', 'operations', 'cli'];

export const layerOf = (folder) => folder.split('/')[0];

/** Layer → layers it imports. */
export function layerEdges() {
  const edges = new Map();
  for (const [from, tos] of folderEdges()) {
    for (const to of tos) {
      const [a, b] = [layerOf(from), layerOf(to)];
      if (a === b) continue;
      if (!edges.has(a)) edges.set(a, new Set());
      edges.get(a).add(b);
    }
  }
  return edges;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const id = (folder) => (folder === '.' ? 'errors' : folder.replace(/[/-]/g, '_'));
  const label = (folder) => (folder === '.' ? 'src/errors.ts' : `${folder}/`);
  const lines = ['```mermaid', 'graph BT'];
  for (const [from, tos] of [...layerEdges()].sort(([a], [b]) => LAYERS.indexOf(a) - LAYERS.indexOf(b))) {
    for (const to of [...tos].sort((a, b) => LAYERS.indexOf(a) - LAYERS.indexOf(b))) lines.push(`  ${id(from)}["${label(from)}"] --> ${id(to)}["${label(to)}"]`);
  }
  // The workflows, one file each under operations/, and the commands that run them.
  const workflows = { 'enroll/enroll-card.ts': 'enroll', 'batch/run-batch.ts': 'batch', 'rekey.ts': 'rekey', 'offboard.ts': 'offboard', 'deploy/deploy-key.ts': 'deploy' };
  for (const [file, command] of Object.entries(workflows)) lines.push(`  cli_${command}["cli/commands/${command}.ts"] -.-> op_${command}["operations/${file}"]`);
  lines.push('```');
  process.stdout.write(`${lines.join('\n')}\n`);
}
