/**
 * The private-key operations a PIV card performs: raw RSA on a host-built block, ECDSA on a digest
 * the host computed, Ed25519 on the message, and ECDH/X25519 key agreement.
 */
import { constants, createPublicKey, diffieHellman, privateDecrypt, sign as nodeSign, type KeyObject } from 'node:crypto';
import { p256, p384 } from '@noble/curves/nist';
import { CURVE_FIELD_BYTES, ecPrivateScalar, ecPublicKeyFromPoint, okpPublicKeyFromRaw } from '../../crypto/keys.js';
import type { KeyAlgorithmInfo } from '../../standards/algorithms.js';

/** Raised for input a real card would refuse with 6A80 (wrong length, value not below the modulus…). */
export class CardCryptoInputError extends Error {}

export function rawRsa(key: KeyObject, block: Uint8Array, modulusBytes: number): Uint8Array {
  if (block.length !== modulusBytes) throw new CardCryptoInputError(`RSA input must be ${modulusBytes} bytes`);
  try {
    return new Uint8Array(privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, block));
  } catch {
    throw new CardCryptoInputError('RSA input not below the modulus');
  }
}

/**
 * ECDSA over a digest. Like the YubiKey, the card takes at most the curve's byte length; a shorter
 * digest is used as is (bits2int), a longer one is refused (the host truncates, as ykman does).
 */
export function ecdsaSignDigest(key: KeyObject, curve: 'P-256' | 'P-384', digest: Uint8Array): Uint8Array {
  const size = CURVE_FIELD_BYTES[curve];
  if (digest.length === 0 || digest.length > size) throw new CardCryptoInputError(`ECDSA input must be 1 to ${size} bytes`);
  const scalar = ecPrivateScalar(key, curve);
  const signer = curve === 'P-256' ? p256 : p384;
  return signer.sign(digest, scalar, { lowS: false, prehash: false }).toDERRawBytes();
}

export function ed25519Sign(key: KeyObject, message: Uint8Array): Uint8Array {
  return new Uint8Array(nodeSign(null, message, key));
}

export function keyAgreement(key: KeyObject, algorithm: KeyAlgorithmInfo, peer: Uint8Array): Uint8Array {
  try {
    const publicKey =
      algorithm.kind === 'ec' ? ecPublicKeyFromPoint(algorithm.curve!, peer) : okpPublicKeyFromRaw('x25519', peer);
    return new Uint8Array(diffieHellman({ privateKey: key, publicKey }));
  } catch {
    throw new CardCryptoInputError('peer public key is not a valid point');
  }
}

export function publicKeyOf(key: KeyObject): KeyObject {
  return createPublicKey(key);
}
