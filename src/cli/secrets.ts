/**
 * Secrets for commands: from a file named by a flag, or from the environment — never from argv.
 * A prompt (interactive only) fills what is still missing. Values are never echoed in messages.
 */
import { readFile, stat } from 'node:fs/promises';
import { fromHex } from '../bytes/hex.js';
import { UsageError } from '../errors.js';
import { parseEscrowRecipients } from '../operations/secrets/escrow.js';

/** The first line of a secret file. A file others can read is refused, as ssh refuses loose key files. */
export async function readSecretFile(path: string, what: string): Promise<string> {
  let text: string;
  try {
    const info = await stat(path);
    if ((info.mode & 0o077) !== 0) throw new UsageError(`${path} (${what}) can be read by other users: chmod 600 it first`);
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot read ${what} from ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const value = text.split(/\r?\n/)[0] ?? '';
  if (value === '') throw new UsageError(`${path} (${what}) is empty`);
  return value;
}

export async function secretFrom(file: string | undefined, envName: string, what: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  if (file !== undefined) return readSecretFile(file, what);
  const value = env[envName];
  return value === undefined || value === '' ? undefined : value;
}

export function parseManagementKey(text: string): Uint8Array {
  const clean = text.trim();
  if (!/^([0-9a-fA-F]{2}){16}$|^([0-9a-fA-F]{2}){24}$|^([0-9a-fA-F]{2}){32}$/.test(clean)) {
    throw new UsageError('the management key must be 32, 48 or 64 hexadecimal digits (AES-128, TDES/AES-192, AES-256)');
  }
  return fromHex(clean);
}

/**
 * For commands that report every problem at once: `read(file, ENV, what)` is secretFrom, but a file it may not use
 * (others can read it, it is missing) becomes a line in `problems` instead of an exception.
 */
export function secretReader(problems: string[], env: NodeJS.ProcessEnv): (file: string | undefined, envName: string, what: string) => Promise<string | undefined> {
  return (file, envName, what) =>
    secretFrom(file, envName, what, env).catch((error: unknown) => {
      if (!(error instanceof UsageError)) throw error;
      problems.push(error.message);
      return undefined;
    });
}

/** --escrow-recipient (age1… or a file of them), parsed while planning: a bad one joins the usage problems. */
export async function escrowRecipientsFrom(value: string | undefined, problems: string[]): Promise<string[] | undefined> {
  if (value === undefined) return undefined;
  return parseEscrowRecipients(value).catch((error: unknown) => {
    if (!(error instanceof UsageError)) throw error;
    problems.push(error.message);
    return undefined;
  });
}
