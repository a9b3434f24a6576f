/**
 * Large KRLs: 200,000 serials (a list, a dense bitmap) and 200,000 hashes decode without a RangeError from argument
 * spreading; and OpenSSH (ssh-keygen -k, -Q) agrees with us on them when it is installed.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { SshWriter } from '../../src/crypto/ssh-wire.js';
import { softwareCertificateSigner } from '../../src/operations/ca/ca-signature.js';
import { encodeCertificate } from '../../src/operations/ca/certificate.js';
import { publicKeyBlob } from '../../src/operations/ca/key-blob.js';
import { decodeKrl, encodeKrl, KRL_CERT_SECTION, KRL_SECTION, revocationReason, type Krl, type SerialRange } from '../../src/operations/ca/krl.js';
import { run } from '../support/run.js';

const COUNT = 200_000;
const ca = generateKeyPairSync('ed25519');
const caBlob = publicKeyBlob(ca.publicKey);
const userBlob = publicKeyBlob(generateKeyPairSync('ed25519').publicKey);
const work = mkdtempSync(join(tmpdir(), 'piv-enroll-krl-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const hasSshKeygen = (() => {
  try {
    execFileSync('ssh-keygen', ['-?'], { stdio: 'ignore' });
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
})();

function krlOf(overrides: Partial<Krl>): Krl {
  return { version: 1n, generatedDate: 1_700_000_000n, comment: '', certificates: [], explicitKeys: [], sha1Fingerprints: [], sha256Fingerprints: [], ...overrides };
}

/** Odd serials 1, 3, 5…: no run of three, so the encoder lists every one. */
const oddSerials = (): SerialRange[] => Array.from({ length: COUNT }, (_, i) => ({ from: BigInt(2 * i + 1), to: BigInt(2 * i + 1) }));

/** `length` bytes holding `n` at the front: distinct hashes without hashing. */
function numbered(length: number, n: number): Uint8Array {
  const bytes = new Uint8Array(length);
  new DataView(bytes.buffer).setUint32(0, n);
  return bytes;
}

const certificate = (serial: bigint): Promise<Uint8Array> =>
  encodeCertificate(
    { nonce: new Uint8Array(32), publicKeyBlob: userBlob, serial, kind: 'user', keyId: `id-${serial}`, principals: ['u'], validAfter: 1n, validBefore: 0xffffffffffffffffn, criticalOptions: [], extensions: [] },
    caBlob,
    softwareCertificateSigner(ca.privateKey),
  );

const keyLine = (blob: Uint8Array): string => `${new TextDecoder().decode(blob.subarray(4, 4 + new DataView(blob.buffer, blob.byteOffset).getUint32(0)))} ${Buffer.from(blob).toString('base64')}\n`;

describe(`KRLs of ${COUNT} entries`, () => {
  test('written by our encoder (a list of serials, SHA-256 and SHA-1 hashes, explicit keys): decoded whole', async () => {
    const hashes = Array.from({ length: COUNT }, (_, i) => numbered(32, i));
    const sha1 = Array.from({ length: COUNT }, (_, i) => numbered(20, i));
    const keyPrefix = new SshWriter().string('ssh-ed25519').uint32(32).bytes();
    const keys = Array.from({ length: COUNT }, (_, i) => {
      const key = new Uint8Array(keyPrefix.length + 32);
      key.set(keyPrefix);
      key.set(numbered(32, i), keyPrefix.length);
      return key;
    });
    const decoded = decodeKrl(encodeKrl(krlOf({ certificates: [{ caKeyBlob: caBlob, serials: oddSerials(), keyIds: [] }], sha256Fingerprints: hashes, sha1Fingerprints: sha1, explicitKeys: keys })));
    expect(decoded.certificates[0]!.serials).toHaveLength(COUNT);
    expect(decoded.sha256Fingerprints).toHaveLength(COUNT);
    expect(decoded.sha1Fingerprints).toHaveLength(COUNT);
    expect(decoded.explicitKeys).toHaveLength(COUNT);
    expect(revocationReason(decoded, await certificate(BigInt(2 * COUNT - 1)))).toBe(`serial ${2 * COUNT - 1}`);
    expect(revocationReason(decoded, await certificate(BigInt(2 * COUNT)))).toBeUndefined();
  });

  test('a serial bitmap with 200,000 bits set, alternate and all in a row', () => {
    const alternate = new Uint8Array(COUNT / 4).fill(0x55); // bits 0, 2, 4…: 4 serials per byte
    const full = new Uint8Array(COUNT / 8).fill(0xff);
    const bitmapSection = (offset: bigint, bitmap: Uint8Array): Uint8Array =>
      new SshWriter().byte(KRL_CERT_SECTION.SERIAL_BITMAP).string(new SshWriter().uint64(offset).mpint(bitmap).bytes()).bytes();
    const section = new SshWriter().string(caBlob).string('').raw(bitmapSection(1n, alternate)).raw(bitmapSection(1_000_000n, full)).bytes();
    const bytes = new SshWriter().raw(encodeKrl(krlOf({}))).byte(KRL_SECTION.CERTIFICATES).string(section).bytes();
    const serials = decodeKrl(bytes).certificates[0]!.serials;
    expect(serials).toHaveLength(COUNT + 1); // the alternate bits one each, the full bitmap one range
    expect(serials[0]).toEqual({ from: 1n, to: 1n });
    expect(serials[COUNT - 1]).toEqual({ from: BigInt(2 * COUNT - 1), to: BigInt(2 * COUNT - 1) });
    expect(serials[COUNT]).toEqual({ from: 1_000_000n, to: BigInt(1_000_000 + COUNT - 1) });
  });

  test.skipIf(!hasSshKeygen)('ssh-keygen -k makes a bitmap of 200,000 serials that we read; ssh-keygen -Q reads ours alike', async () => {
    const caPub = join(work, 'ca.pub');
    writeFileSync(caPub, keyLine(caBlob));
    const spec = join(work, 'spec');
    writeFileSync(spec, oddSerials().map((r) => `serial: ${r.from}\n`).join(''));
    const theirs = join(work, 'keygen.krl');
    execFileSync('ssh-keygen', ['-q', '-k', '-f', theirs, '-s', caPub, spec], { stdio: 'pipe' });
    const decoded = decodeKrl(new Uint8Array(readFileSync(theirs)));
    expect(decoded.certificates.flatMap((s) => s.serials).reduce((n, r) => n + Number(r.to - r.from + 1n), 0)).toBe(COUNT);

    const ours = join(work, 'ours.krl');
    writeFileSync(ours, encodeKrl(krlOf({ certificates: [{ caKeyBlob: caBlob, serials: oddSerials(), keyIds: [] }] })));
    for (const [serial, revoked] of [[BigInt(2 * COUNT - 1), true], [BigInt(2 * COUNT), false]] as const) {
      const file = join(work, `cert-${serial}.pub`);
      writeFileSync(file, keyLine(await certificate(serial)));
      expect(revocationReason(decoded, readCertificateBlob(file)) !== undefined, `ours on ssh-keygen's KRL, serial ${serial}`).toBe(revoked);
      const check = await run('ssh-keygen', ['-Q', '-f', ours, file]);
      expect({ code: check.code, revoked: check.stdout.includes('REVOKED') }, `ssh-keygen -Q on our KRL, serial ${serial}`).toEqual({ code: revoked ? 1 : 0, revoked });
    }
  });
});

function readCertificateBlob(file: string): Uint8Array {
  return new Uint8Array(Buffer.from(readFileSync(file, 'utf8').split(' ')[1]!, 'base64'));
}
