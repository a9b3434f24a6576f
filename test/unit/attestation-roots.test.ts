import { createHash, X509Certificate } from 'node:crypto';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { pemCertificates, YUBICO_ATTESTATION_CERTIFICATES, yubicoAttestationTrust } from '../../src/operations/attestation/roots.js';

const TEMPLATES = new URL('../../templates/attestation/', import.meta.url);

describe('the shipped Yubico attestation CAs', () => {
  it.each(YUBICO_ATTESTATION_CERTIFICATES.map((c) => [c.file, c] as const))('%s parses, has its subject and matches its recorded SHA-256', async (_file, pinned) => {
    const text = await readFile(new URL(pinned.file, TEMPLATES), 'utf8');
    const [der] = pemCertificates(text);
    expect(createHash('sha256').update(der!).digest('hex')).toBe(pinned.sha256);
    expect(text).toContain(`SHA-256 (DER): ${pinned.sha256}`);
    expect(text).toMatch(/Source: .+/);
    const certificate = new X509Certificate(der!);
    expect(certificate.subject).toBe(pinned.subject);
    expect(certificate.ca).toBe(true);
  });

  it('chains the PIV intermediates to Yubico Attestation Root 1, and the old root is self-signed', async () => {
    const trust = await yubicoAttestationTrust();
    const bySubject = new Map([...trust.roots, ...trust.intermediates].map((c) => [c.subject, c]));
    const root1 = bySubject.get('CN=Yubico Attestation Root 1')!;
    for (const branch of ['A', 'B']) {
      const intermediate = bySubject.get(`CN=Yubico Attestation Intermediate ${branch} 1`)!;
      const piv = bySubject.get(`CN=Yubico PIV Attestation ${branch} 1`)!;
      expect(intermediate.verify(root1.publicKey)).toBe(true);
      expect(piv.verify(intermediate.publicKey)).toBe(true);
    }
    const oldRoot = bySubject.get('CN=Yubico PIV Root CA Serial 263751')!;
    expect(oldRoot.verify(oldRoot.publicKey)).toBe(true);
    expect(trust.roots.map((c) => c.subject).sort()).toEqual(['CN=Yubico Attestation Root 1', 'CN=Yubico PIV Root CA Serial 263751']);
  });

  it('refuses a shipped file whose certificate is not the pinned one', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'attestation-roots-'));
    await cp(TEMPLATES, directory, { recursive: true });
    const swapped = await readFile(new URL('yubico-attestation-root-1.pem', TEMPLATES), 'utf8');
    await writeFile(join(directory, 'yubico-piv-root-ca-263751.pem'), swapped);
    await expect(yubicoAttestationTrust(pathToFileURL(directory + '/'))).rejects.toThrow(/not the pinned CN=Yubico PIV Root CA Serial 263751/);
  });
});
