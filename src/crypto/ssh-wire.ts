/**
 * The SSH wire encoding (RFC 4251 §5): byte, boolean, uint32, uint64, string, mpint and name-list.
 * Certificates (PROTOCOL.certkeys), KRLs (PROTOCOL.krl), key blobs and OpenSSH key files are all built from these.
 * uint64 is a bigint: certificate serials and validity times use the full 64 bits.
 */
import { MalformedDataError } from '../bytes/errors.js';

const UINT64_MAX = (1n << 64n) - 1n;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/**
 * The mpint body of a non-negative big-endian integer: leading zeros dropped, and a zero byte put back in front
 * when the top bit is set (else it would read as negative). Zero is the empty string.
 */
export function mpintBody(unsigned: Uint8Array): Uint8Array {
  let start = 0;
  while (start < unsigned.length && unsigned[start] === 0) start++;
  const trimmed = unsigned.subarray(start);
  if (trimmed.length === 0) return new Uint8Array(0);
  if ((trimmed[0]! & 0x80) === 0) return trimmed.slice();
  const out = new Uint8Array(trimmed.length + 1);
  out.set(trimmed, 1);
  return out;
}

export class SshWriter {
  private chunks: Uint8Array[] = [];
  private length = 0;

  private push(bytes: Uint8Array): this {
    this.chunks.push(bytes);
    this.length += bytes.length;
    return this;
  }

  byte(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xff) throw new RangeError(`not a byte: ${value}`);
    return this.push(Uint8Array.of(value));
  }

  boolean(value: boolean): this {
    return this.byte(value ? 1 : 0);
  }

  uint32(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`not a uint32: ${value}`);
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, value);
    return this.push(out);
  }

  uint64(value: bigint): this {
    if (value < 0n || value > UINT64_MAX) throw new RangeError(`not a uint64: ${value}`);
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, value);
    return this.push(out);
  }

  /** Bytes as they are, without a length (magic numbers, padding). */
  raw(bytes: Uint8Array): this {
    return this.push(bytes.slice());
  }

  /** A length-prefixed byte string; text is written as UTF-8. */
  string(value: Uint8Array | string): this {
    const bytes = typeof value === 'string' ? textEncoder.encode(value) : value;
    return this.uint32(bytes.length).raw(bytes);
  }

  /** A non-negative integer given as unsigned big-endian bytes (or a bigint). */
  mpint(value: Uint8Array | bigint): this {
    if (typeof value === 'bigint') {
      if (value < 0n) throw new RangeError('negative mpints are not used here');
      const hex = value.toString(16);
      value = Uint8Array.from(Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex'));
    }
    return this.string(mpintBody(value));
  }

  /** Comma-separated names in one string (RFC 4251 name-list). */
  nameList(names: readonly string[]): this {
    for (const name of names) if (name === '' || name.includes(',')) throw new RangeError(`not a name-list member: "${name}"`);
    return this.string(names.join(','));
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}

/** Reads the same encoding back; any overrun or trailing garbage is a MalformedDataError naming `what`. */
export class SshReader {
  private offset = 0;
  private readonly view: DataView;

  constructor(
    private readonly data: Uint8Array,
    private readonly what = 'SSH data',
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  get remaining(): number {
    return this.data.length - this.offset;
  }

  get position(): number {
    return this.offset;
  }

  atEnd(): boolean {
    return this.remaining === 0;
  }

  /** Insists that everything was read. */
  end(): void {
    if (!this.atEnd()) throw new MalformedDataError(`${this.what}: ${this.remaining} unexpected byte(s) at the end`);
  }

  private need(count: number): number {
    if (count > this.remaining) throw new MalformedDataError(`${this.what}: truncated (${count} byte(s) wanted, ${this.remaining} left)`);
    const at = this.offset;
    this.offset += count;
    return at;
  }

  byte(): number {
    return this.view.getUint8(this.need(1));
  }

  boolean(): boolean {
    return this.byte() !== 0;
  }

  uint32(): number {
    return this.view.getUint32(this.need(4));
  }

  uint64(): bigint {
    return this.view.getBigUint64(this.need(8));
  }

  raw(count: number): Uint8Array {
    const at = this.need(count);
    return this.data.slice(at, at + count);
  }

  string(): Uint8Array {
    return this.raw(this.uint32());
  }

  /** A string that must be valid UTF-8 text. */
  text(): string {
    try {
      return textDecoder.decode(this.string());
    } catch (error) {
      if (error instanceof MalformedDataError) throw error;
      throw new MalformedDataError(`${this.what}: a text field is not UTF-8`);
    }
  }

  /** A non-negative mpint, as unsigned big-endian bytes without leading zeros (zero is empty). */
  mpint(): Uint8Array {
    const body = this.string();
    if (body.length > 0 && (body[0]! & 0x80) !== 0) throw new MalformedDataError(`${this.what}: negative mpint`);
    if (body.length > 1 && body[0] === 0 && (body[1]! & 0x80) === 0) throw new MalformedDataError(`${this.what}: mpint with a needless leading zero`);
    return body[0] === 0 ? body.slice(1) : body;
  }

  nameList(): string[] {
    const text = this.text();
    return text === '' ? [] : text.split(',');
  }
}
