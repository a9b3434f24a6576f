/**
 * `ca revoke`: revoked.json records what is revoked; revoked.krl is rebuilt from it on every change, with its KRL
 * version one higher, and replaced atomically (sshd reads it on each login; a half-written file would lock everyone out).
 */
import { readFile } from 'node:fs/promises';
import { caPath, readCaConfig, withCaLock, writeFileAtomic, type CaConfig } from './ca-store.js';
import { plainKeyBlob } from './certificate.js';
import { encodeKrl, type Krl } from './krl.js';
import { blobFingerprint, formatOpenSshLine, parseOpenSshLine } from './key-blob.js';

export type RevocationRequest =
  | { kind: 'serial'; from: number; to: number }
  | { kind: 'key-id'; keyId: string }
  /** A public key or certificate blob: the (plain) key is revoked, with every certificate of it. */
  | { kind: 'key'; blob: Uint8Array };

export type Revocation = (
  | { kind: 'serial'; from: number; to: number }
  | { kind: 'key-id'; keyId: string }
  | { kind: 'key'; publicKey: string; fingerprint: string }
) & { revokedAt: string };

export interface Revocations {
  /** The version of the KRL last written. */
  krlVersion: number;
  revocations: Revocation[];
}

export function emptyRevocations(): Revocations {
  return { krlVersion: 1, revocations: [] };
}

export async function readRevocations(dir: string): Promise<Revocations> {
  try {
    return JSON.parse(await readFile(caPath(dir, 'revocations'), 'utf8')) as Revocations;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyRevocations();
    throw error;
  }
}

/** The KRL for what revoked.json lists: one certificate section under this CA, explicit keys. */
export function buildKrl(config: CaConfig, revocations: Revocations, now: Date): Krl {
  const caKeyBlob = parseOpenSshLine(config.publicKey, 'ca.json publicKey').blob;
  const serials = revocations.revocations.flatMap((r) => (r.kind === 'serial' ? [{ from: BigInt(r.from), to: BigInt(r.to) }] : []));
  const keyIds = revocations.revocations.flatMap((r) => (r.kind === 'key-id' ? [r.keyId] : []));
  const explicitKeys = revocations.revocations.flatMap((r) => (r.kind === 'key' ? [parseOpenSshLine(r.publicKey, 'revoked key').blob] : []));
  return {
    version: BigInt(revocations.krlVersion),
    generatedDate: BigInt(Math.floor(now.getTime() / 1000)),
    comment: `piv-enroll CA ${config.fingerprint}`,
    certificates: [{ caKeyBlob, serials, keyIds }],
    explicitKeys,
    sha1Fingerprints: [],
    sha256Fingerprints: [],
  };
}

function toRevocation(request: RevocationRequest, revokedAt: string): Revocation {
  switch (request.kind) {
    case 'serial':
      if (!Number.isSafeInteger(request.from) || request.from < 1 || request.to < request.from || !Number.isSafeInteger(request.to)) {
        throw new RangeError('serials to revoke are whole numbers from 1 up (serial 0 cannot be revoked by serial)');
      }
      return { kind: 'serial', from: request.from, to: request.to, revokedAt };
    case 'key-id':
      if (request.keyId === '') throw new RangeError('an empty key id cannot be revoked');
      return { kind: 'key-id', keyId: request.keyId, revokedAt };
    case 'key': {
      const plain = plainKeyBlob(request.blob);
      return { kind: 'key', publicKey: formatOpenSshLine(plain), fingerprint: blobFingerprint(plain), revokedAt };
    }
  }
}

function sameRevocation(a: Revocation, b: Revocation): boolean {
  if (a.kind === 'serial' && b.kind === 'serial') return a.from <= b.from && b.to <= a.to;
  if (a.kind === 'key-id' && b.kind === 'key-id') return a.keyId === b.keyId;
  if (a.kind === 'key' && b.kind === 'key') return a.fingerprint === b.fingerprint;
  return false;
}

export interface RevokeResult {
  revocation: Revocation;
  /** false when it was already revoked (the KRL is then left as it was). */
  added: boolean;
  krlVersion: number;
  krlFile: string;
}

export async function revoke(dir: string, request: RevocationRequest, deps: { now?: () => Date } = {}): Promise<RevokeResult> {
  const config = await readCaConfig(dir);
  const now = (deps.now ?? (() => new Date()))();
  const revocation = toRevocation(request, now.toISOString());
  return withCaLock(dir, async () => {
    const current = await readRevocations(dir);
    if (current.revocations.some((existing) => sameRevocation(existing, revocation))) {
      return { revocation, added: false, krlVersion: current.krlVersion, krlFile: caPath(dir, 'krl') };
    }
    const next: Revocations = { krlVersion: current.krlVersion + 1, revocations: [...current.revocations, revocation] };
    // revoked.json first: if we stop between the two, the next revoke rebuilds a KRL that includes this one.
    await writeFileAtomic(caPath(dir, 'revocations'), `${JSON.stringify(next, null, 2)}\n`);
    await writeFileAtomic(caPath(dir, 'krl'), encodeKrl(buildKrl(config, next, now)));
    return { revocation, added: true, krlVersion: next.krlVersion, krlFile: caPath(dir, 'krl') };
  });
}
