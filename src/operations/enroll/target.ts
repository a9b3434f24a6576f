/**
 * What an enrollment needs from a card, whichever way it is reached: raw APDUs through a PivSession
 * (apdu-target.ts) or a vendor PKCS#11 module such as ykcs11 (pkcs11-target.ts). One plan and one
 * sequence of steps (apply.ts) drive both; a backend that cannot do a step says so at planning time.
 */
import type { KeyObject } from 'node:crypto';
import type { KeyAlgorithmInfo, ManagementKeyAlgorithmInfo } from '../../standards/algorithms.js';
import type { CardKey } from './card-signer.js';
import type { CardInspection } from './inspect.js';
import type { EnrollSecrets } from './options.js';

export interface KeyPolicy {
  pinPolicy: number;
  touchPolicy: number;
}

/** A card-made key's attestation (ATTEST) and the card's f9 device certificate (5FFF01) that signed it, DER. */
export interface KeyAttestation {
  attestationDer?: Uint8Array;
  deviceCertificateDer?: Uint8Array;
}

export interface EnrollmentTarget {
  readonly backend: 'apdu' | 'pkcs11';
  changePin(current: string, next: string): Promise<void>;
  changePuk(current: string, next: string): Promise<void>;
  /** Proves the management key: the default, the one given, or the copy kept PIN-protected on the card. */
  authenticate(inspection: CardInspection, secrets: EnrollSecrets, pin: string): Promise<void>;
  /** Replaces the management key by `key`, stored on the card protected by the PIN (ykman's format). */
  replaceManagementKey(algorithm: ManagementKeyAlgorithmInfo, key: Uint8Array, pin: string, now: Date): Promise<void>;
  generateKey(slot: number, algorithm: KeyAlgorithmInfo, policy: KeyPolicy): Promise<{ publicKey: KeyObject } & KeyAttestation>;
  importKey(slot: number, privateKey: KeyObject, policy: KeyPolicy): Promise<void>;
  /** Replaces the key in `to` by the one in `from` (DELETE KEY, MOVE KEY; 5.7); the attestation of the moved key. APDU backend only. */
  moveStagedKey?(from: number, to: number): Promise<KeyAttestation>;
  /** The slot's key as a signer; `publicKey` lets a backend that needs it (ykcs11) expose the key first. */
  signingKey(slot: number, algorithm: KeyAlgorithmInfo, publicKey: KeyObject, pinPolicy: number, pin: string): Promise<CardKey>;
  putCertificate(slot: number, der: Uint8Array): Promise<void>;
  /** The card's f9 attestation certificate (DER), which signs the attestations; undefined when it has none. APDU backend only. */
  attestationIntermediate?(): Promise<Uint8Array | undefined>;
  /** Writes a CHUID with this GUID; false when the backend cannot write it. */
  writeChuid(guid: Uint8Array): Promise<boolean>;
}
