/**
 * BER-TLV as PIV uses it (ISO 7816-4 §5.2 / SP 800-73-4 part 2 appendix A): tags of one or more bytes
 * (low five bits all set in the first byte means "more tag bytes follow while bit 8 is set"), lengths in
 * short form (< 0x80) or long form (0x81 LL, 0x82 LL LL, 0x83 …). Parsing never reads past the buffer:
 * anything that does not add up is a MalformedDataError.
 */
import { MalformedDataError } from './errors.js';
import { concatBytes } from './hex.js';

export interface Tlv {
  tag: number;
  value: Uint8Array;
}

const MAX_TAG_BYTES = 3;
const MAX_LENGTH_BYTES = 3;

export function encodeTag(tag: number): Uint8Array {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xffffff) throw new RangeError(`tag out of range: ${tag}`);
  if (tag <= 0xff) return Uint8Array.of(tag);
  if (tag <= 0xffff) return Uint8Array.of(tag >> 8, tag & 0xff);
  return Uint8Array.of(tag >> 16, (tag >> 8) & 0xff, tag & 0xff);
}

export function encodeLength(length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > 0xffffff) throw new RangeError(`length out of range: ${length}`);
  if (length < 0x80) return Uint8Array.of(length);
  if (length <= 0xff) return Uint8Array.of(0x81, length);
  if (length <= 0xffff) return Uint8Array.of(0x82, length >> 8, length & 0xff);
  return Uint8Array.of(0x83, length >> 16, (length >> 8) & 0xff, length & 0xff);
}

export function encodeTlv(tag: number, value: Uint8Array = new Uint8Array(0)): Uint8Array {
  return concatBytes(encodeTag(tag), encodeLength(value.length), value);
}

/** Encodes several TLVs one after the other; undefined entries are skipped (optional fields). */
export function encodeTlvs(entries: ReadonlyArray<readonly [number, Uint8Array] | undefined>): Uint8Array {
  return concatBytes(...entries.filter((e): e is readonly [number, Uint8Array] => e !== undefined).map(([t, v]) => encodeTlv(t, v)));
}

interface Read {
  tlv: Tlv;
  next: number;
}

function readTlv(bytes: Uint8Array, start: number): Read {
  let pos = start;
  const need = (n: number, what: string): void => {
    if (pos + n > bytes.length) {
      throw new MalformedDataError(`TLV truncated: ${what} at offset ${pos} needs ${n} byte(s), ${bytes.length - pos} left`);
    }
  };
  need(1, 'tag');
  let tag = bytes[pos++]!;
  if ((tag & 0x1f) === 0x1f) {
    let count = 1;
    for (;;) {
      need(1, 'tag continuation');
      const b = bytes[pos++]!;
      tag = tag * 256 + b;
      count++;
      if (count > MAX_TAG_BYTES) throw new MalformedDataError(`TLV tag longer than ${MAX_TAG_BYTES} bytes at offset ${start}`);
      if ((b & 0x80) === 0) break;
    }
  }
  need(1, 'length');
  const first = bytes[pos++]!;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else if (first === 0x80) {
    throw new MalformedDataError(`indefinite TLV length at offset ${pos - 1}`);
  } else {
    const n = first & 0x7f;
    if (n > MAX_LENGTH_BYTES) throw new MalformedDataError(`TLV length of ${n} bytes at offset ${pos - 1}`);
    need(n, 'long-form length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + bytes[pos++]!;
  }
  need(length, 'value');
  return { tlv: { tag, value: bytes.subarray(pos, pos + length) }, next: pos + length };
}

/** Parses a buffer that must consist of whole TLVs, nothing else. */
export function parseTlvs(bytes: Uint8Array): Tlv[] {
  const out: Tlv[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const { tlv, next } = readTlv(bytes, pos);
    out.push(tlv);
    pos = next;
  }
  return out;
}

/** Parses whole TLVs into a map by tag; a repeated tag is malformed in every PIV structure we read. */
export function parseTlvMap(bytes: Uint8Array): Map<number, Uint8Array> {
  const map = new Map<number, Uint8Array>();
  for (const { tag, value } of parseTlvs(bytes)) {
    if (map.has(tag)) throw new MalformedDataError(`TLV tag ${tag.toString(16).toUpperCase()} repeated`);
    map.set(tag, value);
  }
  return map;
}

/** The value of a buffer that is exactly one TLV with the given tag. */
export function unwrapTlv(bytes: Uint8Array, expectedTag: number, what = 'data'): Uint8Array {
  const { tlv, next } = readTlv(bytes, 0);
  if (tlv.tag !== expectedTag) {
    throw new MalformedDataError(`${what}: expected tag ${expectedTag.toString(16).toUpperCase()}, got ${tlv.tag.toString(16).toUpperCase()}`);
  }
  if (next !== bytes.length) throw new MalformedDataError(`${what}: ${bytes.length - next} trailing byte(s) after tag ${expectedTag.toString(16).toUpperCase()}`);
  return tlv.value;
}

/** The value of one TLV at the start of the buffer, ignoring what follows (for objects padded by some writers). */
export function unwrapLeadingTlv(bytes: Uint8Array, expectedTag: number, what = 'data'): Uint8Array {
  const { tlv } = readTlv(bytes, 0);
  if (tlv.tag !== expectedTag) {
    throw new MalformedDataError(`${what}: expected tag ${expectedTag.toString(16).toUpperCase()}, got ${tlv.tag.toString(16).toUpperCase()}`);
  }
  return tlv.value;
}

export function requireTag(map: Map<number, Uint8Array>, tag: number, what: string): Uint8Array {
  const value = map.get(tag);
  if (value === undefined) throw new MalformedDataError(`${what}: tag ${tag.toString(16).toUpperCase()} missing`);
  return value;
}
