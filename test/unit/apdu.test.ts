import { describe, test, expect } from 'vitest';
import fc from 'fast-check';
import {
  decodeCommandApdu,
  decodeResponseApdu,
  encodeExtendedApdu,
  encodeResponseApdu,
  encodeShortApdu,
  type CommandApdu,
  type DecodedCommand,
} from '../../src/bytes/apdu.js';
import { expectMalformed, h, hexOf, okOrMalformed } from './helpers.js';

const HDR = { cla: 0x00, ins: 0xdb, p1: 0x3f, p2: 0xff };

describe('short APDU known answers', () => {
  test('case 1: header only', () => {
    expect(hexOf(encodeShortApdu(HDR))).toBe('00db3fff');
  });

  test('case 2: Le', () => {
    expect(hexOf(encodeShortApdu({ ...HDR, le: 0x10 }))).toBe('00db3fff10');
    expect(hexOf(encodeShortApdu({ ...HDR, le: 255 }))).toBe('00db3fffff');
  });

  test('case 2: Le 256 encodes as 00', () => {
    expect(hexOf(encodeShortApdu({ ...HDR, le: 256 }))).toBe('00db3fff00');
  });

  test('case 3: Lc and data', () => {
    expect(hexOf(encodeShortApdu({ ...HDR, data: h('5c 03 5f c1 05') }))).toBe('00db3fff055c035fc105');
  });

  test('case 3 with empty data is case 1 (no Lc 00)', () => {
    expect(hexOf(encodeShortApdu({ ...HDR, data: new Uint8Array(0) }))).toBe('00db3fff');
  });

  test('case 4: Lc, data, Le', () => {
    expect(hexOf(encodeShortApdu({ ...HDR, data: h('aa bb'), le: 256 }))).toBe('00db3fff02aabb00');
    expect(hexOf(encodeShortApdu({ ...HDR, data: h('aa'), le: 1 }))).toBe('00db3fff01aa01');
  });

  test('255 data bytes fit, 256 are a RangeError', () => {
    expect(encodeShortApdu({ ...HDR, data: new Uint8Array(255) }).length).toBe(5 + 255);
    expect(() => encodeShortApdu({ ...HDR, data: new Uint8Array(256) })).toThrow(RangeError);
  });

  test('Le above 256 and header fields outside a byte are RangeErrors', () => {
    expect(() => encodeShortApdu({ ...HDR, le: 257 })).toThrow(RangeError);
    expect(() => encodeShortApdu({ ...HDR, le: -1 })).toThrow(RangeError);
    // Le 0 would go out as 00, which a card reads as 256; fractions would be truncated silently.
    expect(() => encodeShortApdu({ ...HDR, le: 0 })).toThrow(RangeError);
    expect(() => encodeShortApdu({ ...HDR, le: 1.5 })).toThrow(RangeError);
    expect(() => encodeExtendedApdu({ ...HDR, le: 0 })).toThrow(RangeError);
    expect(() => encodeShortApdu({ ...HDR, cla: 0x100 })).toThrow(RangeError);
    expect(() => encodeShortApdu({ ...HDR, p2: -1 })).toThrow(RangeError);
    expect(() => encodeShortApdu({ ...HDR, ins: 1.5 })).toThrow(RangeError);
  });
});

describe('extended APDU known answers', () => {
  test('case 2E: 00 Le Le', () => {
    expect(hexOf(encodeExtendedApdu({ ...HDR, le: 0x0102 }))).toBe('00db3fff000102');
  });

  test('case 2E: Le 65536 encodes as 00 00', () => {
    expect(hexOf(encodeExtendedApdu({ ...HDR, le: 65536 }))).toBe('00db3fff000000');
  });

  test('case 3E: 00 Lc Lc data', () => {
    expect(hexOf(encodeExtendedApdu({ ...HDR, data: h('aa bb cc') }))).toBe('00db3fff000003aabbcc');
    const big = encodeExtendedApdu({ ...HDR, data: new Uint8Array(600).fill(0x11) });
    expect(hexOf(big.subarray(0, 7))).toBe('00db3fff000258');
    expect(big.length).toBe(7 + 600);
  });

  test('case 4E: 00 Lc Lc data Le Le (no second 00 before Le)', () => {
    expect(hexOf(encodeExtendedApdu({ ...HDR, data: h('aa'), le: 65536 }))).toBe('00db3fff000001aa0000');
    expect(hexOf(encodeExtendedApdu({ ...HDR, data: h('aa'), le: 0x0100 }))).toBe('00db3fff000001aa0100');
  });

  test('65535 data bytes fit, 65536 are a RangeError; Le above 65536 is a RangeError', () => {
    const max = encodeExtendedApdu({ ...HDR, data: new Uint8Array(65535), le: 65536 });
    expect(max.length).toBe(4 + 3 + 65535 + 2);
    expect(hexOf(max.subarray(4, 7))).toBe('00ffff');
    expect(() => encodeExtendedApdu({ ...HDR, data: new Uint8Array(65536) })).toThrow(RangeError);
    expect(() => encodeExtendedApdu({ ...HDR, le: 65537 })).toThrow(RangeError);
  });
});

describe('decodeCommandApdu known answers', () => {
  /** The decoded fields as plain values, with `le` always present (undefined: no Le field). */
  const summary = (d: DecodedCommand) => ({ header: hexOf(Uint8Array.of(d.cla, d.ins, d.p1, d.p2)), data: hexOf(d.data), le: d.le, extended: d.extended });

  test('every ISO case', () => {
    expect(summary(decodeCommandApdu(h('00db3fff')))).toEqual({ header: '00db3fff', data: '', le: undefined, extended: false });
    expect(summary(decodeCommandApdu(h('00db3fff00')))).toEqual({ header: '00db3fff', data: '', le: 256, extended: false });
    expect(summary(decodeCommandApdu(h('00db3fff7f')))).toEqual({ header: '00db3fff', data: '', le: 0x7f, extended: false });
    expect(summary(decodeCommandApdu(h('00db3fff02aabb')))).toEqual({ header: '00db3fff', data: 'aabb', le: undefined, extended: false });
    expect(summary(decodeCommandApdu(h('00db3fff02aabb00')))).toEqual({ header: '00db3fff', data: 'aabb', le: 256, extended: false });
    expect(summary(decodeCommandApdu(h('00db3fff000000')))).toEqual({ header: '00db3fff', data: '', le: 65536, extended: true });
    expect(summary(decodeCommandApdu(h('00db3fff000003aabbcc')))).toEqual({ header: '00db3fff', data: 'aabbcc', le: undefined, extended: true });
    expect(summary(decodeCommandApdu(h('00db3fff000001aa0102')))).toEqual({ header: '00db3fff', data: 'aa', le: 0x0102, extended: true });
  });

  test('lengths that do not add up throw MalformedDataError', () => {
    expectMalformed(() => decodeCommandApdu(h('00db3f'))); // shorter than a header
    expectMalformed(() => decodeCommandApdu(h('00db3fff03aabb'))); // Lc 3, 2 data bytes
    expectMalformed(() => decodeCommandApdu(h('00db3fff01aabbcc'))); // Lc 1, 3 bytes follow
    expectMalformed(() => decodeCommandApdu(h('00db3fff0000'))); // extended marker, no length
    expectMalformed(() => decodeCommandApdu(h('00db3fff000004aabbcc'))); // extended Lc 4, 3 data bytes
    expectMalformed(() => decodeCommandApdu(h('00db3fff000001aa01'))); // extended Le needs two bytes
    expectMalformed(() => decodeCommandApdu(h('00db3fff000000aa'))); // extended Lc of zero
  });
});

describe('decodeCommandApdu round trip', () => {
  const header = { cla: fc.integer({ min: 0, max: 255 }), ins: fc.integer({ min: 0, max: 255 }), p1: fc.integer({ min: 0, max: 255 }), p2: fc.integer({ min: 0, max: 255 }) };

  /** Compares what matters: header, data, Le (undefined when there is no Le field). */
  function expectSameCommand(decoded: DecodedCommand, cmd: CommandApdu): void {
    expect([decoded.cla, decoded.ins, decoded.p1, decoded.p2]).toEqual([cmd.cla, cmd.ins, cmd.p1, cmd.p2]);
    expect(hexOf(decoded.data)).toBe(hexOf(cmd.data ?? new Uint8Array(0)));
    expect(decoded.le).toBe(cmd.le);
  }

  test('short encodings decode to the same command', () => {
    fc.assert(
      fc.property(
        fc.record({ ...header, data: fc.option(fc.uint8Array({ maxLength: 255 }), { nil: undefined }), le: fc.option(fc.integer({ min: 1, max: 256 }), { nil: undefined }) }, { requiredKeys: ['cla', 'ins', 'p1', 'p2'] }),
        (cmd) => {
          const decoded = decodeCommandApdu(encodeShortApdu(cmd));
          expectSameCommand(decoded, cmd);
          expect(decoded.extended).toBe(false);
        },
      ),
      { numRuns: 1000 },
    );
  });

  test('extended encodings decode to the same command', () => {
    fc.assert(
      fc.property(
        fc.record({ ...header, data: fc.option(fc.uint8Array({ maxLength: 4000 }), { nil: undefined }), le: fc.option(fc.integer({ min: 1, max: 65536 }), { nil: undefined }) }, { requiredKeys: ['cla', 'ins', 'p1', 'p2'] }),
        (cmd) => {
          const decoded = decodeCommandApdu(encodeExtendedApdu(cmd));
          expectSameCommand(decoded, cmd);
          // Without data and Le there is no length field, so nothing marks the APDU as extended.
          const hasLengthField = (cmd.data?.length ?? 0) > 0 || cmd.le !== undefined;
          expect(decoded.extended).toBe(hasLengthField);
        },
      ),
      { numRuns: 500 },
    );
  });

  test('fuzz: random bytes either throw MalformedDataError or decode to a command that re-encodes to the same bytes', () => {
    // Random bytes rarely have consistent lengths; also build inputs with plausible short/extended Lc bytes.
    const bytesArb = fc.oneof(
      fc.uint8Array({ maxLength: 600 }),
      fc.tuple(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 260 })).map(([hd, lc, rest]) => Buffer.concat([hd, Uint8Array.of(lc), rest])),
      fc.tuple(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 600 }), fc.uint8Array({ maxLength: 603 })).map(([hd, lc, rest]) => Buffer.concat([hd, Uint8Array.of(0, lc >> 8, lc & 0xff), rest])),
    );
    let decodedCount = 0;
    fc.assert(
      fc.property(bytesArb, (raw) => {
        const bytes = new Uint8Array(raw);
        const decoded = okOrMalformed(() => decodeCommandApdu(bytes));
        if (decoded === undefined) return;
        decodedCount++;
        const reencoded = decoded.extended ? encodeExtendedApdu(decoded) : encodeShortApdu(decoded);
        expect(hexOf(reencoded)).toBe(hexOf(bytes));
        if (decoded.le !== undefined) expect(decoded.le).toBeGreaterThanOrEqual(1);
        expect(decoded.le ?? 0).toBeLessThanOrEqual(decoded.extended ? 65536 : 256);
      }),
      { numRuns: 3000 },
    );
    // The generator must actually reach the successful paths, or the consistency check proves nothing.
    expect(decodedCount).toBeGreaterThan(20);
  });
});

describe('response APDUs', () => {
  test('decodeResponseApdu splits data and status word', () => {
    const r = decodeResponseApdu(h('01 02 03 90 00'));
    expect(hexOf(r.data)).toBe('010203');
    expect(r.sw).toBe(0x9000);
    expect(decodeResponseApdu(h('6a 82'))).toEqual({ data: new Uint8Array(0), sw: 0x6a82 });
  });

  test('fewer than 2 bytes throw MalformedDataError', () => {
    expectMalformed(() => decodeResponseApdu(new Uint8Array(0)));
    expectMalformed(() => decodeResponseApdu(h('90')));
  });

  test('encodeResponseApdu and decodeResponseApdu round trip', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 0xffff }), (data, sw) => {
        const r = decodeResponseApdu(encodeResponseApdu({ data, sw }));
        expect(hexOf(r.data)).toBe(hexOf(data));
        expect(r.sw).toBe(sw);
      }),
      { numRuns: 500 },
    );
  });
});
