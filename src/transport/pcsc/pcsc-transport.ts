/**
 * Cards in PC/SC readers, through pcscd and the `smartcard` N-API package (reached through our own typed
 * binding and loaded only when a reader is used, so the virtual card works without the native module).
 * The card is opened exclusively: no other program can interleave APDUs while piv-enroll works with it, which
 * is what a transaction guarantees.
 */
import { decodeResponseApdu, type ResponseApdu } from '../../bytes/apdu.js';
import { PIV_AID_SHORT } from '../../standards/instructions.js';
import { TransactionQueue } from '../transaction-queue.js';
import type { CardTransport } from '../transport.js';
import { AmbiguousCardError, CardRemovedError, NoCardError, NoReaderError, ReaderBusyError, translatePcscError } from './errors.js';
import { smartcard, type SmartcardCard, type SmartcardContext, type SmartcardReader } from './smartcard-binding.js';

const MAX_RESPONSE_LENGTH = 65536 + 2;
const SELECT_PIV = Buffer.from([0x00, 0xa4, 0x04, 0x00, PIV_AID_SHORT.length, ...PIV_AID_SHORT]);

export interface ReaderInfo {
  name: string;
  cardPresent: boolean;
}

function establish(): SmartcardContext {
  try {
    return new (smartcard().Context)();
  } catch (error) {
    throw translatePcscError(error);
  }
}

export function listReaders(): ReaderInfo[] {
  const context = establish();
  try {
    const { SCARD_STATE_PRESENT } = smartcard();
    return context.listReaders().map((r) => ({ name: r.name, cardPresent: (r.state & SCARD_STATE_PRESENT) !== 0 }));
  } finally {
    context.close();
  }
}

export class PcscTransport implements CardTransport {
  readonly supportsExtendedLength = true;
  private readonly queue = new TransactionQueue();

  constructor(
    readonly name: string,
    private readonly context: SmartcardContext,
    private readonly card: SmartcardCard,
  ) {}

  async transmit(apdu: Uint8Array): Promise<ResponseApdu> {
    let response: Buffer;
    try {
      // Extended-length answers can be up to 64 KiB; the default receive buffer holds only a short one.
      response = await this.card.transmit(Buffer.from(apdu), { maxRecvLength: MAX_RESPONSE_LENGTH });
    } catch (error) {
      throw translatePcscError(error, this.name);
    }
    if (response.length < 2) {
      // No status word: the reader lost the card mid-command (vpcd and some readers report it this way).
      throw new CardRemovedError(`the card gave no answer${response.length === 0 ? '' : ' with a status word'} (${this.name}): it was removed, or the reader lost it; insert it and run the command again`);
    }
    return decodeResponseApdu(new Uint8Array(response));
  }

  transaction<T>(work: () => Promise<T>): Promise<T> {
    return this.queue.run(work);
  }

  async close(): Promise<void> {
    try {
      if (this.card.connected) this.card.disconnect(smartcard().SCARD_LEAVE_CARD);
    } finally {
      this.context.close();
    }
  }
}

type Probe = 'piv' | 'not-piv' | ReaderBusyError;

/** Whether the card in `reader` has a PIV application; a card another program holds exclusively is "busy". */
/**
 * How long a card held by another program (a sharing violation) is waited for before it is an error. PKCS#11 modules
 * hold the cards briefly and widely: OpenSC's C_Initialize connects the card in every reader, so a signature check of
 * one card in a batch holds every other reader's card for about a second (longer on a real YubiKey).
 */
export const BUSY_CARD_WAIT_MS = 3000;
const BUSY_CARD_POLL_MS = 50;

/** Runs `attempt` until it is not a sharing violation, for at most BUSY_CARD_WAIT_MS. */
async function whileBusy<T>(attempt: () => Promise<T | ReaderBusyError>): Promise<T | ReaderBusyError> {
  const deadline = Date.now() + BUSY_CARD_WAIT_MS;
  for (;;) {
    const outcome = await attempt();
    if (!(outcome instanceof ReaderBusyError) || Date.now() >= deadline) return outcome;
    await new Promise((resolve) => setTimeout(resolve, BUSY_CARD_POLL_MS));
  }
}

async function probePiv(reader: SmartcardReader): Promise<Probe> {
  const { SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0, SCARD_PROTOCOL_T1, SCARD_LEAVE_CARD } = smartcard();
  let card: SmartcardCard | undefined;
  try {
    card = await reader.connect(SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1);
    const response = await card.transmit(SELECT_PIV);
    const sw1 = response[response.length - 2];
    const sw = (sw1! << 8) | response[response.length - 1]!;
    return sw === 0x9000 || sw1 === 0x61 ? 'piv' : 'not-piv';
  } catch (error) {
    const translated = translatePcscError(error, reader.name);
    return translated instanceof ReaderBusyError ? translated : 'not-piv'; // a card we cannot talk to is no PIV card for us
  } finally {
    card?.disconnect(SCARD_LEAVE_CARD);
  }
}

/**
 * Opens the card to work with: with `readerFilter`, a reader whose name contains it (case-insensitive);
 * otherwise the one reader whose card answers the PIV SELECT. Several candidates, or none, is an error
 * that lists what was found.
 */
export async function openPcscCard(readerFilter?: string): Promise<PcscTransport> {
  const lib = smartcard();
  const context = establish();
  try {
    let readers;
    try {
      readers = context.listReaders();
    } catch (error) {
      throw translatePcscError(error);
    }
    if (readers.length === 0) {
      throw new NoReaderError('no smart card reader found: plug the YubiKey in (check with `pcsc_scan` or `opensc-tool -l`)');
    }
    const names = readers.map((r) => `"${r.name}"`).join(', ');
    const matching = readerFilter ? readers.filter((r) => r.name.toLowerCase().includes(readerFilter.toLowerCase())) : readers;
    if (matching.length === 0) throw new NoReaderError(`no reader name contains "${readerFilter}"; readers: ${names}`);
    const withCard = matching.filter((r) => (r.state & lib.SCARD_STATE_PRESENT) !== 0);
    if (withCard.length === 0) {
      throw new NoCardError(
        `no card in ${readerFilter ? `the reader(s) matching "${readerFilter}"` : 'any reader'} (${matching.map((r) => `"${r.name}"`).join(', ')}): insert the card, and check it with \`pcsc_scan\``,
      );
    }
    const piv = [];
    const busy: ReaderBusyError[] = [];
    for (const reader of withCard) {
      const probe = await whileBusy(() => probePiv(reader));
      if (probe === 'piv') piv.push(reader);
      else if (probe instanceof ReaderBusyError) busy.push(probe);
    }
    if (piv.length === 0 && busy.length > 0) throw busy[0]!;
    if (piv.length === 0) {
      throw new NoCardError(`no PIV card found (the card in ${withCard.map((r) => `"${r.name}"`).join(', ')} has no PIV application)`);
    }
    if (piv.length > 1) {
      throw new AmbiguousCardError(`several PIV cards are present: ${piv.map((r) => `"${r.name}"`).join(', ')}; choose one with --reader`);
    }
    const reader = piv[0]!;
    const card = await whileBusy(async () => {
      try {
        return await reader.connect(lib.SCARD_SHARE_EXCLUSIVE, lib.SCARD_PROTOCOL_T0 | lib.SCARD_PROTOCOL_T1);
      } catch (error) {
        const translated = translatePcscError(error, reader.name);
        if (translated instanceof ReaderBusyError) return translated;
        throw translated;
      }
    });
    if (card instanceof ReaderBusyError) throw card;
    return new PcscTransport(reader.name, context, card);
  } catch (error) {
    context.close();
    throw error;
  }
}
