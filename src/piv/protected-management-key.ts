/**
 * The PIN-protected management key, in the format ykman and yubico-piv-tool share:
 * ADMIN DATA 5FFF00 `80{81 01 flags, [82 salt], [83 04 time]}` says a key is stored (flag 02),
 * PRINTED 5FC109 `88{89 key}` holds it, readable only after VERIFY PIN.
 * (piv-go and pivy write only the 5FC109 part; ykman then does not know the key is there.)
 */
import { MalformedDataError } from '../bytes/errors.js';
import { uintBytes, wipe } from '../bytes/hex.js';
import { encodeTlv, encodeTlvs, parseTlvMap, unwrapLeadingTlv } from '../bytes/tlv.js';
import type { ManagementKeyAlgorithmInfo } from '../standards/algorithms.js';
import { OBJECT } from '../standards/objects.js';
import { NotFoundError } from './errors.js';
import type { PivSession } from './session.js';

export const ADMIN_FLAG_PUK_BLOCKED = 0x01;
export const ADMIN_FLAG_MANAGEMENT_KEY_STORED = 0x02;

export interface AdminData {
  flags: number;
  /** Deprecated PIN-derived key salt (16 bytes), kept as found. */
  salt?: Uint8Array;
  /** The 4 timestamp bytes, kept as found: tools disagree on their byte order. */
  timestamp?: Uint8Array;
}

export function parseAdminData(content: Uint8Array): AdminData {
  const fields = parseTlvMap(unwrapLeadingTlv(content, 0x80, 'admin data'));
  const flags = fields.get(0x81);
  if (flags !== undefined && flags.length !== 1) throw new MalformedDataError('admin data: flags must be one byte');
  return { flags: flags?.[0] ?? 0, salt: fields.get(0x82), timestamp: fields.get(0x83) };
}

export function encodeAdminData(data: AdminData): Uint8Array {
  return encodeTlv(
    0x80,
    encodeTlvs([
      data.flags !== 0 ? [0x81, Uint8Array.of(data.flags)] : undefined,
      data.salt ? [0x82, data.salt] : undefined,
      data.timestamp ? [0x83, data.timestamp] : undefined,
    ]),
  );
}

export function encodeProtectedData(managementKey: Uint8Array): Uint8Array {
  return encodeTlv(0x88, encodeTlv(0x89, managementKey));
}

export function parseProtectedManagementKey(content: Uint8Array): Uint8Array | undefined {
  return parseTlvMap(unwrapLeadingTlv(content, 0x88, 'protected data')).get(0x89);
}

export async function readAdminData(session: PivSession): Promise<AdminData> {
  try {
    return parseAdminData(await session.getObject(OBJECT.ADMIN_DATA));
  } catch (error) {
    if (error instanceof NotFoundError) return { flags: 0 };
    throw error;
  }
}

/** Whether the card says a PIN-protected management key is stored (no PIN needed to ask). */
export async function hasProtectedManagementKey(session: PivSession): Promise<boolean> {
  return ((await readAdminData(session)).flags & ADMIN_FLAG_MANAGEMENT_KEY_STORED) !== 0;
}

/** Reads the stored management key. The PIN must be verified first. */
export async function readProtectedManagementKey(session: PivSession): Promise<Uint8Array> {
  let content: Uint8Array;
  try {
    content = await session.getObject(OBJECT.PRINTED);
  } catch (error) {
    if (error instanceof NotFoundError) throw new NotFoundError('the card holds no PIN-protected management key');
    throw error;
  }
  const key = parseProtectedManagementKey(content)?.slice(); // a copy: the buffer it came from is wiped
  wipe(content);
  if (!key || key.length === 0) throw new NotFoundError('the card holds no PIN-protected management key');
  return key;
}

/**
 * Sets a new management key and stores it PIN-protected. Needs the current management key authenticated
 * and the PIN verified. The order follows ykman: key first, then the flag, then the key copy.
 */
export async function storeProtectedManagementKey(
  session: PivSession,
  algorithm: ManagementKeyAlgorithmInfo,
  managementKey: Uint8Array,
  now: Date,
  requireTouch = false,
): Promise<void> {
  const previous = await readAdminData(session);
  await session.setManagementKey(algorithm, managementKey, requireTouch);
  const seconds = Math.floor(now.getTime() / 1000);
  await session.putObject(
    OBJECT.ADMIN_DATA,
    encodeAdminData({
      flags: previous.flags | ADMIN_FLAG_MANAGEMENT_KEY_STORED,
      salt: undefined, // a PIN-derived key no longer applies once a random key is stored
      timestamp: uintBytes(seconds, 4),
    }),
  );
  const protectedData = encodeProtectedData(managementKey);
  try {
    await session.putObject(OBJECT.PRINTED, protectedData);
  } finally {
    wipe(protectedData);
  }
}
