/**
 * `piv-enroll retire --card SERIAL`: a lost card retired from the inventory (operations/card-life/retire-card.ts): its
 * keys off every recorded host, revoked in their CAs, the card marked lost. The plan is shown first (--dry-run stops
 * there; a terminal asks, else --yes is needed); an unreachable host is reported and retire can run again.
 */
import { UsageError } from '../../errors.js';
import { retireCard, type RetirePlan, type RetireResult } from '../../operations/card-life/retire-card.js';
import { defaultInventoryLocation } from '../../operations/inventory/inventory.js';
import { hostAccess, type HostAccessFlags } from '../card-options.js';
import { confirmed, type CardLifeEnvironment } from '../card-life-report.js';
import { deployOptionsFrom } from '../host-options.js';
import type { Output } from '../output.js';

export interface RetireFlags extends HostAccessFlags {
  card?: number;
  inventory?: string;
  yes?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

export function describeRetirePlan(plan: RetirePlan): string {
  const lines = [`Retire card ${plan.card.serial}${plan.card.virtual ? ' (virtual)' : ''}${plan.markLost ? ': mark it lost' : ' (already marked lost)'}`];
  for (const step of plan.steps) {
    lines.push(`• key ${step.fingerprint} (${step.rekeyId === undefined ? `enrollment ${step.enrollmentId}` : `from an unfinished re-key of enrollment ${step.enrollmentId}`})`);
    for (const dir of step.caDirs) lines.push(`    revoke it in the CA ${dir} (every certificate of it)`);
    for (const host of step.hosts) lines.push(`    remove it from ${host}`);
    if (step.markRevoked) lines.push('    mark the enrollment revoked');
  }
  if (plan.steps.length === 0) lines.push('• no key of the card is recorded on a host or unrevoked');
  return lines.join('\n');
}

function render(result: RetireResult, flags: RetireFlags): string {
  if (flags.json) return JSON.stringify({ action: result.action, card: result.plan.card.serial, markLost: result.plan.markLost, plan: result.plan.steps, outcomes: result.outcomes, problems: result.problems }, null, 2);
  if (result.action === 'planned') return `${describeRetirePlan(result.plan)}\n(dry run: nothing changed)`;
  if (result.action === 'declined') return 'Nothing changed.';
  const lines = result.outcomes.map((o) => `key ${o.fingerprint}: ${o.revokedIn.length > 0 ? `revoked in ${o.revokedIn.join(', ')}; ` : ''}${o.hosts.map((h) => `${h.host} ${h.status}`).join(', ') || 'on no host'}`);
  if (result.outcomes.length === 0) lines.push(`card ${result.plan.card.serial}: nothing left to do`);
  lines.push(result.problems.length === 0 ? `Card ${result.plan.card.serial} is retired: marked lost, no key of it on a recorded host.` : `Card ${result.plan.card.serial} is marked lost, but not finished (run retire again once fixed): ${result.problems.join('; ')}`);
  return lines.join('\n');
}

export async function runRetire(flags: RetireFlags, output: Output, environment: CardLifeEnvironment): Promise<number> {
  const problems: string[] = [];
  if (flags.card === undefined) problems.push('--card SERIAL is required: the lost card, as the inventory names it');
  const deploy = deployOptionsFrom(hostAccess(flags), problems);
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  const result = await retireCard(
    { serial: flags.card!, inventoryLocation: flags.inventory ?? defaultInventoryLocation(environment.env), deploy },
    {
      dryRun: flags.dryRun,
      confirm: async (plan) => {
        if (!flags.json || environment.interactive) output.notice(describeRetirePlan(plan));
        return confirmed({ ...environment, yes: flags.yes }, `Retire card ${plan.card.serial}?`, true);
      },
    },
  );
  output.result(render(result, flags));
  return result.action === 'declined' || result.problems.length > 0 ? 1 : 0;
}
