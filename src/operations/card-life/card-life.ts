/**
 * What the card's later life (pin change, pin unblock, reset) shares: the card opened (never the embedded stand-in:
 * these change or record a card), its credentials' state read without spending a try, the checks of a value
 * before any APDU, and the record of what happened in the inventory's card events.
 */
import { PivEnrollError, UsageError } from '../../errors.js';
import type { PivSession } from '../../piv/session.js';
import { formatFirmwareVersion, hasFeature } from '../../standards/firmware.js';
import { Inventory, type CardStatus } from '../inventory/inventory.js';
import { openCardOrVirtual, type CardSelection, type OpenedCard } from '../open-card.js';

/** The card and its credentials as read before anything is sent that could spend a try. */
export interface CardState {
  /** Undefined on firmware without GET SERIAL (before 5.0.3): then nothing is recorded in the inventory. */
  serial?: number;
  firmware: string;
  reader?: string;
  /** The embedded virtual card, named with --virtual (test and demonstration only). */
  virtual: boolean;
  pinTriesLeft?: number;
  /** Undefined before firmware 5.3: the card cannot tell the PUK tries without spending one. */
  pukTriesLeft?: number;
}

/** Hooks every card-life operation takes: the plan is shown and confirmed before any change. */
export interface CardLifeHooks<P> {
  /** The plan, before anything changes; false: stop (nothing changed). */
  confirm?(plan: P): Promise<boolean>;
  /** Only plan. */
  dryRun?: boolean;
  /** Runs the card change (the CLI lets a Ctrl-C wait for its end: a card write is never cut). */
  write?<T>(work: () => Promise<T>): Promise<T>;
}

/** Runs `work` through the hooks' write wrapper, if any. */
export function writing<T>(hooks: CardLifeHooks<unknown>, work: () => Promise<T>): Promise<T> {
  return hooks.write ? hooks.write(work) : work();
}

/** What the operation did with its plan. */
export type CardLifeAction = 'planned' | 'declined' | 'done';

/** The card refused the operation's conditions (reset while a credential has tries left). */
export class CardLifeRefusedError extends PivEnrollError {}

/** Opens the card these commands work on: a named or inserted card, never the embedded stand-in. */
export function openLifeCard(selection: CardSelection, what: string): Promise<OpenedCard> {
  return openCardOrVirtual(selection, { allowed: false, because: `${what} (it changes a card and records it)` });
}

/** The inventory, opened before anything changes (an unreachable one stops the command first); none: undefined. */
export async function openLifeInventory(location: string): Promise<Inventory | undefined> {
  return location === 'none' ? undefined : Inventory.open(location);
}

export async function readCardState(opened: OpenedCard, selection: CardSelection): Promise<CardState> {
  const session = opened.session;
  return {
    serial: hasFeature(session.version, 'serial') ? await session.getSerial() : undefined,
    firmware: formatFirmwareVersion(session.version),
    reader: opened.readerName,
    virtual: selection.virtual !== undefined,
    pinTriesLeft: await session.getPinAttempts(),
    pukTriesLeft: await pukTriesLeft(session),
  };
}

async function pukTriesLeft(session: PivSession): Promise<number | undefined> {
  return hasFeature(session.version, 'metadata') ? (await session.getPukMetadata()).attemptsRemaining : undefined;
}

/**
 * A current PIN or PUK of the wrong length can only be wrong (a YubiKey takes 6 to 8 bytes for both, and the factory
 * values have 6 and 8): refused here, without a try.
 */
export function checkCurrentValue(value: string, what: string): string | undefined {
  const length = new TextEncoder().encode(value).length;
  return length < 6 || length > 8 ? `${what} is 6 to 8 characters (this one cannot be right: nothing was sent to the card)` : undefined;
}

export function requireNoProblems(problems: Array<string | undefined>): void {
  const found = problems.filter((p): p is string => p !== undefined);
  if (found.length > 0) throw new UsageError(found.join('\n'));
}

/** Records a card event; false when there is no inventory or the card has no serial to record it by. */
export async function recordCardEvent(inventory: Inventory | undefined, card: CardState, kind: string, detail: string, status?: CardStatus): Promise<boolean> {
  if (!inventory || card.serial === undefined) return false;
  await inventory.recordCardEvent({ serial: card.serial, firmware: card.firmware, reader: card.reader, virtual: card.virtual }, kind, detail, status);
  return true;
}

/** Opens the inventory, then the card, runs `work` and closes both, whatever happens. */
export async function withCardAndInventory<T>(
  selection: CardSelection,
  inventoryLocation: string,
  what: string,
  work: (opened: OpenedCard, card: CardState, inventory: Inventory | undefined) => Promise<T>,
): Promise<T> {
  const inventory = await openLifeInventory(inventoryLocation);
  try {
    const opened = await openLifeCard(selection, what);
    try {
      return await work(opened, await readCardState(opened, selection), inventory);
    } finally {
      await opened.close();
    }
  } finally {
    await inventory?.close();
  }
}
