/** Makes a factory-fresh virtual YubiKey: new serial, new attestation key and certificate, default credentials. */
import { randomBytes } from 'node:crypto';
import { encodeCertificateObject } from '../../bytes/certificate-object.js';
import { readUint, toHex } from '../../bytes/hex.js';
import { generateKeyPairFor } from '../../crypto/keys.js';
import { keyAlgorithmByName } from '../../standards/algorithms.js';
import { parseFirmwareVersion, type FirmwareVersion } from '../../standards/firmware.js';
import { DEFAULT_FORM_FACTOR, FORM_FACTOR, formFactorOptionName } from '../../standards/management.js';
import { PIN_POLICY, TOUCH_POLICY } from '../../standards/policies.js';
import { OBJECT } from '../../standards/objects.js';
import { SLOT } from '../../standards/references.js';
import { makeAttestationCertificate } from './attestation.js';
import type { CardDependencies } from './card-context.js';
import { encodePrivateKey, newFactoryState, objectKey, slotKey, type CardState } from './card-state.js';

export const DEFAULT_VIRTUAL_FIRMWARE = '5.7.2';

export const defaultCardDependencies: CardDependencies = {
  random: (length) => new Uint8Array(randomBytes(length)),
  now: () => Date.now(),
  generateKeyPair: generateKeyPairFor,
};

export interface NewCardOptions {
  firmware?: FirmwareVersion | string;
  serial?: number;
  /** Form factor code (src/standards/management.ts FORM_FACTOR); USB-A keychain when absent. */
  formFactor?: number;
  deps?: CardDependencies;
}

/** YubiKey serials are positive integers below 2^32; we draw 8-digit ones, like current YubiKeys. */
function randomSerial(deps: CardDependencies): number {
  return 10_000_000 + (readUint(deps.random(4)) % 90_000_000);
}

export async function createCardState(options: NewCardOptions = {}): Promise<CardState> {
  const deps = options.deps ?? defaultCardDependencies;
  const firmware = typeof options.firmware === 'string' || options.firmware === undefined
    ? parseFirmwareVersion(options.firmware ?? DEFAULT_VIRTUAL_FIRMWARE)
    : options.firmware;
  if (!firmware) throw new RangeError(`not a firmware version: ${String(options.firmware)}`);
  const serial = options.serial ?? randomSerial(deps);
  if (!Number.isInteger(serial) || serial <= 0 || serial > 0xffffffff) throw new RangeError('serial must be 1 to 4294967295');
  const formFactor = options.formFactor ?? DEFAULT_FORM_FACTOR;
  if (formFactorOptionName(formFactor) === undefined || formFactor === FORM_FACTOR.UNKNOWN) throw new RangeError(`not a form factor: ${formFactor}`);
  const state = newFactoryState(firmware, serial, formFactor);
  const attestationKey = deps.generateKeyPair(keyAlgorithmByName('RSA2048')!).privateKey;
  const certificateSerial = deps.random(16);
  certificateSerial[0]! &= 0x7f;
  const certificate = await makeAttestationCertificate(attestationKey, serial, new Date(deps.now()), certificateSerial);
  state.keys[slotKey(SLOT.ATTESTATION)] = {
    algorithm: keyAlgorithmByName('RSA2048')!.id,
    privateKeyPkcs8: encodePrivateKey(attestationKey),
    pinPolicy: PIN_POLICY.ONCE,
    touchPolicy: TOUCH_POLICY.NEVER,
    origin: 'imported',
  };
  state.objects[objectKey(OBJECT.ATTESTATION_CERTIFICATE)] = toHex(encodeCertificateObject(certificate));
  return state;
}
