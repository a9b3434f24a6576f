/**
 * SSH public key blobs (RFC 4253 §6.6, RFC 5656 §3.1, RFC 8709 §4) to and from node:crypto keys, the one-line
 * OpenSSH file form (`type base64 comment`), and SHA256 fingerprints as ssh-keygen prints them.
 * Certificates and KRLs refer to keys by these blobs, so they are built here byte for byte.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { MalformedDataError } from '../../bytes/errors.js';
import { ecPublicKeyFromPoint, ecPublicPoint, okpPublicKeyFromRaw, okpPublicRaw, rsaPublicComponents, rsaPublicKeyFromComponents } from '../../crypto/keys.js';
import { SshReader, SshWriter } from '../../crypto/ssh-wire.js';

/** The suffix OpenSSH appends to a key type to name its certificate type. */
export const CERTIFICATE_TYPE_SUFFIX = '-cert-v01@openssh.com';

const CURVES = {
  'P-256': { sshCurve: 'nistp256', keyType: 'ecdsa-sha2-nistp256' },
  'P-384': { sshCurve: 'nistp384', keyType: 'ecdsa-sha2-nistp384' },
} as const;

function curveOf(key: KeyObject): 'P-256' | 'P-384' {
  const named = key.asymmetricKeyDetails?.namedCurve;
  if (named === 'prime256v1') return 'P-256';
  if (named === 'secp384r1') return 'P-384';
  throw new MalformedDataError(`EC curve ${named ?? '?'} is not one piv-enroll writes SSH keys for`);
}

/** The SSH blob of a public key (a private key is reduced to its public half). */
export function publicKeyBlob(key: KeyObject): Uint8Array {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const writer = new SshWriter();
  switch (publicKey.asymmetricKeyType) {
    case 'rsa': {
      const { modulus, exponent } = rsaPublicComponents(publicKey);
      return writer.string('ssh-rsa').mpint(exponent).mpint(modulus).bytes();
    }
    case 'ec': {
      const curve = curveOf(publicKey);
      return writer.string(CURVES[curve].keyType).string(CURVES[curve].sshCurve).string(ecPublicPoint(publicKey, curve)).bytes();
    }
    case 'ed25519':
      return writer.string('ssh-ed25519').string(okpPublicRaw(publicKey)).bytes();
    default:
      throw new MalformedDataError(`${publicKey.asymmetricKeyType ?? 'this'} keys have no SSH form here`);
  }
}

/** The key type name a blob starts with (ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa, …-cert-v01@openssh.com). */
export function blobKeyType(blob: Uint8Array): string {
  return new SshReader(blob, 'SSH key blob').text();
}

/** A node:crypto public key from a plain (not certificate) blob of the types a CA here can hold. */
export function publicKeyFromBlob(blob: Uint8Array): KeyObject {
  const reader = new SshReader(blob, 'SSH public key');
  const type = reader.text();
  let key: KeyObject;
  try {
    if (type === 'ssh-rsa') {
      const exponent = reader.mpint();
      key = rsaPublicKeyFromComponents(reader.mpint(), exponent);
    } else if (type === 'ssh-ed25519') {
      key = okpPublicKeyFromRaw('ed25519', reader.string());
    } else {
      const curve = (Object.keys(CURVES) as Array<keyof typeof CURVES>).find((c) => CURVES[c].keyType === type);
      if (!curve) throw new MalformedDataError(`SSH key type ${type} is not supported here`);
      if (reader.text() !== CURVES[curve].sshCurve) throw new MalformedDataError(`${type} key names the wrong curve`);
      key = ecPublicKeyFromPoint(curve, reader.string());
    }
  } catch (error) {
    if (error instanceof MalformedDataError) throw error;
    throw new MalformedDataError(`invalid ${type} public key`, { cause: error });
  }
  reader.end();
  return key;
}

/** `SHA256:…` of a blob, base64 without padding, as `ssh-keygen -l` prints it. */
export function blobFingerprint(blob: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export interface OpenSshLine {
  type: string;
  blob: Uint8Array;
  comment: string;
}

/** The first `type base64 [comment]` line of an OpenSSH public key or certificate file. */
export function parseOpenSshLine(text: string, what: string): OpenSshLine {
  const line = text.split(/\r?\n/).map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'));
  // `s`: a comment may hold U+2028/U+2029, which `.` would not match; only \n ends an OpenSSH line.
  const match = line?.match(/^(\S+)\s+([A-Za-z0-9+/]+={0,2})(?:\s+(.*))?$/s);
  if (!match) throw new MalformedDataError(`${what} is not an OpenSSH public key or certificate line`);
  const blob = new Uint8Array(Buffer.from(match[2]!, 'base64'));
  if (blobKeyType(blob) !== match[1]) throw new MalformedDataError(`${what}: the key type ${match[1]} does not match its data`);
  return { type: match[1]!, blob, comment: match[3] ?? '' };
}

export function formatOpenSshLine(blob: Uint8Array, comment?: string): string {
  const clean = comment?.replace(/[\r\n]+/g, ' ').trim();
  const line = `${blobKeyType(blob)} ${Buffer.from(blob).toString('base64')}`;
  return clean ? `${line} ${clean}` : line;
}
