/** The documented key id of `ca sign --require-attestation`: `<key-id> yubikey-serial=N pin-policy=P touch-policy=T`. */
import { expect, test } from 'vitest';
import { attestedKeyId } from '../../src/operations/ca/attested-key.js';
import { PIN_POLICY, TOUCH_POLICY } from '../../src/standards/policies.js';

test('serial and policies follow the key id, in order, policy names in lower case with hyphens', () => {
  expect(attestedKeyId('ana@example', { serial: 11409355, pinPolicy: PIN_POLICY.MATCH_ONCE, touchPolicy: TOUCH_POLICY.CACHED, fips: false, cspn: false })).toBe(
    'ana@example yubikey-serial=11409355 pin-policy=match-once touch-policy=cached',
  );
  expect(attestedKeyId('bo', { serial: 7, pinPolicy: PIN_POLICY.ALWAYS, touchPolicy: TOUCH_POLICY.NEVER, fips: false, cspn: false })).toBe('bo yubikey-serial=7 pin-policy=always touch-policy=never');
  expect(attestedKeyId('cy', { fips: false, cspn: false })).toBe('cy'); // only what the attestation carries
});
