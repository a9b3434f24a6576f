/**
 * ISO 7816-4 command and response APDUs, short and extended length. The host encodes; the virtual card
 * decodes, strictly: a command whose length bytes do not add up is refused, as a real card refuses it.
 */
import { MalformedDataError } from './errors.js';

export interface CommandApdu {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  data?: Uint8Array;
  /** Expected response length; 256 (short) or 65536 (extended) mean "as much as there is". Absent: no Le field. */
  le?: number;
}

export interface ResponseApdu {
  data: Uint8Array;
  sw: number;
}

export const SHORT_MAX_DATA = 255;
export const SHORT_MAX_LE = 256;
export const EXTENDED_MAX_DATA = 65535;
export const EXTENDED_MAX_LE = 65536;

function header(cmd: CommandApdu): number[] {
  for (const [name, v] of [['CLA', cmd.cla], ['INS', cmd.ins], ['P1', cmd.p1], ['P2', cmd.p2]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`${name} is not a byte: ${v}`);
  }
  return [cmd.cla, cmd.ins, cmd.p1, cmd.p2];
}

export function encodeShortApdu(cmd: CommandApdu): Uint8Array {
  const data = cmd.data ?? new Uint8Array(0);
  if (data.length > SHORT_MAX_DATA) throw new RangeError(`short APDU data of ${data.length} bytes (max ${SHORT_MAX_DATA})`);
  const out = [...header(cmd)];
  if (data.length > 0) out.push(data.length, ...data);
  if (cmd.le !== undefined) {
    if (!Number.isInteger(cmd.le) || cmd.le < 1 || cmd.le > SHORT_MAX_LE) throw new RangeError(`short APDU Le ${cmd.le}`);
    out.push(cmd.le & 0xff);
  }
  return Uint8Array.from(out);
}

export function encodeExtendedApdu(cmd: CommandApdu): Uint8Array {
  const data = cmd.data ?? new Uint8Array(0);
  if (data.length > EXTENDED_MAX_DATA) throw new RangeError(`extended APDU data of ${data.length} bytes`);
  const out = [...header(cmd)];
  if (data.length > 0) out.push(0x00, data.length >> 8, data.length & 0xff, ...data);
  if (cmd.le !== undefined) {
    if (!Number.isInteger(cmd.le) || cmd.le < 1 || cmd.le > EXTENDED_MAX_LE) throw new RangeError(`extended APDU Le ${cmd.le}`);
    const le = cmd.le & 0xffff;
    if (data.length === 0) out.push(0x00);
    out.push(le >> 8, le & 0xff);
  }
  return Uint8Array.from(out);
}

export interface DecodedCommand extends CommandApdu {
  data: Uint8Array;
  extended: boolean;
}

/** Decodes a command APDU the way a card must: every ISO case, nothing left over, nothing missing. */
export function decodeCommandApdu(bytes: Uint8Array): DecodedCommand {
  if (bytes.length < 4) throw new MalformedDataError(`command APDU of ${bytes.length} bytes`);
  const [cla, ins, p1, p2] = [bytes[0]!, bytes[1]!, bytes[2]!, bytes[3]!];
  const base = { cla, ins, p1, p2 };
  const n = bytes.length;
  if (n === 4) return { ...base, data: new Uint8Array(0), extended: false };
  const b4 = bytes[4]!;
  if (n === 5) return { ...base, data: new Uint8Array(0), le: b4 === 0 ? 256 : b4, extended: false };
  if (b4 !== 0) {
    if (n === 5 + b4) return { ...base, data: bytes.slice(5), extended: false };
    if (n === 6 + b4) {
      const le = bytes[n - 1]!;
      return { ...base, data: bytes.slice(5, 5 + b4), le: le === 0 ? 256 : le, extended: false };
    }
    throw new MalformedDataError(`short APDU: Lc ${b4} does not match ${n} bytes`);
  }
  // Extended length: a zero byte, then two length bytes.
  if (n < 7) throw new MalformedDataError(`APDU of ${n} bytes with an extended-length marker`);
  const word = (bytes[5]! << 8) | bytes[6]!;
  if (n === 7) return { ...base, data: new Uint8Array(0), le: word === 0 ? 65536 : word, extended: true };
  if (word === 0) throw new MalformedDataError('extended APDU with Lc of zero');
  if (n === 7 + word) return { ...base, data: bytes.slice(7), extended: true };
  if (n === 9 + word) {
    const le = (bytes[n - 2]! << 8) | bytes[n - 1]!;
    return { ...base, data: bytes.slice(7, 7 + word), le: le === 0 ? 65536 : le, extended: true };
  }
  throw new MalformedDataError(`extended APDU: Lc ${word} does not match ${n} bytes`);
}

export function decodeResponseApdu(bytes: Uint8Array): ResponseApdu {
  if (bytes.length < 2) throw new MalformedDataError(`response APDU of ${bytes.length} byte(s): no status word`);
  const n = bytes.length;
  return { data: bytes.slice(0, n - 2), sw: (bytes[n - 2]! << 8) | bytes[n - 1]! };
}

export function encodeResponseApdu(response: ResponseApdu): Uint8Array {
  const out = new Uint8Array(response.data.length + 2);
  out.set(response.data, 0);
  out[out.length - 2] = response.sw >> 8;
  out[out.length - 1] = response.sw & 0xff;
  return out;
}
