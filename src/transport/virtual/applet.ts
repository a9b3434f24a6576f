/**
 * The virtual YubiKey (its PIV and Management applications): takes raw command APDUs, answers raw response APDUs, as strict as
 * a real card. Framing lives here (command chaining in, 61xx response chaining out); each instruction is
 * handled by a function in handlers/. Used in process by VirtualCardTransport and over TCP by the vpcd bridge.
 */
import { decodeCommandApdu, encodeResponseApdu, type DecodedCommand } from '../../bytes/apdu.js';
import { MalformedDataError } from '../../bytes/errors.js';
import { concatBytes } from '../../bytes/hex.js';
import { CLA_CHAINED, CLA_LAST, INS } from '../../standards/instructions.js';
import { SW } from '../../standards/status-words.js';
import { CardContext, CardStatus, freshVolatileState, type CardDependencies, type CardFault, type InstructionHandler } from './card-context.js';
import type { CardState } from './card-state.js';
import { changeReference, reset, resetRetryCounter, setPinRetries, verify } from './handlers/credentials.js';
import { attest, generalAuthenticate, generateKey, getMetadata, importKey, moveKey } from './handlers/keys.js';
import { setManagementKey } from './handlers/management-key.js';
import { getDeviceInfo } from './handlers/management-application.js';
import { getData, getSerial, getVersion, putData } from './handlers/objects.js';
import { selectApplication } from './handlers/select.js';
import { MANAGEMENT_INS } from '../../standards/management.js';

const PIV_HANDLERS: ReadonlyMap<number, InstructionHandler> = new Map<number, InstructionHandler>([
  [INS.SELECT, selectApplication],
  [INS.GET_VERSION, getVersion],
  [INS.GET_SERIAL, getSerial],
  [INS.GET_DATA, getData],
  [INS.PUT_DATA, putData],
  [INS.VERIFY, verify],
  [INS.CHANGE_REFERENCE, changeReference],
  [INS.RESET_RETRY, resetRetryCounter],
  [INS.SET_PIN_RETRIES, setPinRetries],
  [INS.RESET, reset],
  [INS.GENERAL_AUTHENTICATE, generalAuthenticate],
  [INS.SET_MANAGEMENT_KEY, setManagementKey],
  [INS.GENERATE_ASYMMETRIC, generateKey],
  [INS.IMPORT_KEY, importKey],
  [INS.ATTEST, attest],
  [INS.MOVE_KEY, moveKey],
  [INS.GET_METADATA, getMetadata],
]);

/** The Management application: PIV's instructions are unknown here (6D00), as on a YubiKey. */
const MANAGEMENT_HANDLERS: ReadonlyMap<number, InstructionHandler> = new Map<number, InstructionHandler>([
  [INS.SELECT, selectApplication],
  [MANAGEMENT_INS.READ_CONFIG, getDeviceInfo],
]);

/** Largest APDU a YubiKey 4.3+ takes over USB (ykman's max extended APDU size). */
export const MAX_APDU_LENGTH = 3062;
/** Largest command a chain may assemble: enough for an RSA-4096 import or a 3 KB object. */
const MAX_CHAINED_DATA = 4096;
const SHORT_RESPONSE_CHUNK = 256;

interface PendingChain {
  ins: number;
  p1: number;
  p2: number;
  parts: Uint8Array[];
  length: number;
}

export class VirtualYubiKey {
  private readonly ctx: CardContext;
  private chain: PendingChain | undefined;
  private pendingResponse: Uint8Array | undefined;
  /** APDUs processed, for tests and the trace. */
  apduCount = 0;

  constructor(state: CardState, deps: CardDependencies, faults: ReadonlySet<CardFault> = new Set()) {
    this.ctx = new CardContext(state, deps, faults);
  }

  get state(): CardState {
    return this.ctx.state;
  }

  get faults(): ReadonlySet<CardFault> {
    return this.ctx.faults;
  }

  /** True once after any change to the persistent state (so the owner can save it). */
  takeChanged(): boolean {
    return this.ctx.takeChanged();
  }

  /** Power cycle or reset of the card: all security state is lost, as on a real card. */
  powerCycle(): void {
    this.ctx.volatile = freshVolatileState();
    this.chain = undefined;
    this.pendingResponse = undefined;
  }

  async process(apdu: Uint8Array): Promise<Uint8Array> {
    this.apduCount++;
    let command: DecodedCommand;
    try {
      command = decodeCommandApdu(apdu);
    } catch (error) {
      if (error instanceof MalformedDataError) return status(SW.WRONG_LENGTH);
      throw error;
    }
    if (apdu.length > MAX_APDU_LENGTH) return status(SW.WRONG_LENGTH);
    if (command.cla !== CLA_LAST && command.cla !== CLA_CHAINED) return status(SW.CLA_NOT_SUPPORTED);

    if (command.ins === INS.GET_RESPONSE) return this.continueResponse(command);
    this.pendingResponse = undefined;

    const assembled = this.assemble(command);
    if (assembled instanceof Uint8Array) return assembled;
    if (assembled === undefined) return status(SW.SUCCESS);

    const handlers = this.ctx.volatile.application === 'management' ? MANAGEMENT_HANDLERS : PIV_HANDLERS;
    const handler = handlers.get(assembled.ins);
    if (!handler) return status(SW.INS_NOT_SUPPORTED);
    try {
      const data = await handler(this.ctx, assembled);
      return this.respond(data, assembled);
    } catch (error) {
      if (error instanceof CardStatus) return status(error.sw);
      throw error;
    }
  }

  /** Command chaining: returns the whole command, undefined while a chain is open, or an error response. */
  private assemble(command: DecodedCommand): DecodedCommand | Uint8Array | undefined {
    const chain = this.chain;
    if (chain && (chain.ins !== command.ins || chain.p1 !== command.p1 || chain.p2 !== command.p2)) {
      // A different command in the middle of a chain: the chain is abandoned.
      this.chain = undefined;
      if (command.ins !== INS.SELECT) return status(0x6883); // last command of the chain expected
    }
    const open = this.chain;
    const length = (open?.length ?? 0) + command.data.length;
    if (length > MAX_CHAINED_DATA) {
      this.chain = undefined;
      return status(SW.WRONG_LENGTH);
    }
    if (command.cla === CLA_CHAINED) {
      if (open) {
        open.parts.push(command.data);
        open.length = length;
      } else {
        this.chain = { ins: command.ins, p1: command.p1, p2: command.p2, parts: [command.data], length };
      }
      return undefined;
    }
    if (!open) return command;
    this.chain = undefined;
    return { ...command, data: concatBytes(...open.parts, command.data) };
  }

  /** Sends as much as the host asked for; the rest waits for GET RESPONSE behind 61xx. */
  private respond(data: Uint8Array, command: DecodedCommand): Uint8Array {
    const limit = command.extended ? (command.le ?? 65536) : SHORT_RESPONSE_CHUNK;
    if (data.length <= limit) return encodeResponseApdu({ data, sw: SW.SUCCESS });
    this.pendingResponse = data.subarray(limit);
    return this.moreData(data.subarray(0, limit));
  }

  private continueResponse(command: DecodedCommand): Uint8Array {
    const pending = this.pendingResponse;
    if (!pending) return status(SW.INCORRECT_DATA);
    if (command.p1 !== 0 || command.p2 !== 0) return status(SW.INCORRECT_P1P2);
    const limit = command.le ?? SHORT_RESPONSE_CHUNK;
    if (pending.length <= limit) {
      this.pendingResponse = undefined;
      return encodeResponseApdu({ data: pending, sw: SW.SUCCESS });
    }
    this.pendingResponse = pending.subarray(limit);
    return this.moreData(pending.subarray(0, limit));
  }

  private moreData(chunk: Uint8Array): Uint8Array {
    const remaining = this.pendingResponse!.length;
    return encodeResponseApdu({ data: chunk, sw: (SW.MORE_DATA_PREFIX << 8) | (remaining > 0xff ? 0x00 : remaining) });
  }
}

function status(sw: number): Uint8Array {
  return encodeResponseApdu({ data: new Uint8Array(0), sw });
}
