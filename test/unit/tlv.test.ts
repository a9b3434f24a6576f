import { describe, test, expect } from 'vitest';
import fc from 'fast-check';
import {
  encodeLength,
  encodeTag,
  encodeTlv,
  encodeTlvs,
  parseTlvMap,
  parseTlvs,
  requireTag,
  unwrapLeadingTlv,
  unwrapTlv,
  type Tlv,
} from '../../src/bytes/tlv.js';
import { MalformedDataError } from '../../src/bytes/errors.js';
import { bigBytes, expectMalformed, h, hexOf, isViewInside, okOrMalformed } from './helpers.js';

/**
 * Tags that BER-TLV can represent unambiguously: one-byte tags whose low five bits are not all set,
 * two-byte tags (xx1F, second byte < 0x80) and three-byte tags (xx1F, second byte >= 0x80, third < 0x80).
 */
const VALID_TAGS = [0x01, 0x53, 0x5c, 0x70, 0x71, 0x7c, 0x7e, 0x80, 0x81, 0x82, 0xfe, 0x5f2f, 0x7f49, 0x7f61, 0x5fc105, 0x5fc10a, 0x5fff01] as const;

/** Small values most of the time, sometimes values long enough for the 0x81, 0x82 and 0x83 length forms. */
const valueArb = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 300 }) },
  { weight: 2, arbitrary: bigBytes(256, 66000) },
  { weight: 1, arbitrary: bigBytes(65536, 70000) },
);
const tlvArb = fc.record({ tag: fc.constantFrom(...VALID_TAGS), value: valueArb });

/** Copies `bytes` into the middle of a larger buffer, so that any read past its end would hit other data. */
function embedded(bytes: Uint8Array): Uint8Array {
  const backing = new Uint8Array(bytes.length + 8).fill(0xaa);
  backing.set(bytes, 4);
  return backing.subarray(4, 4 + bytes.length);
}

describe('encodeTag / encodeLength / encodeTlv known answers', () => {
  test('one-byte tag, short length', () => {
    expect(hexOf(encodeTlv(0x53, h('01 02 03')))).toBe('5303010203');
  });

  test('empty value encodes as length 00', () => {
    expect(hexOf(encodeTlv(0xfe))).toBe('fe00');
  });

  test('length 127 is still short form, 128 switches to 81 LL', () => {
    expect(hexOf(encodeLength(0x7f))).toBe('7f');
    expect(hexOf(encodeLength(0x80))).toBe('8180');
    expect(hexOf(encodeLength(0xff))).toBe('81ff');
    const tlv = encodeTlv(0x70, new Uint8Array(200));
    expect(hexOf(tlv.subarray(0, 3))).toBe('7081c8');
    expect(tlv.length).toBe(3 + 200);
  });

  test('length 256 .. 65535 uses 82 LL LL', () => {
    expect(hexOf(encodeLength(0x100))).toBe('820100');
    expect(hexOf(encodeLength(0xffff))).toBe('82ffff');
    const tlv = encodeTlv(0x53, new Uint8Array(1000));
    expect(hexOf(tlv.subarray(0, 4))).toBe('538203e8');
    expect(tlv.length).toBe(4 + 1000);
  });

  test('length 65536 and above uses 83 LL LL LL', () => {
    expect(hexOf(encodeLength(0x10000))).toBe('83010000');
    expect(hexOf(encodeLength(0xffffff))).toBe('83ffffff');
  });

  test('multi-byte tags 5F2F, 7F49, 5FC105', () => {
    expect(hexOf(encodeTag(0x5f2f))).toBe('5f2f');
    expect(hexOf(encodeTlv(0x5f2f, h('40 00')))).toBe('5f2f024000');
    expect(hexOf(encodeTlv(0x7f49, h('86 01 04')))).toBe('7f4903860104');
    expect(hexOf(encodeTlv(0x5fc105, h('aa')))).toBe('5fc10501aa');
  });

  test('encodeTlvs concatenates and skips undefined entries', () => {
    expect(hexOf(encodeTlvs([[0x70, h('01')], undefined, [0x71, h('00')]]))).toBe('700101710100');
  });

  test('out-of-range tags and lengths are RangeErrors', () => {
    expect(() => encodeTag(-1)).toThrow(RangeError);
    expect(() => encodeTag(0x1000000)).toThrow(RangeError);
    expect(() => encodeTag(1.5)).toThrow(RangeError);
    expect(() => encodeLength(-1)).toThrow(RangeError);
    expect(() => encodeLength(0x1000000)).toThrow(RangeError);
  });
});

describe('parsing known encodings', () => {
  test('parses short, 81 and 82 lengths and multi-byte tags', () => {
    const bytes = h('5f2f 02 4000  7f49 81 80' + '00'.repeat(0x80) + ' 5fc105 82 0100' + '11'.repeat(0x100));
    const tlvs = parseTlvs(bytes);
    expect(tlvs.map((t) => t.tag)).toEqual([0x5f2f, 0x7f49, 0x5fc105]);
    expect(tlvs.map((t) => t.value.length)).toEqual([2, 0x80, 0x100]);
    expect(hexOf(tlvs[0]!.value)).toBe('4000');
    expect(tlvs[2]!.value.every((b) => b === 0x11)).toBe(true);
  });

  test('accepts a non-minimal long-form length (BER allows 81 05)', () => {
    expect(hexOf(unwrapTlv(h('53 81 05 0102030405'), 0x53))).toBe('0102030405');
  });

  test('indefinite length 80 is rejected', () => {
    expectMalformed(() => parseTlvs(h('53 80 01 02 00 00')));
    expectMalformed(() => unwrapTlv(h('53 80 00 00'), 0x53));
  });

  test('length-of-length beyond 3 bytes (84 ...) is rejected', () => {
    expectMalformed(() => parseTlvs(h('53 84 00 00 00 01 ff')));
  });

  test('a tag of more than 3 bytes is rejected', () => {
    expectMalformed(() => parseTlvs(h('5f 81 81 01 00')));
  });

  test('parseTlvMap rejects a repeated tag', () => {
    expectMalformed(() => parseTlvMap(h('70 01 aa 71 01 00 70 01 bb')));
  });

  test('parseTlvMap maps tags to values', () => {
    const map = parseTlvMap(h('70 01 aa 5fc105 00'));
    expect(hexOf(map.get(0x70)!)).toBe('aa');
    expect(map.get(0x5fc105)!.length).toBe(0);
    expect(hexOf(requireTag(map, 0x70, 'x'))).toBe('aa');
    expectMalformed(() => requireTag(map, 0x71, 'x'));
  });

  test('unwrapTlv rejects trailing bytes, wrong tags and empty input', () => {
    expectMalformed(() => unwrapTlv(h('53 01 aa 00'), 0x53));
    expectMalformed(() => unwrapTlv(h('53 01 aa fe 00'), 0x53));
    expectMalformed(() => unwrapTlv(h('54 01 aa'), 0x53));
    expectMalformed(() => unwrapTlv(new Uint8Array(0), 0x53));
    expect(hexOf(unwrapTlv(h('53 01 aa'), 0x53))).toBe('aa');
  });

  test('unwrapLeadingTlv ignores what follows but still checks the tag', () => {
    expect(hexOf(unwrapLeadingTlv(h('53 01 aa 00 00 00'), 0x53))).toBe('aa');
    expectMalformed(() => unwrapLeadingTlv(h('54 01 aa'), 0x53));
  });

  test('a value whose length runs past the buffer is rejected, not truncated', () => {
    expectMalformed(() => parseTlvs(h('53 05 01 02 03')));
    expectMalformed(() => parseTlvs(h('53 82 01 00 01 02')));
  });

  test('parseTlvs of an empty buffer is an empty list', () => {
    expect(parseTlvs(new Uint8Array(0))).toEqual([]);
  });
});

describe('round trip', () => {
  test('encodeTlvs then parseTlvs gives back the same tags and values', () => {
    fc.assert(
      fc.property(fc.array(tlvArb, { maxLength: 5 }), (entries) => {
        const encoded = encodeTlvs(entries.map((e) => [e.tag, e.value] as const));
        const parsed = parseTlvs(encoded);
        expect(parsed.map((t) => t.tag)).toEqual(entries.map((e) => e.tag));
        parsed.forEach((t, i) => {
          // Compare with Buffer.equals: far faster than toEqual for 70 KB values.
          expect(Buffer.from(t.value).equals(Buffer.from(entries[i]!.value))).toBe(true);
        });
      }),
      { numRuns: 200 },
    );
  });

  test('unwrapTlv(encodeTlv(tag, v), tag) is v for every valid tag', () => {
    fc.assert(
      fc.property(tlvArb, ({ tag, value }) => {
        const out = unwrapTlv(encodeTlv(tag, value), tag);
        expect(Buffer.from(out).equals(Buffer.from(value))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('truncation', () => {
  /** Every strict, non-empty prefix of one TLV is missing part of the tag, the length or the value. */
  function assertEveryPrefixRejected(tlv: Uint8Array, tag: number): void {
    for (let cut = 1; cut < tlv.length; cut++) {
      const prefix = tlv.subarray(0, cut);
      expectMalformed(() => parseTlvs(prefix));
      expectMalformed(() => parseTlvMap(prefix));
      expectMalformed(() => unwrapTlv(prefix, tag));
    }
  }

  test('known encodings cut at every position throw MalformedDataError', () => {
    assertEveryPrefixRejected(encodeTlv(0x5fc105, h('01 02 03 04')), 0x5fc105);
    assertEveryPrefixRejected(encodeTlv(0x7f49, new Uint8Array(0x90)), 0x7f49);
    assertEveryPrefixRejected(encodeTlv(0x53, new Uint8Array(0x123)), 0x53);
    // 83 LL LL LL: only check the cuts in the header and at the end, the middle is the same case.
    const big = encodeTlv(0x5f2f, new Uint8Array(0x10005));
    for (const cut of [1, 2, 3, 4, 5, 6, big.length - 1]) expectMalformed(() => parseTlvs(big.subarray(0, cut)));
  });

  test('random TLV lists cut inside the last TLV throw MalformedDataError', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ tag: fc.constantFrom(...VALID_TAGS), value: fc.uint8Array({ maxLength: 300 }) }), { maxLength: 3 }),
        fc.record({ tag: fc.constantFrom(...VALID_TAGS), value: fc.uint8Array({ maxLength: 300 }) }),
        fc.nat(),
        (head, lastEntry, cutSeed) => {
          const prefix = encodeTlvs(head.map((e) => [e.tag, e.value] as const));
          const last = encodeTlv(lastEntry.tag, lastEntry.value);
          // Keep between 1 and last.length - 1 bytes of the last TLV.
          const keep = 1 + (cutSeed % (last.length - 1));
          const bytes = Buffer.concat([prefix, last.subarray(0, keep)]);
          expectMalformed(() => parseTlvs(bytes));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('fuzz: arbitrary bytes', () => {
  /** The values of parsed TLVs must be views inside the input, in order and not overlapping. */
  function assertInside(tlvs: Tlv[], input: Uint8Array): void {
    let previousEnd = input.byteOffset;
    for (const t of tlvs) {
      expect(isViewInside(t.value, input)).toBe(true);
      expect(t.value.byteOffset).toBeGreaterThanOrEqual(previousEnd);
      previousEnd = t.value.byteOffset + t.value.length;
    }
  }

  /** Random bytes, plus bytes that start with plausible tag/length headers so the parser gets deeper. */
  const fuzzBytes = fc.oneof(
    fc.uint8Array({ maxLength: 600 }),
    fc
      .tuple(
        fc.constantFrom(h('53'), h('5f'), h('5fc1'), h('7f49'), h('70'), h('1f'), h('5f8181')),
        fc.constantFrom(h('80'), h('81'), h('82'), h('83'), h('84'), h('ff'), h('05'), h('8200'), h('81ff')),
        fc.uint8Array({ maxLength: 600 }),
      )
      .map(([tag, len, rest]) => Buffer.concat([tag, len, rest])),
    // Valid TLV lists with a few bytes overwritten: near misses, and many inputs that still parse.
    fc
      .tuple(
        fc.array(fc.record({ tag: fc.constantFrom(...VALID_TAGS), value: fc.uint8Array({ maxLength: 150 }) }), { maxLength: 4 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 2 }),
      )
      .map(([entries, edits]) => {
        const bytes = new Uint8Array(encodeTlvs(entries.map((e) => [e.tag, e.value] as const)));
        for (const [at, b] of edits) if (bytes.length > 0) bytes[at % bytes.length] = b;
        return bytes;
      }),
  );

  test('parseTlvs returns values inside the input or throws MalformedDataError', () => {
    let parsedCount = 0;
    fc.assert(
      fc.property(fuzzBytes, (raw) => {
        const input = embedded(raw);
        const tlvs = okOrMalformed(() => parseTlvs(input));
        if (tlvs === undefined) return;
        parsedCount++;
        assertInside(tlvs, input);
        // Whole TLVs only: the last value ends exactly at the end of the input.
        if (tlvs.length > 0) {
          const last = tlvs[tlvs.length - 1]!;
          expect(last.value.byteOffset + last.value.length).toBe(input.byteOffset + input.length);
        } else {
          expect(input.length).toBe(0);
        }
      }),
      { numRuns: 3000 },
    );
    // The checks above only run on inputs that parse; make sure there were some.
    expect(parsedCount).toBeGreaterThan(200);
  });

  test('parseTlvMap returns values inside the input or throws MalformedDataError', () => {
    fc.assert(
      fc.property(fuzzBytes, (raw) => {
        const input = embedded(raw);
        const map = okOrMalformed(() => parseTlvMap(input));
        if (map === undefined) return;
        for (const value of map.values()) expect(isViewInside(value, input)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  test('unwrapTlv returns a value inside the input that ends at its end, or throws MalformedDataError', () => {
    fc.assert(
      fc.property(fuzzBytes, fc.constantFrom(...VALID_TAGS), (raw, tag) => {
        const input = embedded(raw);
        const value = okOrMalformed(() => unwrapTlv(input, tag));
        if (value === undefined) return;
        expect(isViewInside(value, input)).toBe(true);
        expect(value.byteOffset + value.length).toBe(input.byteOffset + input.length);
      }),
      { numRuns: 3000 },
    );
  });

  test('unwrapTlv with the tag the bytes actually start with: same outcome as parseTlvs of one TLV', () => {
    let singleCount = 0;
    fc.assert(
      fc.property(fuzzBytes, (raw) => {
        const input = embedded(raw);
        const tlvs = okOrMalformed(() => parseTlvs(input));
        if (tlvs === undefined || tlvs.length !== 1) return;
        singleCount++;
        const value = unwrapTlv(input, tlvs[0]!.tag);
        expect(value.byteOffset).toBe(tlvs[0]!.value.byteOffset);
        expect(value.length).toBe(tlvs[0]!.value.length);
      }),
      { numRuns: 2000 },
    );
    expect(singleCount).toBeGreaterThan(30);
  });

  test('the fuzz helper really rethrows foreign errors (guards the fuzz tests above)', () => {
    expect(() => okOrMalformed(() => { throw new RangeError('x'); })).toThrow(RangeError);
    expect(okOrMalformed(() => { throw new MalformedDataError('x'); })).toBeUndefined();
  });
});
