/** What `enroll` prints of a finished enrollment: a summary for people, or one JSON object (--json). */
import { certificatePem, publicKeyPem } from '../../crypto/pem.js';
import { summarize } from '../../operations/deploy/deploy-key.js';
import type { FinishedEnrollment } from '../../operations/enroll/enroll-card.js';
import type { StepTimings } from '../../operations/enroll/step-timer.js';
import type { AttestationEvidence } from '../../operations/attestation/evidence.js';
import { attestationVerdictJson } from '../attestation-json.js';

function verdictJson(evidence: AttestationEvidence): Record<string, unknown> {
  return { ...attestationVerdictJson(evidence.verdict), policy: evidence.policyVerdict };
}

export function enrollmentJson(result: FinishedEnrollment): Record<string, unknown> {
  return {
    card: result.card,
    serial: result.serial ?? null,
    slot: result.slot,
    algorithm: result.algorithm,
    keySource: result.keyAction,
    fingerprint: result.fingerprint,
    authorizedKey: result.authorizedKey,
    publicKeyPem: publicKeyPem(result.publicKey),
    certificate: result.certificate && result.certificateDer ? { ...result.certificate, pem: certificatePem(result.certificateDer) } : null,
    request: result.request ?? null,
    attestation: result.attestationDer ? certificatePem(result.attestationDer) : null,
    attestationDeviceCertificate: result.attestationDeviceDer ? certificatePem(result.attestationDeviceDer) : null,
    attestationVerdict: result.attestation ? verdictJson(result.attestation) : null,
    chuidGuid: result.chuidGuid ?? null,
    hardened: result.hardened,
    verification: result.verification,
    caCertificate: result.caCertificate
      ? (({ serial, keyId, principals, validAfter, validBefore, signatureAlgorithm, caFingerprint, certificateFile }) => ({ serial, keyId, principals, validAfter, validBefore, signatureAlgorithm, caFingerprint, file: certificateFile }))(result.caCertificate)
      : null,
    files: result.files,
    inventory: result.inventory ?? null,
    // The path only: a handout may hold the initial PIN, which never goes into the output.
    handout: result.handout ? { path: result.handout.path, withPin: result.handout.withPin } : null,
    deployment: result.deployment ? { summary: summarize(result.deployment), hosts: result.deployment } : null,
    notes: result.notes ?? [],
    timings: result.timings ?? null,
  };
}

/** Says which signature a check shares: the card (or module) cannot tell the algorithms apart (SignaturePolicy). */
function sharedNote(sharedWith: string | undefined): string {
  if (sharedWith === undefined) return '';
  return ` (same card operation as ${sharedWith === 'certificate' ? "the certificate's signature" : `the ${sharedWith} signature`})`;
}

export function enrollmentSummary(result: FinishedEnrollment): string {
  const lines = [
    `Enrolled ${result.card}${result.serial !== undefined ? ` (serial ${result.serial})` : ''}, slot ${result.slot}: ${result.algorithm}, ${result.fingerprint}`,
    result.certificate
      ? `Certificate: ${result.certificate.subject}, serial ${result.certificate.serial}, valid until ${result.certificate.notAfter}`
      : `Certificate request: ${result.request?.subject ?? ''}${result.request?.attested ? ' (with the key\'s attestation)' : ''} in ${result.request?.file ?? ''}, for the X.509 CA; no certificate on the card yet`,
    ...(result.request ? [] : ['Signatures made by the card:']),
    ...result.verification.map((c) => `  ${c.valid ? 'ok  ' : c.unsupported ? 'n/a ' : 'BAD '} ${c.algorithm} via ${c.module ? `PKCS#11 (${c.module})` : 'APDUs'}${c.legacy ? ' (legacy SHA-1: refused by OpenSSH 8.8+ servers by default)' : ''}${sharedNote(c.sharedWith)}${c.error ? ` — ${c.error}` : ''}`),
    '',
    'authorized_keys line:',
    result.authorizedKey,
  ];
  for (const note of result.notes ?? []) lines.splice((result.request ? 2 : 3) + result.verification.length, 0, `  (${note})`);
  const verdict = result.attestation?.verdict;
  if (verdict) lines.push('', verdict.verified ? `Attestation: verified against ${verdict.trust} (the key was generated on this card)` : `Attestation: refused (${verdict.reason}): ${verdict.message}`);
  const ca = result.caCertificate;
  if (ca) lines.push('', `SSH certificate: serial ${ca.serial}, key id "${ca.keyId}", principals ${ca.principals.join(', ')}, valid until ${ca.validBefore}, CA signature ${ca.signatureAlgorithm}`);
  if (result.files.length > 0) lines.push('', 'Files written:', ...result.files.map((f) => `  ${f}`));
  if (result.deployment) {
    const summary = summarize(result.deployment);
    lines.push('', `Deployed to ${result.deployment.length} host${result.deployment.length === 1 ? '' : 's'}: ${summary.changed} added, ${summary.unchanged} already there, ${summary.failed} failed`);
    for (const r of result.deployment) lines.push(`  ${r.host}: ${r.status}${r.status === 'failed' ? ` (${r.reason}${r.detail ? `: ${r.detail}` : ''})` : ''}`);
  }
  if (result.handout) lines.push('', `Handout: ${result.handout.path}${result.handout.withPin ? ' (mode 0600: it holds the initial PIN)' : ''}`);
  if (result.inventory) lines.push('', `Recorded as enrollment ${result.inventory.enrollmentId} in ${result.inventory.location}`);
  return lines.join('\n');
}


/**
 * `enroll --verbose`: where the time went, step by step (the same figures as --json's `timings`), with the APDUs
 * piv-enroll sent in each step. A PKCS#11 module's own APDUs are not seen from here: those steps say so.
 */
export function timingsTable(timings: StepTimings): string {
  const steps = Object.entries(timings);
  const total = steps.reduce((sum, [, t]) => sum + t.ms, 0);
  const apdus = steps.reduce((sum, [, t]) => sum + (t.apdus ?? 0), 0);
  const width = Math.max(5, ...steps.map(([step]) => step.length));
  const row = (name: string, ms: number, count: string): string => `  ${name.padEnd(width)} ${ms.toFixed(0).padStart(7)} ms  ${count}`;
  return [
    'Where the time went:',
    ...steps.map(([step, t]) => row(step, t.ms, t.apdus !== undefined ? `${String(t.apdus).padStart(4)} APDUs` : step === 'pkcs11' ? '   (the modules\' APDUs are not counted here)' : '')),
    row('total', total, `${String(apdus).padStart(4)} APDUs`),
  ].map((line) => line.trimEnd()).join('\n');
}
