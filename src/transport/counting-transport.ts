/**
 * A transport that counts the APDUs it carries (each GET RESPONSE and each link of a chain is one), for enroll's
 * per-step breakdown (--json `timings`, --verbose). It only counts: bytes pass through untouched, nothing is kept.
 */
import type { ResponseApdu } from '../bytes/apdu.js';
import type { CardTransport } from './transport.js';

export class CountingTransport implements CardTransport {
  private sent = 0;

  constructor(private readonly inner: CardTransport) {}

  get name(): string {
    return this.inner.name;
  }

  get supportsExtendedLength(): boolean {
    return this.inner.supportsExtendedLength;
  }

  /** APDUs sent so far through this transport. */
  get count(): number {
    return this.sent;
  }

  transmit(apdu: Uint8Array): Promise<ResponseApdu> {
    this.sent++;
    return this.inner.transmit(apdu);
  }

  transaction<T>(work: () => Promise<T>): Promise<T> {
    return this.inner.transaction(work);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
