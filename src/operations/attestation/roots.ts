/**
 * Whom an attestation may chain to. Yubico's public PIV attestation CAs ship in templates/attestation/ (each file
 * names its origin and SHA-256); a file is used only if its DER hashes to the value pinned here, so an edited
 * or swapped file is refused rather than trusted. `--attestation-roots FILE` adds to them (evidence.ts,
 * siteAttestationTrust); the virtual card's test root is trusted only for `--virtual`.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { MalformedDataError } from '../../bytes/errors.js';
import { virtualTestRootCertificate } from '../../transport/virtual/test-root.js';

const TEMPLATES = new URL('../../../templates/attestation/', import.meta.url);

export interface PinnedCertificate {
  file: string;
  role: 'root' | 'intermediate';
  subject: string;
  sha256: string;
}

/** The fingerprints match the table Yubico publishes with https://developers.yubico.com/PKI/yubico-ca-certs.txt. */
export const YUBICO_ATTESTATION_CERTIFICATES: readonly PinnedCertificate[] = [
  // Before firmware 5.7.4 the f9 certificate is issued directly by this root (the 2018 re-issue of the 2016 key).
  { file: 'yubico-piv-root-ca-263751.pem', role: 'root', subject: 'CN=Yubico PIV Root CA Serial 263751', sha256: '63ece914e54dd87915f34033c85af4c0696ba1512f8add66ced738331207b546' },
  // From 5.7.4: f9 ← Yubico PIV Attestation {A,B} 1 ← Yubico Attestation Intermediate {A,B} 1 ← Yubico Attestation Root 1.
  { file: 'yubico-attestation-root-1.pem', role: 'root', subject: 'CN=Yubico Attestation Root 1', sha256: '62760c6a6ef91679f454c8902b80fd009825b3f25da90f1fbace2ec6586cd5a8' },
  { file: 'yubico-attestation-intermediate-a-1.pem', role: 'intermediate', subject: 'CN=Yubico Attestation Intermediate A 1', sha256: '4698a1d3389c3ec60016c216250f1d0439922832d65142327436376dc2942b55' },
  { file: 'yubico-attestation-intermediate-b-1.pem', role: 'intermediate', subject: 'CN=Yubico Attestation Intermediate B 1', sha256: 'd4cc3f456fdaf4e7812a21aab1dfe9d8e27d24e2fd2d6f21c9940109f0daa754' },
  { file: 'yubico-piv-attestation-a-1.pem', role: 'intermediate', subject: 'CN=Yubico PIV Attestation A 1', sha256: '6de693f05376f5d8ca29069261e1c8626c75d503bd2edbfd75354cad1f722870' },
  { file: 'yubico-piv-attestation-b-1.pem', role: 'intermediate', subject: 'CN=Yubico PIV Attestation B 1', sha256: '2d55b7998f4e42569d6d8fa382b6dc77d1dacf07358b19701163892922b17052' },
];

export interface AttestationTrust {
  /** What the verdict calls this trust ("Yubico", "virtual card test root", a file name). */
  name: string;
  roots: X509Certificate[];
  intermediates: X509Certificate[];
}

export function sha256Hex(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

/** Every certificate of a PEM bundle, as DER; text around the blocks (our origin notes) is ignored. */
export function pemCertificates(text: string): Uint8Array[] {
  const blocks = [...text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)];
  return blocks.map((block) => new Uint8Array(Buffer.from(block[1]!.replace(/\s+/g, ''), 'base64')));
}

/** Yubico's certificates, each checked against its pinned SHA-256. */
export async function yubicoAttestationTrust(directory: URL = TEMPLATES): Promise<AttestationTrust> {
  const trust: AttestationTrust = { name: 'Yubico', roots: [], intermediates: [] };
  for (const pinned of YUBICO_ATTESTATION_CERTIFICATES) {
    const [der, ...extra] = pemCertificates(await readFile(new URL(pinned.file, directory), 'utf8'));
    if (!der || extra.length > 0 || sha256Hex(der) !== pinned.sha256) {
      throw new MalformedDataError(`${pinned.file} is not the pinned ${pinned.subject} (SHA-256 ${pinned.sha256})`);
    }
    (pinned.role === 'root' ? trust.roots : trust.intermediates).push(new X509Certificate(der));
  }
  return trust;
}

/** The virtual card test root: trusted for `--virtual` and in tests, never for a card in a reader. */
export async function virtualCardTrust(): Promise<AttestationTrust> {
  return { name: 'piv-enroll virtual card test root', roots: [new X509Certificate(await virtualTestRootCertificate())], intermediates: [] };
}

/** `--attestation-roots FILE…`: self-signed certificates are roots, the others intermediates. */
export async function attestationTrustFromFiles(files: string[]): Promise<AttestationTrust> {
  const trust: AttestationTrust = { name: files.join(', '), roots: [], intermediates: [] };
  for (const file of files) {
    const certificates = pemCertificates(await readFile(file, 'utf8'));
    if (certificates.length === 0) throw new MalformedDataError(`${file} holds no PEM certificate`);
    for (const der of certificates) {
      const certificate = new X509Certificate(der);
      const selfSigned = certificate.subject === certificate.issuer && certificate.verify(certificate.publicKey);
      (selfSigned ? trust.roots : trust.intermediates).push(certificate);
    }
  }
  return trust;
}
