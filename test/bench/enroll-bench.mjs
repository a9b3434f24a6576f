#!/usr/bin/env node
// Benchmark for `npm run bench:enroll`: one enrollment of an RSA-2048 key into 9C by piv-enroll against the original
// chain of tools (ssh-keygen, ykman import, ykman certificate, ssh-keygen -D), each on a fresh virtual card behind
// pcscd, under both timing models of the card: none (the emulator's own speed) and yubikey5 (paced like a USB
// YubiKey 5). Prints medians of wall time, APDUs, the card's busy time and its share of the wall time, and the ratios
// of medians against the chain. Needs the test bench (test/bench/testbench.sh). BENCH_RUNS (3), BENCH_TIMING.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, median, plugIn, READERS, sh, startupMs, TIMING_MODELS } from './card-server.mjs';

const READER = READERS[0].name;
const MK = '010203040506070801020304050607080102030405060708';
const OPENSC = '/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so';
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const HARDENING = { PIV_NEW_PIN: '24681357', PIV_NEW_PUK: '97531864' };

const enroll = (dir, extra, env = {}) =>
  sh(process.execPath, [CLI, 'enroll', '--reader', 'Yubico YubiKey', '--user', 'gofish543', '--out', join(dir, 'out'), '--inventory', join(dir, 'inventory.sqlite'), '--yes', '--json', ...extra], { env });

const workloads = [
  {
    name: 'chain',
    description: 'original chain (ssh-keygen, ykman import, ykman certificate, ssh-keygen -D)',
    run: (dir) => {
      const key = join(dir, 'gofish');
      sh('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-m', 'PEM', '-N', '', '-f', key]);
      sh('sh', ['-c', `ssh-keygen -f ${key}.pub -e -m pem > ${key}.pem`]);
      sh('ykman', ['--reader', READER, 'piv', 'keys', 'import', '9c', key], { input: `${MK}\n` });
      sh('ykman', ['--reader', READER, 'piv', 'certificates', 'generate', '9c', `${key}.pem`, '-s', 'gofish543'], { input: `${MK}\n123456\n` });
      sh('ssh-keygen', ['-D', OPENSC, '-e']);
    },
  },
  {
    name: 'keep-defaults',
    description: "piv-enroll enroll --keep-default-credentials (the chain's work, plus signatures checked over APDUs and through every PKCS#11 module)",
    run: (dir) => enroll(dir, ['--keep-default-credentials']),
  },
  {
    name: 'full',
    description: 'piv-enroll enroll (defaults: hardens PIN, PUK, management key; checks over APDUs and through every PKCS#11 module)',
    run: (dir) => enroll(dir, [], HARDENING),
  },
  {
    name: 'apdu-only',
    description: 'piv-enroll enroll --keep-default-credentials --pkcs11 none (signatures checked over APDUs only)',
    run: (dir) => enroll(dir, ['--keep-default-credentials', '--pkcs11', 'none']),
  },
];

async function once(workload, timing) {
  const dir = mkdtempSync(join(tmpdir(), 'piv-enroll-bench-'));
  const card = await plugIn({ state: join(dir, 'card.json'), timing });
  const started = process.hrtime.bigint();
  let output;
  let seconds;
  let reported;
  try {
    output = workload.run(dir);
    seconds = Number(process.hrtime.bigint() - started) / 1e9;
  } finally {
    await card.unplug().then((r) => (reported = r));
  }
  rmSync(dir, { recursive: true, force: true });
  let timings;
  try {
    timings = JSON.parse(output ?? '').timings;
  } catch {
    timings = undefined;
  }
  return { seconds, ...reported, timings };
}

const node = startupMs(['-e', '0']);
const version = startupMs([CLI, '--version']);
console.log(`enrollment of an RSA-2048 key into 9C, ${RUNS} runs each, a fresh virtual card behind pcscd each run; medians`);
console.log(`start-up: node -e 0 ${node.toFixed(0)} ms, piv-enroll --version ${version.toFixed(0)} ms`);
const results = {};
for (const timing of TIMING_MODELS) {
  console.log(`\n--timing ${timing}`);
  console.log(`${'wall'.padStart(8)} ${'APDUs'.padStart(6)} ${'card'.padStart(8)} ${'share'.padStart(6)}  workload`);
  for (const workload of workloads) {
    const runs = [];
    for (let i = 0; i < RUNS; i++) runs.push(await once(workload, timing));
    const row = {
      seconds: median(runs.map((r) => r.seconds)),
      apdus: median(runs.map((r) => r.apdus)),
      busySeconds: median(runs.map((r) => r.busyMs)) / 1000,
      all: runs.map((r) => r.seconds.toFixed(2)).join(', '),
      timings: runs.map((r) => r.timings).filter(Boolean),
    };
    results[`${timing}/${workload.name}`] = row;
    const share = `${((row.busySeconds / row.seconds) * 100).toFixed(0)}%`;
    console.log(`${row.seconds.toFixed(2).padStart(6)} s ${String(row.apdus).padStart(6)} ${row.busySeconds.toFixed(2).padStart(6)} s ${share.padStart(6)}  ${workload.description} [${row.all}]`);
    if (row.timings.length > 0) {
      const steps = Object.keys(row.timings[0]);
      console.log(`         steps (median ms): ${steps.map((s) => `${s} ${median(row.timings.map((t) => t[s]?.ms ?? t[s] ?? 0)).toFixed(0)}`).join(', ')}`);
    }
  }
  const chain = results[`${timing}/chain`];
  for (const workload of workloads.slice(1)) {
    const row = results[`${timing}/${workload.name}`];
    const limit = row.busySeconds + node / 1000;
    console.log(
      `  ${workload.name}: ${(chain.seconds / row.seconds).toFixed(2)}× faster than the chain (${(row.apdus / chain.apdus).toFixed(2)}× its APDUs); ` +
        `wall ${(row.seconds / limit).toFixed(2)}× (card time + node start-up)`,
    );
  }
  console.log(`  chain: card ${(chain.busySeconds).toFixed(2)} s of ${chain.seconds.toFixed(2)} s`);
}
