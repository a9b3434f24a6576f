/**
 * Everything a virtual YubiKey remembers across power cycles, as plain JSON-able data.
 * TEST-ONLY: private keys, PIN, PUK and management key are stored in clear. A virtual card plays a
 * card for tests and demonstrations; it protects nothing.
 */
import { generateKeyPairSync, type KeyObject, createPrivateKey } from 'node:crypto';
import { toHex } from '../../bytes/hex.js';
import { MANAGEMENT_KEY_ALGORITHM } from '../../standards/algorithms.js';
import { FACTORY_MANAGEMENT_KEY_HEX, FACTORY_PIN, FACTORY_PUK, FACTORY_RETRIES } from '../../standards/factory-defaults.js';
import { defaultManagementKeyAlgorithm, formatFirmwareVersion, type FirmwareVersion } from '../../standards/firmware.js';

export const STATE_FORMAT = 'piv-enroll-virtual-card/1';
export const STATE_WARNING =
  'TEST-ONLY virtual YubiKey made by piv-enroll. It holds private keys, PIN, PUK and management key in clear: never put real credentials on it.';


export interface CredentialState {
  /** The PIN or PUK as its 8-byte FF-padded form, hex. */
  paddedHex: string;
  retriesTotal: number;
  retriesLeft: number;
}

export interface ManagementKeyState {
  algorithm: number;
  keyHex: string;
  touchRequired: boolean;
}

export interface KeySlotState {
  algorithm: number;
  /** PKCS#8 DER, base64. */
  privateKeyPkcs8: string;
  /** Resolved policies (never DEFAULT): what metadata reports and what the card enforces. */
  pinPolicy: number;
  touchPolicy: number;
  origin: 'generated' | 'imported';
}

export interface CardState {
  format: typeof STATE_FORMAT;
  warning: string;
  firmware: string;
  serial: number;
  /** YubiKey form factor byte as attestation reports it (1 = USB-A keychain). */
  formFactor: number;
  pin: CredentialState;
  puk: CredentialState;
  managementKey: ManagementKeyState;
  /** Key slot (two hex digits) → key. */
  keys: Record<string, KeySlotState>;
  /** Object id (hex) → content of its 53 wrapper (hex). */
  objects: Record<string, string>;
  /** Touches the card has "seen" (auto-approved), so tests can tell a touch policy was applied. */
  touchCount: number;
}

export function padCredential(text: string): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  const out = new Uint8Array(8).fill(0xff);
  out.set(bytes.subarray(0, 8));
  return out;
}

export function factoryCredentials(): Pick<CardState, 'pin' | 'puk'> {
  return {
    pin: { paddedHex: toHex(padCredential(FACTORY_PIN)), retriesTotal: FACTORY_RETRIES, retriesLeft: FACTORY_RETRIES },
    puk: { paddedHex: toHex(padCredential(FACTORY_PUK)), retriesTotal: FACTORY_RETRIES, retriesLeft: FACTORY_RETRIES },
  };
}

export function factoryManagementKey(firmware: FirmwareVersion): ManagementKeyState {
  return {
    algorithm: MANAGEMENT_KEY_ALGORITHM[defaultManagementKeyAlgorithm(firmware)],
    keyHex: FACTORY_MANAGEMENT_KEY_HEX,
    touchRequired: false,
  };
}

export function encodePrivateKey(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'der' }).toString('base64');
}

export function decodePrivateKey(slot: KeySlotState): KeyObject {
  return createPrivateKey({ key: Buffer.from(slot.privateKeyPkcs8, 'base64'), format: 'der', type: 'pkcs8' });
}

export function newFactoryState(firmware: FirmwareVersion, serial: number, formFactor = 1): CardState {
  return {
    format: STATE_FORMAT,
    warning: STATE_WARNING,
    firmware: formatFirmwareVersion(firmware),
    serial,
    formFactor,
    ...factoryCredentials(),
    managementKey: factoryManagementKey(firmware),
    keys: {},
    objects: {},
    touchCount: 0,
  };
}

/** Generates the RSA-2048 attestation key a YubiKey carries from the factory. */
export function newAttestationKey(): KeyObject {
  return generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 }).privateKey;
}

/** State keys: slots as two upper-case hex digits ("9C"), objects as upper-case hex ("5FC10A"). */
export function slotKey(slot: number): string {
  return slot.toString(16).toUpperCase().padStart(2, '0');
}

export function objectKey(objectId: number): string {
  return objectId.toString(16).toUpperCase();
}
