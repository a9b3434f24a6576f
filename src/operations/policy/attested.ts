/**
 * The site policy judged on what the card attests, not on what piv-enroll asked for: the attestation is signed by the
 * device, so its PIN and touch policy, firmware, form factor and FIPS flag are facts, where the plan's are intentions.
 * A policy that requires keys generated on the card needs that proof: it makes the attestation required (a key whose
 * attestation does not verify is refused before the PKCS#11 checks, the CA, the inventory and the hosts).
 */
import { formFactorOptionName } from '../../standards/management.js';
import type { AttestationPolicyVerdict, AttestationRequirement } from '../attestation/evidence.js';
import type { AttestationFacts } from '../attestation/extensions.js';
import { siteAttestationTrust } from '../attestation/evidence.js';
import { judgePlannedKey } from './enforce.js';
import type { SitePolicy } from './types.js';

/** What the policy says of an attested key of `algorithm` (the attestation itself names no algorithm: the slot's key does). */
export function judgeAttestedFacts(policy: SitePolicy, facts: AttestationFacts, algorithm: string, validDays?: number): AttestationPolicyVerdict {
  if (!facts.firmware) return { allowed: false, reasons: ['the attestation does not state the firmware, which the policy rules need'] };
  const verdict = judgePlannedKey(policy, {
    keyOrigin: 'generated', // an attestation exists only for a key the card generated
    algorithm,
    pinPolicy: facts.pinPolicy,
    touchPolicy: facts.touchPolicy,
    firmware: facts.firmware,
    device: { formFactor: facts.formFactor === undefined ? undefined : formFactorOptionName(facts.formFactor), fips: facts.fips || (facts.formFactor !== undefined && (facts.formFactor & 0x80) !== 0) },
    validDays,
  });
  return { allowed: verdict.errors.length === 0, reasons: verdict.errors };
}

/**
 * The attestation requirement under a site policy: the given one (flags) with the policy's judgement added, and
 * required when the policy requires generated keys. Without a policy, the given one unchanged.
 */
export async function requirementUnderPolicy(
  given: AttestationRequirement | undefined, policy: SitePolicy | undefined, algorithm: string, validDays?: number,
): Promise<AttestationRequirement | undefined> {
  if (!policy) return given;
  return {
    trust: given?.trust ?? (await siteAttestationTrust()),
    required: (given?.required ?? false) || policy.require.keyOrigin === 'generated',
    evaluatePolicy: (facts) => {
      const own = judgeAttestedFacts(policy, facts, algorithm, validDays);
      const other = given?.evaluatePolicy?.(facts);
      return other ? { allowed: own.allowed && other.allowed, reasons: [...own.reasons, ...other.reasons] } : own;
    },
  };
}
