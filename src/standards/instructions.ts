/**
 * PIV instruction bytes (NIST SP 800-73-4 part 2 §3, and Yubico's extensions 0xF6–0xFF).
 * Shared by the host session and the virtual card, so both sides speak from one table.
 */
export const INS = {
  VERIFY: 0x20,
  CHANGE_REFERENCE: 0x24,
  RESET_RETRY: 0x2c,
  GENERATE_ASYMMETRIC: 0x47,
  GENERAL_AUTHENTICATE: 0x87,
  SELECT: 0xa4,
  GET_RESPONSE: 0xc0,
  GET_DATA: 0xcb,
  PUT_DATA: 0xdb,
  MOVE_KEY: 0xf6,
  GET_METADATA: 0xf7,
  GET_SERIAL: 0xf8,
  ATTEST: 0xf9,
  SET_PIN_RETRIES: 0xfa,
  RESET: 0xfb,
  GET_VERSION: 0xfd,
  IMPORT_KEY: 0xfe,
  SET_MANAGEMENT_KEY: 0xff,
} as const;

/** CLA byte: 0x10 marks "more command data follows" (ISO 7816-4 command chaining). */
export const CLA_LAST = 0x00;
export const CLA_CHAINED = 0x10;

/** The PIV application identifier, short (NIST) and long (with version) forms. */
export const PIV_AID_SHORT = Uint8Array.of(0xa0, 0x00, 0x00, 0x03, 0x08);
export const PIV_AID_LONG = Uint8Array.of(0xa0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00);
/** PIX returned in the application property template: the long AID without its RID. */
export const PIV_PIX = Uint8Array.of(0x00, 0x00, 0x10, 0x00, 0x01, 0x00);
