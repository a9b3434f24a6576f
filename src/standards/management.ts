/**
 * The YubiKey Management application (what ykman reads to identify a YubiKey): its AID, instructions,
 * the DEVICE INFO tags, capability bits and form factors. Shared by the host reader and the virtual card.
 * Facts from yubikey-manager: yubikit/management.py (TAG_*, CAPABILITY, FORM_FACTOR, INS_READ_CONFIG,
 * _ManagementSmartCardBackend) and yubikit/core/__init__.py (AID.MANAGEMENT, Version.from_string).
 */

/** AID of the Management application (yubikit AID.MANAGEMENT). */
export const MANAGEMENT_AID = Uint8Array.of(0xa0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17);

export const MANAGEMENT_INS = {
  /** GET DEVICE INFO ("read config"): P1 = page (0 first; later pages only when the card announces them). */
  READ_CONFIG: 0x1d,
  /** SET DEVICE CONFIG ("write config"). */
  WRITE_CONFIG: 0x1c,
  /** SET MODE, the YubiKey 4 way of choosing USB interfaces. */
  SET_MODE: 0x16,
} as const;

/** DEVICE INFO TLV tags (one byte each, one-byte lengths). */
export const DEVICE_INFO_TAG = {
  USB_SUPPORTED: 0x01,
  SERIAL: 0x02,
  USB_ENABLED: 0x03,
  FORM_FACTOR: 0x04,
  VERSION: 0x05,
  AUTO_EJECT_TIMEOUT: 0x06,
  CHALLENGE_RESPONSE_TIMEOUT: 0x07,
  DEVICE_FLAGS: 0x08,
  CONFIG_LOCK: 0x0a,
  NFC_SUPPORTED: 0x0d,
  NFC_ENABLED: 0x0e,
  /** Number of further pages (firmware 5.6+); absent means this page is the last. */
  MORE_DATA: 0x10,
} as const;

/** Application bits of the supported/enabled fields (yubikit CAPABILITY). */
export const CAPABILITY = {
  OTP: 0x01,
  U2F: 0x02,
  OPENPGP: 0x08,
  PIV: 0x10,
  OATH: 0x20,
  HSMAUTH: 0x100,
  FIDO2: 0x200,
} as const;
export type CapabilityName = keyof typeof CAPABILITY;

/** Form factor codes (low nibble of tag 04; 0x80 marks FIPS, 0x40 a Security Key). */
export const FORM_FACTOR = {
  UNKNOWN: 0x00,
  USB_A_KEYCHAIN: 0x01,
  USB_A_NANO: 0x02,
  USB_C_KEYCHAIN: 0x03,
  USB_C_NANO: 0x04,
  USB_C_LIGHTNING: 0x05,
  USB_A_BIO: 0x06,
  USB_C_BIO: 0x07,
} as const;
export type FormFactorName = keyof typeof FORM_FACTOR;

export const DEFAULT_FORM_FACTOR = FORM_FACTOR.USB_A_KEYCHAIN;

/** The CLI spelling of each form factor: usb-a-keychain, usb-c-nano, … */
export function formFactorOptionName(code: number): string | undefined {
  const name = (Object.keys(FORM_FACTOR) as FormFactorName[]).find((k) => FORM_FACTOR[k] === (code & 0x0f));
  return name?.toLowerCase().replace(/_/g, '-');
}

/** Parses a form factor as the CLI takes it (usb-a-keychain …); UNKNOWN is not something a card is made as. */
export function parseFormFactor(text: string): number | undefined {
  const key = text.trim().toUpperCase().replace(/-/g, '_') as FormFactorName;
  return key in FORM_FACTOR && key !== 'UNKNOWN' ? FORM_FACTOR[key] : undefined;
}

export const FORM_FACTOR_OPTION_NAMES: readonly string[] = (Object.keys(FORM_FACTOR) as FormFactorName[])
  .filter((k) => k !== 'UNKNOWN')
  .map((k) => k.toLowerCase().replace(/_/g, '-'));

/** How a person names the form factor (ykman's wording, e.g. "Keychain (USB-A)"). */
export function describeFormFactor(code: number): string {
  switch (code & 0x0f) {
    case FORM_FACTOR.USB_A_KEYCHAIN:
      return 'Keychain (USB-A)';
    case FORM_FACTOR.USB_A_NANO:
      return 'Nano (USB-A)';
    case FORM_FACTOR.USB_C_KEYCHAIN:
      return 'Keychain (USB-C)';
    case FORM_FACTOR.USB_C_NANO:
      return 'Nano (USB-C)';
    case FORM_FACTOR.USB_C_LIGHTNING:
      return 'Keychain (USB-C, Lightning)';
    case FORM_FACTOR.USB_A_BIO:
      return 'Bio (USB-A)';
    case FORM_FACTOR.USB_C_BIO:
      return 'Bio (USB-C)';
    default:
      return 'Unknown';
  }
}

/** Names of the applications set in a capability field, in a fixed order. */
export function capabilityNames(bits: number): CapabilityName[] {
  return (Object.keys(CAPABILITY) as CapabilityName[]).filter((name) => (bits & CAPABILITY[name]) !== 0);
}
