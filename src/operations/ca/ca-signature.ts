/**
 * The CA's SSH signature: which algorithm a CA key signs certificates with, and the signature field in SSH form
 * (RFC 8332 for RSA — always rsa-sha2-512 here, as ssh-rsa/SHA-1 is refused by sshd since 8.2; RFC 5656 §3.1.2
 * for ECDSA: mpint r, mpint s; RFC 8709 for Ed25519: the 64 signature bytes).
 */
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { MalformedDataError } from '../../bytes/errors.js';
import type { HashName } from '../../crypto/pkcs1.js';
import { fixedLength } from '../../crypto/keys.js';
import { SshReader, SshWriter } from '../../crypto/ssh-wire.js';
import type { CertificateSigner } from './certificate.js';

export interface CaSignatureScheme {
  /** The SSH signature algorithm name written into the certificate. */
  algorithm: 'ssh-ed25519' | 'ecdsa-sha2-nistp256' | 'ecdsa-sha2-nistp384' | 'rsa-sha2-512';
  /** The digest signed (none for Ed25519, which signs the message itself). */
  hash?: HashName;
  kind: 'ed25519' | 'ec' | 'rsa';
  /** RSA: the signature is exactly this many bytes. EC: the size of r and s. */
  size: number;
}

export function caSignatureScheme(caKey: KeyObject): CaSignatureScheme {
  const publicKey = caKey.type === 'private' ? createPublicKey(caKey) : caKey;
  const details = publicKey.asymmetricKeyDetails ?? {};
  switch (publicKey.asymmetricKeyType) {
    case 'ed25519':
      return { algorithm: 'ssh-ed25519', kind: 'ed25519', size: 64 };
    case 'ec':
      if (details.namedCurve === 'prime256v1') return { algorithm: 'ecdsa-sha2-nistp256', hash: 'sha256', kind: 'ec', size: 32 };
      if (details.namedCurve === 'secp384r1') return { algorithm: 'ecdsa-sha2-nistp384', hash: 'sha384', kind: 'ec', size: 48 };
      break;
    case 'rsa':
      return { algorithm: 'rsa-sha2-512', hash: 'sha512', kind: 'rsa', size: (details.modulusLength ?? 0) / 8 };
  }
  throw new MalformedDataError(`a ${publicKey.asymmetricKeyType ?? 'this'} key cannot be an SSH CA here`);
}

/** ECDSA r‖s (IEEE P1363, as node:crypto and PKCS#11 return it) → SSH's `mpint r, mpint s`. */
export function sshEcdsaSignatureFromP1363(rs: Uint8Array): Uint8Array {
  if (rs.length % 2 !== 0) throw new MalformedDataError('ECDSA r‖s signature of odd length');
  const half = rs.length / 2;
  return new SshWriter().mpint(rs.subarray(0, half)).mpint(rs.subarray(half)).bytes();
}

/** ECDSA DER `SEQUENCE { INTEGER r, INTEGER s }` (as a PIV card returns it) → SSH's `mpint r, mpint s`. */
export function sshEcdsaSignatureFromDer(der: Uint8Array): Uint8Array {
  let offset = 0;
  const fail = (): never => {
    throw new MalformedDataError('the ECDSA signature is not a DER SEQUENCE of two INTEGERs');
  };
  const readLength = (): number => {
    const first = der[offset++] ?? fail();
    if (first < 0x80) return first;
    const count = first & 0x7f;
    if (count === 0 || count > 2) fail();
    let length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[offset++] ?? fail());
    return length;
  };
  const readInteger = (): Uint8Array => {
    if (der[offset++] !== 0x02) fail();
    const length = readLength();
    if (length === 0 || offset + length > der.length) fail();
    const value = der.subarray(offset, offset + length);
    offset += length;
    if ((value[0]! & 0x80) !== 0) fail(); // r and s are positive
    return value;
  };
  if (der[offset++] !== 0x30) fail();
  if (readLength() !== der.length - offset) fail();
  const r = readInteger();
  const s = readInteger();
  if (offset !== der.length) fail();
  return new SshWriter().mpint(r).mpint(s).bytes();
}

/** A CA whose private key is here, in memory (the software CA). */
export function softwareCertificateSigner(privateKey: KeyObject): CertificateSigner {
  const scheme = caSignatureScheme(privateKey);
  return async (data) => {
    switch (scheme.kind) {
      case 'ed25519':
        return { algorithm: scheme.algorithm, signature: new Uint8Array(sign(null, data, privateKey)) };
      case 'ec':
        return { algorithm: scheme.algorithm, signature: sshEcdsaSignatureFromP1363(new Uint8Array(sign(scheme.hash!, data, { key: privateKey, dsaEncoding: 'ieee-p1363' }))) };
      case 'rsa':
        return { algorithm: scheme.algorithm, signature: new Uint8Array(sign(scheme.hash!, data, privateKey)) };
    }
  };
}

const SIGNATURE_HASH: Record<string, HashName | null> = {
  'ssh-ed25519': null,
  'ecdsa-sha2-nistp256': 'sha256',
  'ecdsa-sha2-nistp384': 'sha384',
  'rsa-sha2-256': 'sha256',
  'rsa-sha2-512': 'sha512',
  'ssh-rsa': 'sha1',
};

/** Checks an SSH signature (algorithm name + signature field) over `data` with `caKey`, as sshd would. */
export function verifySshSignature(caKey: KeyObject, data: Uint8Array, algorithm: string, signature: Uint8Array): boolean {
  const hash = SIGNATURE_HASH[algorithm];
  if (hash === undefined) return false;
  try {
    if (hash === null) return caKey.asymmetricKeyType === 'ed25519' && verify(null, data, caKey, signature);
    if (algorithm.startsWith('ecdsa-')) {
      if (caKey.asymmetricKeyType !== 'ec') return false;
      const scheme = caSignatureScheme(caKey);
      if (scheme.algorithm !== algorithm) return false;
      const reader = new SshReader(signature, 'ECDSA signature');
      const r = reader.mpint();
      const s = reader.mpint();
      reader.end();
      const rs = Buffer.concat([fixedLength(r, scheme.size), fixedLength(s, scheme.size)]);
      return verify(hash, data, { key: caKey, dsaEncoding: 'ieee-p1363' }, rs);
    }
    if (caKey.asymmetricKeyType !== 'rsa' || signature.length !== (caKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8) return false;
    return verify(hash, data, caKey, signature);
  } catch {
    return false;
  }
}
