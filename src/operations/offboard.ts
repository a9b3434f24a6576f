/**
 * Offboarding a person, from what the inventory recorded: every key of theirs comes off every host it is on, every
 * CA that certified one of their keys revokes that key (the KRL then refuses any certificate of it, recorded or
 * not), and their enrollments are marked revoked. Planned first (pure, shown by --dry-run), then applied; a host
 * that cannot be reached keeps its record, so running offboard again finishes the job.
 */
import { parseOpenSshLine } from './ca/key-blob.js';
import { revoke } from './ca/revocations.js';
import { deployKey, type DeployOptions, type HostResult } from './deploy/deploy-key.js';
import { UsageError } from '../errors.js';
import { Inventory, type EnrollmentRecord, type UnfinishedRekey } from './inventory/inventory.js';
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
  /** The step is the new key of a re-key that did not finish (recorded only in `rekeys`): closed once it is gone. */
  rekeyId?: number;
}

export interface OffboardPlan {
  person: string;
  steps: OffboardStep[];
}

/**
 * Every key of the person: each enrollment's, and the new key of each re-key that did not finish — on the hosts (and
 * maybe the card) although no enrollment records it; its certificates came from the CAs of the key it was to replace.
 */
export function planOffboard(person: string, enrollments: EnrollmentRecord[], unfinishedRekeys: UnfinishedRekey[] = []): OffboardPlan {
  const rekeySteps = unfinishedRekeys.map((rekey): OffboardStep => {
    const old = enrollments.find((e) => e.id === rekey.oldEnrollmentId);
    return {
      enrollmentId: rekey.oldEnrollmentId, fingerprint: rekey.fingerprint, authorizedKey: rekey.authorizedKey, hosts: rekey.hosts,
      caDirs: [...new Set((old?.caCertificates ?? []).map((c) => c.caDir))], markRevoked: false, rekeyId: rekey.id,
    };
  });
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
  return { person, steps: [...steps, ...rekeySteps] };
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
      if (step.rekeyId === undefined) await recordDeployResults(inventory, step.fingerprint, 'remove', outcome.hosts, step.enrollmentId);
      for (const failed of outcome.hosts.filter((h) => h.status === 'failed')) outcome.problems.push(`${failed.host}: ${failed.reason}${failed.detail ? ` (${failed.detail})` : ''}`);
    }
    if (step.markRevoked && outcome.problems.length === 0) await inventory.setStatus(step.enrollmentId, 'revoked', `offboarded ${plan.person}`);
    if (step.rekeyId !== undefined && outcome.problems.length === 0) await inventory.endRekey(step.rekeyId, 'abandoned');
    outcomes.push(outcome);
  }
  return outcomes;
}

export interface OffboardRequest {
  person: string;
  inventoryLocation: string;
  deploy: DeployOptions;
  /** Only plan. */
  dryRun: boolean;
}

export interface OffboardResult {
  plan: OffboardPlan;
  /** Absent for a dry run, or when there was nothing to do. */
  outcomes?: OffboardOutcome[];
}

/** The workflow: the person's record read, the plan made (shown by `planned`), then applied unless a dry run. */
export async function offboardPerson(request: OffboardRequest, planned: (plan: OffboardPlan) => void = () => undefined): Promise<OffboardResult> {
  const inventory = await Inventory.open(request.inventoryLocation);
  try {
    const enrollments = await inventory.enrollments({ person: request.person, status: 'all' });
    if (enrollments.length === 0) throw new UsageError(`the inventory ${inventory.description} has no enrollment of "${request.person}"`);
    const unfinished = (await Promise.all(enrollments.map((e) => inventory.unfinishedRekeys(e.id)))).flat();
    const plan = planOffboard(request.person, enrollments, unfinished);
    if (request.dryRun || plan.steps.length === 0) return { plan };
    planned(plan);
    return { plan, outcomes: await applyOffboard(plan, inventory, request.deploy) };
  } finally {
    await inventory.close();
  }
}
