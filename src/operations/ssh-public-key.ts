/**
 * OpenSSH views of a public key: the authorized_keys line, the SHA256 fingerprint, and the signature
 * algorithms a key can sign with (RFC 8332 for RSA, RFC 5656 for ECDSA, RFC 8709 for Ed25519).
 * The key blobs are the SSH CA's (ca/key-blob.ts), byte for byte what certificates and KRLs name: one encoder for
 * both (sshpk wrote these before, and its 38 files were 55 ms of every enrollment's start-up).
 */
import type { KeyObject } from 'node:crypto';
import type { HashName } from '../crypto/pkcs1.js';
import type { KeyAlgorithmInfo } from '../standards/algorithms.js';
import { blobFingerprint, formatOpenSshLine, publicKeyBlob } from './ca/key-blob.js';

/** `ssh-rsa AAAA… comment`: one line for authorized_keys. */
export function authorizedKeysLine(publicKey: KeyObject, comment?: string): string {
  return formatOpenSshLine(publicKeyBlob(publicKey), comment);
}

/** `SHA256:…`, as ssh-keygen -l prints it. */
export function sshFingerprint(publicKey: KeyObject): string {
  return blobFingerprint(publicKeyBlob(publicKey));
}

export interface SshSignatureAlgorithm {
  /** The SSH name: rsa-sha2-256, ecdsa-sha2-nistp256, ssh-ed25519… */
  name: string;
  /** Digest the card signs over; undefined for Ed25519 (it signs the message itself). */
  hash?: HashName;
  /** ssh-rsa (SHA-1): refused by OpenSSH 8.8+ servers by default; still checked, reported as legacy. */
  legacy: boolean;
}

export function sshSignatureAlgorithms(algorithm: KeyAlgorithmInfo): SshSignatureAlgorithm[] {
  switch (algorithm.kind) {
    case 'rsa':
      return [
        { name: 'rsa-sha2-256', hash: 'sha256', legacy: false },
        { name: 'rsa-sha2-512', hash: 'sha512', legacy: false },
        { name: 'ssh-rsa', hash: 'sha1', legacy: true },
      ];
    case 'ec':
      return algorithm.curve === 'P-256'
        ? [{ name: 'ecdsa-sha2-nistp256', hash: 'sha256', legacy: false }]
        : [{ name: 'ecdsa-sha2-nistp384', hash: 'sha384', legacy: false }];
    case 'ed25519':
      return [{ name: 'ssh-ed25519', legacy: false }];
    case 'x25519':
      return [];
  }
}
