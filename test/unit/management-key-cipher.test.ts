import { describe, test, expect } from 'vitest';
import fc from 'fast-check';
import { createCipheriv } from 'node:crypto';
import forge from 'node-forge';
import { decryptBlock, encryptBlock } from '../../src/crypto/management-key-cipher.js';
import { managementKeyAlgorithmByName, type ManagementKeyAlgorithmInfo } from '../../src/standards/algorithms.js';
import { h, hexOf } from './helpers.js';

function algorithm(name: string): ManagementKeyAlgorithmInfo {
  const info = managementKeyAlgorithmByName(name);
  if (!info) throw new Error(`no management key algorithm ${name}`);
  return info;
}

const TDES = algorithm('TDES');
const AES128 = algorithm('AES128');
const AES192 = algorithm('AES192');
const AES256 = algorithm('AES256');
const ALL = [TDES, AES128, AES192, AES256];

/** The YubiKey factory default management key. */
const DEFAULT_TDES_KEY = h('010203040506070801020304050607080102030405060708');

describe('TDES', () => {
  test('default key encrypting 8 zero bytes: node:crypto des-ede3-ecb and node-forge agree', () => {
    const out = encryptBlock(TDES, DEFAULT_TDES_KEY, new Uint8Array(8));

    const node = createCipheriv('des-ede3-ecb', DEFAULT_TDES_KEY, null).setAutoPadding(false);
    const nodeExpected = Buffer.concat([node.update(new Uint8Array(8)), node.final()]);
    expect(hexOf(out)).toBe(hexOf(nodeExpected));

    // A second, independent implementation (pure JS).
    const f = forge.cipher.createCipher('3DES-ECB', forge.util.binary.raw.encode(DEFAULT_TDES_KEY));
    f.start();
    f.update(forge.util.createBuffer(forge.util.binary.raw.encode(new Uint8Array(8))));
    f.finish();
    expect(hexOf(out)).toBe(f.output.toHex().slice(0, 16));

    // Pinned, so a change of library behaviour shows up here too.
    expect(hexOf(out)).toBe('b073dc3fb209536d');
  });

  test('3DES is an alias of TDES', () => {
    expect(managementKeyAlgorithmByName('3des')).toEqual(TDES);
  });
});

describe('AES known answers', () => {
  // FIPS-197 appendix C.
  test.each([
    ['AES128', '000102030405060708090a0b0c0d0e0f', '69c4e0d86a7b0430d8cdb78070b4c55a'],
    ['AES192', '000102030405060708090a0b0c0d0e0f1011121314151617', 'dda97ca4864cdfe06eaf70a0ec0d7191'],
    ['AES256', '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', '8ea2b7ca516745bfeafc49904b496089'],
  ])('FIPS-197 C: %s', (name, key, ciphertext) => {
    const plaintext = h('00112233445566778899aabbccddeeff');
    expect(hexOf(encryptBlock(algorithm(name), h(key), plaintext))).toBe(ciphertext);
    expect(hexOf(decryptBlock(algorithm(name), h(key), h(ciphertext)))).toBe(hexOf(plaintext));
  });

  // NIST SP 800-38A F.1 (ECB), first block.
  test.each([
    ['AES128', '2b7e151628aed2a6abf7158809cf4f3c', '3ad77bb40d7a3660a89ecaf32466ef97'],
    ['AES192', '8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b', 'bd334f1d6e45f25ff712a214571fa5cc'],
    ['AES256', '603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4', 'f3eed1bdb5d2a03c064b5a7e3db181f8'],
  ])('SP 800-38A F.1: %s', (name, key, ciphertext) => {
    const plaintext = h('6bc1bee22e409f96e93d7e117393172a');
    expect(hexOf(encryptBlock(algorithm(name), h(key), plaintext))).toBe(ciphertext);
    expect(hexOf(decryptBlock(algorithm(name), h(key), h(ciphertext)))).toBe(hexOf(plaintext));
  });
});

describe('every algorithm', () => {
  test('decrypt(encrypt(x)) is x, and encryption changes the block', () => {
    const cases = fc.constantFrom(...ALL).chain((alg) =>
      fc.tuple(
        fc.constant(alg),
        fc.uint8Array({ minLength: alg.keyLength, maxLength: alg.keyLength }),
        fc.uint8Array({ minLength: alg.blockLength, maxLength: alg.blockLength }),
      ),
    );
    fc.assert(
      fc.property(cases, ([alg, key, block]) => {
        const encrypted = encryptBlock(alg, key, block);
        expect(encrypted.length).toBe(alg.blockLength);
        expect(hexOf(decryptBlock(alg, key, encrypted))).toBe(hexOf(block));
      }),
      { numRuns: 300 },
    );
  });

  test.each(ALL.map((a) => [a.name, a] as const))('%s: wrong key or block length is a RangeError', (_name, alg) => {
    const key = new Uint8Array(alg.keyLength);
    const block = new Uint8Array(alg.blockLength);
    expect(() => encryptBlock(alg, new Uint8Array(alg.keyLength - 1), block)).toThrow(RangeError);
    expect(() => encryptBlock(alg, new Uint8Array(alg.keyLength + 1), block)).toThrow(RangeError);
    expect(() => encryptBlock(alg, key, new Uint8Array(alg.blockLength - 1))).toThrow(RangeError);
    expect(() => encryptBlock(alg, key, new Uint8Array(alg.blockLength * 2))).toThrow(RangeError);
    expect(() => decryptBlock(alg, key, new Uint8Array(alg.blockLength + 1))).toThrow(RangeError);
    expect(() => decryptBlock(alg, new Uint8Array(0), block)).toThrow(RangeError);
    expect(encryptBlock(alg, key, block).length).toBe(alg.blockLength);
  });

  test('key and block lengths match the algorithm table', () => {
    expect(ALL.map((a) => [a.name, a.keyLength, a.blockLength])).toEqual([
      ['TDES', 24, 8],
      ['AES128', 16, 16],
      ['AES192', 24, 16],
      ['AES256', 32, 16],
    ]);
  });
});
