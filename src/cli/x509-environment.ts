/** What the X.509 commands (request, certificate import) take from their surroundings, and how they read the PIN. */
import type { HashName } from '../crypto/pkcs1.js';
import { UsageError } from '../errors.js';
import { REQUEST_HASHES } from '../operations/x509/card-request.js';
import { terminalPrompter, type Prompter } from './prompter.js';
import { secretFrom } from './secrets.js';

export interface X509Environment {
  env: NodeJS.ProcessEnv;
  /** A person can answer a PIN prompt (a terminal, and no --yes). */
  interactive: boolean;
  prompter: Prompter;
}

/** `--hash SHA256|SHA384|SHA512` (SHA-1 is refused: CAs reject it). */
export function parseRequestHash(text: string | undefined): HashName {
  const hash = (text ?? 'sha256').toLowerCase().replace('-', '') as HashName;
  if (hash === 'sha1') throw new UsageError('--hash SHA1 is refused: a request is signed with SHA256, SHA384 or SHA512');
  if (!REQUEST_HASHES.includes(hash)) throw new UsageError(`--hash takes SHA256, SHA384 or SHA512, not "${text}"`);
  return hash;
}

/** The PIN, when the operation asks for it: --pin-file, PIV_PIN, else a hidden prompt on a terminal. */
export function pinSource(flags: { pinFile?: string }, environment: X509Environment): () => Promise<string> {
  return async () => {
    const given = await secretFrom(flags.pinFile, 'PIV_PIN', 'the PIN', environment.env);
    if (given !== undefined) return given;
    if (!environment.interactive) throw new UsageError('missing: the PIN (PIV_PIN or --pin-file)');
    return environment.prompter.password('PIN:');
  };
}

export const defaultX509Environment = (yes: boolean | undefined): X509Environment => ({
  env: process.env,
  interactive: !yes && Boolean(process.stdin.isTTY && process.stdout.isTTY) && process.env.CI !== 'true',
  prompter: terminalPrompter,
});
