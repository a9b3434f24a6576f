#!/usr/bin/env node
// Benchmark for `npm run bench:batch`: enrollments per minute of `piv-enroll batch` with 1, 2 and 4 virtual readers
// behind the real pcscd (test/bench/testbench.sh sets up four), under both timing models of the card (none: the
// emulator's own speed; yubikey5: paced like a USB YubiKey 5, src/transport/virtual/timing-model.ts). Each reader gets
// CARDS_PER_READER cards in turn: when the batch reports a card enrolled, the bench "swaps" it (stops that card, plugs
// the next one in), as a person at the desk would, only faster. Every card is factory-fresh and fully enrolled
// (hardened, RSA-2048 host key, certificate, signature checks over APDUs and through BENCH_PKCS11, default opensc).
// Prints, per model, enrollments per minute, the scaling against one reader, APDUs, and the cards' busy time.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, plugIn, READERS, TIMING_MODELS } from './card-server.mjs';

const CARDS_PER_READER = Number(process.env.BENCH_CARDS_PER_READER ?? 3);
const PKCS11 = process.env.BENCH_PKCS11 ?? 'opensc';
const ENV = { ...process.env, PIV_NEW_PIN: '24681357', PIV_NEW_PUK: '97531864', PIV_ENROLL_INVENTORY: '' };

async function run(readerCount, timing) {
  const dir = mkdtempSync(join(tmpdir(), 'piv-enroll-batch-bench-'));
  const readers = READERS.slice(0, readerCount);
  // Each reader's queue of serials; the manifest maps each serial to a person.
  const queues = readers.map((_, r) => Array.from({ length: CARDS_PER_READER }, (_, k) => 700000 + readerCount * 1000 + r * 100 + k));
  const people = queues.flatMap((q) => q.map((serial) => ({ user: `p${serial}`, serial })));
  writeFileSync(join(dir, 'intake.csv'), `user,card-serial\n${people.map((p) => `${p.user},${p.serial}`).join('\n')}\n`);
  const plug = (r, serial) => plugIn({ state: join(dir, `card-${serial}.json`), reader: readers[r], timing, serial });
  const plugged = new Map();
  for (const r of readers.keys()) plugged.set(r, await plug(r, queues[r].shift()));
  const cards = [];

  const started = process.hrtime.bigint();
  const batch = spawn(process.execPath, [CLI, 'batch', '--manifest', join(dir, 'intake.csv'), '--inventory', join(dir, 'inventory.sqlite'), '--yes', '--json', '--wait', '5m', '--pkcs11', PKCS11],
    { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  batch.stdout.on('data', (d) => (stdout += d));
  const swaps = [];
  batch.stderr.on('data', (d) => {
    stderr += d;
    for (const line of String(d).split('\n')) {
      const done = /^(p\d+): (enrolled|failed)/.exec(line);
      if (!done) continue;
      const serial = Number(done[1].slice(1));
      const r = Math.floor((serial - 700000 - readerCount * 1000) / 100);
      swaps.push((async () => {
        cards.push(await plugged.get(r).unplug());
        const next = queues[r].shift();
        if (next !== undefined) plugged.set(r, await plug(r, next));
        else plugged.delete(r);
      })());
    }
  });
  const code = await new Promise((r) => batch.on('close', r));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await Promise.all(swaps);
  for (const card of plugged.values()) cards.push(await card.unplug());
  rmSync(dir, { recursive: true, force: true });
  if (code !== 0) throw new Error(`batch exited ${code}: ${stderr}\n${stdout}`);
  const report = JSON.parse(stdout);
  const sum = (f) => cards.reduce((total, c) => total + f(c), 0);
  return { people: people.length, enrolled: report.summary.enrolled, seconds, apdus: sum((c) => c.apdus), busySeconds: sum((c) => c.busyMs) / 1000 };
}

console.log(`batch bench: ${CARDS_PER_READER} factory-fresh cards per reader, swapped in as each is enrolled; PKCS#11 check: ${PKCS11}`);
for (const timing of TIMING_MODELS) {
  console.log(`\n--timing ${timing}`);
  let single;
  for (const readerCount of [1, 2, 4]) {
    const r = await run(readerCount, timing);
    const perMinute = (r.enrolled / r.seconds) * 60;
    single ??= perMinute;
    // The card limit: each reader's cards are busy one after another, readers in parallel.
    const perReaderBusy = r.busySeconds / readerCount;
    console.log(
      `  ${readerCount} reader${readerCount === 1 ? ' ' : 's'}: ${r.enrolled}/${r.people} enrolled in ${r.seconds.toFixed(1)} s = ${perMinute.toFixed(1)} enrollments per minute ` +
        `(${(perMinute / single).toFixed(2)}× one reader); ${Math.round(r.apdus / r.people)} APDUs and ${(r.busySeconds / r.people).toFixed(2)} s of card time per card; ` +
        `cards busy ${((perReaderBusy / r.seconds) * 100).toFixed(0)}% of the time`,
    );
  }
}
