/**
 * `certificate import`: writes the certificate an X.509 CA issued into its slot. Plan, then apply: the certificate is
 * read, its key compared with the slot's (metadata, the slot's current certificate, or the key's attestation), its
 * object size decided (gzip-compressed, CertInfo 01, when the plain object would not fit) and the management key's
 * source found, all before anything is sent that changes the card. Then: PIN (only for a PIN-protected management key,
 * through the PIN guard), management key, PUT DATA, a fresh CHUID (hosts that cache by GUID re-read the card), and the
 * certificate read back.
 */
import { X509Certificate } from 'node:crypto';
import { encodeCertificateObject } from '../../bytes/certificate-object.js';
import { bytesEqual, toHex, wipe } from '../../bytes/hex.js';
import { spkiDer } from '../../crypto/keys.js';
import { summarizeCertificate } from '../../crypto/x509.js';
import { PivEnrollError } from '../../errors.js';
import { readProtectedManagementKey } from '../../piv/protected-management-key.js';
import type { PivSession } from '../../piv/session.js';
import { FACTORY_PIN } from '../../standards/factory-defaults.js';
import { MAX_OBJECT_CONTENT } from '../../standards/objects.js';
import { slotHex } from '../../standards/references.js';
import { DEFAULT_MANAGEMENT_KEY } from '../card-status.js';
import { inspectCard, type CardInspection } from '../enroll/inspect.js';
import { sshFingerprint } from '../ssh-public-key.js';
import { readSlotAttestation, slotKeyOf, type SlotKey } from './slot-key.js';

/** The certificate cannot be imported as asked; every reason is listed. The card was not changed. */
export class CertificateImportRefused extends PivEnrollError {
  constructor(readonly problems: string[]) {
    super(`cannot import the certificate:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export interface ImportCertificateOptions {
  session: PivSession;
  slot: number;
  /** The certificate as read from the file: PEM or DER. */
  certificate: Uint8Array;
  /** The management key, when the card neither has the default nor keeps it PIN-protected. */
  managementKey?: Uint8Array;
  now: Date;
  random(length: number): Uint8Array;
}

export interface ImportCertificateHooks {
  /** The PIN, asked only for a PIN-protected management key on a card whose PIN is not the default. */
  pin(): Promise<string>;
  progress?(message: string): void;
}

export interface CertificateImportPlan {
  der: Uint8Array;
  compress: boolean;
  /** Bytes of the object as written (inside 53). */
  objectBytes: number;
  managementKey: 'default' | 'given' | 'pin-protected';
  slotKey: SlotKey;
  replaces?: string;
  warnings: string[];
}

export interface ImportCertificateResult {
  slot: string;
  subject: string;
  issuer: string;
  serial: string;
  notAfter: string;
  fingerprint: string;
  keySource: SlotKey['source'];
  compressed: boolean;
  objectBytes: number;
  chuidGuid: string;
  warnings: string[];
}

/** PEM (the first CERTIFICATE block) or DER → DER; undefined when it is neither. */
export function certificateDer(bytes: Uint8Array): Uint8Array | undefined {
  const text = Buffer.from(bytes).toString('latin1');
  const pem = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(text);
  const der = pem ? new Uint8Array(Buffer.from(pem[1]!.replace(/\s+/g, ''), 'base64')) : bytes;
  try {
    new X509Certificate(der);
    return der;
  } catch {
    return undefined;
  }
}

/** The pure plan: what the slot holds and what the card reported decide; nothing is sent. */
export function planCertificateImport(
  options: Pick<ImportCertificateOptions, 'slot' | 'certificate' | 'managementKey' | 'now'>,
  inspection: CardInspection,
  slotKey: SlotKey | undefined,
): { plan?: CertificateImportPlan; problems: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  const slotName = slotHex(options.slot);
  const der = certificateDer(options.certificate);
  if (!der) problems.push('the file holds no X.509 certificate (PEM or DER)');
  if (!slotKey) {
    problems.push(
      inspection.slot.hasKey === false
        ? `slot ${slotName} holds no key: the certificate would certify nothing on this card`
        : `cannot tell which key slot ${slotName} holds (no metadata, no certificate, no attestation): import with ykman if you are sure`,
    );
  }
  let compress = false;
  let objectBytes = 0;
  if (der) {
    const certificate = new X509Certificate(der);
    if (slotKey && !bytesEqual(spkiDer(certificate.publicKey), spkiDer(slotKey.publicKey))) {
      problems.push(`the certificate is for another key (${sshFingerprint(certificate.publicKey)}) than the one in slot ${slotName} (${sshFingerprint(slotKey.publicKey)})`);
    }
    objectBytes = encodeCertificateObject(der).length;
    if (objectBytes > MAX_OBJECT_CONTENT) {
      compress = true;
      objectBytes = encodeCertificateObject(der, true).length;
      if (objectBytes > MAX_OBJECT_CONTENT) problems.push(`the certificate is too large for a PIV slot even compressed (${der.length} bytes, ${objectBytes} gzip-compressed; at most ${MAX_OBJECT_CONTENT})`);
      else warnings.push(`the certificate (${der.length} bytes) is stored gzip-compressed (${objectBytes} bytes), as ykman --compress does: OpenSC and ykman 5 read it, ykman 4 (Debian's 4.0.9) does not`);
    }
    if (new Date(certificate.validTo) < options.now) warnings.push(`the certificate expired on ${new Date(certificate.validTo).toISOString()}`);
    else if (new Date(certificate.validFrom) > options.now) warnings.push(`the certificate is not valid before ${new Date(certificate.validFrom).toISOString()}`);
  }
  let managementKey: CertificateImportPlan['managementKey'] = 'default';
  if (options.managementKey) managementKey = 'given';
  else if (inspection.managementKeyIsDefault === true) managementKey = 'default';
  else if (inspection.managementKeyProtected) managementKey = 'pin-protected';
  else if (inspection.managementKeyIsDefault === false) problems.push('missing: the management key (the card has neither the default one nor a PIN-protected one)');
  if (managementKey === 'pin-protected' && inspection.pinAttemptsRemaining === 0) problems.push('the PIN is blocked, so the PIN-protected management key cannot be read: unblock it with the PUK first');
  if (problems.length > 0) return { problems };
  const replaces = inspection.slot.certificateSubject;
  if (replaces) warnings.push(`replaces the certificate ${replaces} in slot ${slotName}`);
  return { problems, plan: { der: der!, compress, objectBytes, managementKey, slotKey: slotKey!, replaces, warnings } };
}

async function authenticate(session: PivSession, plan: CertificateImportPlan, inspection: CardInspection, options: ImportCertificateOptions, hooks: ImportCertificateHooks): Promise<void> {
  let key: Uint8Array;
  if (plan.managementKey === 'given') key = options.managementKey!.slice();
  else if (plan.managementKey === 'pin-protected') {
    await session.verifyPin(inspection.pinIsDefault === true ? FACTORY_PIN : await hooks.pin());
    key = await readProtectedManagementKey(session);
  } else key = DEFAULT_MANAGEMENT_KEY.slice();
  try {
    await session.authenticate(key);
  } finally {
    wipe(key);
  }
}

export async function importCertificate(options: ImportCertificateOptions, hooks: ImportCertificateHooks): Promise<ImportCertificateResult> {
  const { session, slot } = options;
  const slotName = slotHex(slot);
  return session.transaction(async () => {
    hooks.progress?.(`reading slot ${slotName}`);
    const inspection = await inspectCard(session, slot);
    // The attestation is only needed when neither metadata nor a certificate names the slot's key.
    const attestation = inspection.slot.publicKey ? undefined : await readSlotAttestation(session, slot);
    const { plan, problems } = planCertificateImport(options, inspection, slotKeyOf(inspection, attestation));
    if (!plan) throw new CertificateImportRefused(problems);

    hooks.progress?.(`writing the certificate into slot ${slotName}${plan.compress ? ' (gzip-compressed)' : ''} and a fresh CHUID`);
    await authenticate(session, plan, inspection, options, hooks);
    await session.putCertificate(slot, plan.der, plan.compress);
    const guid = options.random(16);
    await session.setChuid(guid);
    if (!bytesEqual(await session.getCertificate(slot), plan.der)) throw new PivEnrollError(`slot ${slotName} does not read back the certificate just written: check the card`);

    const summary = summarizeCertificate(plan.der);
    return {
      slot: slotName.toLowerCase(),
      subject: summary.subject,
      issuer: summary.issuer,
      serial: summary.serialHex,
      notAfter: summary.notAfter.toISOString(),
      fingerprint: sshFingerprint(plan.slotKey.publicKey),
      keySource: plan.slotKey.source,
      compressed: plan.compress,
      objectBytes: plan.objectBytes,
      chuidGuid: toHex(guid),
      warnings: plan.warnings,
    };
  });
}
