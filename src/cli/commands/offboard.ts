/** `piv-enroll offboard --user NAME`: the person's keys off every recorded host, their certificates revoked. */
import { UsageError } from '../../errors.js';
import { defaultInventoryLocation, Inventory } from '../../operations/inventory/inventory.js';
import { applyOffboard, planOffboard, type OffboardPlan } from '../../operations/offboard.js';
import type { Output } from '../output.js';
import { deployOptionsFrom } from './deploy.js';
import { hostAccess, type HostAccessFlags } from '../card-options.js';

export interface OffboardFlags extends HostAccessFlags {
  user?: string;
  inventory?: string;
  dryRun?: boolean;
  json?: boolean;
}

function describe(plan: OffboardPlan): string {
  if (plan.steps.length === 0) return `${plan.person}: nothing to do (no key of theirs is recorded on a host, no certificate unrevoked, every enrollment revoked)`;
  const lines = [`Offboarding ${plan.person}:`];
  for (const step of plan.steps) {
    lines.push(`• key ${step.fingerprint} (${step.rekeyId === undefined ? `enrollment ${step.enrollmentId}` : `from an unfinished re-key of enrollment ${step.enrollmentId}`})`);
    for (const dir of step.caDirs) lines.push(`    revoke it in the CA ${dir} (every certificate of it)`);
    for (const host of step.hosts) lines.push(`    remove it from ${host}`);
    if (step.markRevoked) lines.push('    mark the enrollment revoked');
  }
  return lines.join('\n');
}

export async function runOffboard(flags: OffboardFlags, output: Output): Promise<number> {
  const problems: string[] = [];
  if (!flags.user?.trim()) problems.push('--user NAME is required: the person to offboard, as the inventory names them');
  const options = deployOptionsFrom(hostAccess(flags), problems);
  const location = flags.inventory ?? defaultInventoryLocation();
  if (location === 'none') problems.push('offboard works from the inventory: --inventory none is not possible here');
  if (problems.length > 0) throw new UsageError(problems.join('\n'));

  const inventory = await Inventory.open(location);
  try {
    const enrollments = await inventory.enrollments({ person: flags.user, status: 'all' });
    if (enrollments.length === 0) throw new UsageError(`the inventory ${inventory.description} has no enrollment of "${flags.user}"`);
    const unfinished = (await Promise.all(enrollments.map((e) => inventory.unfinishedRekeys(e.id)))).flat();
    const plan = planOffboard(flags.user!, enrollments, unfinished);
    if (flags.dryRun || plan.steps.length === 0) {
      output.result(flags.json ? JSON.stringify({ dryRun: true, plan }, null, 2) : `${describe(plan)}${flags.dryRun && plan.steps.length > 0 ? '\n(dry run: nothing changed)' : ''}`);
      return 0;
    }
    output.notice(describe(plan));
    const outcomes = await applyOffboard(plan, inventory, options);
    const problemsLeft = outcomes.flatMap((o) => o.problems);
    if (flags.json) output.result(JSON.stringify({ person: plan.person, outcomes }, null, 2));
    else {
      const lines = outcomes.flatMap((o) => [
        `key ${o.fingerprint}: ${o.revokedIn.length > 0 ? `revoked in ${o.revokedIn.join(', ')}; ` : ''}${o.hosts.map((h) => `${h.host} ${h.status}`).join(', ') || 'on no host'}`,
      ]);
      output.result([...lines, problemsLeft.length === 0 ? `${plan.person} is offboarded.` : `Not finished (run offboard again once fixed): ${problemsLeft.join('; ')}`].join('\n'));
    }
    return problemsLeft.length === 0 ? 0 : 1;
  } finally {
    await inventory.close();
  }
}
