/** What `enroll` prints of a finished enrollment: a summary for people, or one JSON object (--json). */
import { certificatePem, publicKeyPem } from '../../crypto/pem.js';
import { summarize } from '../../operations/deploy/deploy-key.js';
import type { FinishedEnrollment } from '../../operations/enroll/enroll-card.js';

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
    certificate: { ...result.certificate, pem: certificatePem(result.certificateDer) },
    attestation: result.attestationDer ? certificatePem(result.attestationDer) : null,
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

export function enrollmentSummary(result: FinishedEnrollment): string {
  const lines = [
    `Enrolled ${result.card}${result.serial !== undefined ? ` (serial ${result.serial})` : ''}, slot ${result.slot}: ${result.algorithm}, ${result.fingerprint}`,
    `Certificate: ${result.certificate.subject}, serial ${result.certificate.serial}, valid until ${result.certificate.notAfter}`,
    'Signatures made by the card:',
    ...result.verification.map((c) => `  ${c.valid ? 'ok  ' : c.unsupported ? 'n/a ' : 'BAD '} ${c.algorithm} via ${c.module ? `PKCS#11 (${c.module})` : 'APDUs'}${c.legacy ? ' (legacy SHA-1: refused by OpenSSH 8.8+ servers by default)' : ''}${c.error ? ` — ${c.error}` : ''}`),
    '',
    'authorized_keys line:',
    result.authorizedKey,
  ];
  for (const note of result.notes ?? []) lines.splice(3 + result.verification.length, 0, `  (${note})`);
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

