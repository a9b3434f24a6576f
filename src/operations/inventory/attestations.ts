/** Attestation evidence (operations/attestation/evidence.ts) as the inventory keeps it: PEM and JSON text. */
import { certificatePem } from '../../crypto/pem.js';
import { describeFacts } from '../attestation/extensions.js';
import type { AttestationEvidence } from '../attestation/evidence.js';
import type { AttestationRecord, Inventory } from './inventory.js';

export function attestationRecord(evidence: AttestationEvidence): AttestationRecord {
  const { verdict } = evidence;
  return {
    attestationPem: evidence.attestation ? certificatePem(evidence.attestation) : undefined,
    deviceCertificatePem: evidence.deviceCertificate ? certificatePem(evidence.deviceCertificate) : undefined,
    facts: verdict.facts ? describeFacts(verdict.facts) : undefined,
    verdict: verdict.verified ? 'verified' : verdict.reason,
    verdictMessage: verdict.verified ? undefined : verdict.message,
    chain: verdict.chain,
    trust: verdict.trust,
    policyVerdict: evidence.policyVerdict ? { ...evidence.policyVerdict } : undefined,
  };
}

export async function recordAttestation(inventory: Inventory, enrollmentId: number, evidence: AttestationEvidence): Promise<void> {
  await inventory.recordAttestation(enrollmentId, attestationRecord(evidence));
}
