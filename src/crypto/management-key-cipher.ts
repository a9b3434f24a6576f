/**
 * Single-block ECB encryption with a PIV management key, as GENERAL AUTHENTICATE uses it for the
 * witness and the challenge. TDES (3-key), AES-128/192/256; no padding: input is exactly one block.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { ManagementKeyAlgorithmInfo } from '../standards/algorithms.js';

function cipherName(algorithm: ManagementKeyAlgorithmInfo): string {
  switch (algorithm.name) {
    case 'TDES':
      return 'des-ede3-ecb';
    case 'AES128':
      return 'aes-128-ecb';
    case 'AES192':
      return 'aes-192-ecb';
    case 'AES256':
      return 'aes-256-ecb';
  }
}

function run(decrypt: boolean, algorithm: ManagementKeyAlgorithmInfo, key: Uint8Array, block: Uint8Array): Uint8Array {
  if (key.length !== algorithm.keyLength) throw new RangeError(`${algorithm.name} key must be ${algorithm.keyLength} bytes`);
  if (block.length !== algorithm.blockLength) throw new RangeError(`${algorithm.name} block must be ${algorithm.blockLength} bytes`);
  const cipher = decrypt ? createDecipheriv(cipherName(algorithm), key, null) : createCipheriv(cipherName(algorithm), key, null);
  cipher.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([cipher.update(block), cipher.final()]));
}

export function encryptBlock(algorithm: ManagementKeyAlgorithmInfo, key: Uint8Array, block: Uint8Array): Uint8Array {
  return run(false, algorithm, key, block);
}

export function decryptBlock(algorithm: ManagementKeyAlgorithmInfo, key: Uint8Array, block: Uint8Array): Uint8Array {
  return run(true, algorithm, key, block);
}
