import { generateKeyPairSync, sign, verify } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ecdsaP1363ToDer } from '../../src/crypto/ecdsa-encoding.js';

describe('ecdsaP1363ToDer', () => {
  it('turns PKCS#11 r‖s signatures into DER that OpenSSL verifies (P-256 and P-384)', () => {
    for (const namedCurve of ['P-256', 'P-384']) {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve });
      for (let i = 0; i < 40; i++) {
        const message = Buffer.from(`message ${i}`);
        const raw = sign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' });
        const der = ecdsaP1363ToDer(new Uint8Array(raw));
        expect(verify('sha256', message, { key: publicKey, dsaEncoding: 'der' }, der)).toBe(true);
      }
    }
  });

  it('encodes leading zeros and set top bits as DER INTEGERs require', () => {
    const raw = new Uint8Array(64);
    raw[31] = 0x01; // r = 1
    raw[32] = 0x80; // s has its top bit set
    expect(Buffer.from(ecdsaP1363ToDer(raw)).toString('hex')).toBe('302602010102210080' + '00'.repeat(31));
  });

  it('refuses an odd-length signature', () => {
    expect(() => ecdsaP1363ToDer(new Uint8Array(63))).toThrow(RangeError);
  });

  it('always produces a well-formed SEQUENCE of two INTEGERs', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 48, maxLength: 48 }), (raw) => {
        const der = ecdsaP1363ToDer(raw);
        expect(der[0]).toBe(0x30);
        expect(der[1]).toBe(der.length - 2);
        expect(der[2]).toBe(0x02);
        const rLength = der[3]!;
        expect(der[4 + rLength]).toBe(0x02);
        expect(4 + rLength + 2 + der[5 + rLength]!).toBe(der.length);
      }),
      { numRuns: 2000 },
    );
  });
});
