// Shared by the benches: a virtual card served behind pcscd (`piv-enroll virtual-card serve`) under a timing model,
// and what it reports on exit (APDUs served, the card's busy time), plus medians and start-up times.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = new URL('../..', import.meta.url).pathname;
export const CLI = join(ROOT, 'bin/piv-enroll');
export const READERS = [
  { port: 35965, name: 'Yubico YubiKey OTP+FIDO+CCID 00 00' },
  { port: 35966, name: 'Yubico YubiKey OTP+FIDO+CCID 00 01' },
  { port: 35967, name: 'Yubico YubiKey FIDO+CCID 00 00' },
  { port: 35968, name: 'Yubico YubiKey FIDO+CCID 00 01' },
];
/** The models every bench runs under: the emulator's own speed, and a USB YubiKey 5's (src/transport/virtual/timing-model.ts). */
export const TIMING_MODELS = (process.env.BENCH_TIMING ?? 'none,yubikey5').split(',');

const { listReaders } = await import(join(ROOT, 'dist/transport/pcsc/pcsc-transport.js'));

export function present(name) {
  try {
    return listReaders().some((r) => r.name === name && r.cardPresent);
  } catch {
    return false;
  }
}

export async function until(condition, what, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Parses the card server's exit lines: "N APDUs served" and "card time: model M, N APDUs, busy X ms (...)". */
export function parseCardLog(log) {
  const busy = /card time: model (\S+), (\d+) APDUs, busy ([\d.]+) ms \(modelled ([\d.]+) ms, computed ([\d.]+) ms\)/.exec(log);
  return {
    apdus: Number(/(\d+) APDUs served/.exec(log)?.[1] ?? NaN),
    busyMs: busy ? Number(busy[3]) : NaN,
    modelledMs: busy ? Number(busy[4]) : NaN,
    computedMs: busy ? Number(busy[5]) : NaN,
  };
}

/** Plugs a card into `reader` (serve on its vpcd port) and waits until pcscd sees it. */
export async function plugIn({ state, reader = READERS[0], timing = 'none', serial }) {
  const args = [CLI, 'virtual-card', 'serve', '--vpcd', `127.0.0.1:${reader.port}`, '--state', state, '--timing', timing];
  if (serial !== undefined) args.push('--serial', String(serial));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  const closed = new Promise((r) => child.on('close', r));
  await until(() => present(reader.name), `the card in ${reader.name}`);
  return {
    /** Stops the card, waits until the reader is empty, and returns what the card reported. */
    async unplug() {
      child.kill('SIGTERM');
      await closed;
      await until(() => !present(reader.name), `${reader.name} to be empty`);
      return parseCardLog(log);
    },
  };
}

/**
 * A card changer in `reader` (test/bench/card-changer.mjs): one long-lived process serving card after card, so a
 * swap costs what pcscd takes to notice it, not a node process per card. insert() resolves once pcscd reports the
 * card present, remove() once the reader is empty, with that card's figures (those parseCardLog reads from serve).
 */
export function startChanger(reader = READERS[0]) {
  const child = spawn(process.execPath, [join(ROOT, 'test/bench/card-changer.mjs'), '--vpcd', `127.0.0.1:${reader.port}`], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  const waiting = [];
  let exited;
  const closed = new Promise((resolve) =>
    child.on('close', (code, signal) => {
      exited = `the card changer for ${reader.name} exited (${signal ?? code})${log ? `: ${log.trim()}` : ''}`;
      for (const w of waiting.splice(0)) w.reject(new Error(exited));
      resolve();
    }),
  );
  let buffer = '';
  const unasked = [];
  child.stdout.on('data', (d) => {
    buffer += d;
    let newline;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      let message;
      try {
        message = JSON.parse(line);
      } catch {
        message = { error: `not JSON from the card changer: ${line}` };
      }
      // A card that vanished by itself answers no command: kept for whoever asks next.
      if (message.vanished) unasked.push(message);
      else waiting.shift()?.resolve(message);
    }
  });
  const ask = (command) =>
    new Promise((resolve, reject) => {
      if (exited) return reject(new Error(exited));
      waiting.push({ resolve, reject });
      child.stdin.write(`${JSON.stringify(command)}\n`);
    }).then((answer) => {
      if (answer.error) throw new Error(`card changer for ${reader.name}: ${answer.error}`);
      return answer;
    });
  return {
    reader,
    /** Creates the card in `state` (with `serial`) when missing, without inserting it. */
    async make({ state, serial }) {
      return (await ask({ make: { state, serial } })).made;
    },
    /** Inserts the card in `state` (created with `serial` when new) and waits until pcscd sees it. */
    async insert({ state, serial, timing = 'none' }) {
      const { inserted } = await ask({ insert: { state, serial, timing } });
      await until(() => present(reader.name), `the card in ${reader.name}`);
      return inserted;
    },
    /** Removes the card, waits until the reader is empty, and returns what the card did. */
    async remove() {
      const { removed } = await ask({ remove: {} });
      await until(() => !present(reader.name), `${reader.name} to be empty`);
      return removed;
    },
    /** Cards that vanished by themselves (a fault) since the last call. */
    vanished: () => unasked.splice(0).map((m) => m.vanished),
    /** Removes the card left in (if any) and ends the changer. */
    async close() {
      if (!exited) child.stdin.end();
      await closed;
      await until(() => !present(reader.name), `${reader.name} to be empty`);
    },
  };
}

export const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Mean wall time in ms of `count` runs of node with `args`. */
export function startupMs(args, count = 10) {
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) spawnSync(process.execPath, args);
  return Number(process.hrtime.bigint() - started) / 1e6 / count;
}

export function sh(command, args, { input = '', env = {} } = {}) {
  const result = spawnSync(command, args, { input, env: { ...process.env, ...env }, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
  return result.stdout;
}
