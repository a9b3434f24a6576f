/** PKCS#10 builder: byte-identical to OpenSSL for RSA, accepted by `openssl req -verify` for every key type. */
import { generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { MalformedDataError } from '../../src/bytes/errors.js';
import { spkiDer } from '../../src/crypto/keys.js';
import { buildCertificationRequest, certificationRequestPem, readCertificationRequest } from '../../src/crypto/pkcs10.js';
import type { SignatureAlgorithm } from '../../src/crypto/x509.js';
import { openssl, opensslVerifiesRequest } from '../support/openssl.js';

const dir = mkdtempSync(join(tmpdir(), 'piv-enroll-pkcs10-'));

function signer(privateKey: KeyObject, alg: SignatureAlgorithm): (tbs: Uint8Array) => Promise<Uint8Array> {
  return async (tbs) => new Uint8Array(nodeSign(alg.kind === 'ed25519' ? null : alg.hash, tbs, privateKey));
}

describe('PKCS#10 builder', () => {
  test('known answer: RSA SHA-256 request byte-identical to `openssl req -new`', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyFile = join(dir, 'rsa.pem');
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
    const derFile = join(dir, 'rsa.der');
    openssl(['req', '-new', '-key', keyFile, '-subj', '/O=Example/CN=gofish543', '-sha256', '-outform', 'DER', '-out', derFile]);
    const alg: SignatureAlgorithm = { kind: 'rsa', hash: 'sha256' };
    const ours = await buildCertificationRequest(
      { subject: [{ type: 'O', value: 'Example' }, { type: 'CN', value: 'gofish543' }], subjectPublicKeyInfo: spkiDer(publicKey), extensions: [], signatureAlgorithm: alg },
      signer(privateKey, alg),
    );
    expect(Buffer.from(ours.der).toString('hex')).toBe(readFileSync(derFile).toString('hex'));
  });

  for (const [name, pair, alg] of [
    ['RSA-2048 SHA-384', generateKeyPairSync('rsa', { modulusLength: 2048 }), { kind: 'rsa', hash: 'sha384' }],
    ['P-256 SHA-256', generateKeyPairSync('ec', { namedCurve: 'P-256' }), { kind: 'ecdsa', hash: 'sha256' }],
    ['P-384 SHA-512', generateKeyPairSync('ec', { namedCurve: 'P-384' }), { kind: 'ecdsa', hash: 'sha512' }],
    ['Ed25519', generateKeyPairSync('ed25519'), { kind: 'ed25519' }],
  ] as const) {
    test(`${name}: openssl req -verify accepts it and shows the requested extension`, async () => {
      const payload = Uint8Array.from([0x30, 0x03, 0x02, 0x01, 0x05]); // any DER: the extension carries it as is
      const request = await buildCertificationRequest(
        {
          subject: [{ type: 'CN', value: 'gofish543' }],
          subjectPublicKeyInfo: spkiDer(pair.publicKey),
          extensions: [{ oid: '1.3.6.1.4.1.41482.3.1', critical: false, value: payload }],
          signatureAlgorithm: alg,
        },
        signer(pair.privateKey, alg),
      );
      const file = join(dir, `${name.replace(/\W/g, '')}.csr`);
      writeFileSync(file, certificationRequestPem(request.der));
      expect(opensslVerifiesRequest(file)).toBe(true);
      const text = openssl(['req', '-in', file, '-noout', '-text']);
      expect(text).toMatch(/Requested Extensions:\s*\n\s*1\.3\.6\.1\.4\.1\.41482\.3\.1:/);
      expect(text).toContain('Subject: CN = gofish543');
      const read = readCertificationRequest(request.der);
      expect(Buffer.from(read.extensions.get('1.3.6.1.4.1.41482.3.1')!)).toEqual(Buffer.from(payload));
      expect(Buffer.from(read.signature)).toEqual(Buffer.from(request.signature));
      expect(Buffer.from(read.subjectPublicKeyInfo)).toEqual(Buffer.from(spkiDer(pair.publicKey)));
    });
  }

  test('a wrong signature is refused by openssl (the test can fail)', async () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const alg: SignatureAlgorithm = { kind: 'ecdsa', hash: 'sha256' };
    const request = await buildCertificationRequest({ subject: [{ type: 'CN', value: 'x' }], subjectPublicKeyInfo: spkiDer(pair.publicKey), extensions: [], signatureAlgorithm: alg }, signer(other.privateKey, alg));
    const file = join(dir, 'bad.csr');
    writeFileSync(file, certificationRequestPem(request.der));
    expect(opensslVerifiesRequest(file)).toBe(false);
  });

  test('SHA-1 is refused before anything is signed', async () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    let signed = false;
    await expect(
      buildCertificationRequest({ subject: [{ type: 'CN', value: 'x' }], subjectPublicKeyInfo: spkiDer(pair.publicKey), extensions: [], signatureAlgorithm: { kind: 'rsa', hash: 'sha1' } }, async () => {
        signed = true;
        return new Uint8Array(0);
      }),
    ).rejects.toThrow(/never SHA-1/);
    expect(signed).toBe(false);
  });

  test('garbage is a MalformedDataError', () => {
    expect(() => readCertificationRequest(Uint8Array.of(1, 2, 3))).toThrow(MalformedDataError);
  });
});
