/**
 * Taking recorded keys out of use, from what the inventory recorded: each key comes off every host it is on, every CA
 * that certified it revokes the key itself (the KRL then refuses any certificate of it, recorded or not), and its
 * enrollment is marked revoked. Shared by `offboard` (a person's keys) and `retire` (a lost card's keys). Planned
 * first (pure), then applied; a host that cannot be reached keeps its record, so running the command again finishes it.
 */
import { parseOpenSshLine } from './ca/key-blob.js';
import { revoke } from './ca/revocations.js';
import { deployKey, type DeployOptions, type HostResult } from './deploy/deploy-key.js';
import type { EnrollmentRecord, Inventory, UnfinishedRekey } from './inventory/inventory.js';
import { recordDeployResults } from './inventory/record-deploy.js';

export interface KeyRemovalStep {
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

/**
 * Every key of these enrollments, and the new key of each re-key of them that did not finish — on the hosts (and
 * maybe the card) although no enrollment records it; its certificates came from the CAs of the key it was to replace.
 */
export function planKeyRemovals(enrollments: EnrollmentRecord[], unfinishedRekeys: UnfinishedRekey[] = []): KeyRemovalStep[] {
  const rekeySteps = unfinishedRekeys.map((rekey): KeyRemovalStep => {
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
  return [...steps, ...rekeySteps];
}

/** The unfinished re-keys of these enrollments (their new keys may be on hosts too). */
export async function unfinishedRekeysOf(inventory: Inventory, enrollments: EnrollmentRecord[]): Promise<UnfinishedRekey[]> {
  return (await Promise.all(enrollments.map((e) => inventory.unfinishedRekeys(e.id)))).flat();
}

export interface KeyRemovalOutcome {
  enrollmentId: number;
  fingerprint: string;
  hosts: HostResult[];
  revokedIn: string[];
  problems: string[];
}

/** Applies the steps; `why` goes into the revoked enrollments' events ("offboarded ana", "card 123 lost"). */
export async function applyKeyRemovals(steps: KeyRemovalStep[], inventory: Inventory, deployOptions: DeployOptions, why: string): Promise<KeyRemovalOutcome[]> {
  const outcomes: KeyRemovalOutcome[] = [];
  for (const step of steps) {
    const outcome: KeyRemovalOutcome = { enrollmentId: step.enrollmentId, fingerprint: step.fingerprint, hosts: [], revokedIn: [], problems: [] };
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
    if (step.markRevoked && outcome.problems.length === 0) await inventory.setStatus(step.enrollmentId, 'revoked', why);
    if (step.rekeyId !== undefined && outcome.problems.length === 0) await inventory.endRekey(step.rekeyId, 'abandoned');
    outcomes.push(outcome);
  }
  return outcomes;
}
