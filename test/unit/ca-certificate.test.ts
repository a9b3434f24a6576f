import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { SshReader, SshWriter } from '../../src/crypto/ssh-wire.js';
import { caSignatureScheme, softwareCertificateSigner, sshEcdsaSignatureFromDer, sshEcdsaSignatureFromP1363, verifySshSignature } from '../../src/operations/ca/ca-signature.js';
import { certificateToBeSigned, encodeCertificate, parseCertificate, type CertificateFields } from '../../src/operations/ca/certificate.js';
import { publicKeyBlob, publicKeyFromBlob } from '../../src/operations/ca/key-blob.js';
import { h, hexOf } from './helpers.js';

// RFC 8032 §7.1 test 1: a fixed Ed25519 key, so certificate signatures are known answers.
const ED25519_SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const ed25519Ca = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: Buffer.from(ED25519_SEED, 'hex').toString('base64url'), x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }, format: 'jwk' });
const userKey = generateKeyPairSync('ed25519').publicKey;

function fields(overrides: Partial<CertificateFields> = {}): CertificateFields {
  return {
    nonce: new Uint8Array(32).fill(0x42),
    publicKeyBlob: publicKeyBlob(userKey),
    serial: 7n,
    kind: 'user',
    keyId: 'alice@example',
    principals: ['alice', 'root'],
    validAfter: 1_700_000_000n,
    validBefore: 1_702_592_000n,
    criticalOptions: [{ name: 'source-address', value: '10.0.0.0/8' }, { name: 'force-command', value: '/bin/true' }],
    extensions: [{ name: 'permit-user-rc' }, { name: 'permit-pty' }, { name: 'permit-X11-forwarding' }, { name: 'login@example.com', value: 'alice' }],
    ...overrides,
  };
}

describe('OpenSSH certificate encoding', () => {
  test('the RFC 8032 key gives the RFC 8032 public key blob', () => {
    expect(hexOf(publicKeyBlob(ed25519Ca))).toBe('0000000b7373682d6564323535313900000020d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
  });

  test('every field parses back; options and extensions sorted by byte order; valued ones are nested strings', async () => {
    const caBlob = publicKeyBlob(ed25519Ca);
    const blob = await encodeCertificate(fields(), caBlob, softwareCertificateSigner(ed25519Ca));
    const parsed = parseCertificate(blob);
    expect(parsed.certificateType).toBe('ssh-ed25519-cert-v01@openssh.com');
    expect(hexOf(parsed.nonce)).toBe('42'.repeat(32));
    expect(parsed.publicKeyBlob).toEqual(publicKeyBlob(userKey));
    expect(parsed).toMatchObject({ serial: 7n, kind: 'user', keyId: 'alice@example', principals: ['alice', 'root'], validAfter: 1_700_000_000n, validBefore: 1_702_592_000n });
    expect(parsed.criticalOptions.map((o) => o.name)).toEqual(['force-command', 'source-address']);
    // 'X' (0x58) sorts before 'p' and '-'-words: strcmp order, as sshd and ssh-keygen use.
    expect(parsed.extensions.map((o) => o.name)).toEqual(['login@example.com', 'permit-X11-forwarding', 'permit-pty', 'permit-user-rc']);
    expect(parsed.extensions[0]).toEqual({ name: 'login@example.com', value: 'alice' });
    expect(parsed.caPublicKeyBlob).toEqual(caBlob);
    expect(parsed.signatureAlgorithm).toBe('ssh-ed25519');
    expect(parsed.signature).toEqual(new Uint8Array(sign(null, parsed.signedData, ed25519Ca)));
    expect(verifySshSignature(publicKeyFromBlob(caBlob), parsed.signedData, parsed.signatureAlgorithm, parsed.signature)).toBe(true);
  });

  test('a valued critical option is the name, then a string holding a string', () => {
    const tbs = certificateToBeSigned(fields({ criticalOptions: [{ name: 'force-command', value: 'ls' }], extensions: [] }), publicKeyBlob(ed25519Ca));
    const expectedOptions = new SshWriter().string('force-command').string(new SshWriter().string('ls').bytes()).bytes();
    expect(hexOf(tbs)).toContain(hexOf(new SshWriter().string(expectedOptions).bytes()));
  });

  test('the signed bytes are exactly everything up to the signature, and Ed25519 makes the same certificate twice', async () => {
    const caBlob = publicKeyBlob(ed25519Ca);
    const first = await encodeCertificate(fields(), caBlob, softwareCertificateSigner(ed25519Ca));
    const second = await encodeCertificate(fields(), caBlob, softwareCertificateSigner(ed25519Ca));
    expect(first).toEqual(second);
    const tbs = certificateToBeSigned(fields(), caBlob);
    expect(first.subarray(0, tbs.length)).toEqual(tbs);
    const signatureReader = new SshReader(first.subarray(tbs.length));
    const signature = new SshReader(signatureReader.string());
    expect(signature.text()).toBe('ssh-ed25519');
    expect(signature.string().length).toBe(64);
    signatureReader.end();
  });

  test('serial 0, no principals, an empty window and a certificate as subject are refused', () => {
    const caBlob = publicKeyBlob(ed25519Ca);
    expect(() => certificateToBeSigned(fields({ serial: 0n }), caBlob)).toThrow(/serial 0/);
    expect(() => certificateToBeSigned(fields({ principals: [] }), caBlob)).toThrow(/principals/);
    expect(() => certificateToBeSigned(fields({ validBefore: 1_700_000_000n }), caBlob)).toThrow(/valid-before/);
    expect(() => certificateToBeSigned(fields({ extensions: [{ name: 'permit-pty' }, { name: 'permit-pty' }] }), caBlob)).toThrow(/twice/);
  });

  test.each([
    ['rsa', { modulusLength: 2048 }, 'rsa-sha2-512'],
    ['ec', { namedCurve: 'prime256v1' }, 'ecdsa-sha2-nistp256'],
    ['ec', { namedCurve: 'secp384r1' }, 'ecdsa-sha2-nistp384'],
  ] as const)('a %s CA signs with %o → %s, verified as sshd would', async (type, options, algorithm) => {
    const { privateKey, publicKey } = generateKeyPairSync(type as 'rsa', options as { modulusLength: number });
    const blob = await encodeCertificate(fields(), publicKeyBlob(publicKey), softwareCertificateSigner(privateKey));
    const parsed = parseCertificate(blob);
    expect(parsed.signatureAlgorithm).toBe(algorithm);
    if (type === 'rsa') expect(parsed.signature.length).toBe(256);
    expect(verifySshSignature(publicKey, parsed.signedData, parsed.signatureAlgorithm, parsed.signature)).toBe(true);
    const tampered = parsed.signedData.slice();
    tampered[tampered.length - 1]! ^= 1;
    expect(verifySshSignature(publicKey, tampered, parsed.signatureAlgorithm, parsed.signature)).toBe(false);
    // The same signature labelled with a weaker algorithm must not pass.
    expect(verifySshSignature(publicKey, parsed.signedData, type === 'rsa' ? 'rsa-sha2-256' : 'ecdsa-sha2-nistp521', parsed.signature)).toBe(false);
  });

  test('ECDSA signatures become mpint r, mpint s: from DER (a card) and from r‖s agree, high bits padded', () => {
    const r = h('80' + '11'.repeat(31));
    const s = h('00' + '7f' + '22'.repeat(30));
    const der = h('3045' + '0221' + '00' + hexOf(r) + '0220' + hexOf(h('7f' + '22'.repeat(30))).padStart(64, '0').slice(0, 64));
    const fromDer = sshEcdsaSignatureFromDer(der);
    const fromP1363 = sshEcdsaSignatureFromP1363(new Uint8Array([...r, ...s]));
    expect(fromDer).toEqual(fromP1363);
    const reader = new SshReader(fromDer);
    expect(hexOf(reader.string())).toBe('00' + hexOf(r)); // top bit set → a zero byte in front
    expect(hexOf(reader.string())).toBe('7f' + '22'.repeat(30)); // leading zero of s dropped
    expect(() => sshEcdsaSignatureFromDer(h('3006020101020101ff'))).toThrow(/DER/);
    expect(() => sshEcdsaSignatureFromDer(h('300602010102018f'))).toThrow(/DER/);
  });

  test('caSignatureScheme: RSA always rsa-sha2-512, never ssh-rsa', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(caSignatureScheme(privateKey)).toMatchObject({ algorithm: 'rsa-sha2-512', hash: 'sha512', size: 256 });
    expect(caSignatureScheme(ed25519Ca).algorithm).toBe('ssh-ed25519');
  });
});
