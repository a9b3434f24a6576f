/**
 * `pin change`: the card's PIN replaced by a new one the user chose. Every input is checked before the card is
 * touched (the new PIN's length and that it is not a factory default, the current PIN's length); the PIN tries are
 * read first and the last try is refused without allowLastPinTry (the PIN guard, pin-guard.ts); CHANGE REFERENCE
 * spends a try only when the current PIN is wrong, and the card's answer says how many are left.
 */
import { checkNewPinValue } from '../enroll/enroll-inputs.js';
import type { CardSelection } from '../open-card.js';
// The PIN guard's own rule, applied while planning so that a refused plan is never shown for confirmation.
import { requireTryAllowed } from '../../piv/pin-guard.js';
import { checkCurrentValue, recordCardEvent, requireNoProblems, withCardAndInventory, type CardLifeAction, type CardLifeHooks, type CardState, writing } from './card-life.js';

export interface ChangePinRequest {
  card: CardSelection;
  inventoryLocation: string;
  currentPin: string;
  newPin: string;
}

export interface ChangePinPlan {
  card: CardState;
}

export interface ChangePinResult {
  action: CardLifeAction;
  plan?: ChangePinPlan;
  /** The change is in the inventory's card events. */
  recorded: boolean;
}

/** Why the new PIN may not be used; undefined when it may. Pure: run before the card is opened. */
export function checkPinChange(currentPin: string, newPin: string): string[] {
  const problems = [checkCurrentValue(currentPin, 'the current PIN'), prefixed('the new PIN', checkNewPinValue(newPin))];
  if (newPin === currentPin) problems.push('the new PIN is the current PIN');
  return problems.filter((p): p is string => p !== undefined);
}

export function prefixed(what: string, problem: string | undefined): string | undefined {
  return problem === undefined ? undefined : `${what}: ${problem}`;
}

export async function changePin(request: ChangePinRequest, hooks: CardLifeHooks<ChangePinPlan> = {}): Promise<ChangePinResult> {
  requireNoProblems(checkPinChange(request.currentPin, request.newPin));
  return withCardAndInventory(request.card, request.inventoryLocation, 'changing a PIN', async (opened, card, inventory) => {
    requireTryAllowed('PIN', card.pinTriesLeft, request.card.allowLastPinTry ?? false);
    const plan: ChangePinPlan = { card };
    if (hooks.dryRun) return { action: 'planned', plan, recorded: false };
    if (hooks.confirm && !(await hooks.confirm(plan))) return { action: 'declined', plan, recorded: false };
    await writing(hooks, () => opened.session.changePin(request.currentPin, request.newPin));
    const recorded = await recordCardEvent(inventory, card, 'pin-change', 'PIN changed');
    return { action: 'done', plan, recorded };
  });
}
