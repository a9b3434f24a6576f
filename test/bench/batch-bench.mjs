#!/usr/bin/env node
// Benchmark for `npm run bench:batch`: enrollments per minute of `piv-enroll batch` with 1, 2 and 4 virtual readers
// behind the real pcscd (test/bench/testbench.sh sets up four), under both timing models of the card (none: the
// emulator's own speed; yubikey5: paced like a USB YubiKey 5, src/transport/virtual/timing-model.ts). Each reader gets
// CARDS_PER_READER cards in turn: when the batch reports a card enrolled, the bench "swaps" it (removes that card,
// inserts the next one), as a person at the desk would, only faster. A swap costs the host next to nothing, as at a
// desk: each reader has one card changer (test/bench/card-changer.mjs) for the whole bench, started before anything is
// timed, and every run's cards are made before its timed part (BENCH_SWAP=serve swaps the old way instead, for
// comparison: a `piv-enroll virtual-card serve` process per card, which makes the card when it starts). Every card is
// factory-fresh and fully enrolled (hardened, RSA-2048 host key, certificate, signature checks over APDUs and through
// BENCH_PKCS11, default opensc). Prints, per model, enrollments per minute, the scaling against one reader, APDUs, the
// cards' busy time, and what a swap took (remove, then insert until pcscd sees the card).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, median, plugIn, READERS, startChanger, TIMING_MODELS } from './card-server.mjs';

const CARDS_PER_READER = Number(process.env.BENCH_CARDS_PER_READER ?? 3);
const PKCS11 = process.env.BENCH_PKCS11 ?? 'opensc';
const ENV = { ...process.env, PIV_NEW_PIN: '24681357', PIV_NEW_PUK: '97531864', PIV_ENROLL_INVENTORY: '' };
const SWAP = process.env.BENCH_SWAP ?? 'changer';
if (!['changer', 'serve'].includes(SWAP)) throw new Error(`BENCH_SWAP is changer or serve, not "${SWAP}"`);

/** A reader's slot as the bench drives it: `insert` a card (made beforehand, or made by serve), `remove` it. */
function slotFor(reader, changer) {
  if (changer) return { make: (card) => changer.make(card), insert: (card) => changer.insert(card), remove: () => changer.remove() };
  let plugged;
  return {
    make: async () => {},
    insert: async (card) => void (plugged = await plugIn({ ...card, reader })),
    remove: () => plugged.unplug(),
  };
}
const changers = SWAP === 'changer' ? READERS.map((reader) => startChanger(reader)) : [];

/** `swapMs` collects each swap's times: remove (until the reader is empty) and insert (until pcscd sees the card). */
async function run(readerCount, timing, swapMs) {
  const dir = mkdtempSync(join(tmpdir(), 'piv-enroll-batch-bench-'));
  const readers = READERS.slice(0, readerCount);
  // Each reader's queue of serials; the manifest maps each serial to a person.
  const queues = readers.map((_, r) => Array.from({ length: CARDS_PER_READER }, (_, k) => 700000 + readerCount * 1000 + r * 100 + k));
  const people = queues.flatMap((q) => q.map((serial) => ({ user: `p${serial}`, serial })));
  writeFileSync(join(dir, 'intake.csv'), `user,card-serial\n${people.map((p) => `${p.user},${p.serial}`).join('\n')}\n`);
  const slots = readers.map((reader, r) => slotFor(reader, changers[r]));
  const card = (serial) => ({ state: join(dir, `card-${serial}.json`), timing, serial });
  await Promise.all(queues.map(async (queue, r) => {
    for (const serial of queue) await slots[r].make(card(serial));
  }));
  const plugged = new Set();
  for (const r of readers.keys()) {
    await slots[r].insert(card(queues[r].shift()));
    plugged.add(r);
  }
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
        const removing = performance.now();
        cards.push(await slots[r].remove());
        plugged.delete(r);
        const next = queues[r].shift();
        if (next === undefined) return;
        const inserting = performance.now();
        await slots[r].insert(card(next));
        plugged.add(r);
        swapMs.push({ remove: inserting - removing, insert: performance.now() - inserting });
      })());
    }
  });
  const code = await new Promise((r) => batch.on('close', r));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await Promise.all(swaps);
  for (const r of plugged) cards.push(await slots[r].remove());
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
  const swapMs = [];
  for (const readerCount of [1, 2, 4]) {
    const r = await run(readerCount, timing, swapMs);
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
  const ms = (values) => Math.round(median(values));
  console.log(
    `  swap (${SWAP === 'changer' ? 'card changer' : 'a serve process per card'}): median ${ms(swapMs.map((s) => s.remove + s.insert))} ms over ${swapMs.length} swaps ` +
      `(remove ${ms(swapMs.map((s) => s.remove))} ms, insert ${ms(swapMs.map((s) => s.insert))} ms, each until pcscd saw it)`,
  );
}
await Promise.all(changers.map((changer) => changer.close()));
