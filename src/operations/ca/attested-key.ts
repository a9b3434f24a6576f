/**
 * `ca sign --require-attestation`: the key to certify must come with an attestation that verifies — the slot's
 * attestation and the card's f9 certificate, from files or read from the card — and the certificate's key id then
 * names what was attested: `<key-id> yubikey-serial=N pin-policy=P touch-policy=T` (policy names in lower case,
 * as ykman spells them). Anything else is refused with the reason, before the CA signs.
 */
import { X509Certificate } from 'node:crypto';
import { bytesEqual } from '../../bytes/hex.js';
import { pinPolicyName, touchPolicyName } from '../../standards/policies.js';
import { attestHeldCardSlot } from '../attestation/attest-card.js';
import { AttestationRefusedError, type AttestationEvidence } from '../attestation/evidence.js';
import type { AttestationFacts } from '../attestation/extensions.js';
import type { AttestationTrust } from '../attestation/roots.js';
import { verifyAttestation } from '../attestation/verify.js';
import type { PivSession } from '../../piv/session.js';
import { publicKeyBlob } from './key-blob.js';

export type AttestationSource =
  /** --attestation FILE --attestation-f9 FILE: DER of both certificates. */
  | { kind: 'files'; attestation: Uint8Array; deviceCertificate: Uint8Array }
  /** --slot: ATTEST and f9 read from the card (the caller holds its transaction). */
  | { kind: 'card'; session: PivSession; slot: number };

export interface AttestedKeyRequest {
  /** The SSH wire blob of the key to certify. */
  publicKey: Uint8Array;
  source: AttestationSource;
  trust: AttestationTrust;
  now: Date;
}

/** MATCH_ONCE → match-once: one word without spaces or underscores, as the key id's fields are split on spaces. */
const policyWord = (name: string): string => name.toLowerCase().replace(/_/g, '-');

/** The documented key id: the given one, then the attested serial and policies. */
export function attestedKeyId(keyId: string, facts: AttestationFacts): string {
  const parts = [keyId];
  if (facts.serial !== undefined) parts.push(`yubikey-serial=${facts.serial}`);
  if (facts.pinPolicy !== undefined) parts.push(`pin-policy=${policyWord(pinPolicyName(facts.pinPolicy))}`);
  if (facts.touchPolicy !== undefined) parts.push(`touch-policy=${policyWord(touchPolicyName(facts.touchPolicy))}`);
  return parts.join(' ');
}

function refuse(evidence: AttestationEvidence, what: string): never {
  const { verdict } = evidence;
  if (verdict.verified) throw new TypeError('refuse() needs a refused verdict');
  throw new AttestationRefusedError(verdict.reason, `ca sign --require-attestation: the attestation of ${what} is refused (${verdict.reason}): ${verdict.message}`, evidence);
}

/** The facts of a verified attestation of exactly this key; throws AttestationRefusedError otherwise. */
export async function requireAttestedKey(request: AttestedKeyRequest): Promise<AttestationFacts> {
  if (request.source.kind === 'card') {
    const { session, slot } = request.source;
    const result = await attestHeldCardSlot({ session, slot, trust: request.trust, now: request.now });
    const evidence = { attestation: result.attestation, deviceCertificate: result.deviceCertificate, verdict: result.verdict };
    if (!result.verdict.verified) refuse(evidence, 'the key in the slot');
    return result.verdict.facts;
  }
  const { attestation, deviceCertificate } = request.source;
  // The key is compared here (as SSH blobs) rather than in verifyAttestation: a key file has no slot to ask.
  const verdict = verifyAttestation({ attestation, deviceCertificate, trust: request.trust, now: request.now });
  const evidence = { attestation, deviceCertificate, verdict };
  if (!verdict.verified) refuse(evidence, 'the key');
  if (!bytesEqual(publicKeyBlob(new X509Certificate(attestation).publicKey), request.publicKey)) {
    refuse({ ...evidence, verdict: { verified: false, reason: 'other-key', message: 'the attested key is not the key to certify', facts: verdict.facts, chain: verdict.chain, trust: verdict.trust } }, 'the key');
  }
  return verdict.facts;
}
