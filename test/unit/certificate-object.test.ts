import { describe, test, expect } from 'vitest';
import fc from 'fast-check';
import { gzipSync } from 'node:zlib';
import { decodeCertificateObject, encodeCertificateObject } from '../../src/bytes/certificate-object.js';
import { encodeTlvs } from '../../src/bytes/tlv.js';
import { expectMalformed, h, hexOf, okOrMalformed } from './helpers.js';

/** Not a real certificate: the object format does not look inside tag 70. */
const FAKE_DER = h('30 03 02 01 05');

describe('encodeCertificateObject', () => {
  test('plain: 70 <len> <der> 71 01 00 FE 00', () => {
    expect(hexOf(encodeCertificateObject(FAKE_DER))).toBe('7005' + '3003020105' + '710100' + 'fe00');
  });

  test('plain with a DER of 300 bytes uses the 82 length form', () => {
    const der = new Uint8Array(300).fill(0x42);
    const encoded = encodeCertificateObject(der);
    expect(hexOf(encoded.subarray(0, 4))).toBe('7082012c');
    expect(hexOf(encoded.subarray(4 + 300))).toBe('710100fe00');
  });

  test('gzip: 71 01 01 and a body that gunzips to the DER', () => {
    const der = new Uint8Array(2000).fill(0x30);
    const encoded = encodeCertificateObject(der, true);
    expect(hexOf(encoded.subarray(-5))).toBe('710101fe00');
    expect(encoded[0]).toBe(0x70);
    // The body is a gzip stream (magic 1F 8B) and smaller than the input.
    expect(encoded.length).toBeLessThan(der.length);
    const decoded = decodeCertificateObject(encoded);
    expect(decoded.compressed).toBe(true);
    expect(hexOf(decoded.der)).toBe(hexOf(der));
  });
});

describe('decodeCertificateObject', () => {
  test('plain round trip', () => {
    const decoded = decodeCertificateObject(encodeCertificateObject(FAKE_DER));
    expect(decoded).toEqual({ der: FAKE_DER, compressed: false });
  });

  test('round trip for random DER bytes, plain and gzip', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 3000 }), fc.boolean(), (der, compress) => {
        const decoded = decodeCertificateObject(encodeCertificateObject(der, compress));
        expect(decoded.compressed).toBe(compress);
        expect(hexOf(decoded.der)).toBe(hexOf(der));
      }),
      { numRuns: 200 },
    );
  });

  test('CertInfo missing means plain', () => {
    expect(decodeCertificateObject(h('70 01 aa')).compressed).toBe(false);
  });

  test('missing tag 70 throws MalformedDataError', () => {
    expectMalformed(() => decodeCertificateObject(h('71 01 00 fe 00')));
    expectMalformed(() => decodeCertificateObject(new Uint8Array(0)));
  });

  test('empty tag 70 throws MalformedDataError', () => {
    expectMalformed(() => decodeCertificateObject(h('70 00 71 01 00 fe 00')));
  });

  test('an empty certificate marked gzip throws MalformedDataError, like an empty plain one', () => {
    const emptyGzip = new Uint8Array(gzipSync(new Uint8Array(0)));
    expectMalformed(() => decodeCertificateObject(Uint8Array.from([0x70, emptyGzip.length, ...emptyGzip, 0x71, 0x01, 0x01, 0xfe, 0x00])));
  });

  test('malformed TLV throws MalformedDataError', () => {
    expectMalformed(() => decodeCertificateObject(h('70 05 30 03')));
  });

  test('bogus gzip throws MalformedDataError', () => {
    expectMalformed(() => decodeCertificateObject(h('70 04 de ad be ef 71 01 01 fe 00')));
    // A valid gzip header followed by garbage.
    expectMalformed(() => decodeCertificateObject(h('70 0c 1f8b0800000000000003 ffff 71 01 01 fe 00')));
  });

  test('a truncated gzip stream throws MalformedDataError', () => {
    const gz = new Uint8Array(gzipSync(new Uint8Array(1000).fill(7)));
    const cut = gz.subarray(0, gz.length - 10);
    expectMalformed(() => decodeCertificateObject(encodeTlvs([[0x70, cut], [0x71, h('01')], [0xfe, new Uint8Array(0)]])));
  });

  test('a gzip bomb (10 MB of zeros) is refused with MalformedDataError', () => {
    const bomb = new Uint8Array(gzipSync(new Uint8Array(10 * 1024 * 1024), { level: 9 }));
    // Small enough to fit a PIV object, which is the point of the attack.
    expect(bomb.length).toBeLessThan(64 * 1024);
    expectMalformed(() => decodeCertificateObject(encodeTlvs([[0x70, bomb], [0x71, h('01')], [0xfe, new Uint8Array(0)]])));
  });

  test('fuzz: random bytes (and random bodies marked gzip) return or throw MalformedDataError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.uint8Array({ minLength: 1, maxLength: 300 }), (raw, body) => {
        okOrMalformed(() => decodeCertificateObject(raw));
        const marked = encodeTlvs([[0x70, body], [0x71, h('01')]]);
        const decoded = okOrMalformed(() => decodeCertificateObject(marked));
        if (decoded !== undefined) expect(decoded.compressed).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
