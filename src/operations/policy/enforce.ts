/**
 * The site policy at planning: the facts of the key an enrollment is about to make (or keep), judged before anything
 * is written. Without a policy file the built-in known-weak rules still run: `roca` refuses (as piv-enroll always
 * did), `ysa-2024-03` only warns, since refusing ECDSA on every YubiKey before 5.7 is a site's decision to make.
 */
import { formatFirmwareVersion, type FirmwareVersion } from '../../standards/firmware.js';
import { pinPolicyName, TOUCH_POLICY, touchPolicyName } from '../../standards/policies.js';
import { EMPTY_POLICY, evaluatePolicy } from './rules.js';
import type { PinPolicyWord, PolicyFacts, PolicyRuleResult, SitePolicy, TouchPolicyWord } from './types.js';

export interface PlannedKeyFacts {
  keyOrigin?: 'generated' | 'imported';
  algorithm?: string;
  /** The PIN policy the card applies (DEFAULT already resolved for the slot). */
  pinPolicy?: number;
  /** As asked: DEFAULT is NEVER on a YubiKey. */
  touchPolicy?: number;
  firmware: FirmwareVersion;
  device?: { formFactor?: string; fips: boolean };
  validDays?: number;
}

const word = (name: string) => name.toLowerCase().replace(/_/g, '-');

/** Numbers as the card holds them → the policy's words. */
export function policyFacts(facts: PlannedKeyFacts): PolicyFacts {
  const touch = facts.touchPolicy === TOUCH_POLICY.DEFAULT ? TOUCH_POLICY.NEVER : facts.touchPolicy;
  return {
    keyOrigin: facts.keyOrigin,
    algorithm: facts.algorithm,
    pinPolicy: facts.pinPolicy === undefined ? undefined : (word(pinPolicyName(facts.pinPolicy)) as PinPolicyWord),
    touchPolicy: touch === undefined ? undefined : (word(touchPolicyName(touch)) as TouchPolicyWord),
    firmware: formatFirmwareVersion(facts.firmware),
    formFactor: facts.device?.formFactor,
    fips: facts.device?.fips,
    validDays: facts.validDays,
  };
}

export interface PolicyVerdict {
  results: PolicyRuleResult[];
  errors: string[];
  warnings: string[];
}

/** Every rule's result, and what of it refuses the plan or only warns. */
export function judgePlannedKey(policy: SitePolicy | undefined, facts: PlannedKeyFacts): PolicyVerdict {
  const results = evaluatePolicy(policy ?? EMPTY_POLICY, policyFacts(facts));
  const errors: string[] = [];
  const warnings: string[] = [];
  for (const result of results) {
    if (result.status !== 'problem') continue;
    const text = `policy rule ${result.rule}: ${result.message}`;
    if (policy === undefined && result.rule === 'ysa-2024-03') warnings.push(`${text} (a site policy refuses it unless it says allow-known-weak: [ysa-2024-03])`);
    else errors.push(text);
  }
  return { results, errors, warnings };
}

/** Whether the policy needs the Management application's device info (form factor, FIPS). */
export function policyNeedsDevice(policy: SitePolicy | undefined): boolean {
  return policy !== undefined && (policy.require.formFactors !== undefined || policy.require.fips === true);
}

/**
 * The rules that need no card (key origin, algorithm, PIN and touch policy, validity), for refusing a batch's person
 * before any card is touched; the firmware and device rules wait for the card's plan.
 */
export function cardIndependentProblems(policy: SitePolicy, facts: Omit<PlannedKeyFacts, 'firmware' | 'device'>): string[] {
  const { minFirmware: _minFirmware, formFactors: _formFactors, fips: _fips, ...require } = policy.require;
  // A firmware no rule objects to: only the policy's own card-independent rules can fail, the known-weak ones are dropped below.
  const results = evaluatePolicy({ ...policy, require }, policyFacts({ ...facts, firmware: { major: 255, minor: 255, patch: 255 } }));
  return results.filter((r) => r.status === 'problem' && r.rule !== 'roca' && r.rule !== 'ysa-2024-03').map((r) => `policy rule ${r.rule}: ${r.message}`);
}
