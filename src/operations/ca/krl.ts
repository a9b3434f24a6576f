/**
 * OpenSSH key revocation lists (PROTOCOL.krl), written and read here. Written: one certificate section for the
 * CA (serial lists and ranges, key ids), an explicit-key section. Never a signature section (OpenSSH 9.4+ refuses
 * KRLs carrying one). Read: every section type OpenSSH 9.2 reads, so `check-revoked` can judge any KRL like
 * `ssh-keygen -Q`: a key is revoked if its SHA-1/SHA-256 hash or blob is listed; a certificate also if its
 * key id or (non-zero) serial is revoked under its CA or under "any CA", or if its CA key is itself revoked.
 */
import { createHash } from 'node:crypto';
import { bytesEqual } from '../../bytes/hex.js';
import { MalformedDataError } from '../../bytes/errors.js';
import { SshReader, SshWriter } from '../../crypto/ssh-wire.js';
import { parseCertificate, plainKeyBlob } from './certificate.js';
import { blobKeyType, CERTIFICATE_TYPE_SUFFIX } from './key-blob.js';

const MAGIC = new Uint8Array([0x53, 0x53, 0x48, 0x4b, 0x52, 0x4c, 0x0a, 0x00]); // "SSHKRL\n\0"
const FORMAT_VERSION = 1;

export const KRL_SECTION = { CERTIFICATES: 1, EXPLICIT_KEY: 2, FINGERPRINT_SHA1: 3, SIGNATURE: 4, FINGERPRINT_SHA256: 5 } as const;
export const KRL_CERT_SECTION = { SERIAL_LIST: 0x20, SERIAL_RANGE: 0x21, SERIAL_BITMAP: 0x22, KEY_ID: 0x23 } as const;

/** An inclusive range of serials; a single serial is [n, n]. */
export interface SerialRange {
  from: bigint;
  to: bigint;
}

export interface KrlCertificateSection {
  /** The CA's public key blob; empty means "certificates of any CA". */
  caKeyBlob: Uint8Array;
  serials: SerialRange[];
  keyIds: string[];
}

export interface Krl {
  version: bigint;
  /** Seconds since the epoch. */
  generatedDate: bigint;
  comment: string;
  certificates: KrlCertificateSection[];
  explicitKeys: Uint8Array[];
  sha1Fingerprints: Uint8Array[];
  sha256Fingerprints: Uint8Array[];
}

/** Runs of three or more serials become a range section (16 bytes); shorter ones go into a list (8 bytes each). */
const MIN_RANGE_RUN = 3n;

/** Sorted, overlapping and adjacent ranges merged. */
export function mergeSerialRanges(ranges: readonly SerialRange[]): SerialRange[] {
  const sorted = [...ranges].sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
  const merged: SerialRange[] = [];
  for (const range of sorted) {
    if (range.to < range.from) throw new RangeError(`serial range ${range.from}-${range.to} is backwards`);
    const last = merged[merged.length - 1];
    if (last && range.from <= last.to + 1n) last.to = range.to > last.to ? range.to : last.to;
    else merged.push({ ...range });
  }
  return merged;
}

function encodeCertificateSection(section: KrlCertificateSection): Uint8Array {
  const writer = new SshWriter().string(section.caKeyBlob).string(new Uint8Array(0));
  const list = new SshWriter();
  let listed = 0;
  for (const range of mergeSerialRanges(section.serials)) {
    if (range.from === 0n) throw new RangeError('serial 0 cannot be revoked by serial');
    if (range.to - range.from + 1n >= MIN_RANGE_RUN) {
      writer.byte(KRL_CERT_SECTION.SERIAL_RANGE).string(new SshWriter().uint64(range.from).uint64(range.to).bytes());
    } else {
      for (let serial = range.from; serial <= range.to; serial++) {
        list.uint64(serial);
        listed++;
      }
    }
  }
  if (listed > 0) writer.byte(KRL_CERT_SECTION.SERIAL_LIST).string(list.bytes());
  const keyIds = [...new Set(section.keyIds)].sort();
  if (keyIds.length > 0) {
    const ids = new SshWriter();
    for (const id of keyIds) ids.string(id);
    writer.byte(KRL_CERT_SECTION.KEY_ID).string(ids.bytes());
  }
  return writer.bytes();
}

function sortedBlobs(blobs: readonly Uint8Array[]): Uint8Array[] {
  return [...blobs].sort((a, b) => Buffer.compare(a, b)); // Buffer.compare takes any Uint8Array: no copy per comparison
}

export function encodeKrl(krl: Krl): Uint8Array {
  const writer = new SshWriter()
    .raw(MAGIC)
    .uint32(FORMAT_VERSION)
    .uint64(krl.version)
    .uint64(krl.generatedDate)
    .uint64(0n) // flags: none defined
    .string(new Uint8Array(0)) // reserved
    .string(krl.comment);
  for (const section of krl.certificates) {
    if (section.serials.length === 0 && section.keyIds.length === 0) continue;
    writer.byte(KRL_SECTION.CERTIFICATES).string(encodeCertificateSection(section));
  }
  const blobSection = (type: number, blobs: readonly Uint8Array[]): void => {
    if (blobs.length === 0) return;
    const body = new SshWriter();
    // Hash sections must be in numeric order (PROTOCOL.krl §4); keys are sorted too, for a stable file.
    for (const blob of sortedBlobs(blobs)) body.string(blob);
    writer.byte(type).string(body.bytes());
  };
  blobSection(KRL_SECTION.EXPLICIT_KEY, krl.explicitKeys.map(plainKeyBlob));
  blobSection(KRL_SECTION.FINGERPRINT_SHA1, krl.sha1Fingerprints);
  blobSection(KRL_SECTION.FINGERPRINT_SHA256, krl.sha256Fingerprints);
  return writer.bytes();
}

/**
 * Bit N of the mpint bitmap (N = 0 is the least significant bit) revokes serial offset + N. Runs of set bits become
 * one range each, appended to `serials` one by one: a dense bitmap holds millions of serials, more than a spread
 * (`push(...list)`) can pass as arguments.
 */
function appendBitmapSerials(serials: SerialRange[], offset: bigint, bitmap: Uint8Array): void {
  let run: SerialRange | undefined;
  for (let byteIndex = 0; byteIndex < bitmap.length; byteIndex++) {
    const byte = bitmap[bitmap.length - 1 - byteIndex]!;
    for (let bit = 0; bit < 8; bit++) {
      if (((byte >> bit) & 1) === 0) {
        run = undefined;
        continue;
      }
      const serial = offset + BigInt(byteIndex * 8 + bit);
      if (serial > 0xffffffffffffffffn) throw new MalformedDataError('KRL serial bitmap wraps past 2^64');
      if (run === undefined) {
        run = { from: serial, to: serial };
        serials.push(run);
      } else {
        run.to = serial;
      }
    }
  }
}

function decodeCertificateSection(data: Uint8Array): KrlCertificateSection {
  const reader = new SshReader(data, 'KRL certificate section');
  const caKeyBlob = reader.string();
  reader.string(); // reserved
  const section: KrlCertificateSection = { caKeyBlob, serials: [], keyIds: [] };
  while (!reader.atEnd()) {
    const type = reader.byte();
    const body = new SshReader(reader.string(), `KRL certificate subsection ${type}`);
    switch (type) {
      case KRL_CERT_SECTION.SERIAL_LIST:
        while (!body.atEnd()) {
          const serial = body.uint64();
          section.serials.push({ from: serial, to: serial });
        }
        break;
      case KRL_CERT_SECTION.SERIAL_RANGE: {
        const from = body.uint64();
        const to = body.uint64();
        if (to < from) throw new MalformedDataError('KRL serial range is backwards');
        section.serials.push({ from, to });
        break;
      }
      case KRL_CERT_SECTION.SERIAL_BITMAP: {
        const offset = body.uint64();
        appendBitmapSerials(section.serials, offset, body.mpint());
        break;
      }
      case KRL_CERT_SECTION.KEY_ID:
        while (!body.atEnd()) section.keyIds.push(body.text());
        break;
      default:
        throw new MalformedDataError(`unsupported KRL certificate section ${type}`);
    }
    body.end();
  }
  return section;
}

export function decodeKrl(data: Uint8Array): Krl {
  if (data.length < MAGIC.length || !bytesEqual(data.subarray(0, MAGIC.length), MAGIC)) throw new MalformedDataError('not a KRL (no SSHKRL magic)');
  const reader = new SshReader(data.subarray(MAGIC.length), 'KRL');
  const format = reader.uint32();
  if (format !== FORMAT_VERSION) throw new MalformedDataError(`KRL format version ${format} is not supported`);
  const krl: Krl = {
    version: reader.uint64(),
    generatedDate: reader.uint64(),
    comment: '',
    certificates: [],
    explicitKeys: [],
    sha1Fingerprints: [],
    sha256Fingerprints: [],
  };
  reader.uint64(); // flags
  reader.string(); // reserved
  krl.comment = reader.text();
  while (!reader.atEnd()) {
    const type = reader.byte();
    if (type === KRL_SECTION.SIGNATURE) throw new MalformedDataError('the KRL carries a signature section, which OpenSSH 9.4+ refuses');
    const body = reader.string();
    /** Appends each string of the section to `list` one by one (a hash section may list millions: no spread). */
    const appendBlobs = (list: Uint8Array[], what: string, length?: number): void => {
      const inner = new SshReader(body, what);
      while (!inner.atEnd()) {
        const item = inner.string();
        if (length !== undefined && item.length !== length) throw new MalformedDataError(`${what}: a hash of ${item.length} bytes`);
        list.push(item);
      }
    };
    switch (type) {
      case KRL_SECTION.CERTIFICATES:
        krl.certificates.push(decodeCertificateSection(body));
        break;
      case KRL_SECTION.EXPLICIT_KEY:
        appendBlobs(krl.explicitKeys, 'KRL explicit key section');
        break;
      case KRL_SECTION.FINGERPRINT_SHA1:
        appendBlobs(krl.sha1Fingerprints, 'KRL SHA-1 section', 20);
        break;
      case KRL_SECTION.FINGERPRINT_SHA256:
        appendBlobs(krl.sha256Fingerprints, 'KRL SHA-256 section', 32);
        break;
      default:
        throw new MalformedDataError(`unsupported KRL section ${type}`);
    }
  }
  return krl;
}

const contains = (list: readonly Uint8Array[], item: Uint8Array): boolean => list.some((entry) => bytesEqual(entry, item));
const hash = (name: 'sha1' | 'sha256', data: Uint8Array): Uint8Array => new Uint8Array(createHash(name).update(data).digest());

/** Why a key or certificate is revoked, or undefined when it is not. */
export function revocationReason(krl: Krl, blob: Uint8Array): string | undefined {
  const plain = plainKeyBlob(blob);
  if (contains(krl.sha1Fingerprints, hash('sha1', plain))) return 'key SHA-1 hash';
  if (contains(krl.sha256Fingerprints, hash('sha256', plain))) return 'key SHA-256 hash';
  if (contains(krl.explicitKeys, plain)) return 'key';
  if (!blobKeyType(blob).endsWith(CERTIFICATE_TYPE_SUFFIX)) return undefined;
  const certificate = parseCertificate(blob);
  for (const section of krl.certificates) {
    if (section.caKeyBlob.length > 0 && !bytesEqual(section.caKeyBlob, certificate.caPublicKeyBlob)) continue;
    if (section.keyIds.includes(certificate.keyId)) return `key id "${certificate.keyId}"`;
    // Serial 0 is what a CA writes when it gives none: it is never matched (krl.c does the same).
    if (certificate.serial !== 0n && section.serials.some((r) => r.from <= certificate.serial && certificate.serial <= r.to)) return `serial ${certificate.serial}`;
  }
  const caReason = revocationReason(krl, certificate.caPublicKeyBlob);
  return caReason === undefined ? undefined : `CA ${caReason}`;
}
