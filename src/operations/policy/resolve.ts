/**
 * Which site policy is in effect: --policy FILE, else PIV_ENROLL_POLICY, else the site default when present. The
 * file itself is read and checked by load.ts, loaded only when there is a file to read.
 */
import { existsSync } from 'node:fs';
import type { SitePolicy } from './types.js';

/** Where a site keeps its policy; used when present and neither --policy nor PIV_ENROLL_POLICY says otherwise. */
export const DEFAULT_POLICY_FILE = '/etc/piv-enroll/policy.yaml';
/** Names the policy file instead of the default; `none` means no policy (the tests set it so a machine's own policy does not count). */
export const POLICY_ENVIRONMENT_VARIABLE = 'PIV_ENROLL_POLICY';

/** load.ts's loadPolicyFile: reads FILE and checks it against the schema. */
async function loadPolicyFile(file: string): Promise<SitePolicy> {
  // Loaded when a policy file is read, not at start-up: the yaml package costs every command ~45 ms.
  return (await import('./load.js')).loadPolicyFile(file);
}

/**
 * The policy in effect: --policy FILE, else PIV_ENROLL_POLICY (a file, or `none`), else the site default when present.
 * A policy named by flag or environment must exist; the default file only counts when it is there.
 */
export async function resolvePolicy(flag: string | undefined, env: NodeJS.ProcessEnv, defaultFile = DEFAULT_POLICY_FILE): Promise<SitePolicy | undefined> {
  if (flag !== undefined) return flag === 'none' ? undefined : loadPolicyFile(flag);
  const named = env[POLICY_ENVIRONMENT_VARIABLE];
  if (named !== undefined && named !== '') return named === 'none' ? undefined : loadPolicyFile(named);
  return existsSync(defaultFile) ? loadPolicyFile(defaultFile) : undefined;
}
