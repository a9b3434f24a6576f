/** One JSON shape for an attestation verdict, in `attest --json` and in enroll's `attestationVerdict`. */
import type { EvidenceVerdict } from '../operations/attestation/evidence.js';
import { describeFacts } from '../operations/attestation/extensions.js';

export function attestationVerdictJson(verdict: EvidenceVerdict): Record<string, unknown> {
  return {
    verified: verdict.verified,
    reason: verdict.verified ? undefined : verdict.reason,
    message: verdict.verified ? undefined : verdict.message,
    trust: verdict.trust,
    chain: verdict.chain,
    facts: verdict.facts ? describeFacts(verdict.facts) : undefined,
  };
}
