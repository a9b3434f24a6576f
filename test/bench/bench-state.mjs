// What the test bench (test/bench/testbench.sh) leaves on a machine, checked without changing anything: shared by
// `npm test`'s set-up step (ensure-bench.mjs) and the real-stack tests' global set-up. Plain JavaScript, so it runs
// before anything is built.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

// pdftoppm, pdftotext (poppler-utils): the handout tests read and render the PDFs.
const TOOLS = ['pcscd', 'ykman', 'yubico-piv-tool', 'pkcs11-tool', 'ssh', 'ssh-keygen', '/usr/sbin/sshd', 'openssl', 'ansible-playbook', 'pg_ctlcluster', 'pdftoppm', 'pdftotext'];
const YUBIKEY_READER_PORT_HEX = '8C7D';
/** The native addons the real-stack tests use: optional dependencies, built by npm install where their build tools and headers are. */
export const NATIVE_ADDONS = ['smartcard', 'pkcs11js', 'better-sqlite3'];

/** True under any CI variable: CI set to anything but "false" or "0". */
export function underCi(env = process.env) {
  return env.CI !== undefined && env.CI !== '' && env.CI !== 'false' && env.CI !== '0';
}

/**
 * The native addons that do not load from the project at `root`. Asked of a fresh node process: one that already
 * failed to load a module remembers that (Node caches package lookups), so a rebuilt addon would still look missing.
 */
export function missingAddons(root) {
  const probe = `const r = require('node:module').createRequire(process.cwd() + '/package.json');
    const missing = ${JSON.stringify(NATIVE_ADDONS)}.filter((name) => { try { r(name); return false; } catch { return true; } });
    process.stdout.write(JSON.stringify(missing));`;
  return JSON.parse(execFileSync(process.execPath, ['-e', probe], { cwd: root, encoding: 'utf8', timeout: 60_000 }));
}

/** What is missing of the bench: tools, pcscd, the YubiKey-named vpcd reader. Empty when it is ready. */
export function benchProblems() {
  const problems = [];
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

/** Whether this process may install the bench: root, or sudo without a password. */
export function mayInstall() {
  if (process.getuid?.() === 0) return true;
  try {
    execFileSync('sudo', ['-n', 'true'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}
