#!/usr/bin/env node
// Benchmark for `npm run bench:enroll`: one enrollment by piv-enroll against the original chain of tools
// (ssh-keygen, ykman import, ykman certificate, ssh-keygen -D), each on a fresh virtual card behind pcscd.
// Prints wall time and the APDUs the card served. Needs the test bench (test/bench/testbench.sh).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CLI = new URL('../../bin/piv-enroll', import.meta.url).pathname;
const READER = 'Yubico YubiKey OTP+FIDO+CCID 00 00';
const MK = '010203040506070801020304050607080102030405060708';
const OPENSC = '/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so';
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

function sh(command, args, input = '', env = {}) {
  const result = spawnSync(command, args, { input, env: { ...process.env, ...env }, encoding: 'utf8', detached: true });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function cardPresent() {
  return /Yes\s+Yubico YubiKey OTP\+FIDO\+CCID 00 00/.test(spawnSync('opensc-tool', ['-l'], { encoding: 'utf8' }).stdout);
}

async function withCard(work) {
  const state = join(mkdtempSync(join(tmpdir(), 'piv-enroll-bench-')), 'card.json');
  const server = spawn(process.execPath, [CLI, 'virtual-card', 'serve', '--state', state], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  server.stderr.on('data', (d) => (log += d));
  while (!cardPresent()) await sleep(100);
  const before = 0;
  const started = process.hrtime.bigint();
  work(join(state, '..'));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  server.kill('SIGTERM');
  await new Promise((r) => server.on('close', r));
  while (cardPresent()) await sleep(100);
  const apdus = Number(/(\d+) APDUs served/.exec(log)?.[1] ?? NaN) - before;
  return { seconds, apdus };
}

const workloads = {
  'original chain (ssh-keygen, ykman import, ykman certificate, ssh-keygen -D)': (dir) => {
    const key = join(dir, 'gofish');
    sh('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-m', 'PEM', '-N', '', '-f', key]);
    sh('sh', ['-c', `ssh-keygen -f ${key}.pub -e -m pem > ${key}.pem`]);
    sh('ykman', ['--reader', READER, 'piv', 'keys', 'import', '9c', key], `${MK}\n`);
    sh('ykman', ['--reader', READER, 'piv', 'certificates', 'generate', '9c', `${key}.pem`, '-s', 'gofish543'], `${MK}\n123456\n`);
    sh('ssh-keygen', ['-D', OPENSC, '-e']);
  },
  'piv-enroll enroll --keep-default-credentials --pkcs11 none (the chain\'s work, plus signatures checked over APDUs)': (dir) => {
    sh(process.execPath, [CLI, 'enroll', '--reader', 'Yubico YubiKey', '--user', 'gofish543', '--keep-default-credentials', '--pkcs11', 'none', '--out', join(dir, 'out'), '--yes']);
  },
  'piv-enroll enroll --keep-default-credentials --pkcs11 opensc (also checks through OpenSC, as ssh -I uses it)': (dir) => {
    sh(process.execPath, [CLI, 'enroll', '--reader', 'Yubico YubiKey', '--user', 'gofish543', '--keep-default-credentials', '--pkcs11', 'opensc', '--out', join(dir, 'out'), '--yes']);
  },
  'piv-enroll enroll (defaults: hardens PIN, PUK, management key; checks through OpenSC and ykcs11)': (dir) => {
    sh(process.execPath, [CLI, 'enroll', '--reader', 'Yubico YubiKey', '--user', 'gofish543', '--out', join(dir, 'out'), '--yes'], '', { PIV_NEW_PIN: '24681357', PIV_NEW_PUK: '97531864' });
  },
};

console.log(`enrollment of an RSA-2048 key into 9C, ${RUNS} runs each, fresh virtual card behind pcscd each run`);
const rows = [];
for (const [name, work] of Object.entries(workloads)) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await withCard(work));
  const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
  rows.push({ name, seconds: median(runs.map((r) => r.seconds)), apdus: median(runs.map((r) => r.apdus)) });
}
for (const row of rows) console.log(`${row.seconds.toFixed(2).padStart(7)} s  ${String(row.apdus).padStart(5)} APDUs  ${row.name}`);
const chain = rows[0];
for (const row of rows.slice(1)) console.log(`  ${row.name.split(' (')[0]}: ${(row.seconds / chain.seconds).toFixed(2)}× the chain's time, ${(row.apdus / chain.apdus).toFixed(2)}× its APDUs`);

// The virtual card behind vpcd answers an APDU in about 48 ms (vpcd writes length and body separately, and
// Nagle's algorithm meets delayed ACK), so APDU counts weigh heavily in these times; a USB YubiKey is faster.
// Start-up: piv-enroll --version against a bare node.
const time = (args) => {
  const started = process.hrtime.bigint();
  for (let i = 0; i < 10; i++) spawnSync(process.execPath, args);
  return Number(process.hrtime.bigint() - started) / 1e7;
};
const node = time(['-e', '0']);
const version = time([CLI, '--version']);
console.log(`start-up: node -e 0 ${node.toFixed(0)} ms, piv-enroll --version ${version.toFixed(0)} ms (${(version / node).toFixed(2)}×)`);
