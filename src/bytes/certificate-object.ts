/**
 * The content of a PIV certificate object (SP 800-73-4 part 1 appendix A): `70 <certificate>`,
 * `71 01 <CertInfo>` (00 plain, 01 gzip as YubiKeys use it), `FE 00` (error detection code, empty).
 * Pure byte format, shared by the host session and the virtual card's attestation object.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { CERT_INFO_GZIP, CERT_INFO_PLAIN, TAG_CERT_INFO, TAG_CERTIFICATE, TAG_ERROR_DETECTION } from '../standards/objects.js';
import { MalformedDataError } from './errors.js';
import { encodeTlvs, parseTlvs } from './tlv.js';

/** A decompressed certificate larger than this is refused (a gzip bomb from a hostile card). */
const MAX_CERTIFICATE_LENGTH = 64 * 1024;

export function encodeCertificateObject(der: Uint8Array, compress = false): Uint8Array {
  const body = compress ? new Uint8Array(gzipSync(der, { level: 9 })) : der;
  return encodeTlvs([
    [TAG_CERTIFICATE, body],
    [TAG_CERT_INFO, Uint8Array.of(compress ? CERT_INFO_GZIP : CERT_INFO_PLAIN)],
    [TAG_ERROR_DETECTION, new Uint8Array(0)],
  ]);
}

export interface DecodedCertificateObject {
  der: Uint8Array;
  compressed: boolean;
}

export function decodeCertificateObject(content: Uint8Array): DecodedCertificateObject {
  let certificate: Uint8Array | undefined;
  let info: Uint8Array | undefined;
  for (const { tag, value } of parseTlvs(content)) {
    if (tag === TAG_CERTIFICATE && certificate === undefined) certificate = value;
    else if (tag === TAG_CERT_INFO && info === undefined) info = value;
  }
  if (!certificate || certificate.length === 0) throw new MalformedDataError('certificate object has no certificate (tag 70)');
  const compressed = info !== undefined && info.length > 0 && (info[0]! & 0x01) === CERT_INFO_GZIP;
  if (!compressed) return { der: certificate, compressed: false };
  let der: Uint8Array;
  try {
    der = new Uint8Array(gunzipSync(certificate, { maxOutputLength: MAX_CERTIFICATE_LENGTH }));
  } catch (error) {
    throw new MalformedDataError('certificate object is marked gzip but does not decompress', { cause: error });
  }
  if (der.length === 0) throw new MalformedDataError('certificate object holds an empty compressed certificate');
  return { der, compressed: true };
}
