/**
 * Attestation as a YubiKey does it: an RSA-2048 key in slot F9 with its certificate in 5FFF01, made
 * when the card is created; ATTEST issues a certificate for a key generated on the card, signed by F9,
 * carrying Yubico's extensions (firmware, serial, policies, form factor).
 */
import { generateKeyPairSync, sign as signMessage, type KeyObject } from 'node:crypto';
import { encodeTlv } from '../../bytes/tlv.js';
import { concatBytes, uintBytes } from '../../bytes/hex.js';
import { buildCertificate, basicConstraintsExtension, summarizeCertificate, type NameAttribute, type SignatureAlgorithm } from '../../crypto/x509.js';
import { digest, pkcs1v15BlockForMessage } from '../../crypto/pkcs1.js';
import { describeKey, spkiDer } from '../../crypto/keys.js';
import { ecdsaSignDigest, rawRsa } from './card-crypto.js';
import { signWithVirtualTestRoot, virtualTestRootCertificate } from './test-root.js';
import type { FirmwareVersion } from '../../standards/firmware.js';

export const YUBICO_OID = {
  FIRMWARE: '1.3.6.1.4.1.41482.3.3',
  SERIAL: '1.3.6.1.4.1.41482.3.7',
  POLICY: '1.3.6.1.4.1.41482.3.8',
  FORM_FACTOR: '1.3.6.1.4.1.41482.3.9',
} as const;

const ATTESTATION_ISSUER: NameAttribute[] = [{ type: 'CN', value: 'Yubico PIV Attestation (piv-enroll virtual card)' }];

function deviceSubject(serial: number): NameAttribute[] {
  return [...ATTESTATION_ISSUER, { type: 'serialNumber', value: String(serial) }];
}

/** The F9 key is RSA from the factory; a user may import an EC one (custom attestation). */
function attestationSigner(key: KeyObject): { algorithm: SignatureAlgorithm; sign: (tbs: Uint8Array) => Promise<Uint8Array> } {
  const info = describeKey(key);
  if (info?.kind === 'ec') {
    return { algorithm: { kind: 'ecdsa', hash: 'sha256' }, sign: async (tbs) => ecdsaSignDigest(key, info.curve!, digest('sha256', tbs).subarray(0, info.bits / 8)) };
  }
  if (info?.kind !== 'rsa') throw new RangeError('attestation key must be RSA or EC');
  const modulusBytes = info.bits / 8;
  return { algorithm: { kind: 'rsa', hash: 'sha256' }, sign: async (tbs) => rawRsa(key, pkcs1v15BlockForMessage('sha256', tbs, modulusBytes), modulusBytes) };
}

/**
 * The certificate of the F9 key, issued by the piv-enroll virtual card test root (test-root.ts) as a real card's
 * is issued by Yubico's PIV CA, which we cannot have.
 */
export async function makeAttestationCertificate(key: KeyObject, serial: number, now: Date, serialNumber: Uint8Array): Promise<Uint8Array> {
  const notBefore = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const root = summarizeCertificate(await virtualTestRootCertificate());
  return buildCertificate(
    {
      serialNumber,
      subject: deviceSubject(serial),
      issuer: root.subjectDer,
      notBefore,
      notAfter: new Date(Date.UTC(2071, 0, 1)),
      subjectPublicKeyInfo: spkiDer(key),
      extensions: [basicConstraintsExtension(true)],
      signatureAlgorithm: { kind: 'ed25519' },
    },
    signWithVirtualTestRoot,
  );
}

export interface AttestationInput {
  slot: number;
  publicKey: KeyObject;
  pinPolicy: number;
  touchPolicy: number;
  firmware: FirmwareVersion;
  serial: number;
  formFactor: number;
  attestationKey: KeyObject;
  attestationCertificate: Uint8Array;
  serialNumber: Uint8Array;
}

/** DER INTEGER of a non-negative number (the serial extension nests one). */
function derInteger(value: number): Uint8Array {
  let bytes = uintBytes(value, 4);
  while (bytes.length > 1 && bytes[0] === 0 && (bytes[1]! & 0x80) === 0) bytes = bytes.subarray(1);
  if ((bytes[0]! & 0x80) !== 0) bytes = concatBytes(Uint8Array.of(0), bytes);
  return encodeTlv(0x02, bytes);
}

export async function attestSlot(input: AttestationInput): Promise<Uint8Array> {
  const issuerCertificate = summarizeCertificate(input.attestationCertificate);
  const slotName = input.slot.toString(16).padStart(2, '0');
  const signer = attestationSigner(input.attestationKey);
  return buildCertificate(
    {
      serialNumber: input.serialNumber,
      subject: [{ type: 'CN', value: `YubiKey PIV Attestation ${slotName}` }],
      issuer: issuerCertificate.subjectDer,
      notBefore: issuerCertificate.notBefore,
      notAfter: issuerCertificate.notAfter,
      subjectPublicKeyInfo: spkiDer(input.publicKey),
      extensions: [
        { oid: YUBICO_OID.FIRMWARE, critical: false, value: Uint8Array.of(input.firmware.major, input.firmware.minor, input.firmware.patch) },
        { oid: YUBICO_OID.SERIAL, critical: false, value: derInteger(input.serial) },
        { oid: YUBICO_OID.POLICY, critical: false, value: Uint8Array.of(input.pinPolicy, input.touchPolicy) },
        { oid: YUBICO_OID.FORM_FACTOR, critical: false, value: Uint8Array.of(input.formFactor) },
      ],
      signatureAlgorithm: signer.algorithm,
    },
    signer.sign,
  );
}

/**
 * The fault attest-wrong-chain: the same f9 key and subject, but issued by a root of its own (a fresh Ed25519 key),
 * as a counterfeit card's device certificate would be. The attestations it signed still verify under it.
 */
export async function counterfeitDeviceCertificate(deviceDer: Uint8Array, serial: number): Promise<Uint8Array> {
  const device = summarizeCertificate(deviceDer);
  const { privateKey } = generateKeyPairSync('ed25519');
  return buildCertificate(
    {
      serialNumber: Uint8Array.of(0x02),
      subject: deviceSubject(serial),
      issuer: [{ type: 'CN', value: 'Counterfeit PIV Attestation Root' }],
      notBefore: device.notBefore,
      notAfter: device.notAfter,
      subjectPublicKeyInfo: device.subjectPublicKeyInfo,
      extensions: [basicConstraintsExtension(true)],
      signatureAlgorithm: { kind: 'ed25519' },
    },
    async (tbs) => new Uint8Array(signMessage(null, tbs, privateKey)),
  );
}
