/**
 * Reads a YubiKey's Management application (what ykman identifies a YubiKey by): firmware, serial, form
 * factor and the applications it supports and has enabled. Beside the PIV session, over the same transport.
 * Selecting Management leaves PIV: whoever holds a PivSession on the card reselects PIV afterwards.
 * Protocol facts from yubikit/management.py (_ManagementSmartCardBackend, DeviceInfo.parse, read_device_info).
 */
import { MalformedDataError } from '../bytes/errors.js';
import { DEFAULT_FRAMING, transceive } from '../bytes/framing.js';
import { readUint } from '../bytes/hex.js';
import { parseTlvMap } from '../bytes/tlv.js';
import type { FirmwareVersion } from '../standards/firmware.js';
import { INS } from '../standards/instructions.js';
import { DEVICE_INFO_TAG, MANAGEMENT_AID, MANAGEMENT_INS } from '../standards/management.js';
import { SW } from '../standards/status-words.js';
import type { CardTransport } from '../transport/transport.js';
import { errorForStatus } from './status-translation.js';

export interface DeviceInfo {
  /** The firmware the SELECT answer names (ASCII "5.7.2"), or the VERSION tag when the card sends one. */
  firmware: FirmwareVersion;
  serial?: number;
  /** Form factor code (src/standards/management.ts FORM_FACTOR), FIPS/Security Key bits removed. */
  formFactor: number;
  isFips: boolean;
  isSecurityKey: boolean;
  /** Capability bits per transport (src/standards/management.ts CAPABILITY). NFC fields absent on USB-only keys. */
  usbSupported: number;
  usbEnabled?: number;
  nfcSupported?: number;
  nfcEnabled?: number;
  deviceFlags?: number;
  configLocked: boolean;
}

/** Status words with which a card says it has no such application (yubikit SmartCardProtocol.select). */
const NO_APPLICATION = new Set<number>([SW.FILE_NOT_FOUND, SW.INS_NOT_SUPPORTED, SW.WRONG_P1P2, SW.INCORRECT_P1P2]);
/** A card that keeps announcing pages is broken; yubikit has no bound, we stop here. */
const MAX_DEVICE_INFO_PAGES = 8;
const VERSION_IN_TEXT = /\b(\d+)\.(\d)\.(\d)\b/;

/**
 * SELECTs the Management application and reads GET DEVICE INFO, page by page while the card announces more.
 * Undefined when the card has no Management application or no device info (not a YubiKey, or one before 4.1).
 */
export async function readDeviceInfo(transport: CardTransport): Promise<DeviceInfo | undefined> {
  const send = (ins: number, p1: number, data?: Uint8Array) => transceive((apdu) => transport.transmit(apdu), { cla: 0, ins, p1, p2: 0, data }, DEFAULT_FRAMING);
  const selected = await send(INS.SELECT, 0x04, MANAGEMENT_AID);
  if (NO_APPLICATION.has(selected.sw)) return undefined;
  if (selected.sw !== SW.SUCCESS) throw errorForStatus(selected.sw, { what: 'selecting the Management application' });
  const selectVersion = parseSelectVersion(selected.data);
  const tlvs = new Map<number, Uint8Array>();
  for (let page = 0, more = 1; more > 0; page++) {
    if (page >= MAX_DEVICE_INFO_PAGES) throw new MalformedDataError(`${transport.name}: device info keeps announcing more pages`);
    const response = await send(MANAGEMENT_INS.READ_CONFIG, page);
    if (page === 0 && response.sw === SW.INS_NOT_SUPPORTED) return undefined;
    if (response.sw !== SW.SUCCESS) throw errorForStatus(response.sw, { what: `reading device info page ${page}` });
    const pageTlvs = parsePage(response.data);
    const announced = pageTlvs.get(DEVICE_INFO_TAG.MORE_DATA);
    pageTlvs.delete(DEVICE_INFO_TAG.MORE_DATA);
    more = announced ? readUint(announced) : 0;
    for (const [tag, value] of pageTlvs) tlvs.set(tag, value);
  }
  return deviceInfoFromTlvs(tlvs, selectVersion);
}

/** The version in the SELECT answer: ASCII such as "5.7.2" (some keys add words around it; a YubiKey Edge appends 9000). */
export function parseSelectVersion(data: Uint8Array): FirmwareVersion | undefined {
  const match = VERSION_IN_TEXT.exec(new TextDecoder('latin1').decode(data));
  return match ? { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]) } : undefined;
}

/** One page: a length byte that counts the rest exactly, then TLVs. */
function parsePage(data: Uint8Array): Map<number, Uint8Array> {
  if (data.length === 0 || data[0] !== data.length - 1) throw new MalformedDataError('device info: the length byte does not match the page');
  return parseTlvMap(data.subarray(1));
}

export function deviceInfoFromTlvs(tlvs: Map<number, Uint8Array>, selectVersion: FirmwareVersion | undefined): DeviceInfo {
  const number = (tag: number): number | undefined => {
    const value = tlvs.get(tag);
    return value === undefined || value.length === 0 ? undefined : readUint(value);
  };
  const versionBytes = tlvs.get(DEVICE_INFO_TAG.VERSION);
  const firmware = versionBytes?.length === 3 ? { major: versionBytes[0]!, minor: versionBytes[1]!, patch: versionBytes[2]! } : selectVersion;
  if (!firmware) throw new MalformedDataError('device info: no firmware version, neither in the SELECT answer nor in the VERSION tag');
  const usbSupported = number(DEVICE_INFO_TAG.USB_SUPPORTED);
  if (usbSupported === undefined) throw new MalformedDataError('device info: no USB capabilities');
  const formFactorByte = number(DEVICE_INFO_TAG.FORM_FACTOR) ?? 0;
  const serial = number(DEVICE_INFO_TAG.SERIAL);
  return {
    firmware,
    serial: serial ? serial : undefined,
    formFactor: formFactorByte & 0x0f,
    isFips: (formFactorByte & 0x80) !== 0,
    isSecurityKey: (formFactorByte & 0x40) !== 0,
    usbSupported,
    usbEnabled: number(DEVICE_INFO_TAG.USB_ENABLED),
    nfcSupported: number(DEVICE_INFO_TAG.NFC_SUPPORTED),
    nfcEnabled: number(DEVICE_INFO_TAG.NFC_ENABLED),
    deviceFlags: number(DEVICE_INFO_TAG.DEVICE_FLAGS),
    configLocked: number(DEVICE_INFO_TAG.CONFIG_LOCK) === 1,
  };
}
