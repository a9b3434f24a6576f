/**
 * The virtual YubiKey behind the same CardTransport interface as a PC/SC reader: the PIV session
 * cannot tell them apart. Optional file persistence after every APDU that changed the card.
 */
import { decodeResponseApdu, type ResponseApdu } from '../../bytes/apdu.js';
import { TransactionQueue } from '../transaction-queue.js';
import type { CardTransport } from '../transport.js';
import { VirtualYubiKey } from './applet.js';
import type { CardDependencies, CardFault } from './card-context.js';
import { createCardState, defaultCardDependencies, type NewCardOptions } from './create-card.js';
import { readCardStateFile, VirtualCardStateError, writeCardStateFile } from './state-file.js';
import { formatFirmwareVersion, parseFirmwareVersion } from '../../standards/firmware.js';
import { formFactorOptionName } from '../../standards/management.js';
import type { CardPacer } from './timing-model.js';

export class VirtualCardTransport implements CardTransport {
  readonly supportsExtendedLength = true;
  private readonly queue = new TransactionQueue();

  constructor(
    readonly card: VirtualYubiKey,
    readonly name: string,
    private readonly file?: string,
    /** Answers no sooner than a real card would (timing-model.ts); absent: as fast as it can. */
    readonly pacer?: CardPacer,
  ) {}

  async transmit(apdu: Uint8Array): Promise<ResponseApdu> {
    const work = async (): Promise<Uint8Array> => {
      const response = await this.card.process(apdu);
      if (this.card.takeChanged() && this.file) await writeCardStateFile(this.file, this.card.state);
      return response;
    };
    const response = this.pacer ? await this.pacer.exchange(apdu, () => this.card.state, work) : await work();
    return decodeResponseApdu(response);
  }

  /** Serializes transactions, as a reader's exclusive lock would. */
  transaction<T>(work: () => Promise<T>): Promise<T> {
    return this.queue.run(work);
  }

  async close(): Promise<void> {
    this.card.powerCycle();
  }
}

export interface OpenVirtualCardOptions extends NewCardOptions {
  /** State file; absent = a card in memory that disappears with the process. */
  file?: string;
  faults?: Iterable<CardFault>;
  deps?: CardDependencies;
  pacer?: CardPacer;
}

export interface OpenedVirtualCard {
  transport: VirtualCardTransport;
  created: boolean;
}

/** Opens the card in `file` (creating it, factory-fresh, when missing) or a new in-memory card. */
export async function openVirtualCard(options: OpenVirtualCardOptions = {}): Promise<OpenedVirtualCard> {
  const deps = options.deps ?? defaultCardDependencies;
  let state = options.file ? await readCardStateFile(options.file) : undefined;
  const created = state === undefined;
  if (state) {
    const wanted = typeof options.firmware === 'string' ? parseFirmwareVersion(options.firmware) : options.firmware;
    if (wanted && formatFirmwareVersion(wanted) !== state.firmware) {
      throw new VirtualCardStateError(`${options.file} holds a card with firmware ${state.firmware}; a firmware version only applies to a new card`);
    }
    if (options.serial !== undefined && options.serial !== state.serial) {
      throw new VirtualCardStateError(`${options.file} holds a card with serial ${state.serial}; a serial only applies to a new card`);
    }
    if (options.formFactor !== undefined && options.formFactor !== state.formFactor) {
      const held = formFactorOptionName(state.formFactor) ?? String(state.formFactor);
      throw new VirtualCardStateError(`${options.file} holds a card of form factor ${held}; a form factor only applies to a new card`);
    }
  } else {
    state = await createCardState({ ...options, deps });
    if (options.file) await writeCardStateFile(options.file, state);
  }
  const card = new VirtualYubiKey(state, deps, new Set(options.faults ?? []));
  const name = options.file ? `virtual card (${options.file})` : 'virtual card (in memory)';
  return { transport: new VirtualCardTransport(card, name, options.file, options.pacer), created };
}
