/**
 * APDU traces for --verbose, with every secret blanked: PIN, PUK, management keys (also the witness and
 * challenge that derive from them), private key material, and the PIN-protected management key object.
 * Redaction works on the bytes alone, so the reader transport and the virtual card use the same rules.
 */
import { toHex } from '../bytes/hex.js';
import { INS } from '../standards/instructions.js';
import { REF } from '../standards/references.js';

const REDACTED = '<redacted>';

/** Instructions whose whole data field is secret. */
const SECRET_DATA_INS = new Set<number>([INS.VERIFY, INS.CHANGE_REFERENCE, INS.RESET_RETRY, INS.IMPORT_KEY, INS.SET_MANAGEMENT_KEY]);

/** PRINTED (5FC109) holds the PIN-protected management key: `5C 03 5F C1 09`. */
const PRINTED_TAG_LIST = '5C035FC109';

function header(apdu: Uint8Array): string {
  return toHex(apdu.subarray(0, Math.min(apdu.length, 4)));
}

/** The command APDU as hex, its secret parts replaced by <redacted>. */
export function redactCommand(apdu: Uint8Array): string {
  if (apdu.length <= 5) return toHex(apdu);
  const ins = apdu[1]!;
  const p2 = apdu[3]!;
  const hex = toHex(apdu);
  if (SECRET_DATA_INS.has(ins)) return `${header(apdu)} ${REDACTED}`;
  if (ins === INS.GENERAL_AUTHENTICATE && p2 === REF.MANAGEMENT_KEY) return `${header(apdu)} ${REDACTED}`;
  if (ins === INS.PUT_DATA && hex.includes(PRINTED_TAG_LIST)) return `${header(apdu)} ${REDACTED}`;
  return hex;
}

/**
 * The response as hex, redacted when the command that caused it returns a secret. `command` is the APDU
 * that this response answers (for GET RESPONSE, the original command is not known: callers pass the last
 * non-GET-RESPONSE command).
 */
export function redactResponse(command: Uint8Array, data: Uint8Array, sw: number): string {
  const swHex = sw.toString(16).toUpperCase().padStart(4, '0');
  if (data.length === 0) return swHex;
  const ins = command[1];
  const p2 = command[3];
  if (ins === INS.GENERAL_AUTHENTICATE && p2 === REF.MANAGEMENT_KEY) return `${REDACTED} ${swHex}`;
  if (ins === INS.GET_DATA && toHex(command).includes(PRINTED_TAG_LIST)) return `${REDACTED} ${swHex}`;
  return `${toHex(data)} ${swHex}`;
}

/** Follows a stream of APDUs and responses, remembering which command a GET RESPONSE continues. */
export class ApduTracer {
  private lastCommand: Uint8Array = new Uint8Array(0);
  constructor(private readonly write: (line: string) => void) {}

  command(apdu: Uint8Array): void {
    if (apdu[1] !== INS.GET_RESPONSE) this.lastCommand = apdu;
    this.write(`> ${redactCommand(apdu)}`);
  }

  response(data: Uint8Array, sw: number): void {
    this.write(`< ${redactResponse(this.lastCommand, data, sw)}`);
  }
}

