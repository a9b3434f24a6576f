/**
 * The card half of `piv-enroll doctor`: key and certificate present and matching, certificate expiry,
 * PIN tries, factory-default credentials, CHUID (Windows caches by it), the slot's policies.
 */
import { bytesEqual } from '../../bytes/hex.js';
import { MalformedDataError } from '../../bytes/errors.js';
import { spkiDer } from '../../crypto/keys.js';
import { summarizeCertificate } from '../../crypto/x509.js';
import { chuidGuid } from '../../piv/chuid.js';
import { NotFoundError } from '../../piv/errors.js';
import type { PivSession } from '../../piv/session.js';
import { OBJECT } from '../../standards/objects.js';
import { pinPolicyName, touchPolicyName } from '../../standards/policies.js';
import { slotHex } from '../../standards/references.js';
import type { CardInspection } from '../enroll/inspect.js';
import type { Finding } from './findings.js';
import { PivEnrollError } from '../../errors.js';
import { hasFeature } from '../../standards/firmware.js';
import { attestHeldCardSlot } from '../attestation/attest-card.js';
import type { AttestationTrust } from '../attestation/roots.js';

const DAY = 86_400_000;

export async function checkCard(session: PivSession, inspection: CardInspection, slot: number, now: Date): Promise<Finding[]> {
  const findings: Finding[] = [];
  const name = slotHex(slot);
  const { slot: s } = inspection;
  if (s.hasKey === false) {
    findings.push({ id: 'key-missing', area: 'card', severity: 'problem', summary: `slot ${name} holds no key`, advice: 'enroll the card: piv-enroll enroll' });
  } else if (s.hasKey) {
    findings.push({ id: 'key-present', area: 'card', severity: 'ok', summary: `slot ${name} holds an ${s.keyAlgorithm?.name} key (${s.keyOrigin})` });
  }
  let certificate: Uint8Array | undefined;
  try {
    certificate = await session.getCertificate(slot);
  } catch (error) {
    if (!(error instanceof NotFoundError || error instanceof MalformedDataError)) throw error;
  }
  if (!certificate) {
    findings.push({
      id: 'certificate-missing',
      area: 'card',
      severity: 'problem',
      summary: `slot ${name} has no certificate: OpenSC and Windows do not offer the key without one, so ssh -I cannot use it`,
      advice: 'run piv-enroll enroll again: it finishes a slot that has a key but no certificate',
    });
  } else {
    const summary = summarizeCertificate(certificate);
    if (s.publicKey && !bytesEqual(summary.subjectPublicKeyInfo, spkiDer(s.publicKey))) {
      findings.push({
        id: 'certificate-key-mismatch',
        area: 'card',
        severity: 'problem',
        summary: `the certificate in slot ${name} (${summary.subject}) holds another key than the slot: PKCS#11 clients offer a key the card cannot sign for`,
        advice: 're-enroll the slot (piv-enroll enroll --force), then deploy the new key',
      });
    } else {
      findings.push({ id: 'certificate-matches', area: 'card', severity: 'ok', summary: `certificate ${summary.subject} holds the slot's key` });
    }
    const left = summary.notAfter.getTime() - now.getTime();
    if (left < 0) findings.push({ id: 'certificate-expired', area: 'card', severity: 'problem', summary: `the certificate expired on ${summary.notAfter.toISOString()}`, advice: 're-key the card (piv-enroll enroll --force)' });
    else if (left < 30 * DAY) findings.push({ id: 'certificate-expiring', area: 'card', severity: 'warning', summary: `the certificate expires on ${summary.notAfter.toISOString()}`, advice: 're-key the card soon' });
  }
  if (inspection.pinAttemptsRemaining !== undefined && inspection.pinAttemptsRemaining <= 1) {
    findings.push({
      id: inspection.pinAttemptsRemaining === 0 ? 'pin-blocked' : 'pin-one-try-left',
      area: 'card',
      severity: 'problem',
      summary: inspection.pinAttemptsRemaining === 0 ? 'the PIN is blocked' : 'only one PIN try is left',
      advice: 'unblock the PIN with the PUK (piv-enroll pin unblock)',
    });
  }
  const defaults = [
    inspection.pinIsDefault ? 'PIN' : undefined,
    inspection.pukIsDefault ? 'PUK' : undefined,
    inspection.managementKeyIsDefault ? 'management key' : undefined,
  ].filter((d): d is string => d !== undefined);
  if (defaults.length > 0) {
    findings.push({
      id: 'default-credentials',
      area: 'card',
      severity: 'problem',
      summary: `the factory-default ${defaults.join(', ')} ${defaults.length === 1 ? 'is' : 'are'} still set: anyone holding the card can use or rewrite it`,
      advice: 'piv-enroll enroll replaces them (or ykman piv access change-pin / change-puk / change-management-key --protect)',
    });
  }
  try {
    chuidGuid(await session.getObject(OBJECT.CHUID));
    findings.push({ id: 'chuid-present', area: 'card', severity: 'ok', summary: 'CHUID present' });
  } catch (error) {
    if (!(error instanceof NotFoundError || error instanceof MalformedDataError)) throw error;
    findings.push({
      id: 'chuid-missing',
      area: 'card',
      severity: 'warning',
      summary: 'no CHUID: Windows (and PuTTY-CAC through CAPI) need one to use the card, and cache its contents by its GUID',
      advice: 'piv-enroll enroll writes a fresh CHUID (or ykman piv objects generate chuid)',
    });
  }
  if (s.pinPolicy !== undefined) {
    findings.push({ id: 'policies', area: 'card', severity: 'ok', summary: `slot ${name}: PIN policy ${pinPolicyName(s.pinPolicy)}${s.touchPolicy !== undefined ? `, touch policy ${touchPolicyName(s.touchPolicy)}` : ''}` });
  }
  return findings;
}

/** The slot key's attestation: verified, refused with the reason, or not generated on the card. */
export async function checkAttestation(session: PivSession, inspection: CardInspection, slot: number, trust: AttestationTrust, now: Date): Promise<Finding[]> {
  const name = slotHex(slot);
  if (inspection.slot.hasKey !== true || !hasFeature(session.version, 'attestation')) return [];
  if (inspection.slot.keyOrigin === 'imported') {
    // The default key source (made on this computer, imported): no attestation is expected, so it is no warning.
    return [{ id: 'attestation-none', area: 'card', severity: 'ok', summary: `the key in slot ${name} was imported, not generated on the card: it has no attestation` }];
  }
  let verdict;
  try {
    ({ verdict } = await attestHeldCardSlot({ session, slot, trust, now }));
  } catch (error) {
    if (!(error instanceof PivEnrollError) || inspection.slot.keyOrigin !== undefined) throw error;
    return [{ id: 'attestation-none', area: 'card', severity: 'warning', summary: `the card does not attest the key in slot ${name} (${error.message}): it was probably imported` }];
  }
  if (verdict.verified) return [{ id: 'attestation-verified', area: 'card', severity: 'ok', summary: `the key in slot ${name} was generated on this card (attestation verified against ${verdict.trust})` }];
  // A chain to roots we were not given may be a site's own CA (a warning); a wrong key, serial or signature is tampering.
  return [{
    id: `attestation-${verdict.reason}`, area: 'card', severity: verdict.reason === 'wrong-chain' ? 'warning' : 'problem',
    summary: `the attestation of the key in slot ${name} is refused (${verdict.reason}): ${verdict.message}`,
    advice: verdict.reason === 'wrong-chain' ? 'if the card is genuine and your site has its own roots, give them with --attestation-roots FILE' : 'do not trust this card: replace it',
  }];
}
