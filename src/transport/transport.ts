/**
 * The one interface between the PIV session and a card. The PC/SC reader, the in-process virtual card
 * and anything else that can carry APDUs implement it; the session cannot tell them apart.
 */
import type { ResponseApdu } from '../bytes/apdu.js';
import { PivEnrollError } from '../errors.js';

export interface CardTransport {
  /** What the user knows the card by: the reader's name, or "virtual card (FILE)". */
  readonly name: string;
  /** Whether this link takes extended-length APDUs (USB CCID does; some NFC readers do not). */
  readonly supportsExtendedLength: boolean;
  /** Sends one APDU (already framed) and returns the card's data and status word. */
  transmit(apdu: Uint8Array): Promise<ResponseApdu>;
  /** Runs `work` with the card held exclusively, so no other program interleaves APDUs. */
  transaction<T>(work: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** The link to the card failed (reader gone, card removed, service down): not something the card said. */
export class TransportError extends PivEnrollError {}
