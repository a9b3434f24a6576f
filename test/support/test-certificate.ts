/** A certificate signed in software for tests that need one in a slot (piv-enroll's own builder, node:crypto signer). */
import { generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { fromHex } from '../../src/bytes/hex.js';
import { describeKey, spkiDer } from '../../src/crypto/keys.js';
import { buildCertificate, type CertificateExtension, type SignatureAlgorithm } from '../../src/crypto/x509.js';

export interface TestCertificateOptions {
  /** Defaults to a fresh P-256 pair. */
  keys?: { privateKey: KeyObject; publicKey: KeyObject };
  commonName?: string;
  serialHex?: string;
  extensions?: CertificateExtension[];
}

export async function testCertificate(options: TestCertificateOptions = {}): Promise<Uint8Array> {
  const { privateKey, publicKey } = options.keys ?? generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const kind = describeKey(privateKey)?.kind;
  const signatureAlgorithm: SignatureAlgorithm =
    kind === 'rsa' ? { kind: 'rsa', hash: 'sha256' } : kind === 'ec' ? { kind: 'ecdsa', hash: 'sha256' } : { kind: 'ed25519' };
  const name = [{ type: 'CN', value: options.commonName ?? 'piv-enroll test' }];
  return buildCertificate(
    {
      serialNumber: fromHex(options.serialHex ?? '01'),
      subject: name,
      issuer: name,
      notBefore: new Date(Date.UTC(2026, 0, 1)),
      notAfter: new Date(Date.UTC(2030, 0, 1)),
      subjectPublicKeyInfo: spkiDer(publicKey),
      extensions: options.extensions ?? [],
      signatureAlgorithm,
    },
    async (tbs) => new Uint8Array(nodeSign(signatureAlgorithm.kind === 'ed25519' ? null : 'sha256', tbs, privateKey)),
  );
}
