import { describe, test, expect, beforeAll } from 'vitest';
import { constants, generateKeyPairSync, privateDecrypt, verify, type KeyObject } from 'node:crypto';
import {
  DIGEST_LENGTH,
  HASH_NAMES,
  digest,
  digestInfo,
  pkcs1v15BlockForMessage,
  pkcs1v15SignatureBlock,
  type HashName,
} from '../../src/crypto/pkcs1.js';
import { h, hexOf } from './helpers.js';

/** DigestInfo prefixes from RFC 8017 §9.2 note 1, written out independently of the source. */
const RFC8017_PREFIX: Record<HashName, string> = {
  sha1: '3021300906052b0e03021a05000414',
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440',
};

describe('pkcs1v15SignatureBlock', () => {
  test('sha256, 256-byte modulus: 00 01 FF.. 00 DigestInfo digest', () => {
    const d = digest('sha256', new TextEncoder().encode('abc'));
    // FIPS 180-2 SHA-256("abc").
    expect(hexOf(d)).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const block = pkcs1v15SignatureBlock(digestInfo('sha256', d), 256);
    expect(block.length).toBe(256);
    const padLength = 256 - 3 - 19 - 32;
    const expected = '0001' + 'ff'.repeat(padLength) + '00' + RFC8017_PREFIX.sha256 + hexOf(d);
    expect(hexOf(block)).toBe(expected);
  });

  test.each(HASH_NAMES.map((name) => [name]))('%s: block layout for a 128-byte modulus', (name) => {
    const d = digest(name, h('00'));
    const block = pkcs1v15SignatureBlock(digestInfo(name, d), 128);
    const info = RFC8017_PREFIX[name] + hexOf(d);
    expect(hexOf(block)).toBe('0001' + 'ff'.repeat(128 - 3 - info.length / 2) + '00' + info);
  });

  test('a modulus leaving fewer than 8 padding bytes is a RangeError', () => {
    const info = digestInfo('sha512', new Uint8Array(64)); // 83 bytes
    expect(pkcs1v15SignatureBlock(info, 83 + 3 + 8).length).toBe(94);
    expect(() => pkcs1v15SignatureBlock(info, 83 + 3 + 7)).toThrow(RangeError);
  });

  test('digest of the wrong length is a RangeError', () => {
    expect(() => digestInfo('sha256', new Uint8Array(31))).toThrow(RangeError);
    expect(() => digestInfo('sha256', new Uint8Array(33))).toThrow(RangeError);
    expect(() => digestInfo('sha1', new Uint8Array(32))).toThrow(RangeError);
    for (const name of HASH_NAMES) expect(digestInfo(name, new Uint8Array(DIGEST_LENGTH[name])).length).toBe(RFC8017_PREFIX[name].length / 2 + DIGEST_LENGTH[name]);
  });
});

describe('raw RSA over the block is a valid PKCS#1 v1.5 signature (checked by node:crypto)', () => {
  let privateKey: KeyObject;
  let publicKey: KeyObject;
  beforeAll(() => {
    ({ privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 }));
  });

  test.each(HASH_NAMES.map((name) => [name]))('%s', (name) => {
    const message = new TextEncoder().encode(`message signed with ${name}`);
    const block = pkcs1v15BlockForMessage(name, message, 256);
    // What a PIV card does: m^d mod n, no padding of its own. (privateDecrypt with NO_PADDING is that.)
    const signature = privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, block);
    expect(signature.length).toBe(256);
    expect(verify(name, message, publicKey, signature)).toBe(true);
    // And it is not a signature over another message.
    expect(verify(name, new TextEncoder().encode('other'), publicKey, signature)).toBe(false);
  });
});
