/**
 * Checks a signature as an SSH server would: PKCS#1 v1.5 for RSA, ECDSA (DER as a PIV card returns it, or r‖s as
 * PKCS#11 returns it), Ed25519 over the message itself.
 */
import { verify, type KeyObject } from 'node:crypto';
import type { KeyAlgorithmInfo } from '../standards/algorithms.js';
import type { HashName } from './pkcs1.js';

export function verifySignature(
  algorithm: KeyAlgorithmInfo,
  publicKey: KeyObject,
  message: Uint8Array,
  signature: Uint8Array,
  hash: HashName | undefined,
  ecdsaEncoding: 'der' | 'ieee-p1363' = 'der',
): boolean {
  if (algorithm.kind === 'ed25519') return verify(null, message, publicKey, signature);
  if (algorithm.kind === 'ec') return verify(hash!, message, { key: publicKey, dsaEncoding: ecdsaEncoding }, signature);
  return verify(hash!, message, publicKey, signature);
}
