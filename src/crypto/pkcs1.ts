/**
 * RSA PKCS#1 v1.5 signature blocks (RFC 8017 §9.2). A PIV card only does raw RSA, so the host builds
 * 00 01 FF…FF 00 DigestInfo of exactly the modulus length and the card exponentiates it.
 */
import { createHash } from 'node:crypto';
import { concatBytes, fromHex } from '../bytes/hex.js';

export type HashName = 'sha1' | 'sha256' | 'sha384' | 'sha512';
export const HASH_NAMES: readonly HashName[] = ['sha1', 'sha256', 'sha384', 'sha512'];

/** DER of DigestInfo up to (not including) the digest bytes, per RFC 8017 §9.2 note 1. */
const DIGEST_INFO_PREFIX: Record<HashName, Uint8Array> = {
  sha1: fromHex('3021300906052b0e03021a05000414'),
  sha256: fromHex('3031300d060960864801650304020105000420'),
  sha384: fromHex('3041300d060960864801650304020205000430'),
  sha512: fromHex('3051300d060960864801650304020305000440'),
};

export const DIGEST_LENGTH: Record<HashName, number> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

export function digest(hash: HashName, message: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(hash).update(message).digest());
}

export function digestInfo(hash: HashName, messageDigest: Uint8Array): Uint8Array {
  if (messageDigest.length !== DIGEST_LENGTH[hash]) throw new RangeError(`${hash} digest must be ${DIGEST_LENGTH[hash]} bytes`);
  return concatBytes(DIGEST_INFO_PREFIX[hash], messageDigest);
}

/** EMSA-PKCS1-v1_5 encoding of a DigestInfo into a block of modulusLength bytes. */
export function pkcs1v15SignatureBlock(info: Uint8Array, modulusLength: number): Uint8Array {
  const paddingLength = modulusLength - info.length - 3;
  if (paddingLength < 8) throw new RangeError('modulus too short for this digest');
  const block = new Uint8Array(modulusLength).fill(0xff, 2, 2 + paddingLength);
  block[0] = 0x00;
  block[1] = 0x01;
  block[2 + paddingLength] = 0x00;
  block.set(info, 3 + paddingLength);
  return block;
}

export function pkcs1v15BlockForMessage(hash: HashName, message: Uint8Array, modulusLength: number): Uint8Array {
  return pkcs1v15SignatureBlock(digestInfo(hash, digest(hash, message)), modulusLength);
}
