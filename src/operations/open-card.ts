/**
 * Finds the card a command works on and opens a PIV session with it. One place, so every command
 * picks cards the same way.
 */
import { UsageError } from '../errors.js';
import { PivSession } from '../piv/session.js';
import { parseFirmwareVersion } from '../standards/firmware.js';
import { CARD_FAULTS, type CardFault } from '../transport/virtual/card-context.js';
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { NoCardError, NoReaderError, PcscServiceError } from '../transport/pcsc/errors.js';
import { CountingTransport } from '../transport/counting-transport.js';
import { TransportError } from '../transport/transport.js';
import { openPcscCard } from '../transport/pcsc/pcsc-transport.js';

export interface CardSelection {
  /** Pick the PC/SC reader whose name contains this (case-insensitive). */
  reader?: string;
  /** Use the embedded virtual card kept in this file (created factory-fresh if missing). */
  virtual?: string;
  /** Firmware of a virtual card being created. */
  firmware?: string;
  /** Serial of a virtual card being created. */
  serial?: number;
  /** Faults of the virtual card (tests and demonstrations). */
  faults?: string[];
  /** Let the PIN guard use the last PIN/PUK try (never implied by --force). */
  allowLastPinTry?: boolean;
}

export interface OpenedCard {
  session: PivSession;
  /** The PC/SC reader, when the card is in one (PKCS#11 modules can reach it there, once we let go). */
  readerName?: string;
  /** Set when a virtual card file was created just now. */
  createdVirtualCard?: string;
  /** APDUs sent to the card so far through this session (SELECT and GET VERSION of the opening included). */
  apdus(): number;
  close(): Promise<void>;
}

export function parseFaults(names: string[] | undefined): CardFault[] {
  const faults = names ?? [];
  const unknown = faults.filter((f) => !CARD_FAULTS.includes(f as CardFault));
  if (unknown.length > 0) throw new UsageError(`unknown fault ${unknown.join(', ')}; known: ${CARD_FAULTS.join(', ')}`);
  return faults as CardFault[];
}

/** Where the embedded virtual card lives when no card is present and none was named. */
export function defaultVirtualCardFile(env: NodeJS.ProcessEnv = process.env): string {
  const stateHome = env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state');
  return join(stateHome, 'piv-enroll', 'virtual-card.json');
}

/** Whether a command may let the embedded virtual card stand in when no card is found. */
export type FallbackPolicy =
  /** A plain enrollment that stays on this machine (the README's demo): the virtual card in `file` stands in. */
  | { allowed: true; file: string }
  /** Anything that leaves this machine or is recorded (deploy, CA, batch, re-key, a shared inventory): why not. */
  | { allowed: false; because: string };

/** The stand-in card was refused: no real card, and the command may not act on a virtual one. */
export class NoRealCardError extends TransportError {}

/**
 * Like openCard, but when no card was named and no reader holds one (or pcscd or the PC/SC module is absent), the
 * embedded virtual card stands in, where `fallback` allows it, and `fallbackReason` says so. Where it does not, the
 * error says which of PC/SC, reader or card is missing and why a virtual card will not do. A named card
 * (--reader, --virtual) never falls back.
 */
export async function openCardOrVirtual(selection: CardSelection, fallback: FallbackPolicy): Promise<OpenedCard & { fallbackReason?: string }> {
  if (selection.virtual !== undefined || selection.reader !== undefined) return openCard(selection);
  try {
    return await openCard(selection);
  } catch (error) {
    if (!(error instanceof PcscServiceError || error instanceof NoReaderError || error instanceof NoCardError)) throw error;
    if (!fallback.allowed) {
      throw new NoRealCardError(
        `no card to use (${error.message}); the embedded virtual card is not used for ${fallback.because}: insert the card, or name a virtual card for a demonstration with --virtual FILE`,
        { cause: error },
      );
    }
    await mkdir(dirname(fallback.file), { recursive: true, mode: 0o700 });
    const opened = await openCard({ ...selection, virtual: fallback.file });
    return {
      ...opened,
      fallbackReason: `No card to use (${error.message}).\nUsing the embedded virtual card in ${fallback.file} (test-only: it keeps its secrets in clear).`,
    };
  }
}

export async function openCard(selection: CardSelection): Promise<OpenedCard> {
  if (selection.firmware !== undefined && !parseFirmwareVersion(selection.firmware)) {
    throw new UsageError(`--firmware takes a version like 5.7.2, not "${selection.firmware}"`);
  }
  if (selection.virtual !== undefined && selection.reader !== undefined) {
    throw new UsageError('--reader and --virtual each choose a card: give one of them');
  }
  if (selection.virtual === undefined) {
    if (selection.firmware !== undefined || selection.serial !== undefined || (selection.faults ?? []).length > 0) {
      throw new UsageError('--firmware, --serial and --fault only apply to a virtual card (--virtual FILE)');
    }
    const transport = new CountingTransport(await openPcscCard(selection.reader));
    try {
      const session = await PivSession.open(transport, { allowLastPinTry: selection.allowLastPinTry });
      return { session, readerName: transport.name, apdus: () => transport.count, close: () => transport.close() };
    } catch (error) {
      await transport.close();
      throw error;
    }
  }
  // The emulator (and its curve arithmetic) is loaded only for a virtual card: a card in a reader does without it.
  const { openVirtualCard } = await import('../transport/virtual/virtual-transport.js');
  const { transport: virtual, created } = await openVirtualCard({
    file: selection.virtual,
    firmware: selection.firmware,
    serial: selection.serial,
    faults: parseFaults(selection.faults),
  });
  const transport = new CountingTransport(virtual);
  const session = await PivSession.open(transport, { allowLastPinTry: selection.allowLastPinTry });
  return {
    session,
    createdVirtualCard: created ? selection.virtual : undefined,
    apdus: () => transport.count,
    close: () => transport.close(),
  };
}
