/**
 * Property tests of the private key reader (key-file.ts) on OpenSSH keys, ours (openssh-private-key.ts) and
 * sshpk's, and on PKCS#8: arbitrary and mutated files are refused only with KeyFileError; what
 * encryptedOpenSshPrivateKey writes reads back as the same key.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import sshpk from 'sshpk';
import { describe, test } from 'vitest';
import { encryptedOpenSshPrivateKey, MIN_PASSPHRASE_LENGTH } from '../../src/operations/ca/openssh-private-key.js';
import { KeyFileError, MAX_KDF_ROUNDS, parsePrivateKey } from '../../src/operations/key-file.js';
import { anyText, mutatedBytes, mutatedText, refusedOnlyWith } from './property-helpers.js';

const keys: KeyObject[] = [
  generateKeyPairSync('ed25519').privateKey,
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
  generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey,
  generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey,
];
const PASSPHRASE = 'a long passphrase';
const jwk = (key: KeyObject) => key.export({ format: 'jwk' });
const pkcs8 = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }) as string;
const plainOpenSsh = keys.map((key) => sshpk.parsePrivateKey(pkcs8(key), 'pkcs8').toString('ssh'));
/** One KDF round keeps each read to a few milliseconds. */
const encryptedOpenSsh = keys.map((key, i) => encryptedOpenSshPrivateKey(key, PASSPHRASE, `key ${i}`, (n) => new Uint8Array(n).fill(i + 1), 1));

const ARMOR = /^-----BEGIN OPENSSH PRIVATE KEY-----\n([\s\S]*)\n-----END OPENSSH PRIVATE KEY-----\n?$/;
const bodyOf = (text: string) => new Uint8Array(Buffer.from(ARMOR.exec(text)![1]!.replace(/\s+/g, ''), 'base64'));
const armored = (body: Uint8Array) => `-----BEGIN OPENSSH PRIVATE KEY-----\n${Buffer.from(body).toString('base64').replace(/(.{70})/g, '$1\n').trim()}\n-----END OPENSSH PRIVATE KEY-----\n`;

const readOnlyKeyFileError = (text: string | Buffer, passphrase?: string) =>
  refusedOnlyWith([KeyFileError], () => parsePrivateKey(Buffer.isBuffer(text) ? text : Buffer.from(text), 'key', passphrase));

describe('private key reader (properties)', () => {
  test('encryptedOpenSshPrivateKey → parsePrivateKey gives the same key', () => {
    fc.assert(
      fc.property(fc.constantFrom(...keys.keys()), fc.string({ minLength: MIN_PASSPHRASE_LENGTH, maxLength: 20 }), fc.string({ maxLength: 20 }), fc.uint8Array({ minLength: 64, maxLength: 64 }), (index, passphrase, comment, seed) => {
        let offset = 0;
        const random = (n: number) => seed.slice(offset, (offset += n));
        const text = encryptedOpenSshPrivateKey(keys[index]!, passphrase, comment, random, 1);
        assert.deepStrictEqual(jwk(parsePrivateKey(Buffer.from(text), 'key', passphrase)), jwk(keys[index]!));
      }),
      { numRuns: 40 },
    );
  });

  test('mutated OpenSSH keys (their bytes and their text), without a passphrase, are refused only with KeyFileError', () => {
    const files = fc.constantFrom(...plainOpenSsh, ...encryptedOpenSsh);
    const mutatedBody = mutatedBytes(files.map(bodyOf)).map(armored);
    fc.assert(fc.property(fc.oneof(mutatedBody, mutatedText(files)), (text) => void readOnlyKeyFileError(text)), { numRuns: 6000 });
  });

  test('mutated encrypted OpenSSH keys read with the passphrase are refused only with KeyFileError, and never run away', () => {
    fc.assert(fc.property(mutatedBytes(fc.constantFrom(...encryptedOpenSsh).map(bodyOf)).map(armored), (text) => void readOnlyKeyFileError(text, PASSPHRASE)), { numRuns: 400 });
  });

  test('a KDF round count above the bound is refused before any work', () => {
    const body = bodyOf(encryptedOpenSsh[0]!);
    const at = Buffer.from(body).indexOf(Buffer.from([0, 0, 0, 1, 0, 0, 0, 1])); // rounds (1), then the key count (1)
    new DataView(body.buffer).setUint32(at, 0xffffffff);
    assert.throws(() => parsePrivateKey(Buffer.from(armored(body)), 'key', PASSPHRASE), new RegExp(`asks for 4294967295 bcrypt rounds; piv-enroll reads keys of at most ${MAX_KDF_ROUNDS}`));
  });

  test('mutated PKCS#8 (PEM and DER) and arbitrary text are refused only with KeyFileError', () => {
    const pem = fc.constantFrom(...keys.map(pkcs8));
    const der = fc.constantFrom(...keys.map((key) => new Uint8Array(key.export({ type: 'pkcs8', format: 'der' }))));
    fc.assert(
      fc.property(fc.oneof(mutatedText(pem), mutatedBytes(der).map((b) => Buffer.from(b)), anyText(60)), fc.option(fc.constant(PASSPHRASE), { nil: undefined }), (data, passphrase) => void readOnlyKeyFileError(data, passphrase)),
      { numRuns: 3000 },
    );
  });
});
