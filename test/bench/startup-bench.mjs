#!/usr/bin/env node
// Benchmark for `npm run bench:startup`: what piv-enroll costs before it does anything. Prints the median of
// BENCH_RUNS (10) runs, each in a fresh node process, of: the wall time of `node -e 0`, the wall time of
// `piv-enroll --version`, and the time to import dist/cli/commands/enroll.js (measured inside the process, so node's
// own start-up is not in it). No card, reader or pcscd is used (card-server.mjs is not imported: it loads PC/SC).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = new URL('../..', import.meta.url).pathname;
const CLI = join(ROOT, 'bin/piv-enroll');
const ENROLL = pathToFileURL(join(ROOT, 'dist/cli/commands/enroll.js')).href;
const RUNS = Number(process.env.BENCH_RUNS ?? 10);

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function run(args) {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
  return { ms, stdout: result.stdout };
}

/** Median wall time in ms of RUNS runs of node with `args`. */
const wallMs = (args) => median(Array.from({ length: RUNS }, () => run(args).ms));

/** Median time in ms, measured inside each of RUNS fresh processes, of `await import(url)`. */
function importMs(url) {
  const script = `const t = performance.now(); await import(${JSON.stringify(url)}); console.log(performance.now() - t);`;
  return median(Array.from({ length: RUNS }, () => Number(run(['--input-type=module', '-e', script]).stdout.trim())));
}

const node = wallMs(['-e', '0']);
const version = wallMs([CLI, '--version']);
const enroll = importMs(ENROLL);
console.log(`start-up on node ${process.version}, median of ${RUNS} runs, each in a fresh process`);
console.log(`${node.toFixed(0).padStart(6)} ms  node -e 0 (wall)`);
console.log(`${version.toFixed(0).padStart(6)} ms  piv-enroll --version (wall)`);
console.log(`${enroll.toFixed(0).padStart(6)} ms  import of dist/cli/commands/enroll.js (in the process)`);
