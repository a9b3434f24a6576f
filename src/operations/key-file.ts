/**
 * Private keys from files for `enroll --import`: OpenSSH (what `ssh-keygen -f gofish` writes today, also
 * passphrase-protected), PKCS#1 and SEC1 PEM, PKCS#8 PEM or DER (also encrypted). And the encrypted backup
 * that `--backup-key` writes: PKCS#8, AES-256-CBC with the passphrase, mode 0600, never over an existing file.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import sshpk from 'sshpk';
import { okpPrivateKeyFromRaw, rsaPrivateKeyFromPrimes } from '../crypto/keys.js';
import { PivEnrollError, UsageError } from '../errors.js';

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
  const text = data.toString('utf8');
  if (text.includes('BEGIN OPENSSH PRIVATE KEY')) return readOpenSshKey(text, path, passphrase);
  if (isEncrypted(text) && passphrase === undefined) throw new PassphraseRequiredError(`${path} is encrypted: a passphrase is needed`);
  try {
    const isPem = text.includes('-----BEGIN');
    return createPrivateKey(isPem ? { key: text, passphrase } : { key: data, format: 'der', type: 'pkcs8', passphrase });
  } catch (error) {
    const message = (error as Error).message;
    if (isEncrypted(text) || /bad decrypt|passphrase/i.test(message)) throw new KeyFileError(`${path}: wrong passphrase`);
    throw new KeyFileError(`${path} is not a private key piv-enroll can read (OpenSSH, PKCS#1, SEC1 or PKCS#8)`);
  }
}

function readOpenSshKey(text: string, path: string, passphrase?: string): KeyObject {
  let key: sshpk.PrivateKey;
  try {
    key = sshpk.parsePrivateKey(text, 'ssh', passphrase === undefined ? undefined : { passphrase });
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'KeyEncryptedError') throw new PassphraseRequiredError(`${path} is encrypted: a passphrase is needed`);
    if (passphrase !== undefined && /decrypt|passphrase|check/i.test((error as Error).message)) throw new KeyFileError(`${path}: wrong passphrase`);
    throw new KeyFileError(`${path} is an OpenSSH private key piv-enroll cannot read (${(error as Error).message})`);
  }
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
