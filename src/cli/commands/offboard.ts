/** `piv-enroll offboard --user NAME`: the person's keys off every recorded host, their certificates revoked. */
import { UsageError } from '../../errors.js';
import { defaultInventoryLocation } from '../../operations/inventory/inventory.js';
import { offboardPerson, type OffboardPlan } from '../../operations/offboard.js';
import type { Output } from '../output.js';
import { deployOptionsFrom } from '../host-options.js';
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

  const { plan, outcomes } = await offboardPerson({ person: flags.user!, inventoryLocation: location, deploy: options, dryRun: flags.dryRun ?? false }, (p) => output.notice(describe(p)));
  if (!outcomes) {
    output.result(flags.json ? JSON.stringify({ dryRun: true, plan }, null, 2) : `${describe(plan)}${flags.dryRun && plan.steps.length > 0 ? '\n(dry run: nothing changed)' : ''}`);
    return 0;
  }
  const problemsLeft = outcomes.flatMap((o) => o.problems);
  if (flags.json) output.result(JSON.stringify({ person: plan.person, outcomes }, null, 2));
  else {
    const lines = outcomes.map((o) => `key ${o.fingerprint}: ${o.revokedIn.length > 0 ? `revoked in ${o.revokedIn.join(', ')}; ` : ''}${o.hosts.map((h) => `${h.host} ${h.status}`).join(', ') || 'on no host'}`);
    output.result([...lines, problemsLeft.length === 0 ? `${plan.person} is offboarded.` : `Not finished (run offboard again once fixed): ${problemsLeft.join('; ')}`].join('\n'));
  }
  return problemsLeft.length === 0 ? 0 : 1;
}
