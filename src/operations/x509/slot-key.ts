/**
 * What a slot holds, for the X.509 CA path: the key (from metadata, else the slot's certificate, else the key's
 * attestation, as yubico-piv-tool's request_certificate takes it), its algorithm, PIN policy and origin. Read-only:
 * no PIN try, no write.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { decodeCertificateObject } from '../../bytes/certificate-object.js';
import { describeKey } from '../../crypto/keys.js';
import { NotFoundError } from '../../piv/errors.js';
import type { PivSession } from '../../piv/session.js';
import type { KeyAlgorithmInfo } from '../../standards/algorithms.js';
import { hasFeature } from '../../standards/firmware.js';
import { OBJECT } from '../../standards/objects.js';
import type { CardInspection } from '../enroll/inspect.js';

export interface SlotKey {
  publicKey: KeyObject;
  algorithm: KeyAlgorithmInfo;
  /** Where the key was learnt: metadata (5.3+), the slot's certificate, or the key's attestation. */
  source: 'metadata' | 'certificate' | 'attestation';
  /** undefined: the card cannot tell (no metadata). */
  pinPolicy?: number;
  origin?: 'generated' | 'imported';
}

/** The attestation of a key generated on the card and the f9 certificate that signed it; undefined for other keys. */
export interface SlotAttestation {
  attestation: Uint8Array;
  intermediate: Uint8Array;
}

export async function readSlotAttestation(session: PivSession, slot: number): Promise<SlotAttestation | undefined> {
  if (!hasFeature(session.version, 'attestation')) return undefined;
  try {
    const attestation = await session.attest(slot);
    const intermediate = decodeCertificateObject(await session.getObject(OBJECT.ATTESTATION_CERTIFICATE)).der;
    return { attestation, intermediate };
  } catch (error) {
    if (error instanceof NotFoundError) return undefined; // an imported key, or an empty slot: nothing to attest
    throw error;
  }
}

/** The slot's key as the inspection found it, or from `attestation` when the card could not say otherwise. */
export function slotKeyOf(inspection: CardInspection, attestation: SlotAttestation | undefined): SlotKey | undefined {
  const { slot } = inspection;
  if (slot.hasKey === false) return undefined;
  if (slot.publicKey) {
    const algorithm = slot.keyAlgorithm ?? describeKey(slot.publicKey);
    if (!algorithm) return undefined;
    return { publicKey: slot.publicKey, algorithm, source: slot.keyAlgorithm ? 'metadata' : 'certificate', pinPolicy: slot.pinPolicy, origin: slot.keyOrigin ?? (attestation ? 'generated' : undefined) };
  }
  if (!attestation) return undefined;
  const publicKey = new X509Certificate(attestation.attestation).publicKey;
  const algorithm = describeKey(publicKey);
  return algorithm ? { publicKey, algorithm, source: 'attestation', origin: 'generated' } : undefined;
}
