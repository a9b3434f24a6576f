/**
 * The batch's view of the readers: which ones hold a card, and that card's serial. pcscd is polled (cheap); a
 * card's serial is read once per insertion (a PIV SELECT and GET SERIAL) and remembered until the reader is seen
 * empty, so a busy enrollment station does not open every card twice a second.
 */
import { PivSession } from '../../piv/session.js';
import { hasFeature } from '../../standards/firmware.js';
import { listReaders, openPcscCard } from '../../transport/pcsc/pcsc-transport.js';

export interface CardInReader {
  reader: string;
  serial?: number;
  /** Why the serial could not be read (the card is no PIV card, the reader is held by another program…). */
  problem?: string;
}

export class ReaderMonitor {
  private readonly known = new Map<string, CardInReader>();

  /** `filters`: reader names must contain one of these (case-insensitive); none = every reader. */
  constructor(private readonly filters: readonly string[] = []) {}

  private wanted(name: string): boolean {
    return this.filters.length === 0 || this.filters.some((f) => name.toLowerCase().includes(f.toLowerCase()));
  }

  /** The cards present now, in readers not in `busy` (those are being enrolled: never touched). */
  async cards(busy: ReadonlySet<string>): Promise<CardInReader[]> {
    const present: CardInReader[] = [];
    for (const reader of listReaders()) {
      if (!this.wanted(reader.name)) continue;
      if (!reader.cardPresent) {
        this.known.delete(reader.name);
        continue;
      }
      if (busy.has(reader.name)) continue;
      let card = this.known.get(reader.name);
      if (!card) {
        card = await readCard(reader.name);
        // A card another program holds may be free a moment later: ask again next time.
        if (card.problem === undefined) this.known.set(reader.name, card);
      }
      present.push(card);
    }
    return present;
  }

  /** Forget what a reader held (its card was just enrolled and may be swapped in the blink of a poll). */
  forget(reader: string): void {
    this.known.delete(reader);
  }

  readerNames(): string[] {
    return listReaders().map((r) => r.name).filter((n) => this.wanted(n));
  }
}

async function readCard(reader: string): Promise<CardInReader> {
  try {
    const transport = await openPcscCard(reader);
    try {
      const session = await PivSession.open(transport);
      return { reader, serial: hasFeature(session.version, 'serial') ? await session.getSerial() : undefined };
    } finally {
      await transport.close();
    }
  } catch (error) {
    return { reader, problem: (error as Error).message };
  }
}
