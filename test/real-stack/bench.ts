/**
 * Helpers for tests against the real PC/SC stack: serve a virtual card behind pcscd, run third-party
 * tools with answers on stdin (never secrets in argv), wait for pcscd to see the card.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listReaders } from '../../src/transport/pcsc/pcsc-transport.js';

export const ROOT = new URL('../..', import.meta.url).pathname;
export const CLI = join(ROOT, 'bin/piv-enroll');
export const READER = 'Yubico YubiKey OTP+FIDO+CCID 00 00';
export const SECOND_READER = 'Yubico YubiKey OTP+FIDO+CCID 00 01';
/** The test bench's second vpcd entry (test/bench/testbench.sh): two more readers, for batches over four readers. */
export const THIRD_READER = 'Yubico YubiKey FIDO+CCID 00 00';
export const FOURTH_READER = 'Yubico YubiKey FIDO+CCID 00 01';
export const READER_ON_PORT: Record<number, string> = { 35965: READER, 35966: SECOND_READER, 35967: THIRD_READER, 35968: FOURTH_READER };
export const OPENSC_PKCS11 = '/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so';
export const YKCS11 = '/usr/lib/x86_64-linux-gnu/libykcs11.so';
export const DEFAULT_MANAGEMENT_KEY_HEX = '010203040506070801020304050607080102030405060708';

export function scratchDir(prefix = 'piv-enroll-real-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export { run, runOk, runOnTerminal, type RunResult } from '../support/run.js';

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      let readers = '';
      try {
        readers = JSON.stringify(listReaders());
      } catch (error) {
        readers = String(error);
      }
      throw new Error(`timed out waiting for ${what} (readers: ${readers})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function cardPresent(reader: string): boolean {
  try {
    return listReaders().some((r) => r.name === reader && r.cardPresent);
  } catch {
    return false;
  }
}

/** Waits until pcscd no longer reports a card in `reader` (it polls vpcd every 0.4 s). */
export function waitForEmptyReader(reader = READER): Promise<void> {
  return waitFor(() => !cardPresent(reader), `"${reader}" to be empty`);
}

export interface ServedCard {
  state: string;
  process: ChildProcess;
  log: () => string;
  /** SIGTERM, then wait for exit; resolves to the exit code. */
  stop(): Promise<number | null>;
  /** Resolves when the process ends by itself. */
  exited: Promise<number | null>;
}

/** Starts `piv-enroll virtual-card serve` on a vpcd port and waits until pcscd sees the card. */
export async function serveCard(options: { state?: string; port?: number; firmware?: string; serial?: number; formFactor?: string; faults?: string[]; verbose?: boolean } = {}): Promise<ServedCard> {
  const state = options.state ?? join(scratchDir(), 'card.json');
  const port = options.port ?? 35965;
  const reader = READER_ON_PORT[port];
  if (!reader) throw new Error(`no test-bench reader listens on port ${port}`);
  const args = [CLI, 'virtual-card', 'serve', '--vpcd', `127.0.0.1:${port}`, '--state', state];
  if (options.firmware) args.push('--firmware', options.firmware);
  if (options.serial !== undefined) args.push('--serial', String(options.serial));
  if (options.formFactor) args.push('--form-factor', options.formFactor);
  for (const fault of options.faults ?? []) args.push('--fault', fault);
  if (options.verbose) args.push('--verbose');
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  try {
    await waitFor(() => cardPresent(reader) || child.exitCode !== null, `the virtual card in "${reader}"`);
  } catch (error) {
    child.kill('SIGKILL'); // never leave a card behind that would reconnect into later tests
    throw error;
  }
  if (child.exitCode !== null) throw new Error(`virtual card server exited ${child.exitCode}: ${output}`);
  return {
    state,
    process: child,
    log: () => output,
    exited,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const code = await exited;
      await waitForEmptyReader(reader);
      return code;
    },
  };
}

export function readState(file: string): { serial: number; objects: Record<string, string>; keys: Record<string, unknown> } {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** Runs `work` with a piv-enroll PIV session on the card in READER, through pcscd (our PC/SC transport). */
export async function withSession<T>(work: (session: import('../../src/piv/session.js').PivSession) => Promise<T>, reader = READER): Promise<T> {
  const { openPcscCard } = await import('../../src/transport/pcsc/pcsc-transport.js');
  const { PivSession } = await import('../../src/piv/session.js');
  const transport = await openPcscCard(reader);
  try {
    return await work(await PivSession.open(transport));
  } finally {
    await transport.close();
  }
}

