/**
 * Capability checks: pure functions of the firmware version, run before any APDU so the user hears
 * "this YubiKey (4.3.7) has no Ed25519" instead of a status word.
 */
import { keyAlgorithmById, type KeyAlgorithmInfo, type ManagementKeyAlgorithmInfo } from '../standards/algorithms.js';
import { FEATURE_DESCRIPTION, featuresForKeyAlgorithm, formatFirmwareVersion, hasFeature, type Feature, type FirmwareVersion } from '../standards/firmware.js';
import { PIN_POLICY, TOUCH_POLICY } from '../standards/policies.js';
import { NotSupportedError } from './errors.js';

export function requireFeature(version: FirmwareVersion, feature: Feature): void {
  if (!hasFeature(version, feature)) {
    throw new NotSupportedError(`this card (firmware ${formatFirmwareVersion(version)}) does not support ${FEATURE_DESCRIPTION[feature]}`);
  }
}

export function requireKeyAlgorithm(version: FirmwareVersion, algorithm: KeyAlgorithmInfo): void {
  for (const feature of featuresForKeyAlgorithm(algorithm.name)) requireFeature(version, feature);
}

export function requireKeyGeneration(version: FirmwareVersion, algorithm: KeyAlgorithmInfo): void {
  requireKeyAlgorithm(version, algorithm);
  if (algorithm.kind === 'rsa') requireFeature(version, 'rsa-generation');
}

export function requirePolicies(version: FirmwareVersion, pinPolicy: number, touchPolicy: number): void {
  if (pinPolicy !== PIN_POLICY.DEFAULT || touchPolicy !== TOUCH_POLICY.DEFAULT) requireFeature(version, 'pin-touch-policy');
  if (touchPolicy === TOUCH_POLICY.CACHED) requireFeature(version, 'touch-cached');
  if (pinPolicy === PIN_POLICY.MATCH_ONCE || pinPolicy === PIN_POLICY.MATCH_ALWAYS) {
    throw new NotSupportedError('PIN policies MATCH-ONCE and MATCH-ALWAYS need a YubiKey Bio');
  }
}

export function requireManagementKeyAlgorithm(version: FirmwareVersion, algorithm: ManagementKeyAlgorithmInfo): void {
  if (algorithm.name !== 'TDES') requireFeature(version, 'aes-management-key');
}

/** Algorithms this firmware can hold, for wizards and error messages. */
export function supportedKeyAlgorithms(version: FirmwareVersion): KeyAlgorithmInfo[] {
  return [0x06, 0x07, 0x05, 0x16, 0x11, 0x14, 0xe0, 0xe1]
    .map((id) => keyAlgorithmById(id)!)
    .filter((a) => featuresForKeyAlgorithm(a.name).every((f) => hasFeature(version, f)));
}
