/**
 * `piv-enroll reset [--force]`: the PIV application back to factory state (operations/card-life/reset-card.ts). Refused
 * while the PIN or the PUK has tries left, unless --force, which blocks them on purpose first — only after the plan is
 * confirmed (on a terminal, or --yes). Recorded in the inventory: a `reset` event, the card's enrollments revoked.
 */
import { resetCard, type ResetPlan, type ResetResult } from '../../operations/card-life/reset-card.js';
import { defaultInventoryLocation } from '../../operations/inventory/inventory.js';
import type { CardSelection } from '../../operations/open-card.js';
import { cancellation } from '../cancellation.js';
import { cardJson, confirmed, describeCardState, type CardLifeEnvironment } from '../card-life-report.js';
import type { Output } from '../output.js';

export interface ResetFlags extends CardSelection {
  inventory?: string;
  force?: boolean;
  yes?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

export function describeResetPlan(plan: ResetPlan): string {
  const lines = [`Reset ${describeCardState(plan.card)}`];
  if (plan.mode === 'block-then-reset') lines.push('• the PIN and the PUK are blocked on purpose first (--force): each remaining try is spent with a wrong value');
  if (plan.mode === 'try-reset') lines.push('• this firmware cannot tell the PUK tries: the card refuses the reset if the PUK still has some (nothing changes then)');
  lines.push('• every key and certificate on the card is erased; PIN, PUK and management key become the factory defaults (the attestation key stays)');
  for (const e of plan.enrollments) {
    lines.push(`• enrollment ${e.id} (${e.person}, slot ${e.slot}, ${e.fingerprint}) becomes revoked${e.hosts.length > 0 ? `; its line stays on ${e.hosts.join(', ')} but can no longer log in (offboard or deploy --remove takes it off)` : ''}`);
  }
  if (plan.escrowed) lines.push('• the escrowed PUK and management key of this card no longer apply once it is reset (enroll it again with --escrow-recipient)');
  return lines.join('\n');
}

function render(result: ResetResult, flags: ResetFlags): string {
  if (flags.json) return JSON.stringify({ action: result.action, mode: result.plan?.mode, card: result.plan && cardJson(result.plan.card), revokedEnrollments: result.action === 'done' ? result.plan?.enrollments.map((e) => e.id) : [], recorded: result.recorded }, null, 2);
  if (result.action === 'planned') return `${describeResetPlan(result.plan!)}\n(dry run: nothing changed)`;
  if (result.action === 'declined') return 'Nothing changed.';
  return `The card is reset: factory PIN, PUK and management key, no keys.${result.recorded ? ' Recorded in the inventory.' : ''}`;
}

export async function runReset(flags: ResetFlags, output: Output, environment: CardLifeEnvironment): Promise<number> {
  const result = await resetCard(
    { card: { reader: flags.reader, virtual: flags.virtual, allowLastPinTry: flags.allowLastPinTry }, inventoryLocation: flags.inventory ?? defaultInventoryLocation(environment.env), force: flags.force ?? false },
    {
      dryRun: flags.dryRun,
      confirm: async (plan) => {
        if (!flags.json || environment.interactive) output.notice(describeResetPlan(plan));
        return confirmed({ ...environment, yes: flags.yes }, 'Erase the card\'s PIV application?', true);
      },
      write: (work) => cancellation.whileWritingCard(work, () => 'the card was reset'),
    },
  );
  output.result(render(result, flags));
  return result.action === 'declined' ? 1 : 0;
}
