/**
 * Offboarding a person, from what the inventory recorded: every key of theirs comes off every host it is on, every
 * CA that certified one of their keys revokes that key, and their enrollments are marked revoked (key-removal.ts,
 * shared with `retire`). Planned first (pure, shown by --dry-run), then applied; a host that cannot be reached keeps
 * its record, so running offboard again finishes the job.
 */
import { UsageError } from '../errors.js';
import type { DeployOptions } from './deploy/deploy-key.js';
import { Inventory, type EnrollmentRecord, type UnfinishedRekey } from './inventory/inventory.js';
import { applyKeyRemovals, planKeyRemovals, unfinishedRekeysOf, type KeyRemovalOutcome, type KeyRemovalStep } from './key-removal.js';

export type OffboardStep = KeyRemovalStep;
export type OffboardOutcome = KeyRemovalOutcome;

export interface OffboardPlan {
  person: string;
  steps: OffboardStep[];
}

/** Every key of the person (key-removal.ts: their enrollments' keys, and those of re-keys that did not finish). */
export function planOffboard(person: string, enrollments: EnrollmentRecord[], unfinishedRekeys: UnfinishedRekey[] = []): OffboardPlan {
  return { person, steps: planKeyRemovals(enrollments, unfinishedRekeys) };
}

export async function applyOffboard(plan: OffboardPlan, inventory: Inventory, deployOptions: DeployOptions): Promise<OffboardOutcome[]> {
  return applyKeyRemovals(plan.steps, inventory, deployOptions, `offboarded ${plan.person}`);
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
    const unfinished = await unfinishedRekeysOf(inventory, enrollments);
    const plan = planOffboard(request.person, enrollments, unfinished);
    if (request.dryRun || plan.steps.length === 0) return { plan };
    planned(plan);
    return { plan, outcomes: await applyOffboard(plan, inventory, request.deploy) };
  } finally {
    await inventory.close();
  }
}
