/** ISO 7816-4 status words as a PIV card (and a YubiKey in particular) uses them. */
export const SW = {
  SUCCESS: 0x9000,
  /** 61xx: xx more bytes are waiting for GET RESPONSE. */
  MORE_DATA_PREFIX: 0x61,
  /** 6Cxx: wrong Le, resend with Le = xx. */
  WRONG_LE_PREFIX: 0x6c,
  /** 63Cx: verification failed, x tries left. */
  VERIFY_FAIL_PREFIX: 0x63c0,
  WRONG_LENGTH: 0x6700,
  AUTH_METHOD_BLOCKED: 0x6983,
  SECURITY_STATUS_NOT_SATISFIED: 0x6982,
  CONDITIONS_NOT_SATISFIED: 0x6985,
  COMMAND_NOT_ALLOWED: 0x6986,
  INCORRECT_DATA: 0x6a80,
  FUNCTION_NOT_SUPPORTED: 0x6a81,
  FILE_NOT_FOUND: 0x6a82,
  NOT_ENOUGH_MEMORY: 0x6a84,
  INCORRECT_P1P2: 0x6a86,
  REFERENCE_NOT_FOUND: 0x6a88,
  WRONG_P1P2: 0x6b00,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
  NO_PRECISE_DIAGNOSIS: 0x6f00,
} as const;

export function swHex(sw: number): string {
  return sw.toString(16).toUpperCase().padStart(4, '0');
}
