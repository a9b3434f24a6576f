/**
 * Attestation inside a workflow (enroll, batch, rekey, ca sign): whom to trust for this card, the verdict on a key
 * just generated, and what a refusal stops. A card in a reader is trusted through the site's roots only (Yubico's
 * and --attestation-roots); the embedded virtual card (opened by --virtual, or standing in) through its test root too.
 */
import { PivEnrollError } from '../../errors.js';
import type { AttestationFacts } from './extensions.js';
import { virtualCardTrust, yubicoAttestationTrust, attestationTrustFromFiles, type AttestationTrust } from './roots.js';
import { verifyAttestation, type AttestationVerdict, type RefusalReason } from './verify.js';
import type { KeyObject } from 'node:crypto';

/** A site policy's judgement of the attested facts (the policy file's rules plug in here). */
export interface AttestationPolicyVerdict {
  allowed: boolean;
  reasons: string[];
}

/** What an enrollment asks of the attestation of a card-generated key. */
export interface AttestationRequirement {
  /** The roots a card in a reader may chain to (Yubico's, plus the site's). */
  trust: AttestationTrust;
  /** A key without a verified attestation stops the workflow (before PKCS#11 checks, CA, inventory, deployment). */
  required: boolean;
  /** Judges the facts of a verified attestation; a refusal stops the workflow like a failed verification when required. */
  evaluatePolicy?(facts: AttestationFacts): AttestationPolicyVerdict;
}

/** Why there is no verdict from the certificates: the key was not generated on the card, or the card gave no attestation. */
export type EvidenceReason = RefusalReason | 'not-attested' | 'policy';

export type EvidenceVerdict =
  | AttestationVerdict
  | { verified: false; reason: 'not-attested'; message: string; facts?: undefined; chain: string[]; trust: string };

/** The evidence kept with an enrollment: the certificates, the verdict, the trust used and the policy's verdict. */
export interface AttestationEvidence {
  attestation?: Uint8Array;
  deviceCertificate?: Uint8Array;
  verdict: EvidenceVerdict;
  policyVerdict?: AttestationPolicyVerdict;
}

/** The workflow stopped because the key's attestation was refused (or missing) while one was required. */
export class AttestationRefusedError extends PivEnrollError {
  constructor(
    readonly reason: EvidenceReason,
    message: string,
    readonly evidence?: AttestationEvidence,
  ) {
    super(message);
  }
}

/** Yubico's pinned roots, plus the PEM files a site adds (--attestation-roots FILE…). */
export async function siteAttestationTrust(files: string[] = []): Promise<AttestationTrust> {
  const yubico = await yubicoAttestationTrust();
  return files.length === 0 ? yubico : mergeTrust(yubico, await attestationTrustFromFiles(files));
}

export function mergeTrust(a: AttestationTrust, b: AttestationTrust): AttestationTrust {
  return { name: `${a.name} + ${b.name}`, roots: [...a.roots, ...b.roots], intermediates: [...a.intermediates, ...b.intermediates] };
}

/**
 * The trust for this card: the site's, and for the embedded virtual card also its test root. `virtual` must come from
 * how the card was opened (no reader: --virtual or the stand-in), never from what the card says about itself: a
 * virtual card behind vpcd is a card in a reader, and is trusted through the test root only if a site file names it.
 */
export async function trustForCard(site: AttestationTrust, virtual: boolean): Promise<AttestationTrust> {
  return virtual ? mergeTrust(site, await virtualCardTrust()) : site;
}

export interface KeyAttestationInput {
  attestation?: Uint8Array;
  deviceCertificate?: Uint8Array;
  publicKey: KeyObject;
  cardSerial?: number;
  trust: AttestationTrust;
  now: Date;
  /** Why there is no attestation, when there is none (e.g. firmware before 4.3, the PKCS#11 backend). */
  missingBecause?: string;
}

/** The verdict on a key the card just made (or moved), and the policy's verdict on its facts. */
export function attestKey(input: KeyAttestationInput, evaluatePolicy?: AttestationRequirement['evaluatePolicy']): AttestationEvidence {
  if (!input.attestation || !input.deviceCertificate) {
    return {
      attestation: input.attestation,
      deviceCertificate: input.deviceCertificate,
      verdict: { verified: false, reason: 'not-attested', message: `the card gave no attestation (${input.missingBecause ?? 'ATTEST or the f9 certificate failed'})`, chain: [], trust: input.trust.name },
    };
  }
  const verdict = verifyAttestation({ attestation: input.attestation, deviceCertificate: input.deviceCertificate, slotPublicKey: input.publicKey, cardSerial: input.cardSerial, trust: input.trust, now: input.now });
  const policyVerdict = verdict.verified && evaluatePolicy ? evaluatePolicy(verdict.facts) : undefined;
  return { attestation: input.attestation, deviceCertificate: input.deviceCertificate, verdict, policyVerdict };
}

/** Throws AttestationRefusedError when the requirement is not met; `what` names the key ("the key in slot 9C"). */
export function enforceAttestation(evidence: AttestationEvidence, required: boolean, what: string): void {
  const { verdict, policyVerdict } = evidence;
  if (!verdict.verified && required) {
    throw new AttestationRefusedError(verdict.reason, `attestation required, and refused for ${what} (${verdict.reason}): ${verdict.message}`, evidence);
  }
  if (policyVerdict && !policyVerdict.allowed) {
    throw new AttestationRefusedError('policy', `the site policy refuses ${what}: ${policyVerdict.reasons.join('; ')}`, evidence);
  }
}

/** One word for tables and the inventory: "verified", or the refusal reason. */
export function verdictWord(verdict: EvidenceVerdict): string {
  return verdict.verified ? 'verified' : verdict.reason;
}
