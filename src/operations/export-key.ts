/**
 * `piv-enroll export`: the public key of a slot, as ssh (authorized_keys), PEM, or the slot's certificate.
 * The key comes from metadata where the firmware has it, else from the slot's certificate, as
 * `ssh-keygen -D` would see it.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { summarizeCertificate } from '../crypto/x509.js';
import { NotFoundError } from '../piv/errors.js';
import type { PivSession } from '../piv/session.js';
import { hasFeature } from '../standards/firmware.js';
import { slotHex } from '../standards/references.js';
import { certificatePem, publicKeyPem } from '../crypto/pem.js';
import { authorizedKeysLine, sshFingerprint } from './ssh-public-key.js';

export type ExportFormat = 'ssh' | 'pem' | 'certificate';

export interface ExportedKey {
  slot: string;
  text: string;
  fingerprint: string;
}

function render(slot: number, publicKey: KeyObject, certificate: Uint8Array | undefined, format: ExportFormat, comment?: string): ExportedKey {
  const text = format === 'ssh' ? authorizedKeysLine(publicKey, comment) : format === 'pem' ? publicKeyPem(publicKey).trimEnd() : certificatePem(certificate!).trimEnd();
  return { slot: slotHex(slot), text, fingerprint: sshFingerprint(publicKey) };
}

/** The same export, from the certificate a PKCS#11 module shows: the key exactly as `ssh -I module` sees it. */
export function exportThroughPkcs11(certificateDer: Uint8Array, slot: number, format: ExportFormat, comment?: string): ExportedKey {
  const publicKey = createPublicKey({ key: Buffer.from(summarizeCertificate(certificateDer).subjectPublicKeyInfo), format: 'der', type: 'spki' });
  return render(slot, publicKey, certificateDer, format, comment);
}

export async function exportSlot(session: PivSession, slot: number, format: ExportFormat, comment?: string): Promise<ExportedKey> {
  const readCertificate = async (): Promise<Uint8Array | undefined> => {
    try {
      return await session.getCertificate(slot);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  };
  const certificate = await readCertificate();
  let publicKey: KeyObject | undefined;
  if (hasFeature(session.version, 'metadata')) {
    try {
      publicKey = (await session.getSlotMetadata(slot)).publicKey;
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
  }
  if (!publicKey && certificate) publicKey = createPublicKey({ key: Buffer.from(summarizeCertificate(certificate).subjectPublicKeyInfo), format: 'der', type: 'spki' });
  if (!publicKey) throw new NotFoundError(`slot ${slotHex(slot)} holds no key`);
  if (format === 'certificate' && !certificate) throw new NotFoundError(`slot ${slotHex(slot)} holds a key but no certificate (an unfinished enrollment? run enroll again)`);
  return render(slot, publicKey, certificate, format, comment);
}
