/** The site policy judged on attested facts (src/operations/policy/attested.ts): what the card signed, not what was asked. */
import { expect, test } from 'vitest';
import { judgeAttestedFacts, requirementUnderPolicy } from '../../src/operations/policy/attested.js';
import type { SitePolicy } from '../../src/operations/policy/types.js';
import { PIN_POLICY, TOUCH_POLICY } from '../../src/standards/policies.js';

const policy = (require: SitePolicy['require']): SitePolicy => ({ file: 'p.yaml', require, allowKnownWeak: [], defaults: {}, hostGroups: {} });
const attested = { firmware: { major: 5, minor: 7, patch: 2 }, serial: 1, pinPolicy: PIN_POLICY.ALWAYS, touchPolicy: TOUCH_POLICY.NEVER, formFactor: 0x01, fips: false, cspn: false };

test('an attested touch policy the site does not allow is refused, with the rule named', () => {
  const verdict = judgeAttestedFacts(policy({ touchPolicies: ['always', 'cached'] }), attested, 'ECCP256');
  expect(verdict.allowed).toBe(false);
  expect(verdict.reasons.join('\n')).toMatch(/policy rule touch-policy/);
});

test('attested facts that meet every rule are allowed; the form factor comes from the attestation', () => {
  expect(judgeAttestedFacts(policy({ keyOrigin: 'generated', pinPolicies: ['always'], formFactors: ['usb-a-keychain'], minFirmware: '5.7.0' }), attested, 'ECCP256')).toEqual({ allowed: true, reasons: [] });
  expect(judgeAttestedFacts(policy({ formFactors: ['usb-c-nano'] }), attested, 'ECCP256').allowed).toBe(false);
});

test('an attestation on firmware before 5.7 with an ECDSA key meets ysa-2024-03 under a policy', () => {
  const verdict = judgeAttestedFacts(policy({}), { ...attested, firmware: { major: 5, minor: 4, patch: 3 } }, 'ECCP256');
  expect(verdict.reasons.join('\n')).toMatch(/ysa-2024-03/);
});

test('a policy requiring generated keys makes the attestation required; without a policy the flags stand', async () => {
  expect((await requirementUnderPolicy(undefined, policy({ keyOrigin: 'generated' }), 'ECCP256'))?.required).toBe(true);
  expect((await requirementUnderPolicy(undefined, policy({ keyOrigin: 'any' }), 'ECCP256'))?.required).toBe(false);
  expect(await requirementUnderPolicy(undefined, undefined, 'ECCP256')).toBeUndefined();
});
