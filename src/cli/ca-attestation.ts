/**
 * `ca sign --require-attestation [--attestation FILE --attestation-f9 FILE | --slot]`: the flags, the certificates read
 * from files (PEM or DER), and the trust (Yubico's roots and --attestation-roots; the virtual card test root only for a
 * --slot of the embedded virtual card). The result is the key id the certificate gets.
 */
import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import { siteAttestationTrust, trustForCard } from '../operations/attestation/evidence.js';
import { pemCertificates } from '../operations/attestation/roots.js';
import { attestedKeyId, requireAttestedKey, type AttestationSource } from '../operations/ca/attested-key.js';
import type { OpenedCard } from '../operations/open-card.js';

export interface CaAttestationFlags {
  requireAttestation?: boolean;
  attestation?: string;
  attestationF9?: string;
  attestationRoots?: string[];
}

/** Usage problems of these flags, reported with ca sign's others before anything is read. */
export function caAttestationProblems(flags: CaAttestationFlags & { slot?: string }): string[] {
  const files = flags.attestation !== undefined || flags.attestationF9 !== undefined;
  if (!flags.requireAttestation) return files || flags.attestationRoots ? ['--attestation, --attestation-f9 and --attestation-roots only apply with --require-attestation'] : [];
  if (flags.slot !== undefined) return files ? ['with --slot the attestation is read from the card: leave out --attestation and --attestation-f9'] : [];
  if (flags.attestation === undefined || flags.attestationF9 === undefined) return ['--require-attestation with --public-key needs the key\'s attestation: --attestation FILE --attestation-f9 FILE (or certify a card slot with --slot)'];
  return [];
}

async function certificateFile(file: string, flag: string): Promise<Uint8Array> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new UsageError(`cannot read ${flag} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const [pem] = pemCertificates(bytes.toString('latin1'));
  return pem ?? new Uint8Array(bytes); // not PEM: taken as DER (a malformed one is refused by the verification)
}

/** The certificate's key id: `keyId` itself, or with --require-attestation the attested serial and policies added. */
export async function certificateKeyId(flags: CaAttestationFlags, keyId: string, publicKey: Uint8Array, card: OpenedCard | undefined, slot: number | undefined): Promise<string> {
  if (!flags.requireAttestation) return keyId;
  const site = await siteAttestationTrust(flags.attestationRoots ?? []);
  const source: AttestationSource =
    slot !== undefined
      ? { kind: 'card', session: card!.session, slot }
      : { kind: 'files', attestation: await certificateFile(flags.attestation!, '--attestation'), deviceCertificate: await certificateFile(flags.attestationF9!, '--attestation-f9') };
  const trust = await trustForCard(site, card !== undefined && card.readerName === undefined && slot !== undefined);
  return attestedKeyId(keyId, await requireAttestedKey({ publicKey, source, trust, now: new Date() }));
}
