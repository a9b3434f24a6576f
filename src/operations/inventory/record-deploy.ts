/**
 * Deploy results into the inventory, against the enrollment whose key was deployed (found by fingerprint).
 * A failed removal records nothing: the key may well still be on that host, and the inventory must not say otherwise.
 */
import type { HostResult } from '../deploy/deploy-key.js';
import type { DeploymentState, Inventory } from './inventory.js';

export interface RecordedDeploy {
  /** The enrollment the key belongs to, when the inventory knows the key. */
  enrollmentId?: number;
  recorded: number;
}

const STATE: Partial<Record<HostResult['status'], DeploymentState>> = {
  added: 'present',
  updated: 'present',
  'already-present': 'present',
  removed: 'removed',
  absent: 'removed',
};

export async function recordDeployResults(inventory: Inventory, fingerprint: string, action: 'add' | 'remove', results: HostResult[], enrollmentId?: number): Promise<RecordedDeploy> {
  const id = enrollmentId ?? (await inventory.enrollments({ fingerprint, status: action === 'add' ? 'active' : 'all' })).at(-1)?.id;
  if (id === undefined) return { recorded: 0 };
  let recorded = 0;
  for (const result of results) {
    const state = result.status === 'failed' ? (action === 'add' ? 'failed' : undefined) : STATE[result.status];
    if (!state) continue; // dry runs and failed removals change nothing recorded
    await inventory.recordDeployment(id, result.host, state, result.status === 'failed' ? `${result.reason}${result.detail ? `: ${result.detail}` : ''}` : undefined);
    recorded++;
  }
  return { enrollmentId: id, recorded };
}
