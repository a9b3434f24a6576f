/**
 * The policy's rules, judged on facts: a pure function, so the enrollment plan, doctor, status and (later) an
 * attestation's attested facts all get the same verdicts. Each result names its rule, so a message can be looked up.
 */
import { atLeast, parseFirmwareVersion, type FirmwareVersion } from '../../standards/firmware.js';
import type { KnownWeakRule, PolicyFacts, PolicyRuleResult, SitePolicy } from './types.js';

/** A policy that requires nothing: the built-in rules alone. */
export const EMPTY_POLICY: SitePolicy = { file: '(none)', require: {}, allowKnownWeak: [], defaults: {}, hostGroups: {} };

const list = (values: readonly string[]) => values.join(', ');

/**
 * Known-weak devices: firmware bugs Yubico published advisories for. Each takes the facts and says what is wrong,
 * or undefined when the rule does not apply.
 */
export const KNOWN_WEAK: Record<KnownWeakRule, (facts: PolicyFacts, firmware: FirmwareVersion) => string | undefined> = {
  // Yubico YSA-2017-01 (ROCA, CVE-2017-15361, Infineon RSA key generation): the advisory names YubiKey 4 firmware
  // 4.2.6–4.3.4 with RSA keys generated on the chip; the range refused here is 4.2.0–4.3.4 (issue 17), as
  // standards/firmware.ts's 'rsa-generation' feature already does. Imported RSA keys and ECC keys are not affected.
  roca: (facts, firmware) => {
    if (!(atLeast(firmware, 4, 2, 0) && !atLeast(firmware, 4, 3, 5))) return undefined;
    if (facts.algorithm !== undefined && !facts.algorithm.startsWith('RSA')) return undefined;
    if (facts.keyOrigin === 'imported') return undefined;
    const what = facts.keyOrigin === undefined ? 'a key of unknown origin (possibly generated on the card)' : 'an RSA key generated on the card';
    return `firmware ${facts.firmware} with ${what} has the ROCA weakness (Yubico YSA-2017-01, CVE-2017-15361): its RSA private key can be computed from the public key`;
  },
  // Yubico YSA-2024-03 (EUCLEAK, Infineon ECDSA private key recovery by a side channel, NinjaLab 2024): YubiKey 5
  // series firmware before 5.7.0. It needs the device in the attacker's hands; origin does not matter (the signing leaks).
  'ysa-2024-03': (facts, firmware) => {
    if (atLeast(firmware, 5, 7, 0)) return undefined;
    if (facts.algorithm === undefined || !facts.algorithm.startsWith('ECCP')) return undefined;
    return `ECDSA (${facts.algorithm}) on firmware ${facts.firmware} is open to key recovery by someone holding the card (Yubico YSA-2024-03, EUCLEAK; fixed in 5.7.0)`;
  },
};

/**
 * Every rule the policy sets, then every built-in known-weak rule, each ok or problem. A fact the rule needs and
 * nobody knows is a problem ("cannot tell"): a policy is not met by not looking.
 */
export function evaluatePolicy(policy: SitePolicy, facts: PolicyFacts): PolicyRuleResult[] {
  const results: PolicyRuleResult[] = [];
  const { require } = policy;
  const check = (rule: PolicyRuleResult['rule'], ok: boolean, message: string) => results.push({ rule, status: ok ? 'ok' : 'problem', message });
  const unknown = (rule: PolicyRuleResult['rule'], what: string) => check(rule, false, `cannot tell the ${what}, which the policy restricts`);

  if (require.keyOrigin !== undefined && require.keyOrigin !== 'any') {
    if (facts.keyOrigin === undefined) unknown('key-origin', 'key origin (firmware before 5.3 does not report it)');
    else if (facts.keyOrigin === require.keyOrigin) check('key-origin', true, `key ${facts.keyOrigin} as required`);
    else check('key-origin', false, require.keyOrigin === 'generated'
      ? 'the policy requires keys generated on the card (key-origin: generated): an imported or host-made key is refused; use --key-source card'
      : 'the policy requires imported keys (key-origin: imported): use --key-source host or --import');
  }
  if (require.algorithms !== undefined) {
    if (facts.algorithm === undefined) unknown('algorithms', 'key algorithm');
    else check('algorithms', (require.algorithms as string[]).includes(facts.algorithm), (require.algorithms as string[]).includes(facts.algorithm)
      ? `algorithm ${facts.algorithm} allowed`
      : `algorithm ${facts.algorithm} is not allowed by the policy (algorithms: ${list(require.algorithms)})`);
  }
  if (require.pinPolicies !== undefined) {
    if (facts.pinPolicy === undefined) unknown('pin-policy', 'PIN policy');
    else check('pin-policy', require.pinPolicies.includes(facts.pinPolicy), require.pinPolicies.includes(facts.pinPolicy)
      ? `PIN policy ${facts.pinPolicy} allowed`
      : `PIN policy ${facts.pinPolicy} is not allowed by the policy (pin-policy: ${list(require.pinPolicies)}): give --pin-policy ${require.pinPolicies[0]}`);
  }
  if (require.touchPolicies !== undefined) {
    if (facts.touchPolicy === undefined) unknown('touch-policy', 'touch policy');
    else check('touch-policy', require.touchPolicies.includes(facts.touchPolicy), require.touchPolicies.includes(facts.touchPolicy)
      ? `touch policy ${facts.touchPolicy} allowed`
      : `touch policy ${facts.touchPolicy} is not allowed by the policy (touch-policy: ${list(require.touchPolicies)}): give --touch-policy ${require.touchPolicies[0]}`);
  }
  const firmware = parseFirmwareVersion(facts.firmware) ?? { major: 0, minor: 0, patch: 0 };
  if (require.minFirmware !== undefined) {
    const min = parseFirmwareVersion(require.minFirmware)!;
    const ok = atLeast(firmware, min.major, min.minor, min.patch);
    check('min-firmware', ok, ok ? `firmware ${facts.firmware} ≥ ${require.minFirmware}` : `firmware ${facts.firmware} is older than the policy's minimum ${require.minFirmware}`);
  }
  if (require.formFactors !== undefined) {
    if (facts.formFactor === undefined) unknown('form-factors', 'form factor (the card has no YubiKey Management application)');
    else check('form-factors', require.formFactors.includes(facts.formFactor), require.formFactors.includes(facts.formFactor)
      ? `form factor ${facts.formFactor} allowed`
      : `form factor ${facts.formFactor} is not allowed by the policy (form-factors: ${list(require.formFactors)})`);
  }
  if (require.fips === true) {
    if (facts.fips === undefined) unknown('fips', 'FIPS status');
    else check('fips', facts.fips, facts.fips ? 'a FIPS device, as required' : 'the policy requires a FIPS device (fips: true): this one is not');
  }
  if (require.maxValidDays !== undefined && facts.validDays !== undefined) {
    const ok = facts.validDays <= require.maxValidDays;
    check('max-valid-days', ok, ok ? `validity ${facts.validDays} days allowed` : `a validity of ${facts.validDays} days exceeds the policy's max-valid-days ${require.maxValidDays}`);
  }
  for (const [rule, weakness] of Object.entries(KNOWN_WEAK) as Array<[KnownWeakRule, (typeof KNOWN_WEAK)[KnownWeakRule]]>) {
    const found = weakness(facts, firmware);
    if (found === undefined) check(rule, true, `not affected (${rule})`);
    else if (policy.allowKnownWeak.includes(rule)) check(rule, true, `${found}; allowed by the policy (allow-known-weak: ${rule})`);
    else check(rule, false, found);
  }
  return results;
}

/** The problems, each as "policy rule NAME: message", for a refusal. */
export function policyProblems(results: PolicyRuleResult[]): string[] {
  return results.filter((r) => r.status === 'problem').map((r) => `policy rule ${r.rule}: ${r.message}`);
}
