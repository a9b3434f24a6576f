/** GET METADATA answers (YubiKey 5.3+), parsed. */
import type { KeyObject } from 'node:crypto';
import { MalformedDataError } from '../bytes/errors.js';
import { parseTlvMap, requireTag } from '../bytes/tlv.js';
import { keyAlgorithmById, managementKeyAlgorithmById, type KeyAlgorithmInfo, type ManagementKeyAlgorithmInfo } from '../standards/algorithms.js';
import { parseCardPublicKey } from './public-key.js';

export interface PinMetadata {
  isDefault: boolean;
  totalAttempts: number;
  attemptsRemaining: number;
}

export interface ManagementKeyMetadata {
  algorithm: ManagementKeyAlgorithmInfo;
  isDefault: boolean;
  touchPolicy: number;
}

export type KeyOrigin = 'generated' | 'imported';

export interface SlotMetadata {
  algorithm: KeyAlgorithmInfo;
  pinPolicy: number;
  touchPolicy: number;
  origin: KeyOrigin;
  publicKey: KeyObject;
}

function byteOf(value: Uint8Array, what: string, length = 1): Uint8Array {
  if (value.length !== length) throw new MalformedDataError(`metadata ${what}: ${value.length} byte(s), ${length} expected`);
  return value;
}

export function parsePinMetadata(data: Uint8Array): PinMetadata {
  const fields = parseTlvMap(data);
  const retries = byteOf(requireTag(fields, 0x06, 'PIN metadata'), 'retries', 2);
  return {
    isDefault: byteOf(requireTag(fields, 0x05, 'PIN metadata'), 'default flag')[0] === 1,
    totalAttempts: retries[0]!,
    attemptsRemaining: retries[1]!,
  };
}

export function parseManagementKeyMetadata(data: Uint8Array): ManagementKeyMetadata {
  const fields = parseTlvMap(data);
  // Cards that omit the algorithm have a TDES key (ykman does the same).
  const id = fields.has(0x01) ? byteOf(fields.get(0x01)!, 'algorithm')[0]! : 0x03;
  const algorithm = managementKeyAlgorithmById(id);
  if (!algorithm) throw new MalformedDataError(`metadata: unknown management key algorithm ${id.toString(16)}`);
  const policy = fields.get(0x02);
  return {
    algorithm,
    isDefault: byteOf(requireTag(fields, 0x05, 'management key metadata'), 'default flag')[0] === 1,
    touchPolicy: policy ? byteOf(policy, 'policy', 2)[1]! : 1,
  };
}

export function parseSlotMetadata(data: Uint8Array): SlotMetadata {
  const fields = parseTlvMap(data);
  const id = byteOf(requireTag(fields, 0x01, 'key metadata'), 'algorithm')[0]!;
  const algorithm = keyAlgorithmById(id);
  if (!algorithm) throw new MalformedDataError(`metadata: unknown key algorithm ${id.toString(16)}`);
  const policy = byteOf(requireTag(fields, 0x02, 'key metadata'), 'policy', 2);
  const origin = byteOf(requireTag(fields, 0x03, 'key metadata'), 'origin')[0];
  if (origin !== 1 && origin !== 2) throw new MalformedDataError(`metadata: unknown key origin ${origin}`);
  return {
    algorithm,
    pinPolicy: policy[0]!,
    touchPolicy: policy[1]!,
    origin: origin === 1 ? 'generated' : 'imported',
    publicKey: parseCardPublicKey(algorithm, requireTag(fields, 0x04, 'key metadata')),
  };
}
