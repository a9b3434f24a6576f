/** PEM armour (RFC 7468): base64 in 64-character lines between BEGIN/END labels. */
import type { KeyObject } from 'node:crypto';
import { spkiDer } from './keys.js';

export function pemEncode(label: string, der: Uint8Array): string {
  return `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').trim()}\n-----END ${label}-----\n`;
}

export function certificatePem(der: Uint8Array): string {
  return pemEncode('CERTIFICATE', der);
}

export function publicKeyPem(key: KeyObject): string {
  return pemEncode('PUBLIC KEY', spkiDer(key));
}
