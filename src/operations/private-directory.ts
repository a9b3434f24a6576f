/**
 * A 0700 temporary directory for files that must not outlive the work that needs them (the doctor's askpass PIN
 * file): removed when the work ends, however it ends — normally, by an exception, by process.exit (the CLI's
 * Ctrl-C handling ends that way), or by SIGINT, SIGTERM or SIGHUP, which are then re-raised when nobody else
 * handles them, so the process still dies of the signal.
 */
import { rmSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export interface PrivateDirectory {
  path: string;
  /** Runs at removal time too, first (e.g. stop a child still reading from the directory). Synchronous. */
  onAbandon(stop: () => void): void;
}

export async function withPrivateDirectory<T>(prefix: string, work: (directory: PrivateDirectory) => Promise<T>): Promise<T> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  await chmod(path, 0o700);
  const stoppers = new Set<() => void>();
  const removeNow = (): void => {
    for (const stop of stoppers) {
      try {
        stop();
      } catch {
        // removing the directory matters more than stopping a child that may be gone already
      }
    }
    rmSync(path, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    removeNow();
    disconnect();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  const disconnect = (): void => {
    process.off('exit', removeNow);
    for (const signal of SIGNALS) process.off(signal, onSignal);
  };
  process.on('exit', removeNow);
  for (const signal of SIGNALS) process.on(signal, onSignal);
  try {
    return await work({ path, onAbandon: (stop) => stoppers.add(stop) });
  } finally {
    disconnect();
    await rm(path, { recursive: true, force: true });
  }
}
