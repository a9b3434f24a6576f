/** `ca check-revoked`: judges keys and certificates against a binary KRL, as `ssh-keygen -Q -f KRL FILE…` does. */
import { readFile } from 'node:fs/promises';
import { UsageError } from '../../errors.js';
import { MalformedDataError } from '../../bytes/errors.js';
import { decodeKrl, revocationReason, type Krl } from './krl.js';
import { parseOpenSshLine } from './key-blob.js';

export interface RevocationCheck {
  file: string;
  comment: string;
  revoked: boolean;
  /** What matched (serial, key id, key…), when revoked. */
  reason?: string;
}

export async function readKrlFile(path: string): Promise<Krl> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (error) {
    throw new UsageError(`cannot read the KRL ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    return decodeKrl(new Uint8Array(data));
  } catch (error) {
    if (error instanceof MalformedDataError) throw new MalformedDataError(`${path}: ${error.message}`);
    throw error;
  }
}

export async function checkRevoked(krl: Krl, files: readonly string[]): Promise<RevocationCheck[]> {
  const results: RevocationCheck[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot load public key ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    const { blob, comment } = parseOpenSshLine(text, file);
    const reason = revocationReason(krl, blob);
    results.push({ file, comment, revoked: reason !== undefined, ...(reason === undefined ? {} : { reason }) });
  }
  return results;
}

/** One line per file in ssh-keygen -Q's shape: `FILE (comment): REVOKED` or `FILE: ok`. */
export function formatRevocationCheck(check: RevocationCheck): string {
  return `${check.file}${check.comment ? ` (${check.comment})` : ''}: ${check.revoked ? 'REVOKED' : 'ok'}`;
}
