/**
 * `reset`: the PIV application back to its factory state (keys and certificates erased; PIN, PUK and management key
 * the defaults; the attestation key kept). A YubiKey accepts RESET only with the PIN and the PUK both blocked
 * (piv-protocol.md §4), so:
 *   - both blocked: the reset is planned as it is;
 *   - a try left on either: refused, unless `force` — then, after the plan is confirmed, the PIN and the PUK are
 *     blocked on purpose with wrong values first, as ykman's `piv reset` does (yubikit/piv.py, PivSession.reset: VERIFY
 *     with an empty PIN until blocked, then RESET RETRY with an empty PUK until blocked, then RESET);
 *   - firmware before 5.3 cannot tell the PUK tries without spending one: with the PIN blocked, RESET is simply sent,
 *     and a card whose PUK still has tries refuses it (6985) without changing anything.
 * The reset is recorded as a card event, the card's status becomes `reset` and its enrollments `revoked` (their keys
 * are gone: lines left on hosts can no longer log in).
 */
import { ConditionsNotSatisfiedError } from '../../piv/errors.js';
import { latestEscrow } from '../inventory/escrow-store.js';
import { hostsWithKey } from '../inventory/inventory.js';
import type { CardSelection } from '../open-card.js';
import { CardLifeRefusedError, recordCardEvent, withCardAndInventory, writing, type CardLifeAction, type CardLifeHooks, type CardState } from './card-life.js';

export interface ResetRequest {
  card: CardSelection;
  inventoryLocation: string;
  /** Block PIN and PUK first when they still have tries (after confirmation). */
  force: boolean;
}

/** reset: both blocked; block-then-reset: --force with tries left; try-reset: PIN blocked, PUK tries unknown. */
export type ResetMode = 'reset' | 'block-then-reset' | 'try-reset';

export interface ResetPlan {
  card: CardState;
  mode: ResetMode;
  /** The card's enrollments the inventory has as active or replaced: they become revoked. */
  enrollments: Array<{ id: number; person: string; slot: string; fingerprint: string; hosts: string[] }>;
  /** The inventory holds an escrow of the card's PUK and management key: after the reset it no longer applies. */
  escrowed: boolean;
}

export interface ResetResult {
  action: CardLifeAction;
  plan?: ResetPlan;
  recorded: boolean;
}

/** Pure: how the card can be reset, or why not. */
export function resetMode(card: CardState, force: boolean): ResetMode {
  if (card.pinTriesLeft === 0 && card.pukTriesLeft === 0) return 'reset';
  if (force) return 'block-then-reset';
  if (card.pinTriesLeft === 0 && card.pukTriesLeft === undefined) return 'try-reset';
  const tries = (left: number | undefined): string => (left === undefined ? 'an unknown number of tries' : left === 0 ? 'no try' : `${left} ${left === 1 ? 'try' : 'tries'}`);
  throw new CardLifeRefusedError(
    `not reset: the PIN has ${tries(card.pinTriesLeft)} left and the PUK ${tries(card.pukTriesLeft)}; a reset erases every key and certificate on the card, ` +
      'and the card allows it only once both are blocked. To reset anyway, give --force: the PIN and the PUK are then blocked on purpose first (as ykman piv reset does), after you confirm',
  );
}

export async function resetCard(request: ResetRequest, hooks: CardLifeHooks<ResetPlan> = {}): Promise<ResetResult> {
  return withCardAndInventory(request.card, request.inventoryLocation, 'resetting a card', async (opened, card, inventory) => {
    const mode = resetMode(card, request.force);
    const records = inventory && card.serial !== undefined ? (await inventory.enrollments({ cardSerial: card.serial, status: 'all' })).filter((e) => e.status !== 'revoked') : [];
    const escrowed = inventory !== undefined && card.serial !== undefined && (await latestEscrow(inventory, card.serial)) !== undefined;
    const plan: ResetPlan = { card, mode, escrowed, enrollments: records.map((e) => ({ id: e.id, person: e.person, slot: e.slot, fingerprint: e.fingerprint, hosts: hostsWithKey(e) })) };
    if (hooks.dryRun) return { action: 'planned', plan, recorded: false };
    if (hooks.confirm && !(await hooks.confirm(plan))) return { action: 'declined', plan, recorded: false };
    await writing(hooks, async () => {
      if (mode === 'block-then-reset') return opened.session.blockAndReset();
      try {
        await opened.session.reset();
      } catch (error) {
        if (error instanceof ConditionsNotSatisfiedError) throw new CardLifeRefusedError('not reset: the card refused, so its PUK still has tries (this firmware cannot tell how many); nothing changed. Give --force to block it first', { cause: error });
        throw error;
      }
    });
    const how = mode === 'block-then-reset' ? 'PIN and PUK blocked on purpose (--force), then the PIV application reset' : 'PIV application reset (PIN and PUK were blocked)';
    const recorded = await recordCardEvent(inventory, card, 'reset', how, 'reset');
    for (const e of plan.enrollments) await inventory!.setStatus(e.id, 'revoked', `card ${card.serial} reset: its keys are gone`);
    return { action: 'done', plan, recorded };
  });
}
