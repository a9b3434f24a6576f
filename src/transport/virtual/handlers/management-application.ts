/**
 * The virtual YubiKey's Management application, as a YubiKey 5 answers it over CCID: SELECT with the
 * firmware version as ASCII, GET DEVICE INFO as one length-prefixed page of TLVs. This is what ykman reads to
 * tell a YubiKey's firmware, serial, form factor and applications (yubikit/management.py: DeviceInfo.parse,
 * _ManagementSmartCardBackend), and what libykpiv 2.3+ selects to log out of PIV.
 *
 * SET DEVICE CONFIG (1C) and SET MODE (16) are not implemented: the virtual card answers them 6D00, as it does
 * any instruction it does not know. Its configuration is fixed (only PIV, over USB, never locked), so
 * CONFIG LOCK always reads 00.
 */
import { uintBytes } from '../../../bytes/hex.js';
import { encodeTlvs } from '../../../bytes/tlv.js';
import { atLeast, formatFirmwareVersion } from '../../../standards/firmware.js';
import { CAPABILITY, DEVICE_INFO_TAG } from '../../../standards/management.js';
import { SW } from '../../../standards/status-words.js';
import { CardStatus, freshVolatileState, type CardContext, type InstructionHandler } from '../card-context.js';

/** The applications the virtual card has: PIV only (no OTP, FIDO, OATH or OpenPGP applet answers). */
export const VIRTUAL_CARD_CAPABILITIES = CAPABILITY.PIV;

/** Device flags of a factory-fresh YubiKey 5: neither remote wake-up nor eject. */
const DEVICE_FLAGS_NONE = 0x00;
const CONFIG_UNLOCKED = 0x00;

/** SELECT of the Management AID: leaves PIV (its PIN and management-key state are lost) and answers "5.7.2". */
export function selectManagement(ctx: CardContext): Uint8Array {
  ctx.volatile = { ...freshVolatileState(), application: 'management' };
  return new TextEncoder().encode(formatFirmwareVersion(ctx.firmware));
}

/** The DEVICE INFO TLVs this firmware reports (YubiKey 4 lacks the enabled field, device flags and config lock). */
export function deviceInfoTlvs(ctx: CardContext): Uint8Array {
  const yubiKey5 = atLeast(ctx.firmware, 5, 0, 0);
  const { major, minor, patch } = ctx.firmware;
  return encodeTlvs([
    [DEVICE_INFO_TAG.USB_SUPPORTED, uintBytes(VIRTUAL_CARD_CAPABILITIES, 2)],
    [DEVICE_INFO_TAG.SERIAL, uintBytes(ctx.state.serial, 4)],
    yubiKey5 ? [DEVICE_INFO_TAG.USB_ENABLED, uintBytes(VIRTUAL_CARD_CAPABILITIES, 2)] : undefined,
    [DEVICE_INFO_TAG.FORM_FACTOR, Uint8Array.of(ctx.state.formFactor)],
    [DEVICE_INFO_TAG.VERSION, Uint8Array.of(major, minor, patch)],
    yubiKey5 ? [DEVICE_INFO_TAG.DEVICE_FLAGS, Uint8Array.of(DEVICE_FLAGS_NONE)] : undefined,
    yubiKey5 ? [DEVICE_INFO_TAG.CONFIG_LOCK, Uint8Array.of(CONFIG_UNLOCKED)] : undefined,
  ]);
}

/**
 * GET DEVICE INFO `00 1D <page> 00`: one byte of length, then the TLVs. Everything fits on page 0, so no
 * MORE DATA tag is sent and any other page is refused (6A86); so are command data (6700) and P2 ≠ 0 (6A86).
 * Before 4.1 there is no device info (ykman requires 4.1), so the instruction is unknown there (6D00).
 */
export const getDeviceInfo: InstructionHandler = (ctx, cmd) => {
  if (!atLeast(ctx.firmware, 4, 1, 0)) throw new CardStatus(SW.INS_NOT_SUPPORTED, 'no device info before 4.1');
  if (cmd.p1 !== 0x00 || cmd.p2 !== 0x00) throw new CardStatus(SW.INCORRECT_P1P2, 'only page 0 exists');
  if (cmd.data.length !== 0) throw new CardStatus(SW.WRONG_LENGTH, 'GET DEVICE INFO takes no data');
  const tlvs = deviceInfoTlvs(ctx);
  return Uint8Array.from([tlvs.length, ...tlvs]);
};
