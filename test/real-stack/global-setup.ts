/**
 * Before the real-stack tests: build the CLI (the tests run bin/piv-enroll as a separate process, as a
 * user would) and check the bench (pcscd with the YubiKey-named vpcd reader, and the third-party tools).
 * Under CI (any CI variable but false/0) a missing bench fails the run; elsewhere the real-stack tests are skipped with a notice.
 */
import { execFileSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
// Plain JavaScript shared with `npm test`'s set-up step (test/bench/ensure-bench.mjs), which runs before anything is built.
import { benchProblems, missingAddons, underCi } from '../bench/bench-state.mjs';

/**
 * Virtual cards a crashed or interrupted run left behind keep reconnecting to vpcd and would sit in the
 * test reader: stop them (only ours, recognisable by their scratch state files).
 */
function stopLeftoverCards(): void {
  try {
    execFileSync('pkill', ['-f', 'virtual-card serve .*piv-enroll-real-'], { stdio: 'ignore' });
  } catch {
    // none running
  }
}

export default function setup(project: TestProject): () => void {
  const root = new URL('../..', import.meta.url).pathname;
  stopLeftoverCards();
  execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  const problems: string[] = [...benchProblems(), ...missingAddons(root).map((name) => `the ${name} module is not built`)];
  if (problems.length > 0) {
    const message = `real-stack test bench missing (${problems.join('; ')}): run \`bash test/bench/testbench.sh\` as root, then npm install`;
    if (underCi()) throw new Error(message);
    process.stderr.write(`\n*** ${message}; the real-stack tests are SKIPPED ***\n\n`);
  }
  project.provide('benchReady', problems.length === 0);
  return stopLeftoverCards;
}

declare module 'vitest' {
  export interface ProvidedContext {
    benchReady: boolean;
  }
}
