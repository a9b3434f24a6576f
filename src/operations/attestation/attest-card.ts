/**
 * The attestation workflow against a card: ATTEST the slot, read f9 (object 5FFF01), learn the slot's key
 * (metadata, else the slot's certificate) and the card's serial, then verifyAttestation. No printing.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { decodeCertificateObject } from '../../bytes/certificate-object.js';
import { NotFoundError } from '../../piv/errors.js';
import type { PivSession } from '../../piv/session.js';
import { hasFeature } from '../../standards/firmware.js';
import { OBJECT } from '../../standards/objects.js';
import type { AttestationTrust } from './roots.js';
import { verifyAttestation, type AttestationVerdict } from './verify.js';

export interface AttestCardRequest {
  session: PivSession;
  slot: number;
  trust: AttestationTrust;
  now: Date;
}

export interface AttestCardResult {
  verdict: AttestationVerdict;
  /** Where the slot's key came from, or undefined when the card could not say (then it is not compared). */
  slotKeySource?: 'metadata' | 'certificate';
  cardSerial?: number;
  attestation: Uint8Array;
  deviceCertificate: Uint8Array;
}

async function slotPublicKey(session: PivSession, slot: number): Promise<{ key: KeyObject; source: 'metadata' | 'certificate' } | undefined> {
  if (hasFeature(session.version, 'metadata')) return { key: (await session.getSlotMetadata(slot)).publicKey, source: 'metadata' };
  try {
    const certificate = await session.getCertificate(slot);
    return { key: new X509Certificate(certificate).publicKey, source: 'certificate' };
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

export async function attestCardSlot(request: AttestCardRequest): Promise<AttestCardResult> {
  return request.session.transaction(() => attestHeldCardSlot(request));
}

/** attestCardSlot for a caller already inside a transaction (transactions queue: a nested one would wait forever). */
export async function attestHeldCardSlot(request: AttestCardRequest): Promise<AttestCardResult> {
  const { session, slot } = request;
  const attestation = await session.attest(slot);
  const deviceCertificate = decodeCertificateObject(await session.getObject(OBJECT.ATTESTATION_CERTIFICATE)).der;
  const slotKey = await slotPublicKey(session, slot);
  const cardSerial = hasFeature(session.version, 'serial') ? await session.getSerial() : undefined;
  const verdict = verifyAttestation({ attestation, deviceCertificate, slotPublicKey: slotKey?.key, cardSerial, trust: request.trust, now: request.now });
  return { verdict, slotKeySource: slotKey?.source, cardSerial, attestation, deviceCertificate };
}
