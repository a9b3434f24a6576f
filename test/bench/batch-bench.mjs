#!/usr/bin/env node
// Benchmark for `npm run bench:batch`: enrollments per minute of `piv-enroll batch` with 1, 2 and 4 virtual readers
// behind the real pcscd (test/bench/testbench.sh sets up four). Each reader gets CARDS_PER_READER cards in turn: when
// the batch reports a card enrolled, the bench "swaps" it (stops that card, plugs the next one in), as a person at the
// desk would, only faster. Every card is factory-fresh and fully enrolled (hardened, RSA-2048 host key, certificate,
// signature checks over APDUs and through OpenSC; ykcs11 too unless BENCH_PKCS11 says otherwise).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;
const CLI = join(ROOT, 'bin/piv-enroll');
const { listReaders } = await import(join(ROOT, 'dist/transport/pcsc/pcsc-transport.js'));
const READERS = [
  { port: 35965, name: 'Yubico YubiKey OTP+FIDO+CCID 00 00' },
  { port: 35966, name: 'Yubico YubiKey OTP+FIDO+CCID 00 01' },
  { port: 35967, name: 'Yubico YubiKey FIDO+CCID 00 00' },
  { port: 35968, name: 'Yubico YubiKey FIDO+CCID 00 01' },
];
const CARDS_PER_READER = Number(process.env.BENCH_CARDS_PER_READER ?? 3);
const PKCS11 = process.env.BENCH_PKCS11 ?? 'opensc';
const ENV = { ...process.env, PIV_NEW_PIN: '24681357', PIV_NEW_PUK: '97531864', PIV_ENROLL_INVENTORY: '' };

const present = (name) => listReaders().some((r) => r.name === name && r.cardPresent);
async function until(condition, what, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function plugIn(dir, reader, serial) {
  const child = spawn(process.execPath, [CLI, 'virtual-card', 'serve', '--vpcd', `127.0.0.1:${reader.port}`, '--state', join(dir, `card-${serial}.json`), '--serial', String(serial)], { stdio: 'ignore' });
  await until(() => present(reader.name), `card ${serial} in ${reader.name}`);
  return child;
}

async function unplug(child, reader) {
  const closed = new Promise((r) => child.on('close', r));
  child.kill('SIGTERM');
  await closed;
  await until(() => !present(reader.name), `${reader.name} to be empty`);
}

async function run(readerCount) {
  const dir = mkdtempSync(join(tmpdir(), 'piv-enroll-batch-bench-'));
  const readers = READERS.slice(0, readerCount);
  // Each reader's queue of serials; the manifest maps each serial to a person.
  const queues = readers.map((_, r) => Array.from({ length: CARDS_PER_READER }, (_, k) => 700000 + readerCount * 1000 + r * 100 + k));
  const people = queues.flatMap((q) => q.map((serial) => ({ user: `p${serial}`, serial })));
  writeFileSync(join(dir, 'intake.csv'), `user,card-serial\n${people.map((p) => `${p.user},${p.serial}`).join('\n')}\n`);
  const plugged = new Map();
  for (const [r, reader] of readers.entries()) plugged.set(reader.name, await plugIn(dir, reader, queues[r].shift()));

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
      const r = queues.findIndex((_, i) => Math.floor((serial - 700000 - readerCount * 1000) / 100) === i);
      const reader = readers[r];
      swaps.push((async () => {
        await unplug(plugged.get(reader.name), reader);
        const next = queues[r].shift();
        if (next !== undefined) plugged.set(reader.name, await plugIn(dir, reader, next));
        else plugged.delete(reader.name);
      })());
    }
  });
  const code = await new Promise((r) => batch.on('close', r));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await Promise.all(swaps);
  for (const [name, child] of plugged) await unplug(child, readers.find((r) => r.name === name));
  rmSync(dir, { recursive: true, force: true });
  if (code !== 0) throw new Error(`batch exited ${code}: ${stderr}\n${stdout}`);
  const report = JSON.parse(stdout);
  return { people: people.length, enrolled: report.summary.enrolled, seconds };
}

console.log(`batch bench: ${CARDS_PER_READER} factory-fresh cards per reader, swapped in as each is enrolled; PKCS#11 check: ${PKCS11}`);
for (const readerCount of [1, 2, 4]) {
  const { people, enrolled, seconds } = await run(readerCount);
  console.log(`  ${readerCount} reader${readerCount === 1 ? ' ' : 's'}: ${enrolled}/${people} enrolled in ${seconds.toFixed(1)} s = ${((enrolled / seconds) * 60).toFixed(1)} enrollments per minute`);
}
