/**
 * Conversions between node:crypto KeyObjects and the raw encodings PIV uses on the wire
 * (RSA n/e and CRT parts, EC points and scalars, 32-byte Ed25519/X25519 keys).
 */
import { createECDH, createPrivateKey, createPublicKey, generateKeyPair, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { concatBytes, fromHex } from '../bytes/hex.js';
import { keyAlgorithmByName, type KeyAlgorithmInfo } from '../standards/algorithms.js';

export const RSA_PUBLIC_EXPONENT = 65537;

const b64u = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
const unb64u = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64url'));

function jwkField(jwk: Record<string, unknown>, name: string): Uint8Array {
  const v = jwk[name];
  if (typeof v !== 'string') throw new TypeError(`key has no ${name}`);
  return unb64u(v);
}

/** Left-pads (or strips leading zeros from) a big-endian integer to exactly `length` bytes. */
export function fixedLength(bytes: Uint8Array, length: number): Uint8Array {
  let start = 0;
  while (bytes.length - start > length && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  if (trimmed.length > length) throw new RangeError(`integer of ${trimmed.length} bytes does not fit in ${length}`);
  const out = new Uint8Array(length);
  out.set(trimmed, length - trimmed.length);
  return out;
}

function stripLeadingZeros(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  return bytes.subarray(start);
}

const CURVE_NODE_NAME: Record<'P-256' | 'P-384', string> = { 'P-256': 'prime256v1', 'P-384': 'secp384r1' };
export const CURVE_FIELD_BYTES: Record<'P-256' | 'P-384', number> = { 'P-256': 32, 'P-384': 48 };

/** The PIV algorithm of a key, or undefined for key types a PIV card cannot hold. */
export function describeKey(key: KeyObject): KeyAlgorithmInfo | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return keyAlgorithmByName(`RSA${details.modulusLength ?? 0}`);
    case 'ec':
      if (details.namedCurve === 'prime256v1') return keyAlgorithmByName('ECCP256');
      if (details.namedCurve === 'secp384r1') return keyAlgorithmByName('ECCP384');
      return undefined;
    case 'ed25519':
      return keyAlgorithmByName('ED25519');
    case 'x25519':
      return keyAlgorithmByName('X25519');
    default:
      return undefined;
  }
}

export function generateKeyPairFor(algorithm: KeyAlgorithmInfo): { privateKey: KeyObject; publicKey: KeyObject } {
  switch (algorithm.kind) {
    case 'rsa':
      return generateKeyPairSync('rsa', { modulusLength: algorithm.bits, publicExponent: RSA_PUBLIC_EXPONENT });
    case 'ec':
      return generateKeyPairSync('ec', { namedCurve: CURVE_NODE_NAME[algorithm.curve!] });
    case 'ed25519':
      return generateKeyPairSync('ed25519');
    case 'x25519':
      return generateKeyPairSync('x25519');
  }
}

/**
 * The same, off the main thread (libuv's pool): an RSA key takes 40–250 ms to make, which can overlap with card I/O.
 */
export function generateKeyPairForAsync(algorithm: KeyAlgorithmInfo): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, publicKey: KeyObject, privateKey: KeyObject): void => (error ? reject(error) : resolve({ privateKey, publicKey }));
    switch (algorithm.kind) {
      case 'rsa':
        return generateKeyPair('rsa', { modulusLength: algorithm.bits, publicExponent: RSA_PUBLIC_EXPONENT }, done);
      case 'ec':
        return generateKeyPair('ec', { namedCurve: CURVE_NODE_NAME[algorithm.curve!] }, done);
      case 'ed25519':
        return generateKeyPair('ed25519', {}, done);
      case 'x25519':
        return generateKeyPair('x25519', {}, done);
    }
  });
}

// ---- public keys ----

export function rsaPublicKeyFromComponents(modulus: Uint8Array, exponent: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'RSA', n: b64u(stripLeadingZeros(modulus)), e: b64u(stripLeadingZeros(exponent)) }, format: 'jwk' });
}

export function rsaPublicComponents(key: KeyObject): { modulus: Uint8Array; exponent: Uint8Array } {
  const jwk = key.export({ format: 'jwk' }) as Record<string, unknown>;
  return { modulus: jwkField(jwk, 'n'), exponent: jwkField(jwk, 'e') };
}

/** EC public key from an uncompressed SEC1 point (04 ‖ X ‖ Y). */
export function ecPublicKeyFromPoint(curve: 'P-256' | 'P-384', point: Uint8Array): KeyObject {
  const size = CURVE_FIELD_BYTES[curve];
  if (point.length !== 1 + 2 * size || point[0] !== 0x04) throw new RangeError(`not an uncompressed ${curve} point`);
  return createPublicKey({
    key: { kty: 'EC', crv: curve, x: b64u(point.subarray(1, 1 + size)), y: b64u(point.subarray(1 + size)) },
    format: 'jwk',
  });
}

export function ecPublicPoint(key: KeyObject, curve: 'P-256' | 'P-384'): Uint8Array {
  const jwk = key.export({ format: 'jwk' }) as Record<string, unknown>;
  const size = CURVE_FIELD_BYTES[curve];
  return concatBytes(Uint8Array.of(0x04), fixedLength(jwkField(jwk, 'x'), size), fixedLength(jwkField(jwk, 'y'), size));
}

export function okpPublicKeyFromRaw(kind: 'ed25519' | 'x25519', raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new RangeError(`${kind} public key must be 32 bytes`);
  return createPublicKey({ key: { kty: 'OKP', crv: kind === 'ed25519' ? 'Ed25519' : 'X25519', x: b64u(raw) }, format: 'jwk' });
}

export function okpPublicRaw(key: KeyObject): Uint8Array {
  return jwkField(key.export({ format: 'jwk' }) as Record<string, unknown>, 'x');
}

export function spkiDer(key: KeyObject): Uint8Array {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return new Uint8Array(pub.export({ type: 'spki', format: 'der' }));
}

// ---- private keys ----

export interface RsaCrtComponents {
  p: Uint8Array;
  q: Uint8Array;
  dp: Uint8Array;
  dq: Uint8Array;
  qi: Uint8Array;
  e: Uint8Array;
}

export function rsaPrivateComponents(key: KeyObject): RsaCrtComponents {
  const jwk = key.export({ format: 'jwk' }) as Record<string, unknown>;
  return {
    p: jwkField(jwk, 'p'),
    q: jwkField(jwk, 'q'),
    dp: jwkField(jwk, 'dp'),
    dq: jwkField(jwk, 'dq'),
    qi: jwkField(jwk, 'qi'),
    e: jwkField(jwk, 'e'),
  };
}

const toBig = (bytes: Uint8Array): bigint => (bytes.length === 0 ? 0n : BigInt('0x' + Buffer.from(bytes).toString('hex')));
function fromBig(value: bigint): Uint8Array {
  let hex = value.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  return fromHex(hex);
}

function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [((a % m) + m) % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) throw new RangeError('not invertible');
  return ((oldS % m) + m) % m;
}

/** A full RSA private key from its primes and public exponent; every CRT part computed here. */
export function rsaPrivateKeyFromPrimes(primeP: Uint8Array, primeQ: Uint8Array, exponent: Uint8Array): KeyObject {
  const [p, q, e] = [toBig(primeP), toBig(primeQ), toBig(exponent)];
  if (p < 3n || q < 3n) throw new RangeError('RSA primes missing');
  const n = p * q;
  const d = modInverse(e, (p - 1n) * (q - 1n));
  const jwk = {
    kty: 'RSA',
    n: b64u(fromBig(n)),
    e: b64u(fromBig(e)),
    d: b64u(fromBig(d)),
    p: b64u(fromBig(p)),
    q: b64u(fromBig(q)),
    dp: b64u(fromBig(d % (p - 1n))),
    dq: b64u(fromBig(d % (q - 1n))),
    qi: b64u(fromBig(modInverse(q, p))),
  };
  return createPrivateKey({ key: jwk, format: 'jwk' });
}

/**
 * Rebuilds a full RSA private key from the CRT parts a PIV import carries (p, q, dP, dQ, qInv and e).
 * Throws if the parts are inconsistent, which a real card would also refuse.
 */
export function rsaPrivateKeyFromCrt(parts: RsaCrtComponents): KeyObject {
  const key = rsaPrivateKeyFromPrimes(parts.p, parts.q, parts.e);
  const full = rsaPrivateComponents(key);
  const same = (a: Uint8Array, b: Uint8Array): boolean => toBig(a) === toBig(b);
  if (!same(full.dp, parts.dp) || !same(full.dq, parts.dq) || !same(full.qi, parts.qi)) throw new RangeError('RSA CRT components are inconsistent');
  return key;
}

export function ecPrivateScalar(key: KeyObject, curve: 'P-256' | 'P-384'): Uint8Array {
  return fixedLength(jwkField(key.export({ format: 'jwk' }) as Record<string, unknown>, 'd'), CURVE_FIELD_BYTES[curve]);
}

export function ecPrivateKeyFromScalar(curve: 'P-256' | 'P-384', scalar: Uint8Array): KeyObject {
  const ecdh = createECDH(CURVE_NODE_NAME[curve]);
  ecdh.setPrivateKey(scalar); // throws for 0 or a scalar not below the group order
  const point = new Uint8Array(ecdh.getPublicKey());
  const size = CURVE_FIELD_BYTES[curve];
  return createPrivateKey({
    key: { kty: 'EC', crv: curve, d: b64u(scalar), x: b64u(point.subarray(1, 1 + size)), y: b64u(point.subarray(1 + size)) },
    format: 'jwk',
  });
}

/** RFC 8410 PKCS#8 prefixes for a 32-byte Ed25519 / X25519 private key. */
const OKP_PKCS8_PREFIX = {
  ed25519: fromHex('302e020100300506032b657004220420'),
  x25519: fromHex('302e020100300506032b656e04220420'),
};

export function okpPrivateKeyFromRaw(kind: 'ed25519' | 'x25519', raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new RangeError(`${kind} private key must be 32 bytes`);
  return createPrivateKey({ key: Buffer.from(concatBytes(OKP_PKCS8_PREFIX[kind], raw)), format: 'der', type: 'pkcs8' });
}

export function okpPrivateRaw(key: KeyObject): Uint8Array {
  return jwkField(key.export({ format: 'jwk' }) as Record<string, unknown>, 'd');
}
