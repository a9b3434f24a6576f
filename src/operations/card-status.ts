/**
 * Everything `piv-enroll status` reports about a card, gathered read-only (no PIN tries used, no
 * state left behind). Plain data: the CLI formats it as text or JSON.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { toHex } from '../bytes/hex.js';
import { summarizeCertificate } from '../crypto/x509.js';
import { chuidGuid } from '../piv/chuid.js';
import { ManagementKeyError, NotFoundError, NotSupportedError } from '../piv/errors.js';
import { readDeviceInfo, type DeviceInfo } from '../piv/management.js';
import { hasProtectedManagementKey } from '../piv/protected-management-key.js';
import type { PivSession } from '../piv/session.js';
import { managementKeyAlgorithmByName } from '../standards/algorithms.js';
import { formatFirmwareVersion, hasFeature } from '../standards/firmware.js';
import { FACTORY_MANAGEMENT_KEY_HEX } from '../standards/factory-defaults.js';
import { capabilityNames, describeFormFactor, formFactorOptionName, type CapabilityName } from '../standards/management.js';
import { OBJECT } from '../standards/objects.js';
import { pinPolicyName, touchPolicyName } from '../standards/policies.js';
import { RETIRED_SLOTS, SLOT, slotHex } from '../standards/references.js';
import { fromHex } from '../bytes/hex.js';
import { describeKey, spkiDer } from '../crypto/keys.js';
import { MalformedDataError } from '../bytes/errors.js';
import { PivEnrollError } from '../errors.js';
import { attestHeldCardSlot } from './attestation/attest-card.js';
import type { AttestationTrust } from './attestation/roots.js';

export const DEFAULT_MANAGEMENT_KEY = fromHex(FACTORY_MANAGEMENT_KEY_HEX);

export interface CredentialStatus {
  attemptsRemaining?: number;
  totalAttempts?: number;
  /** undefined: the firmware cannot tell without spending a try. */
  isDefault?: boolean;
}

export interface CertificateStatus {
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  /** Whether the certificate's key is the slot's key (undefined when the slot key cannot be read). */
  matchesKey?: boolean;
}

export interface SlotStatus {
  slot: string;
  algorithm?: string;
  origin?: 'generated' | 'imported';
  pinPolicy?: string;
  touchPolicy?: string;
  /** SHA-256 of the public key's SubjectPublicKeyInfo, hex. */
  publicKeySha256?: string;
  certificate?: CertificateStatus;
  certificateError?: string;
  /** The key's attestation verdict: 'verified', the refusal reason, or 'not-generated-on-card' (imported keys have none). */
  attestation?: SlotAttestation;
}

export interface SlotAttestation {
  verdict: string;
  message?: string;
  trust: string;
}

/** What the YubiKey Management application says about the device as a whole. */
export interface DeviceStatus {
  /** ykman's wording, e.g. "Keychain (USB-A)". */
  formFactor: string;
  /** The virtual card's option spelling (usb-a-keychain …), absent for an unknown code. */
  formFactorName?: string;
  usbSupported: CapabilityName[];
  usbEnabled?: CapabilityName[];
  /** Absent on keys without NFC. */
  nfcSupported?: CapabilityName[];
  nfcEnabled?: CapabilityName[];
  configLocked: boolean;
  fips: boolean;
}

export interface CardStatusReport {
  card: string;
  firmware: string;
  serial?: number;
  /** Absent when the card has no Management application (not a YubiKey, or one before 4.1): form factor and applications unknown. */
  device?: DeviceStatus;
  pin: CredentialStatus;
  puk: CredentialStatus;
  managementKey: { algorithm: string; isDefault?: boolean; touchRequired?: boolean; storedPinProtected: boolean };
  chuidGuid?: string;
  cccPresent: boolean;
  slots: SlotStatus[];
}

function spkiSha256(key: KeyObject): string {
  return createHash('sha256').update(spkiDer(key)).digest('hex');
}

async function optional<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof NotFoundError || error instanceof NotSupportedError) return undefined;
    throw error;
  }
}

async function slotStatus(session: PivSession, slot: number): Promise<SlotStatus | undefined> {
  const status: SlotStatus = { slot: slotHex(slot) };
  let slotKey: KeyObject | undefined;
  if (hasFeature(session.version, 'metadata')) {
    const metadata = await optional(() => session.getSlotMetadata(slot));
    if (metadata) {
      slotKey = metadata.publicKey;
      Object.assign(status, {
        algorithm: metadata.algorithm.name,
        origin: metadata.origin,
        pinPolicy: pinPolicyName(metadata.pinPolicy),
        touchPolicy: touchPolicyName(metadata.touchPolicy),
        publicKeySha256: spkiSha256(metadata.publicKey),
      });
    }
  }
  try {
    const der = await optional(() => session.getCertificate(slot));
    if (der) {
      const summary = summarizeCertificate(der);
      const certificateKey = createPublicKey({ key: Buffer.from(summary.subjectPublicKeyInfo), format: 'der', type: 'spki' });
      status.certificate = {
        subject: summary.subject,
        issuer: summary.issuer,
        serial: summary.serialHex,
        notBefore: summary.notBefore.toISOString(),
        notAfter: summary.notAfter.toISOString(),
        matchesKey: slotKey ? spkiSha256(certificateKey) === spkiSha256(slotKey) : undefined,
      };
      // Without metadata (firmware < 5.3), the certificate is the only clue to the key.
      status.algorithm ??= describeKey(certificateKey)?.name;
    }
  } catch (error) {
    if (!(error instanceof MalformedDataError)) throw error;
    status.certificateError = error.message;
  }
  return status.algorithm || status.certificate || status.certificateError ? status : undefined;
}

/**
 * The attestation verdict of a slot's key (ATTEST needs no PIN: status stays read-only). An imported key has none: the
 * metadata says so on 5.3+; before that, a refused ATTEST is taken to mean the same.
 */
async function slotAttestation(session: PivSession, slot: number, status: SlotStatus, trust: AttestationTrust, now: Date): Promise<SlotAttestation | undefined> {
  if (slot === SLOT.ATTESTATION || !hasFeature(session.version, 'attestation') || status.algorithm === undefined) return undefined;
  if (status.origin === 'imported') return { verdict: 'not-generated-on-card', message: 'the key was imported', trust: trust.name };
  try {
    const { verdict } = await attestHeldCardSlot({ session, slot, trust, now });
    return verdict.verified ? { verdict: 'verified', trust: verdict.trust } : { verdict: verdict.reason, message: verdict.message, trust: verdict.trust };
  } catch (error) {
    if (!(error instanceof PivEnrollError) || status.origin !== undefined) throw error;
    return { verdict: 'not-generated-on-card', message: `the card would not attest it (${error.message})`, trust: trust.name };
  }
}

/** Without metadata, the only safe test for the default management key is to try it (no retry counter). */
export async function managementKeyIsDefault(session: PivSession): Promise<boolean> {
  try {
    await session.authenticate(DEFAULT_MANAGEMENT_KEY, managementKeyAlgorithmByName('TDES'));
    return true;
  } catch (error) {
    if (error instanceof ManagementKeyError) return false;
    throw error;
  } finally {
    await session.reselect(); // leave no authenticated state behind
  }
}

function deviceStatus(info: DeviceInfo): DeviceStatus {
  const names = (bits: number | undefined) => (bits === undefined ? undefined : capabilityNames(bits));
  return {
    formFactor: describeFormFactor(info.formFactor),
    formFactorName: formFactorOptionName(info.formFactor),
    usbSupported: capabilityNames(info.usbSupported),
    usbEnabled: names(info.usbEnabled),
    nfcSupported: names(info.nfcSupported),
    nfcEnabled: names(info.nfcEnabled),
    configLocked: info.configLocked,
    fips: info.isFips,
  };
}

/** The Management application's device info, then PIV again (selecting Management leaves PIV). */
async function readDeviceStatus(session: PivSession): Promise<DeviceInfo | undefined> {
  try {
    return await readDeviceInfo(session.transport);
  } finally {
    await session.reselect();
  }
}

/** `attestation`: judge each slot key's attestation against this trust (the CLI picks it by how the card was opened). */
export async function readCardStatus(session: PivSession, attestation?: { trust: AttestationTrust; now: Date }): Promise<CardStatusReport> {
  return session.transaction(async () => {
    const device = await readDeviceStatus(session);
    const metadata = hasFeature(session.version, 'metadata');
    // A YubiKey 4 has no GET SERIAL over PIV, but its Management application tells the serial.
    const serial = hasFeature(session.version, 'serial') ? await session.getSerial() : device?.serial;
    let pin: CredentialStatus;
    let puk: CredentialStatus;
    let managementKey: CardStatusReport['managementKey'];
    const storedPinProtected = await hasProtectedManagementKey(session).catch((error: unknown) => {
      if (error instanceof MalformedDataError) return false;
      throw error;
    });
    if (metadata) {
      const [pinMeta, pukMeta, mkMeta] = [await session.getPinMetadata(), await session.getPukMetadata(), await session.getManagementKeyMetadata()];
      pin = { attemptsRemaining: pinMeta.attemptsRemaining, totalAttempts: pinMeta.totalAttempts, isDefault: pinMeta.isDefault };
      puk = { attemptsRemaining: pukMeta.attemptsRemaining, totalAttempts: pukMeta.totalAttempts, isDefault: pukMeta.isDefault };
      managementKey = { algorithm: mkMeta.algorithm.name, isDefault: mkMeta.isDefault, touchRequired: mkMeta.touchPolicy === 2 || mkMeta.touchPolicy === 3, storedPinProtected };
    } else {
      pin = { attemptsRemaining: await session.getPinAttempts() };
      puk = {};
      managementKey = { algorithm: 'TDES', isDefault: await managementKeyIsDefault(session), storedPinProtected };
    }
    const chuid = await optional(() => session.getObject(OBJECT.CHUID));
    let guid: string | undefined;
    if (chuid) {
      try {
        guid = toHex(chuidGuid(chuid));
      } catch (error) {
        if (!(error instanceof MalformedDataError)) throw error;
      }
    }
    const ccc = await optional(() => session.getObject(OBJECT.CARD_CAPABILITY_CONTAINER));
    const slots: SlotStatus[] = [];
    for (const slot of [SLOT.AUTHENTICATION, SLOT.SIGNATURE, SLOT.KEY_MANAGEMENT, SLOT.CARD_AUTHENTICATION, ...RETIRED_SLOTS, SLOT.ATTESTATION]) {
      const status = await slotStatus(session, slot);
      if (status && attestation) status.attestation = await slotAttestation(session, slot, status, attestation.trust, attestation.now);
      if (status) slots.push(status);
    }
    return {
      card: session.transport.name,
      firmware: formatFirmwareVersion(session.version),
      serial,
      device: device ? deviceStatus(device) : undefined,
      pin,
      puk,
      managementKey,
      chuidGuid: guid,
      cccPresent: ccc !== undefined,
      slots,
    };
  });
}

