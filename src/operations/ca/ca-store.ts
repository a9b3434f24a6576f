/**
 * The CA directory. Layout (all written by piv-enroll; only ca-key is secret):
 *
 *   ca.json        what the CA is: algorithm, public key line and fingerprint, where the key is
 *                  ({ kind: 'file', file: 'ca-key' } or { kind: 'card', cardSerial, slot }), when it was created
 *   ca.pub         the CA public key line, for sshd's TrustedUserCAKeys
 *   ca-key         software CA only: the private key, OpenSSH format, passphrase-encrypted, mode 0600
 *   serial         the next serial (decimal). Serials start at 1, are taken before signing and never reused
 *   issued.jsonl   one JSON object per issued certificate (serial, key id, principals, validity, key fingerprint, file)
 *   revoked.json   what is revoked (serials, key ids, keys) and the KRL version
 *   revoked.krl    the binary KRL (PROTOCOL.krl) for sshd's RevokedKeys, rebuilt from revoked.json on each revoke
 *   sshd_config    the snippet for servers, rendered from templates/sshd-ca/
 *
 * Files that change (serial, revoked.json, revoked.krl) are replaced atomically (temporary file + rename), under
 * a lock file so that two commands never take the same serial or lose a revocation.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CaError, CaNotFoundError } from './errors.js';

export const CA_FILES = {
  config: 'ca.json',
  publicKey: 'ca.pub',
  privateKey: 'ca-key',
  serial: 'serial',
  issued: 'issued.jsonl',
  revocations: 'revoked.json',
  krl: 'revoked.krl',
  sshdConfig: 'sshd_config',
  lock: '.lock',
} as const;

export type CaAlgorithm = 'ed25519' | 'rsa4096' | 'ecdsa-p256';
export const CA_ALGORITHMS: readonly CaAlgorithm[] = ['ed25519', 'rsa4096', 'ecdsa-p256'];

export type CaKeyLocation = { kind: 'file'; file: string } | { kind: 'card'; slot: string; cardSerial?: number };

export interface CaConfig {
  formatVersion: 1;
  /** The key's algorithm as SSH names it (ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa). */
  keyType: string;
  /** The CA signature algorithm (rsa-sha2-512 for RSA). */
  signatureAlgorithm: string;
  publicKey: string;
  fingerprint: string;
  key: CaKeyLocation;
  created: string;
}

export interface IssuedRecord {
  serial: number;
  keyId: string;
  principals: string[];
  validAfter: string;
  validBefore: string;
  /** SHA256 fingerprint of the certified key. */
  publicKeyFingerprint: string;
  certificateFile: string;
  signatureAlgorithm: string;
  issuedAt: string;
}

export function caPath(dir: string, name: keyof typeof CA_FILES): string {
  return join(dir, CA_FILES[name]);
}

export async function readCaConfig(dir: string): Promise<CaConfig> {
  let text: string;
  try {
    text = await readFile(caPath(dir, 'config'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new CaNotFoundError(`${dir} holds no CA (no ${CA_FILES.config}): create one with "piv-enroll ca init --dir ${dir}"`);
    throw new CaError(`cannot read ${caPath(dir, 'config')}: ${(error as Error).message}`);
  }
  const config = JSON.parse(text) as CaConfig;
  if (config.formatVersion !== 1) throw new CaError(`${caPath(dir, 'config')}: unknown format version ${String(config.formatVersion)}`);
  return config;
}

/** Writes `data` to a temporary file next to `path`, then renames it over `path`: readers see the old or the new file, never half of one. */
/** Whether something is at `path` (any other error than "not there" is raised). */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const handle = await open(temporary, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

const LOCK_WAIT_MS = 10_000;

/** Runs `work` holding DIR/.lock (created exclusively); waits for another command's lock up to ten seconds. */
export async function withCaLock<T>(dir: string, work: () => Promise<T>): Promise<T> {
  const lock = caPath(dir, 'lock');
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const handle = await open(lock, 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (Date.now() > deadline) throw new CaError(`${lock} is held by another piv-enroll command (if none is running, remove it)`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  try {
    return await work();
  } finally {
    await rm(lock, { force: true });
  }
}

/** Takes the next serial and stores its successor before anything is signed: a serial is never handed out twice. */
export async function allocateSerial(dir: string): Promise<number> {
  return withCaLock(dir, async () => {
    const path = caPath(dir, 'serial');
    const text = (await readFile(path, 'utf8')).trim();
    if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text) + 1)) throw new CaError(`${path} does not hold a valid serial counter ("${text}")`);
    const serial = Number(text);
    await writeFileAtomic(path, `${serial + 1}\n`);
    return serial;
  });
}

export async function appendIssued(dir: string, record: IssuedRecord): Promise<void> {
  await appendFile(caPath(dir, 'issued'), `${JSON.stringify(record)}\n`, { mode: 0o644 });
}

export async function readIssued(dir: string): Promise<IssuedRecord[]> {
  let text: string;
  try {
    text = await readFile(caPath(dir, 'issued'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return text.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as IssuedRecord);
}
