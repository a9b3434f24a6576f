/**
 * `pin unblock`: a new PIN set with the PUK (RESET RETRY), which also gives the PIN its tries back. The PUK comes from
 * a PukSource: the user (file, environment, prompt), or an escrow that holds the card's PUK, read by the card's serial.
 * The PUK is read and the new PIN checked while planning; the PUK tries are read first (firmware 5.3+), a blocked
 * PUK is reported with what is left to do (a reset), and the last PUK try is refused without allowLastPinTry.
 */
import { checkNewPinValue } from '../enroll/enroll-inputs.js';
import type { CardSelection } from '../open-card.js';
// The PIN guard's own rule, applied while planning so that a refused plan is never shown for confirmation.
import { requireTryAllowed } from '../../piv/pin-guard.js';
import { checkCurrentValue, recordCardEvent, requireNoProblems, withCardAndInventory, type CardLifeAction, type CardLifeHooks, type CardState, writing } from './card-life.js';
import { prefixed } from './change-pin.js';
import { UsageError } from '../../errors.js';
import type { Inventory } from '../inventory/inventory.js';

/** Where the PUK comes from. */
export type PukSource =
  /** The user gave it (a file, PIV_PUK or a prompt). */
  | { kind: 'given'; puk: string }
  /** An escrow holding the card's PUK (escrow-puk.ts): read by the card's serial, once the card is known, from the inventory. */
  | { kind: 'escrow'; description: string; read(serial: number, inventory: Inventory): Promise<string> };

export interface UnblockPinRequest {
  card: CardSelection;
  inventoryLocation: string;
  puk: PukSource;
  newPin: string;
}

export interface UnblockPinPlan {
  card: CardState;
  /** given or escrow (with where). */
  pukFrom: string;
}

export interface UnblockPinResult {
  action: CardLifeAction;
  plan?: UnblockPinPlan;
  recorded: boolean;
}

async function readPuk(source: PukSource, card: CardState, inventory: Inventory | undefined): Promise<string> {
  if (source.kind === 'given') return source.puk;
  if (card.serial === undefined) throw new UsageError('this card does not tell its serial (firmware before 5.0.3): its PUK cannot be found in an escrow');
  return source.read(card.serial, inventory!);
}

export async function unblockPin(request: UnblockPinRequest, hooks: CardLifeHooks<UnblockPinPlan> = {}): Promise<UnblockPinResult> {
  requireNoProblems([
    prefixed('the new PIN', checkNewPinValue(request.newPin)),
    request.puk.kind === 'given' ? checkCurrentValue(request.puk.puk, 'the PUK') : undefined,
    request.puk.kind === 'escrow' && request.inventoryLocation === 'none' ? 'the escrow is in the inventory: --inventory none is not possible with it' : undefined,
  ]);
  return withCardAndInventory(request.card, request.inventoryLocation, 'unblocking a PIN', async (opened, card, inventory) => {
    const puk = await readPuk(request.puk, card, inventory);
    requireNoProblems([checkCurrentValue(puk, `the PUK from ${request.puk.kind === 'escrow' ? request.puk.description : 'the user'}`)]);
    requireTryAllowed('PUK', card.pukTriesLeft, request.card.allowLastPinTry ?? false);
    const plan: UnblockPinPlan = { card, pukFrom: request.puk.kind === 'escrow' ? `escrow (${request.puk.description})` : 'given' };
    if (hooks.dryRun) return { action: 'planned', plan, recorded: false };
    if (hooks.confirm && !(await hooks.confirm(plan))) return { action: 'declined', plan, recorded: false };
    await writing(hooks, () => opened.session.unblockPin(puk, request.newPin));
    const recorded = await recordCardEvent(inventory, card, 'pin-unblock', `PIN set with the PUK (${plan.pukFrom})`);
    return { action: 'done', plan, recorded };
  });
}
