/**
 * The one place that turns a logical command into the APDUs on the wire and the card's pieces of answer
 * back into one response: command chaining (CLA 0x10, 255-byte chunks), extended length, response
 * chaining (61xx + GET RESPONSE) and 6Cxx (resend with the Le the card asked for).
 */
import {
  type CommandApdu,
  type ResponseApdu,
  encodeExtendedApdu,
  encodeShortApdu,
  SHORT_MAX_DATA,
} from './apdu.js';
import { MalformedDataError } from './errors.js';
import { concatBytes } from './hex.js';

export type RawExchange = (apdu: Uint8Array) => Promise<ResponseApdu>;

export interface FramingOptions {
  /** Send one extended-length APDU instead of a short chain. */
  extended: boolean;
  /** With extended length: the most data one APDU may carry (YubiKey 4.3+ takes 3062-byte APDUs). */
  maxExtendedData: number;
  /** Upper bound on a reassembled response, so a card that keeps sending 61xx cannot exhaust memory. */
  maxResponseLength: number;
}

export const DEFAULT_FRAMING: FramingOptions = {
  extended: false,
  maxExtendedData: 3062 - 7,
  maxResponseLength: 64 * 1024,
};

const GET_RESPONSE = 0xc0;

/** Sends one logical command and returns the card's whole answer with its final status word. */
export async function transceive(
  exchange: RawExchange,
  command: CommandApdu,
  options: FramingOptions = DEFAULT_FRAMING,
): Promise<ResponseApdu> {
  const data = command.data ?? new Uint8Array(0);
  const chunkSize = options.extended ? options.maxExtendedData : SHORT_MAX_DATA;
  const encode = options.extended ? encodeExtendedApdu : encodeShortApdu;

  let response: ResponseApdu;
  let offset = 0;
  for (;;) {
    const chunk = data.subarray(offset, offset + chunkSize);
    const last = offset + chunkSize >= data.length;
    const piece: CommandApdu = {
      cla: last ? command.cla : command.cla | 0x10,
      ins: command.ins,
      p1: command.p1,
      p2: command.p2,
      data: chunk,
      le: last ? command.le : undefined,
    };
    response = await exchange(encode(piece));
    offset += chunkSize;
    if (last) break;
    if (response.sw !== 0x9000) return response; // the card refused a link of the chain
  }

  // 6Cxx: the card wants the same command again with Le = xx. Only once: a card that keeps asking is broken.
  if (response.sw >> 8 === 0x6c) {
    if (data.length > chunkSize) throw new MalformedDataError('card asked (6Cxx) to resend a chained command');
    response = await exchange(encode({ ...command, data, le: response.sw & 0xff || 256 }));
    if (response.sw >> 8 === 0x6c) throw new MalformedDataError('card answered 6Cxx twice');
  }

  const parts: Uint8Array[] = [response.data];
  let total = response.data.length;
  // A card sends at most 256 bytes per GET RESPONSE; a few more rounds than that needs means a broken card.
  const maxExchanges = Math.ceil(options.maxResponseLength / 256) + 8;
  let exchanges = 0;
  const countExchange = (): void => {
    if (++exchanges > maxExchanges) throw new MalformedDataError(`card kept answering 61xx after ${maxExchanges} GET RESPONSE commands`);
  };
  while (response.sw >> 8 === 0x61) {
    countExchange();
    const wanted = response.sw & 0xff || 256;
    response = await exchange(encodeShortApdu({ cla: 0x00, ins: GET_RESPONSE, p1: 0x00, p2: 0x00, le: wanted }));
    if (response.sw >> 8 === 0x6c) {
      countExchange();
      // The card wants GET RESPONSE again with the Le it names (ISO 7816-4 §5.3.4).
      response = await exchange(encodeShortApdu({ cla: 0x00, ins: GET_RESPONSE, p1: 0x00, p2: 0x00, le: response.sw & 0xff || 256 }));
      if (response.sw >> 8 === 0x6c) throw new MalformedDataError('card answered 6Cxx twice to GET RESPONSE');
    }
    total += response.data.length;
    if (total > options.maxResponseLength) {
      throw new MalformedDataError(`card response exceeds ${options.maxResponseLength} bytes`);
    }
    if (response.data.length === 0 && response.sw >> 8 === 0x61) {
      throw new MalformedDataError('card announced more data (61xx) but GET RESPONSE returned none');
    }
    parts.push(response.data);
  }
  return { data: concatBytes(...parts), sw: response.sw };
}
