/**
 * Property tests of the SSH CA decoders: the KRL decoder, the certificate decoder, the SSH wire reader and the
 * public key blob and line readers. Arbitrary and mutated valid inputs are refused only with MalformedDataError;
 * what the encoders write decodes to what they were given.
 */
import { generateKeyPairSync } from 'node:crypto';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, test } from 'vitest';
import { MalformedDataError } from '../../src/bytes/errors.js';
import { SshReader, SshWriter } from '../../src/crypto/ssh-wire.js';
import { encodeCertificate, parseCertificate, type CertificateFields, type CertificateOption } from '../../src/operations/ca/certificate.js';
import { formatOpenSshLine, parseOpenSshLine, publicKeyBlob, publicKeyFromBlob } from '../../src/operations/ca/key-blob.js';
import { decodeKrl, encodeKrl, mergeSerialRanges, revocationReason, type Krl } from '../../src/operations/ca/krl.js';
import { mutatedBytes, refusedOnlyWith } from './property-helpers.js';

const malformedOnly = <T>(parse: () => T): T | undefined => refusedOnlyWith([MalformedDataError], parse);

const uint64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
/** Text that survives UTF-8 both ways (no lone surrogates). */
const text = (maxLength: number) => fc.string({ unit: 'grapheme', maxLength });
const bytes = (maxLength: number) => fc.uint8Array({ maxLength });
const byteSort = (list: readonly Uint8Array[]) => [...list].sort((a, b) => Buffer.compare(a, b));

const realKeys = [generateKeyPairSync('ed25519'), generateKeyPairSync('ec', { namedCurve: 'P-256' }), generateKeyPairSync('ec', { namedCurve: 'P-384' }), generateKeyPairSync('rsa', { modulusLength: 1024 })].map((pair) => publicKeyBlob(pair.publicKey));
const keyBlob = fc.oneof(
  fc.constantFrom(...realKeys),
  fc.uint8Array({ minLength: 32, maxLength: 32 }).map((raw) => new SshWriter().string('ssh-ed25519').string(raw).bytes()),
  fc.tuple(fc.uint8Array({ minLength: 65, maxLength: 65 })).map(([point]) => new SshWriter().string('ecdsa-sha2-nistp256').string('nistp256').string(point).bytes()),
);

// ---- KRL -----------------------------------------------------------------------------------------------------

const serialRange = fc.tuple(fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: 5n })).map(([from, extra]) => ({ from, to: from + extra > (1n << 64n) - 1n ? from : from + extra }));
const krlArbitrary: fc.Arbitrary<Krl> = fc.record({
  version: uint64,
  generatedDate: uint64,
  comment: text(20),
  certificates: fc.array(fc.record({ caKeyBlob: fc.oneof(fc.constant(new Uint8Array(0)), keyBlob), serials: fc.array(serialRange, { maxLength: 6 }), keyIds: fc.array(text(8), { maxLength: 4 }) }), { maxLength: 3 }),
  explicitKeys: fc.array(keyBlob, { maxLength: 3 }),
  sha1Fingerprints: fc.array(fc.uint8Array({ minLength: 20, maxLength: 20 }), { maxLength: 3 }),
  sha256Fingerprints: fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 3 }),
});

/** What a KRL means, whatever its encoding: merged serials, key ids as a set, lists sorted, empty sections dropped. */
function meaning(krl: Krl) {
  return {
    ...krl,
    certificates: krl.certificates
      .filter((s) => s.serials.length > 0 || s.keyIds.length > 0)
      .map((s) => ({ caKeyBlob: s.caKeyBlob, serials: mergeSerialRanges(s.serials), keyIds: [...new Set(s.keyIds)].sort() })),
    explicitKeys: byteSort(krl.explicitKeys),
    sha1Fingerprints: byteSort(krl.sha1Fingerprints),
    sha256Fingerprints: byteSort(krl.sha256Fingerprints),
  };
}

const validKrl = krlArbitrary.map(encodeKrl);
const KRL_MAGIC = new TextEncoder().encode('SSHKRL\n\0');

describe('KRL decoder (properties)', () => {
  test('encode → decode gives the same KRL', () => {
    fc.assert(
      fc.property(krlArbitrary, (krl) => {
        assert.deepStrictEqual(meaning(decodeKrl(encodeKrl(krl))), meaning(krl));
      }),
      { numRuns: 4000 },
    );
  });

  test('arbitrary bytes, with or without the magic, are refused only with MalformedDataError', () => {
    const afterMagic = bytes(200).map((tail) => Uint8Array.from([...KRL_MAGIC, 0, 0, 0, 1, ...tail]));
    fc.assert(fc.property(fc.oneof(bytes(64), afterMagic), (data) => void malformedOnly(() => decodeKrl(data))), { numRuns: 10000 });
  });

  test('mutated valid KRLs are refused only with MalformedDataError, and what decodes can be judged', () => {
    const certificate = realKeys[0]!;
    fc.assert(
      fc.property(mutatedBytes(validKrl), (data) => {
        const krl = malformedOnly(() => decodeKrl(data));
        if (krl) malformedOnly(() => revocationReason(krl, certificate));
      }),
      { numRuns: 6000 },
    );
  });
});

// ---- certificates ----------------------------------------------------------------------------------------------

const optionList = fc.uniqueArray(fc.record({ name: text(12), value: fc.option(text(12), { nil: undefined }) }), { selector: (o) => o.name, maxLength: 4 }).map((list) =>
  list.map((o): CertificateOption => (o.value === undefined ? { name: o.name } : { name: o.name, value: o.value })),
);
const certificateFields: fc.Arbitrary<CertificateFields> = fc
  .record({
    nonce: bytes(40),
    publicKeyBlob: keyBlob,
    serial: fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }),
    kind: fc.constantFrom('user' as const, 'host' as const),
    keyId: text(20),
    principals: fc.array(text(10), { minLength: 1, maxLength: 4 }),
    validAfter: fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }),
    length: fc.bigInt({ min: 1n, max: 1n << 62n }),
    criticalOptions: optionList,
    extensions: optionList,
  })
  .map(({ length, ...fields }) => ({ ...fields, validBefore: fields.validAfter + length }));
const signature = fc.record({ algorithm: fc.constantFrom('ssh-ed25519', 'rsa-sha2-512', 'ecdsa-sha2-nistp256'), signature: bytes(80) });
const caBlob = realKeys[1]!;

describe('certificate decoder (properties)', () => {
  test('encode → parse gives the fields, the CA key and the signature back', async () => {
    await fc.assert(
      fc.asyncProperty(certificateFields, signature, async (fields, signed) => {
        const blob = await encodeCertificate(fields, caBlob, async () => signed);
        const parsed = parseCertificate(blob);
        const byName = (list: CertificateOption[]) => [...list].sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
        const { certificateType, signedData, ...rest } = parsed;
        assert.deepStrictEqual(rest, { ...fields, criticalOptions: byName(fields.criticalOptions), extensions: byName(fields.extensions), caPublicKeyBlob: caBlob, signatureAlgorithm: signed.algorithm, signature: signed.signature });
        assert.equal(certificateType, `${new SshReader(fields.publicKeyBlob).text()}-cert-v01@openssh.com`);
        assert.deepStrictEqual(signedData, blob.slice(0, signedData.length));
      }),
      { numRuns: 3000 },
    );
  });

  test('mutated certificates and arbitrary bytes are refused only with MalformedDataError', async () => {
    const certificates = await Promise.all(
      fc.sample(certificateFields, 40).map((fields, i) => encodeCertificate(fields, caBlob, async () => ({ algorithm: 'ssh-ed25519', signature: new Uint8Array(i) }))),
    );
    const typed = bytes(120).map((tail) => Uint8Array.from([...new SshWriter().string('ssh-ed25519-cert-v01@openssh.com').bytes(), ...tail]));
    fc.assert(fc.property(fc.oneof(mutatedBytes(fc.constantFrom(...certificates)), typed, bytes(64)), (data) => void malformedOnly(() => parseCertificate(data))), { numRuns: 12000 });
  });
});

// ---- wire reader, key blobs, key lines -----------------------------------------------------------------------------

const readOperation = fc.constantFrom('byte', 'boolean', 'uint32', 'uint64', 'string', 'text', 'mpint', 'nameList', 'end') as fc.Arbitrary<keyof SshReader & string>;

describe('SSH wire reader and public keys (properties)', () => {
  test('any sequence of reads of any bytes fails only with MalformedDataError', () => {
    fc.assert(
      fc.property(bytes(40), fc.array(readOperation, { maxLength: 8 }), (data, operations) => {
        const reader = new SshReader(data);
        malformedOnly(() => {
          for (const operation of operations) (reader[operation] as () => unknown).call(reader);
        });
      }),
      { numRuns: 8000 },
    );
  });

  test('mutated key blobs and key lines are refused only with MalformedDataError; a line round-trips', () => {
    fc.assert(fc.property(mutatedBytes(keyBlob), (blob) => void malformedOnly(() => publicKeyFromBlob(blob))), { numRuns: 4000 });
    fc.assert(
      fc.property(keyBlob, text(20), (blob, comment) => {
        const parsed = parseOpenSshLine(formatOpenSshLine(blob, comment), 'line');
        assert.deepStrictEqual(parsed.blob, blob);
        assert.equal(parsed.comment, comment.replace(/[\r\n]+/g, ' ').trim());
      }),
      { numRuns: 2000 },
    );
    const lines = fc.tuple(mutatedBytes(keyBlob), fc.constantFrom('', ' comment', '\n', ' a\tb')).map(([blob, tail]) => `${new TextDecoder().decode(blob.subarray(4, 23))} ${Buffer.from(blob).toString('base64')}${tail}`);
    fc.assert(fc.property(lines, (line) => void malformedOnly(() => parseOpenSshLine(line, 'line'))), { numRuns: 4000 });
  });
});
