#!/usr/bin/env node
// Benchmark for `npm run bench:rekey`: `piv-enroll rekey --force` of an enrolled card (RSA-2048 in 9C, hardened, no
// hosts to deploy to) behind pcscd, under both timing models of the card (none: the emulator's own speed; yubikey5:
// paced like a USB YubiKey 5). Each run enrolls a fresh card first (not timed), then times the rekey alone. Prints
// medians of wall time, APDUs, the card's busy time during the rekey and its share of the wall time. BENCH_RUNS (3),
// BENCH_TIMING, BENCH_PKCS11 (the rekey's --pkcs11, default auto: every installed module).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, median, plugIn, sh, startupMs, TIMING_MODELS } from './card-server.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const PKCS11 = process.env.BENCH_PKCS11 ?? 'auto';
const PIN = '24681357';

async function once(timing) {
  const dir = mkdtempSync(join(tmpdir(), 'piv-enroll-rekey-bench-'));
  const inventory = join(dir, 'inventory.sqlite');
  const state = join(dir, 'card.json');
  // Enroll under the fast model (not timed), then serve the same card file under the model being measured.
  const setup = await plugIn({ state, timing: 'none' });
  try {
    sh(process.execPath, [CLI, 'enroll', '--reader', 'Yubico YubiKey', '--user', 'rekeyed', '--out', join(dir, 'out'), '--inventory', inventory, '--yes', '--pkcs11', 'none'], {
      env: { PIV_NEW_PIN: PIN, PIV_NEW_PUK: '97531864' },
    });
  } finally {
    await setup.unplug();
  }
  const card = await plugIn({ state, timing });
  const started = process.hrtime.bigint();
  let seconds;
  let reported;
  try {
    sh(process.execPath, [CLI, 'rekey', '--reader', 'Yubico YubiKey', '--force', '--out', join(dir, 'out2'), '--inventory', inventory, '--pkcs11', PKCS11], { env: { PIV_PIN: PIN } });
    seconds = Number(process.hrtime.bigint() - started) / 1e9;
  } finally {
    reported = await card.unplug();
  }
  rmSync(dir, { recursive: true, force: true });
  return { seconds, ...reported };
}

const node = startupMs(['-e', '0']);
console.log(`rekey of an enrolled card (RSA-2048, 9C, --pkcs11 ${PKCS11}), ${RUNS} runs each, a freshly enrolled card behind pcscd each run; medians`);
console.log(`start-up: node -e 0 ${node.toFixed(0)} ms`);
for (const timing of TIMING_MODELS) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await once(timing));
  const seconds = median(runs.map((r) => r.seconds));
  const busy = median(runs.map((r) => r.busyMs)) / 1000;
  console.log(
    `  --timing ${timing.padEnd(8)}: ${seconds.toFixed(2)} s [${runs.map((r) => r.seconds.toFixed(2)).join(', ')}], ${median(runs.map((r) => r.apdus))} APDUs, ` +
      `card ${busy.toFixed(2)} s (${((busy / seconds) * 100).toFixed(0)}% of the wall time); wall ${(seconds / (busy + node / 1000)).toFixed(2)}× (card time + node start-up)`,
  );
}
