/**
 * CHUID (5FC102) and Card Capability Container (5FC107) contents, as ykman and yubico-piv-tool write them.
 * Windows caches card contents by the CHUID GUID: a fresh GUID after every certificate change makes it re-read.
 */
import { MalformedDataError } from '../bytes/errors.js';
import { concatBytes, fromHex } from '../bytes/hex.js';
import { encodeTlvs, parseTlvs } from '../bytes/tlv.js';

/** FASC-N of "agency 9999, system 9999, credential 999999" (SP 800-73-4 / TIG), the value every YubiKey tool uses. */
export const DEFAULT_FASC_N = fromHex('D4E739DA739CED39CE739D836858210842108421C84210C3EB');
/** Expiration date field: YYYYMMDD. */
export const DEFAULT_CHUID_EXPIRY = '20300101';

export function encodeChuid(guid: Uint8Array, expiry = DEFAULT_CHUID_EXPIRY): Uint8Array {
  if (guid.length !== 16) throw new RangeError('CHUID GUID must be 16 bytes');
  if (!/^\d{8}$/.test(expiry)) throw new RangeError('CHUID expiry must be YYYYMMDD');
  return encodeTlvs([
    [0x30, DEFAULT_FASC_N],
    [0x34, guid],
    [0x35, new TextEncoder().encode(expiry)],
    [0x3e, new Uint8Array(0)], // issuer asymmetric signature: empty (unsigned CHUID)
    [0xfe, new Uint8Array(0)],
  ]);
}

export function chuidGuid(content: Uint8Array): Uint8Array {
  const guid = parseTlvs(content).find((t) => t.tag === 0x34)?.value;
  if (!guid || guid.length !== 16) throw new MalformedDataError('CHUID has no 16-byte GUID (tag 34)');
  return guid;
}

/** CCC with a random 14-byte card identifier after the registered prefix A0 00 00 01 16 FF 02. */
export function encodeCcc(cardIdentifier: Uint8Array): Uint8Array {
  if (cardIdentifier.length !== 14) throw new RangeError('CCC card identifier must be 14 bytes');
  return concatBytes(
    encodeTlvs([[0xf0, concatBytes(fromHex('A0000001 16 FF 02'.replace(/ /g, '')), cardIdentifier)]]),
    fromHex('F10121 F20121 F300 F40100 F50110 F600 F700 FA00 FB00 FC00 FD00 FE00'.replace(/ /g, '')),
  );
}
