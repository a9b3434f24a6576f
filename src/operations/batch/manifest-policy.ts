/**
 * A batch against the site policy before any card is touched: each person's manifest values against the rules that
 * need no card (key origin, algorithm, PIN and touch policy, validity). Firmware and device rules wait for each card's plan.
 */
import { checkEnrollInputs } from '../enroll/enroll-inputs.js';
import { DEFAULT_VALID_DAYS } from '../enroll/options.js';
import { effectivePinPolicy } from '../enroll/plan.js';
import { cardIndependentProblems } from '../policy/enforce.js';
import type { SitePolicy } from '../policy/types.js';
import type { ManifestEntry } from './manifest.js';

/** `FILE:LINE: USER: policy rule NAME: message`, for every person and rule. */
export function manifestPolicyProblems(entries: ManifestEntry[], policy: SitePolicy, fileName: string): string[] {
  const problems: string[] = [];
  for (const entry of entries) {
    // The entries are already checked (parseManifest), so the validator hears no problem here.
    const checked = checkEnrollInputs({ slot: entry.slot, algorithm: entry.algorithm, 'pin-policy': entry.pinPolicy, 'touch-policy': entry.touchPolicy, 'key-source': entry.keySource }, () => undefined);
    const found = cardIndependentProblems(policy, {
      keyOrigin: checked.keySource === 'card' ? 'generated' : 'imported',
      algorithm: checked.algorithm.name,
      pinPolicy: effectivePinPolicy(checked.slot, checked.pinPolicy),
      touchPolicy: checked.touchPolicy,
      validDays: entry.validDays ?? policy.defaults.validDays ?? DEFAULT_VALID_DAYS,
    });
    for (const problem of found) problems.push(`${fileName}:${entry.line}: ${entry.user}: ${problem}`);
  }
  return problems;
}
