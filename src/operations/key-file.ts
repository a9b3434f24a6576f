/**
 * Private keys from files for `enroll --import`: OpenSSH (what `ssh-keygen -f gofish` writes today, also
 * passphrase-protected), PKCS#1 and SEC1 PEM, PKCS#8 PEM or DER (also encrypted). And the encrypted backup
 * that `--backup-key` writes: PKCS#8, AES-256-CBC with the passphrase, mode 0600, never over an existing file.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type sshpk from 'sshpk';
import { MalformedDataError } from '../bytes/errors.js';
import { okpPrivateKeyFromRaw, rsaPrivateKeyFromPrimes } from '../crypto/keys.js';
import { SshReader } from '../crypto/ssh-wire.js';
import { PivEnrollError, UsageError } from '../errors.js';

/** sshpk (38 files, ~55 ms) loads when a key file is read, not with every enrollment that makes its own key. */
function loadSshpk(): typeof sshpk {
  return createRequire(import.meta.url)('sshpk') as typeof sshpk;
}

export class KeyFileError extends PivEnrollError {}
/** The key file is encrypted and no passphrase was given. */
export class PassphraseRequiredError extends KeyFileError {}

function isEncrypted(text: string): boolean {
  return /ENCRYPTED/.test(text);
}

export async function readPrivateKeyFile(path: string, passphrase?: string): Promise<KeyObject> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (error) {
    throw new UsageError(`cannot read the key file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return parsePrivateKey(data, path, passphrase);
}

/** The key in a key file's bytes; `origin` names the file in errors. Bad input is a KeyFileError, never anything else. */
export function parsePrivateKey(data: Buffer, origin: string, passphrase?: string): KeyObject {
  const text = data.toString('utf8');
  if (text.includes('BEGIN OPENSSH PRIVATE KEY')) return readOpenSshKey(text, origin, passphrase);
  if (isEncrypted(text) && passphrase === undefined) throw new PassphraseRequiredError(`${origin} is encrypted: a passphrase is needed`);
  try {
    const isPem = text.includes('-----BEGIN');
    return createPrivateKey(isPem ? { key: text, passphrase } : { key: data, format: 'der', type: 'pkcs8', passphrase });
  } catch (error) {
    const message = (error as Error).message;
    if (isEncrypted(text) || /bad decrypt|passphrase/i.test(message)) throw new KeyFileError(`${origin}: wrong passphrase`);
    throw new KeyFileError(`${origin} is not a private key piv-enroll can read (OpenSSH, PKCS#1, SEC1 or PKCS#8)`);
  }
}

/**
 * bcrypt_pbkdf rounds beyond which a key file is refused before any work: each round costs about 12 ms here, so a
 * file claiming 2^32 rounds would hang the command for years. ssh-keygen's default is 16, our CA key's 64.
 */
export const MAX_KDF_ROUNDS = 1000;

/** The KDF rounds an openssh-key-v1 file asks for, or undefined when its header cannot be read (sshpk then says why). */
function opensshKdfRounds(text: string): number | undefined {
  const body = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(text)?.[1];
  if (body === undefined) return undefined;
  const bytes = new Uint8Array(Buffer.from(body.replace(/\s+/g, ''), 'base64'));
  const magic = 'openssh-key-v1\0';
  if (Buffer.from(bytes.subarray(0, magic.length)).toString('latin1') !== magic) return undefined;
  try {
    const reader = new SshReader(bytes.subarray(magic.length), 'OpenSSH private key');
    reader.string(); // cipher
    if (reader.text() !== 'bcrypt') return undefined;
    const options = new SshReader(reader.string(), 'OpenSSH private key KDF options');
    options.string(); // salt
    return options.uint32();
  } catch (error) {
    if (error instanceof MalformedDataError) return undefined;
    throw error;
  }
}

function readOpenSshKey(text: string, path: string, passphrase?: string): KeyObject {
  const rounds = opensshKdfRounds(text);
  if (passphrase !== undefined && rounds !== undefined && rounds > MAX_KDF_ROUNDS) {
    throw new KeyFileError(`${path} asks for ${rounds} bcrypt rounds; piv-enroll reads keys of at most ${MAX_KDF_ROUNDS} (ssh-keygen -p -a 64 rewrites it)`);
  }
  let key: sshpk.PrivateKey;
  try {
    key = loadSshpk().parsePrivateKey(text, 'ssh', passphrase === undefined ? undefined : { passphrase });
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'KeyEncryptedError') throw new PassphraseRequiredError(`${path} is encrypted: a passphrase is needed`);
    if (passphrase !== undefined && /decrypt|passphrase|check/i.test((error as Error).message)) throw new KeyFileError(`${path}: wrong passphrase`);
    throw new KeyFileError(`${path} is an OpenSSH private key piv-enroll cannot read (${(error as Error).message})`);
  }
  try {
    return keyObjectOf(key);
  } catch (error) {
    // sshpk accepts fields it never checks (a zero prime, a short seed): node:crypto is the first to see them.
    throw new KeyFileError(`${path} is an OpenSSH private key piv-enroll cannot read (its ${key.type} key fields are invalid)`, { cause: error });
  }
}

function keyObjectOf(key: sshpk.PrivateKey): KeyObject {
  // sshpk writes Ed25519 as PKCS#8 v2 with the public key attached, which OpenSSL 3 does not decode: use the seed.
  const part = (name: string): Uint8Array => new Uint8Array((key.part as unknown as Record<string, { data: Buffer }>)[name]!.data);
  if (key.type === 'ed25519') return okpPrivateKeyFromRaw('ed25519', part('k'));
  // OpenSSH keeps no dP/dQ and sshpk then writes them as zero: rebuild RSA keys from their primes.
  if (key.type === 'rsa') return rsaPrivateKeyFromPrimes(part('p'), part('q'), part('e'));
  return createPrivateKey({ key: key.toBuffer('pkcs8', {}), format: 'pem' });
}

/** Writes an encrypted PKCS#8 backup (mode 0600). Refuses to replace an existing file: nothing is lost. */
export async function writeKeyBackup(path: string, key: KeyObject, passphrase: string): Promise<void> {
  if (passphrase.length < 8) throw new UsageError('the backup passphrase must be at least 8 characters');
  const pem = key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase });
  let handle;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`${path} exists: piv-enroll does not overwrite a key backup`);
    throw new UsageError(`cannot write the key backup ${path}: ${(error as Error).message}`);
  }
  try {
    await handle.writeFile(pem);
  } finally {
    await handle.close();
  }
}
