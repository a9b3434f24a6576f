/**
 * Before the real-stack tests: build the CLI (the tests run bin/piv-enroll as a separate process, as a
 * user would) and check the bench (pcscd with the YubiKey-named vpcd reader, and the third-party tools).
 * Under CI=true a missing bench fails the run; elsewhere the real-stack tests are skipped with a notice.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { TestProject } from 'vitest/node';

const TOOLS = ['pcscd', 'ykman', 'yubico-piv-tool', 'pkcs11-tool', 'ssh', 'ssh-keygen', '/usr/sbin/sshd', 'openssl'];
const YUBIKEY_READER_PORT_HEX = '8C7D';

function benchProblems(): string[] {
  const problems: string[] = [];
  for (const tool of TOOLS) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      problems.push(`${tool} not installed`);
    }
  }
  if (!existsSync('/run/pcscd/pcscd.comm')) problems.push('pcscd not running');
  const tcp = ['/proc/net/tcp', '/proc/net/tcp6'].map((f) => (existsSync(f) ? readFileSync(f, 'utf8') : '')).join('\n');
  if (!new RegExp(`:${YUBIKEY_READER_PORT_HEX} 00000000:0000 0A`, 'i').test(tcp)) problems.push('no vpcd reader listening on port 35965');
  return problems;
}

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
  const problems = benchProblems();
  if (problems.length > 0) {
    const message = `real-stack test bench missing (${problems.join('; ')}): run \`bash test/bench/testbench.sh\` as root`;
    if (process.env.CI === 'true') throw new Error(message);
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
