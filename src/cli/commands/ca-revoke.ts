/**
 * `piv-enroll ca revoke` and `ca check-revoked`: revocations recorded and the KRL rebuilt; keys and certificates checked
 * against a KRL as `ssh-keygen -Q` does.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PivEnrollError, UsageError } from '../../errors.js';
import { caPath } from '../../operations/ca/ca-store.js';
import { checkRevoked, formatRevocationCheck, readKrlFile } from '../../operations/ca/check-revoked.js';
import { blobFingerprint, parseOpenSshLine } from '../../operations/ca/key-blob.js';
import { plainKeyBlob } from '../../operations/ca/certificate.js';
import { revoke, type RevocationRequest } from '../../operations/ca/revocations.js';
import { openInventoryToRecord } from '../inventory-option.js';
import type { Output } from '../output.js';

// ---- ca revoke ----

export interface CaRevokeFlags {
  dir: string;
  inventory?: string;
  serial?: string;
  keyId?: string;
  publicKey?: string;
  json?: boolean;
}

function parseSerialRange(text: string): { from: number; to: number } {
  const match = text.trim().match(/^(\d{1,15})(?:-(\d{1,15}))?$/);
  const from = Number(match?.[1]);
  const to = match?.[2] === undefined ? from : Number(match[2]);
  if (!match || from < 1 || to < from) throw new UsageError(`--serial takes a serial (1 or more) or a range N-M, not "${text}"`);
  return { from, to };
}

/** The inventory's view of a revocation: which recorded certificates it covers. */
function inventoryMatch(request: RevocationRequest): { serialFrom?: number; serialTo?: number; keyId?: string; fingerprint?: string } {
  if (request.kind === 'serial') return { serialFrom: request.from, serialTo: request.to };
  if (request.kind === 'key-id') return { keyId: request.keyId };
  return { fingerprint: blobFingerprint(plainKeyBlob(request.blob)) };
}

export async function runCaRevoke(flags: CaRevokeFlags, output: Output): Promise<number> {
  const given = [flags.serial, flags.keyId, flags.publicKey].filter((v) => v !== undefined).length;
  if (given !== 1) throw new UsageError('say what to revoke: --serial N[-M], --key-id ID or --public-key FILE (one of them)');
  let request: RevocationRequest;
  if (flags.serial !== undefined) request = { kind: 'serial', ...parseSerialRange(flags.serial) };
  else if (flags.keyId !== undefined) {
    if (flags.keyId === '') throw new UsageError('--key-id cannot be empty');
    request = { kind: 'key-id', keyId: flags.keyId };
  } else {
    let text: string;
    try {
      text = await readFile(flags.publicKey!, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read ${flags.publicKey}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    request = { kind: 'key', blob: parseOpenSshLine(text, flags.publicKey!).blob };
  }
  const inventory = await openInventoryToRecord(flags.inventory);
  let result: Awaited<ReturnType<typeof revoke>>;
  let inInventory: number[] = [];
  try {
    result = await revoke(flags.dir, request);
    inInventory = (await inventory?.recordCaRevocation(resolve(flags.dir), inventoryMatch(request))) ?? [];
  } finally {
    await inventory?.close();
  }
  if (inventory) output.notice(inInventory.length > 0 ? `inventory: marked the certificates of enrollment ${inInventory.join(', ')} revoked` : 'inventory: no recorded certificate matched');
  if (flags.json) {
    output.result(JSON.stringify(result));
    return 0;
  }
  const what =
    result.revocation.kind === 'serial'
      ? result.revocation.from === result.revocation.to ? `serial ${result.revocation.from}` : `serials ${result.revocation.from}-${result.revocation.to}`
      : result.revocation.kind === 'key-id' ? `key id "${result.revocation.keyId}"` : `key ${result.revocation.fingerprint}`;
  output.result(
    result.added
      ? `revoked ${what}: ${result.krlFile} is now KRL version ${result.krlVersion}; copy it to every server (RevokedKeys)`
      : `${what} was already revoked: ${result.krlFile} unchanged (KRL version ${result.krlVersion})`,
  );
  return 0;
}

// ---- ca check-revoked ----

export interface CaCheckRevokedFlags {
  dir?: string;
  krl?: string;
  json?: boolean;
}

/** Exit status as ssh-keygen -Q: 0 when none is revoked, 1 when any is. */
export async function runCaCheckRevoked(files: string[], flags: CaCheckRevokedFlags, output: Output): Promise<number> {
  if ((flags.dir === undefined) === (flags.krl === undefined)) throw new UsageError('give the KRL: --dir DIR (its revoked.krl) or --krl FILE (one of them)');
  const krl = await readKrlFile(flags.krl ?? caPath(flags.dir!, 'krl'));
  let results;
  try {
    results = await checkRevoked(krl, files);
  } catch (error) {
    if (error instanceof PivEnrollError && !(error instanceof UsageError)) throw new UsageError(error.message);
    throw error;
  }
  if (flags.json) output.result(JSON.stringify({ krlVersion: Number(krl.version), results }));
  else for (const result of results) output.result(formatRevocationCheck(result));
  return results.some((r) => r.revoked) ? 1 : 0;
}
