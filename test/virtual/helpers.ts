/** Shared set-up for tests that run the PIV session against the in-process virtual card. */
import type { ResponseApdu } from '../../src/bytes/apdu.js';
import { fromHex, toHex } from '../../src/bytes/hex.js';
import { PivSession, type SessionOptions } from '../../src/piv/session.js';
import type { CardTransport } from '../../src/transport/transport.js';
import type { CardDependencies, CardFault } from '../../src/transport/virtual/card-context.js';
import { defaultCardDependencies } from '../../src/transport/virtual/create-card.js';
import { openVirtualCard, type VirtualCardTransport } from '../../src/transport/virtual/virtual-transport.js';

export const DEFAULT_PIN = '123456';
export const DEFAULT_PUK = '12345678';
export const DEFAULT_MANAGEMENT_KEY = fromHex('010203040506070801020304050607080102030405060708');

/** Forwards to a transport and keeps every APDU and answer, hex, so tests can check the wire. */
export class RecordingTransport implements CardTransport {
  readonly sent: string[] = [];
  readonly received: string[] = [];
  constructor(readonly inner: CardTransport) {}
  get name(): string {
    return this.inner.name;
  }
  get supportsExtendedLength(): boolean {
    return this.inner.supportsExtendedLength;
  }
  async transmit(apdu: Uint8Array): Promise<ResponseApdu> {
    this.sent.push(toHex(apdu));
    const response = await this.inner.transmit(apdu);
    this.received.push(toHex(response.data) + response.sw.toString(16).toUpperCase().padStart(4, '0'));
    return response;
  }
  transaction<T>(work: () => Promise<T>): Promise<T> {
    return this.inner.transaction(work);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

export interface TestCard {
  session: PivSession;
  transport: RecordingTransport;
  virtual: VirtualCardTransport;
  clock: { now: number };
}

export interface TestCardOptions {
  firmware?: string;
  serial?: number;
  file?: string;
  faults?: CardFault[];
  session?: SessionOptions;
  deps?: Partial<CardDependencies>;
}

/** A factory-fresh virtual card with a controllable clock, and a session on it. */
export async function openTestCard(options: TestCardOptions = {}): Promise<TestCard> {
  const clock = { now: Date.UTC(2026, 10, 24, 12, 0, 0) };
  const deps: CardDependencies = { ...defaultCardDependencies, now: () => clock.now, ...options.deps };
  const { transport: virtual } = await openVirtualCard({
    firmware: options.firmware ?? '5.7.2',
    serial: options.serial,
    file: options.file,
    faults: options.faults,
    deps,
  });
  const transport = new RecordingTransport(virtual);
  const session = await PivSession.open(transport, options.session);
  return { session, transport, virtual, clock };
}

/** Sends one raw APDU (hex) and returns the response as hex data + SW. */
export async function raw(card: TestCard, hex: string): Promise<{ data: string; sw: string }> {
  const response = await card.virtual.transmit(fromHex(hex));
  return { data: toHex(response.data), sw: response.sw.toString(16).toUpperCase().padStart(4, '0') };
}
