/** What `enroll` needs to know about a card before it plans: read-only, no PIN tries used. */
import type { KeyObject } from 'node:crypto';
import { createPublicKey } from 'node:crypto';
import { MalformedDataError } from '../../bytes/errors.js';
import { spkiDer } from '../../crypto/keys.js';
import { bytesEqual } from '../../bytes/hex.js';
import { summarizeCertificate } from '../../crypto/x509.js';
import { NotFoundError } from '../../piv/errors.js';
import { readDeviceInfo } from '../../piv/management.js';
import { hasProtectedManagementKey } from '../../piv/protected-management-key.js';
import { formFactorOptionName } from '../../standards/management.js';
import { managementKeyIsDefault } from '../card-status.js';
import type { PivSession } from '../../piv/session.js';
import type { KeyAlgorithmInfo, ManagementKeyAlgorithmInfo } from '../../standards/algorithms.js';
import { hasFeature, type FirmwareVersion } from '../../standards/firmware.js';

/**
 * Subject of the stand-in certificate the PKCS#11 backend writes before the card's first signature
 * (pkcs11-target.ts). Found on a card, it marks an enrollment that stopped half-way.
 */
export const PLACEHOLDER_SUBJECT = 'CN=piv-enroll unfinished enrollment';

/** Whether a slot's certificate is the real one for its key (not another key's, nor the placeholder). */
export function certificateCertifiesKey(certificateSubject: string, certificateSpki: Uint8Array, publicKey: KeyObject): boolean {
  return certificateSubject !== PLACEHOLDER_SUBJECT && bytesEqual(certificateSpki, spkiDer(publicKey));
}

export interface SlotInspection {
  /** A key is in the slot (known from metadata; undefined on firmware without metadata). */
  hasKey?: boolean;
  keyAlgorithm?: KeyAlgorithmInfo;
  keyOrigin?: 'generated' | 'imported';
  pinPolicy?: number;
  touchPolicy?: number;
  publicKey?: KeyObject;
  certificateSubject?: string;
  /** The certificate holds the slot's key (undefined when either is unknown). */
  certificateMatchesKey?: boolean;
}

export interface CardInspection {
  cardName: string;
  firmware: FirmwareVersion;
  serial?: number;
  pinIsDefault?: boolean;
  pukIsDefault?: boolean;
  pinAttemptsRemaining?: number;
  managementKeyAlgorithm: ManagementKeyAlgorithmInfo;
  managementKeyIsDefault?: boolean;
  managementKeyProtected: boolean;
  slot: SlotInspection;
  /** The YubiKey Management application's form factor and FIPS flag, read only when a site policy restricts them. */
  device?: { formFactor?: string; fips: boolean };
}

export async function inspectCard(session: PivSession, slot: number, readDevice = false): Promise<CardInspection> {
  let device: CardInspection['device'];
  if (readDevice) {
    try {
      const info = await readDeviceInfo(session.transport);
      if (info) device = { formFactor: formFactorOptionName(info.formFactor), fips: info.isFips };
    } finally {
      await session.reselect(); // selecting the Management application left PIV
    }
  }
  const metadata = hasFeature(session.version, 'metadata');
  const managementKey = metadata ? await session.getManagementKeyMetadata() : undefined;
  const inspection: CardInspection = {
    cardName: session.transport.name,
    firmware: session.version,
    serial: hasFeature(session.version, 'serial') ? await session.getSerial() : undefined,
    managementKeyAlgorithm: managementKey?.algorithm ?? (await session.getManagementKeyAlgorithm()),
    managementKeyProtected: await hasProtectedManagementKey(session),
    slot: {},
    device,
  };
  if (metadata) {
    const [pin, puk] = [await session.getPinMetadata(), await session.getPukMetadata()];
    Object.assign(inspection, {
      pinIsDefault: pin.isDefault,
      pukIsDefault: puk.isDefault,
      pinAttemptsRemaining: pin.attemptsRemaining,
      managementKeyIsDefault: managementKey!.isDefault,
    });
    try {
      const key = await session.getSlotMetadata(slot);
      inspection.slot = { hasKey: true, keyAlgorithm: key.algorithm, keyOrigin: key.origin, pinPolicy: key.pinPolicy, touchPolicy: key.touchPolicy, publicKey: key.publicKey };
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      inspection.slot = { hasKey: false };
    }
  } else {
    inspection.pinAttemptsRemaining = await session.getPinAttempts();
    // No metadata: trying the default management key is safe (it has no retry counter) and tells.
    inspection.managementKeyIsDefault = await managementKeyIsDefault(session);
  }
  try {
    const summary = summarizeCertificate(await session.getCertificate(slot));
    inspection.slot.certificateSubject = summary.subject;
    if (inspection.slot.publicKey) {
      inspection.slot.certificateMatchesKey = certificateCertifiesKey(summary.subject, summary.subjectPublicKeyInfo, inspection.slot.publicKey);
    } else if (inspection.slot.hasKey === undefined) {
      // No metadata: the certificate's key is the best guess of what the slot holds.
      inspection.slot.publicKey = createPublicKey({ key: Buffer.from(summary.subjectPublicKeyInfo), format: 'der', type: 'spki' });
    }
  } catch (error) {
    if (!(error instanceof NotFoundError || error instanceof MalformedDataError)) throw error;
  }
  return inspection;
}
