/**
 * The software CA key on disk: OpenSSH's own private key format ("openssh-key-v1", PROTOCOL.key), encrypted
 * with aes256-ctr under a bcrypt_pbkdf key, exactly as `ssh-keygen -a ROUNDS` writes it. Why this format: OpenSSH
 * 9.2 reads encrypted PKCS#8 for RSA and ECDSA but not for Ed25519, and an admin must be able to fall back to
 * `ssh-keygen -s ca-key` in an emergency whatever the CA algorithm. Read back with readPrivateKeyFile (key-file.ts).
 */
import { createCipheriv, randomBytes, type KeyObject } from 'node:crypto';
import bcryptPbkdf from 'bcrypt-pbkdf';
import { ecPublicPoint, okpPublicRaw } from '../../crypto/keys.js';
import { SshWriter } from '../../crypto/ssh-wire.js';
import { UsageError } from '../../errors.js';
import { publicKeyBlob } from './key-blob.js';

const MAGIC = new TextEncoder().encode('openssh-key-v1\0');
const CIPHER = 'aes256-ctr';
const KEY_LENGTH = 32;
const IV_LENGTH = 16;
const BLOCK_SIZE = 16;
const SALT_LENGTH = 16;
/** ssh-keygen's default is 16; a CA key is worth a slower guess (about 0.8 s to unlock or write here, measured). */
export const CA_KEY_KDF_ROUNDS = 64;
export const MIN_PASSPHRASE_LENGTH = 8;

function jwkBytes(key: KeyObject, name: string): Uint8Array {
  const value = (key.export({ format: 'jwk' }) as Record<string, unknown>)[name];
  if (typeof value !== 'string') throw new TypeError(`key has no ${name}`);
  return new Uint8Array(Buffer.from(value, 'base64url'));
}

/** The key type's private fields, after its type name (PROTOCOL.key / sshkey_private_serialize). */
function privateFields(writer: SshWriter, privateKey: KeyObject): void {
  switch (privateKey.asymmetricKeyType) {
    case 'ed25519': {
      const publicRaw = okpPublicRaw(privateKey);
      const seed = jwkBytes(privateKey, 'd');
      writer.string('ssh-ed25519').string(publicRaw).string(Buffer.concat([seed, publicRaw]));
      return;
    }
    case 'ec': {
      const curve = privateKey.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'P-384' : 'P-256';
      const sshCurve = curve === 'P-384' ? 'nistp384' : 'nistp256';
      writer.string(`ecdsa-sha2-${sshCurve}`).string(sshCurve).string(ecPublicPoint(privateKey, curve)).mpint(jwkBytes(privateKey, 'd'));
      return;
    }
    case 'rsa':
      writer
        .string('ssh-rsa')
        .mpint(jwkBytes(privateKey, 'n'))
        .mpint(jwkBytes(privateKey, 'e'))
        .mpint(jwkBytes(privateKey, 'd'))
        .mpint(jwkBytes(privateKey, 'qi'))
        .mpint(jwkBytes(privateKey, 'p'))
        .mpint(jwkBytes(privateKey, 'q'));
      return;
    default:
      throw new TypeError(`${privateKey.asymmetricKeyType} keys cannot be written in OpenSSH format here`);
  }
}

/** The PEM-armoured, passphrase-encrypted OpenSSH private key file text. */
export function encryptedOpenSshPrivateKey(
  privateKey: KeyObject,
  passphrase: string,
  comment: string,
  random: (length: number) => Uint8Array = (n) => new Uint8Array(randomBytes(n)),
  rounds = CA_KEY_KDF_ROUNDS,
): string {
  if (passphrase.length < MIN_PASSPHRASE_LENGTH) throw new UsageError(`the CA passphrase must be at least ${MIN_PASSPHRASE_LENGTH} characters`);
  const salt = random(SALT_LENGTH);
  const derived = new Uint8Array(KEY_LENGTH + IV_LENGTH);
  const pass = new TextEncoder().encode(passphrase);
  if (bcryptPbkdf.pbkdf(pass, pass.length, salt, salt.length, derived, derived.length, rounds) !== 0) throw new Error('bcrypt_pbkdf failed');
  pass.fill(0);

  const check = random(4);
  const plain = new SshWriter().raw(check).raw(check);
  privateFields(plain, privateKey);
  plain.string(comment);
  const unpadded = plain.bytes();
  const padding = (BLOCK_SIZE - (unpadded.length % BLOCK_SIZE)) % BLOCK_SIZE;
  const section = new Uint8Array(unpadded.length + padding);
  section.set(unpadded);
  for (let i = 0; i < padding; i++) section[unpadded.length + i] = i + 1;
  unpadded.fill(0);

  const cipher = createCipheriv('aes-256-ctr', derived.subarray(0, KEY_LENGTH), derived.subarray(KEY_LENGTH));
  const encrypted = Buffer.concat([cipher.update(section), cipher.final()]);
  section.fill(0);
  derived.fill(0);

  const file = new SshWriter()
    .raw(MAGIC)
    .string(CIPHER)
    .string('bcrypt')
    .string(new SshWriter().string(salt).uint32(rounds).bytes())
    .uint32(1)
    .string(publicKeyBlob(privateKey))
    .string(encrypted)
    .bytes();
  const base64 = Buffer.from(file).toString('base64').replace(/(.{70})/g, '$1\n').trim();
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${base64}\n-----END OPENSSH PRIVATE KEY-----\n`;
}
