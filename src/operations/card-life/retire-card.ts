/**
 * `retire --card SERIAL`: a lost card, from the inventory alone (the card is not needed): every key of the card comes
 * off every host the inventory shows it on, every CA that certified one of its keys revokes that key, its enrollments
 * become revoked (key-removal.ts, as offboard does it) and the card is marked lost. The card is marked lost at once:
 * it is lost whatever the hosts say. A host that cannot be reached keeps its enrollment open and is reported; running
 * retire again finishes the job (every step is idempotent).
 */
import { UsageError } from '../../errors.js';
import type { DeployOptions } from '../deploy/deploy-key.js';
import { Inventory, type CardRecord } from '../inventory/inventory.js';
import { applyKeyRemovals, planKeyRemovals, unfinishedRekeysOf, type KeyRemovalOutcome, type KeyRemovalStep } from '../key-removal.js';
import type { CardLifeAction, CardLifeHooks } from './card-life.js';

export interface RetireRequest {
  serial: number;
  inventoryLocation: string;
  deploy: DeployOptions;
}

export interface RetirePlan {
  card: CardRecord;
  /** Whether the card is still to be marked lost (false on a second run). */
  markLost: boolean;
  /** Each key of the card, with the hosts it comes off and the CAs that revoke it. */
  steps: KeyRemovalStep[];
}

export interface RetireResult {
  action: CardLifeAction;
  plan: RetirePlan;
  outcomes: KeyRemovalOutcome[];
  /** Hosts and CAs that could not be reached or changed: run retire again once fixed. */
  problems: string[];
}

export async function retireCard(request: RetireRequest, hooks: Omit<CardLifeHooks<RetirePlan>, 'write'> = {}): Promise<RetireResult> {
  if (request.inventoryLocation === 'none') throw new UsageError('retire works from the inventory: --inventory none is not possible here');
  const inventory = await Inventory.open(request.inventoryLocation);
  try {
    const card = await inventory.card(request.serial);
    if (!card) throw new UsageError(`the inventory ${inventory.description} has no card with serial ${request.serial}`);
    const enrollments = await inventory.enrollments({ cardSerial: request.serial, status: 'all' });
    const plan: RetirePlan = { card, markLost: card.status !== 'lost', steps: planKeyRemovals(enrollments, await unfinishedRekeysOf(inventory, enrollments)) };
    if (hooks.dryRun) return { action: 'planned', plan, outcomes: [], problems: [] };
    if (plan.steps.length === 0 && !plan.markLost) return { action: 'done', plan, outcomes: [], problems: [] };
    if (hooks.confirm && !(await hooks.confirm(plan))) return { action: 'declined', plan, outcomes: [], problems: [] };
    if (plan.markLost) await inventory.recordCardEvent({ serial: card.serial }, 'lost', `card ${card.serial} retired as lost: its keys come off every recorded host, their certificates are revoked`, 'lost');
    const outcomes = await applyKeyRemovals(plan.steps, inventory, request.deploy, `card ${card.serial} lost (retired)`);
    return { action: 'done', plan, outcomes, problems: outcomes.flatMap((o) => o.problems) };
  } finally {
    await inventory.close();
  }
}
