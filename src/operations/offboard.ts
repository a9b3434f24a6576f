/**
 * Offboarding a person, from what the inventory recorded: every key of theirs comes off every host it is on, every
 * CA that certified one of their keys revokes that key (the KRL then refuses any certificate of it, recorded or
 * not), and their enrollments are marked revoked. Planned first (pure, shown by --dry-run), then applied; a host
 * that cannot be reached keeps its record, so running offboard again finishes the job.
 */
import { parseOpenSshLine } from './ca/key-blob.js';
import { revoke } from './ca/revocations.js';
import { deployKey, type DeployOptions, type HostResult } from './deploy/deploy-key.js';
import type { EnrollmentRecord, Inventory } from './inventory/inventory.js';
import { recordDeployResults } from './inventory/record-deploy.js';

export interface OffboardStep {
  enrollmentId: number;
  fingerprint: string;
  authorizedKey: string;
  /** Hosts the inventory shows the key on. */
  hosts: string[];
  /** CA directories that certified the key (their KRL will revoke the key itself). */
  caDirs: string[];
  /** Whether the enrollment is still marked active or replaced (to become revoked). */
  markRevoked: boolean;
}

export interface OffboardPlan {
  person: string;
  steps: OffboardStep[];
}

export function planOffboard(person: string, enrollments: EnrollmentRecord[]): OffboardPlan {
  const steps = enrollments
    .map((e) => ({
      enrollmentId: e.id,
      fingerprint: e.fingerprint,
      authorizedKey: e.authorizedKey,
      hosts: e.deployments.filter((d) => d.state === 'present' || d.state === 'failed').map((d) => d.host),
      caDirs: [...new Set(e.caCertificates.filter((c) => !c.revokedAt).map((c) => c.caDir))],
      markRevoked: e.status !== 'revoked',
    }))
    .filter((s) => s.hosts.length > 0 || s.caDirs.length > 0 || s.markRevoked);
  return { person, steps };
}

export interface OffboardOutcome {
  enrollmentId: number;
  fingerprint: string;
  hosts: HostResult[];
  revokedIn: string[];
  problems: string[];
}

export async function applyOffboard(plan: OffboardPlan, inventory: Inventory, deployOptions: DeployOptions): Promise<OffboardOutcome[]> {
  const outcomes: OffboardOutcome[] = [];
  for (const step of plan.steps) {
    const outcome: OffboardOutcome = { enrollmentId: step.enrollmentId, fingerprint: step.fingerprint, hosts: [], revokedIn: [], problems: [] };
    // Certificates first: one KRL change cuts every certificate of the key at once, wherever it is deployed.
    for (const dir of step.caDirs) {
      try {
        await revoke(dir, { kind: 'key', blob: parseOpenSshLine(step.authorizedKey, 'the recorded key').blob });
        await inventory.recordCaRevocation(dir, { fingerprint: step.fingerprint });
        outcome.revokedIn.push(dir);
      } catch (error) {
        outcome.problems.push(`CA ${dir}: ${(error as Error).message}`);
      }
    }
    if (step.hosts.length > 0) {
      outcome.hosts = await deployKey({ action: 'remove', keyLine: step.authorizedKey }, step.hosts, deployOptions);
      await recordDeployResults(inventory, step.fingerprint, 'remove', outcome.hosts, step.enrollmentId);
      for (const failed of outcome.hosts.filter((h) => h.status === 'failed')) outcome.problems.push(`${failed.host}: ${failed.reason}${failed.detail ? ` (${failed.detail})` : ''}`);
    }
    if (step.markRevoked && outcome.problems.length === 0) await inventory.setStatus(step.enrollmentId, 'revoked', `offboarded ${plan.person}`);
    outcomes.push(outcome);
  }
  return outcomes;
}
