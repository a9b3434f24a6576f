import { generateKeyPairSync, sign as nodeSign, X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import forge from 'node-forge';
import { describe, expect, test } from 'vitest';
import { MalformedDataError } from '../../src/bytes/errors.js';
import { fromHex, toHex } from '../../src/bytes/hex.js';
import { spkiDer } from '../../src/crypto/keys.js';
import { basicConstraintsExtension, buildCertificate, keyUsageExtension, summarizeCertificate } from '../../src/crypto/x509.js';

describe('X.509 builder', () => {
  test('known answer: byte-identical to node-forge for the same RSA key, serial, dates, names and extensions', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const notBefore = new Date(Date.UTC(2026, 10, 24, 0, 0, 0));
    const notAfter = new Date(Date.UTC(2027, 10, 24, 0, 0, 0));
    const ours = await buildCertificate(
      {
        serialNumber: fromHex('0123456789ABCDEF0123456789ABCDEF'),
        subject: [{ type: 'CN', value: 'gofish543' }],
        issuer: [{ type: 'CN', value: 'gofish543' }],
        notBefore,
        notAfter,
        subjectPublicKeyInfo: spkiDer(publicKey),
        extensions: [basicConstraintsExtension(false), keyUsageExtension([0])],
        signatureAlgorithm: { kind: 'rsa', hash: 'sha256' },
      },
      async (tbs) => new Uint8Array(nodeSign('sha256', tbs, privateKey)),
    );

    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string);
    cert.serialNumber = '0123456789abcdef0123456789abcdef';
    cert.validity.notBefore = notBefore;
    cert.validity.notAfter = notAfter;
    const name = [{ type: '2.5.4.3', value: 'gofish543', valueTagClass: forge.asn1.Type.UTF8 }];
    cert.setSubject(name as never);
    cert.setIssuer(name as never);
    cert.setExtensions([
      { name: 'basicConstraints', critical: true, cA: false },
      { name: 'keyUsage', critical: true, digitalSignature: true },
    ]);
    cert.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }) as string), forge.md.sha256.create());
    const theirs = forge.util.binary.raw.decode(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes());
    expect(toHex(ours)).toBe(toHex(theirs));
  });

  test.each([
    ['ec', { namedCurve: 'prime256v1' }, { kind: 'ecdsa', hash: 'sha256' }, 'sha256'],
    ['ed25519', {}, { kind: 'ed25519' }, null],
  ] as const)('%s certificates verify with node:crypto, and the summary reads them back', async (type, params, signatureAlgorithm, hash) => {
    const { privateKey, publicKey } = generateKeyPairSync(type as 'ec', params as { namedCurve: string });
    const der = await buildCertificate(
      {
        serialNumber: fromHex('80'), // top bit set: must be encoded with a leading zero to stay positive
        subject: [{ type: 'CN', value: 'Zoë Ålund' }, { type: 'O', value: 'Example, Inc.' }],
        issuer: [{ type: 'CN', value: 'issuer' }],
        notBefore: new Date(Date.UTC(2026, 0, 1)),
        notAfter: new Date(Date.UTC(2051, 0, 1)), // after 2049: GeneralizedTime
        subjectPublicKeyInfo: spkiDer(publicKey),
        extensions: [],
        signatureAlgorithm,
      },
      async (tbs) => new Uint8Array(nodeSign(hash, tbs, privateKey)),
    );
    const x509 = new X509Certificate(der);
    expect(x509.verify(publicKey)).toBe(true);
    expect(toHex(der)).toContain('A00302010202020080'); // [0] v3, then the serial as INTEGER 00 80
    const summary = summarizeCertificate(der);
    expect(summary.subject).toBe('O=Example\\, Inc.,CN=Zoë Ålund');
    expect(summary.notAfter.toISOString()).toBe('2051-01-01T00:00:00.000Z');
    expect(toHex(summary.subjectPublicKeyInfo)).toBe(toHex(spkiDer(publicKey)));
  });

  test('notBefore after notAfter and an empty serial are refused', async () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    const base = {
      serialNumber: fromHex('01'),
      subject: [{ type: 'CN', value: 'x' }],
      issuer: [{ type: 'CN', value: 'x' }],
      notBefore: new Date(Date.UTC(2027, 0, 1)),
      notAfter: new Date(Date.UTC(2026, 0, 1)),
      subjectPublicKeyInfo: spkiDer(publicKey),
      extensions: [],
      signatureAlgorithm: { kind: 'ed25519' } as const,
    };
    await expect(buildCertificate(base, async () => new Uint8Array(64))).rejects.toThrow(/notBefore/);
    await expect(buildCertificate({ ...base, notAfter: new Date(Date.UTC(2028, 0, 1)), serialNumber: new Uint8Array(0) }, async () => new Uint8Array(64))).rejects.toThrow(/serial/);
  });

  test('fuzz: summarizeCertificate on random bytes only ever throws MalformedDataError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        try {
          summarizeCertificate(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(MalformedDataError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
