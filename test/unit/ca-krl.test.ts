import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { SshWriter } from '../../src/crypto/ssh-wire.js';
import { softwareCertificateSigner } from '../../src/operations/ca/ca-signature.js';
import { encodeCertificate } from '../../src/operations/ca/certificate.js';
import { decodeKrl, encodeKrl, KRL_CERT_SECTION, KRL_SECTION, mergeSerialRanges, revocationReason, type Krl } from '../../src/operations/ca/krl.js';
import { publicKeyBlob } from '../../src/operations/ca/key-blob.js';
import { hexOf } from './helpers.js';

const ca = generateKeyPairSync('ed25519');
const otherCa = generateKeyPairSync('ed25519');
const caBlob = publicKeyBlob(ca.publicKey);
const userBlob = publicKeyBlob(generateKeyPairSync('ed25519').publicKey);

function emptyKrl(overrides: Partial<Krl> = {}): Krl {
  return { version: 3n, generatedDate: 1_700_000_000n, comment: 'test', certificates: [], explicitKeys: [], sha1Fingerprints: [], sha256Fingerprints: [], ...overrides };
}

async function certificate(serial: bigint, keyId: string, signer = ca): Promise<Uint8Array> {
  return encodeCertificate(
    { nonce: new Uint8Array(32), publicKeyBlob: userBlob, serial, kind: 'user', keyId, principals: ['u'], validAfter: 1n, validBefore: 2n, criticalOptions: [], extensions: [] },
    publicKeyBlob(signer.publicKey),
    softwareCertificateSigner(signer.privateKey),
  );
}

describe('KRL (PROTOCOL.krl)', () => {
  test('header: magic, format 1, version, date, flags, reserved, comment', () => {
    const bytes = encodeKrl(emptyKrl());
    expect(hexOf(bytes.subarray(0, 8))).toBe(hexOf(new TextEncoder().encode('SSHKRL\n\0')));
    expect(hexOf(bytes.subarray(8))).toBe(hexOf(new SshWriter().uint32(1).uint64(3n).uint64(1_700_000_000n).uint64(0n).string('').string('test').bytes()));
  });

  test('serials: runs of three or more become one range section, the rest one sorted list; key ids sorted', () => {
    const krl = emptyKrl({ certificates: [{ caKeyBlob: caBlob, serials: [{ from: 9n, to: 9n }, { from: 3n, to: 5n }, { from: 1n, to: 1n }, { from: 6n, to: 6n }], keyIds: ['b', 'a'] }] });
    const bytes = encodeKrl(krl);
    const section = new SshWriter()
      .string(caBlob)
      .string('')
      .byte(KRL_CERT_SECTION.SERIAL_RANGE).string(new SshWriter().uint64(3n).uint64(6n).bytes())
      .byte(KRL_CERT_SECTION.SERIAL_LIST).string(new SshWriter().uint64(1n).uint64(9n).bytes())
      .byte(KRL_CERT_SECTION.KEY_ID).string(new SshWriter().string('a').string('b').bytes())
      .bytes();
    expect(hexOf(bytes)).toContain(hexOf(new SshWriter().byte(KRL_SECTION.CERTIFICATES).string(section).bytes()));
    const decoded = decodeKrl(bytes);
    expect(mergeSerialRanges(decoded.certificates[0]!.serials)).toEqual([{ from: 1n, to: 1n }, { from: 3n, to: 6n }, { from: 9n, to: 9n }]);
    expect(decoded.certificates[0]!.keyIds).toEqual(['a', 'b']);
  });

  test('a serial bitmap section is read bit by bit from the least significant bit', () => {
    const section = new SshWriter().string(caBlob).string('').byte(KRL_CERT_SECTION.SERIAL_BITMAP).string(new SshWriter().uint64(100n).mpint(Uint8Array.of(0x01, 0x05)).bytes()).bytes();
    const bytes = new SshWriter().raw(encodeKrl(emptyKrl())).byte(KRL_SECTION.CERTIFICATES).string(section).bytes();
    expect(decodeKrl(bytes).certificates[0]!.serials.map((r) => r.from)).toEqual([100n, 102n, 108n]);
  });

  test('certificates: revoked by serial or key id under their own CA, or under any CA (empty CA key)', async () => {
    const krl = emptyKrl({ certificates: [{ caKeyBlob: caBlob, serials: [{ from: 5n, to: 7n }], keyIds: ['mallory'] }] });
    const decoded = decodeKrl(encodeKrl(krl));
    expect(revocationReason(decoded, await certificate(6n, 'alice'))).toBe('serial 6');
    expect(revocationReason(decoded, await certificate(8n, 'alice'))).toBeUndefined();
    expect(revocationReason(decoded, await certificate(9n, 'mallory'))).toBe('key id "mallory"');
    expect(revocationReason(decoded, await certificate(6n, 'mallory', otherCa))).toBeUndefined();
    const anyCa = decodeKrl(encodeKrl(emptyKrl({ certificates: [{ caKeyBlob: new Uint8Array(0), serials: [], keyIds: ['mallory'] }] })));
    expect(revocationReason(anyCa, await certificate(6n, 'mallory', otherCa))).toBe('key id "mallory"');
    const anySerial = emptyKrl({ certificates: [{ caKeyBlob: new Uint8Array(0), serials: [{ from: 1n, to: 1n }], keyIds: [] }] });
    expect(revocationReason(decodeKrl(encodeKrl(anySerial)), await certificate(1n, 'x', otherCa))).toBe('serial 1');
    expect(() => encodeKrl(emptyKrl({ certificates: [{ caKeyBlob: caBlob, serials: [{ from: 0n, to: 2n }], keyIds: [] }] }))).toThrow(/serial 0/);
  });

  test('keys: explicit blob, SHA-256 or SHA-1 hash revoke the key and every certificate of it; a revoked CA revokes its certificates', async () => {
    const cert = await certificate(1n, 'alice');
    const byKey = decodeKrl(encodeKrl(emptyKrl({ explicitKeys: [userBlob] })));
    expect(revocationReason(byKey, userBlob)).toBe('key');
    expect(revocationReason(byKey, cert)).toBe('key');
    const sha256 = decodeKrl(encodeKrl(emptyKrl({ sha256Fingerprints: [new Uint8Array(createHash('sha256').update(userBlob).digest())] })));
    expect(revocationReason(sha256, cert)).toBe('key SHA-256 hash');
    const sha1 = decodeKrl(encodeKrl(emptyKrl({ sha1Fingerprints: [new Uint8Array(createHash('sha1').update(userBlob).digest())] })));
    expect(revocationReason(sha1, userBlob)).toBe('key SHA-1 hash');
    const caRevoked = decodeKrl(encodeKrl(emptyKrl({ explicitKeys: [caBlob] })));
    expect(revocationReason(caRevoked, cert)).toBe('CA key');
    expect(revocationReason(caRevoked, userBlob)).toBeUndefined();
  });

  test('bad KRLs: wrong magic, signature sections, unknown sections, hashes of the wrong length', () => {
    expect(() => decodeKrl(new Uint8Array(12))).toThrow(/magic/);
    const header = encodeKrl(emptyKrl());
    expect(() => decodeKrl(new SshWriter().raw(header).byte(KRL_SECTION.SIGNATURE).string('k').string('s').bytes())).toThrow(/signature/);
    expect(() => decodeKrl(new SshWriter().raw(header).byte(9).string('').bytes())).toThrow(/unsupported KRL section 9/);
    expect(() => decodeKrl(new SshWriter().raw(header).byte(KRL_SECTION.FINGERPRINT_SHA256).string(new SshWriter().string('abc').bytes()).bytes())).toThrow(/hash of 3 bytes/);
  });

  test('mergeSerialRanges merges overlapping and adjacent ranges', () => {
    expect(mergeSerialRanges([{ from: 5n, to: 6n }, { from: 1n, to: 2n }, { from: 3n, to: 3n }, { from: 10n, to: 12n }, { from: 11n, to: 20n }, { from: 7n, to: 7n }])).toEqual([
      { from: 1n, to: 3n },
      { from: 5n, to: 7n },
      { from: 10n, to: 20n },
    ]);
  });
});
