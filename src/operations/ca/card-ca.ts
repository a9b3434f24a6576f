/**
 * A CA whose key stays on a PIV card: the host builds the certificate, the card signs it. RSA signs an
 * EMSA-PKCS1 block made here with SHA-512 (rsa-sha2-512); ECDSA signs the digest and returns DER, turned into
 * SSH's mpint r, mpint s; Ed25519 signs the bytes themselves. Before each use the slot's key is compared with the
 * one recorded at `ca init`, so a wrong card never signs anything.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { bytesEqual } from '../../bytes/hex.js';
import { summarizeCertificate } from '../../crypto/x509.js';
import { UsageError } from '../../errors.js';
import { NotFoundError } from '../../piv/errors.js';
import type { PivSession } from '../../piv/session.js';
import { describeKey } from '../../crypto/keys.js';
import type { KeyAlgorithmInfo } from '../../standards/algorithms.js';
import { hasFeature } from '../../standards/firmware.js';
import { defaultPinPolicy, PIN_POLICY } from '../../standards/policies.js';
import { slotHex } from '../../standards/references.js';
import { signWithCard } from '../enroll/card-signer.js';
import { caSignatureScheme, sshEcdsaSignatureFromDer } from './ca-signature.js';
import type { CertificateSigner } from './certificate.js';
import { WrongCaCardError } from './errors.js';
import { publicKeyBlob } from './key-blob.js';

export interface SlotKey {
  publicKey: KeyObject;
  algorithm: KeyAlgorithmInfo;
  /** The effective PIN policy, when the card reports it (metadata, firmware 5.3+). */
  pinPolicy?: number;
}

/** The key in `slot`: from metadata where the firmware has it, else from the slot's certificate; undefined when empty. */
export async function readSlotKey(session: PivSession, slot: number): Promise<SlotKey | undefined> {
  if (hasFeature(session.version, 'metadata')) {
    try {
      const metadata = await session.getSlotMetadata(slot);
      const pinPolicy = metadata.pinPolicy === PIN_POLICY.DEFAULT ? defaultPinPolicy(slot) : metadata.pinPolicy;
      return { publicKey: metadata.publicKey, algorithm: metadata.algorithm, pinPolicy };
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }
  try {
    const certificate = await session.getCertificate(slot);
    const publicKey = createPublicKey({ key: Buffer.from(summarizeCertificate(certificate).subjectPublicKeyInfo), format: 'der', type: 'spki' });
    const algorithm = describeKey(publicKey);
    return algorithm ? { publicKey, algorithm } : undefined;
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

/** The card's serial where the firmware reports one. */
export async function readCardSerial(session: PivSession): Promise<number | undefined> {
  return hasFeature(session.version, 'serial') ? session.getSerial() : undefined;
}

export interface CardCaKey {
  session: PivSession;
  slot: number;
  /** The PIN, when the key's policy asks for it (or the policy is unknown). */
  pin?: string;
}

/** Whether signing with this slot key needs the PIN (unknown policy: assume it does). */
export function cardCaNeedsPin(key: SlotKey): boolean {
  return key.pinPolicy !== PIN_POLICY.NEVER;
}

/**
 * Checks that the card in hand holds the CA key recorded in ca.json, then returns a signer for it.
 * `expected.cardSerial` is checked when both it and the card's serial are known.
 */
export async function cardCertificateSigner(card: CardCaKey, expected: { publicKeyBlob: Uint8Array; cardSerial?: number }): Promise<CertificateSigner> {
  const serial = await readCardSerial(card.session);
  if (expected.cardSerial !== undefined && serial !== undefined && serial !== expected.cardSerial) {
    throw new WrongCaCardError(`this card (serial ${serial}) is not the CA's card (serial ${expected.cardSerial}): insert the CA card`);
  }
  const key = await readSlotKey(card.session, card.slot);
  if (!key) throw new WrongCaCardError(`slot ${slotHex(card.slot)} of this card holds no key: it is not the CA's card`);
  if (!bytesEqual(publicKeyBlob(key.publicKey), expected.publicKeyBlob)) {
    throw new WrongCaCardError(`slot ${slotHex(card.slot)} of this card holds a different key than the CA's: wrong card inserted, or the slot was re-keyed`);
  }
  const needsPin = cardCaNeedsPin(key);
  if (needsPin && card.pin === undefined) throw new UsageError('the PIN of the CA card is required to sign (PIV_PIN or --pin-file)');
  const scheme = caSignatureScheme(key.publicKey);
  // Unknown policy (no metadata): verify before each signature, which any policy accepts.
  const pinPolicy = needsPin ? (key.pinPolicy ?? PIN_POLICY.ALWAYS) : PIN_POLICY.NEVER;
  const cardKey = { session: card.session, slot: card.slot, algorithm: key.algorithm, pinPolicy, pin: card.pin ?? '' };
  return async (data) => {
    const signature = await signWithCard(cardKey, data, scheme.hash ?? 'sha512');
    return { algorithm: scheme.algorithm, signature: scheme.kind === 'ec' ? sshEcdsaSignatureFromDer(signature) : signature };
  };
}
