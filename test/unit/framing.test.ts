import { describe, test, expect } from 'vitest';
import fc from 'fast-check';
import { DEFAULT_FRAMING, transceive, type FramingOptions, type RawExchange } from '../../src/bytes/framing.js';
import { decodeCommandApdu, type ResponseApdu } from '../../src/bytes/apdu.js';
import { MalformedDataError } from '../../src/bytes/errors.js';
import { h, hexOf, okOrMalformedAsync } from './helpers.js';

/**
 * A fake card: records every APDU it receives and answers from a script. When the script runs out it
 * keeps repeating `afterScript` (if given) or throws, so a test that expects N exchanges notices N + 1.
 * `hardLimit` turns a runaway loop in transceive into a plain Error instead of a hung test.
 */
function fakeCard(script: ResponseApdu[], opts: { afterScript?: ResponseApdu; hardLimit?: number } = {}) {
  const sent: Uint8Array[] = [];
  const hardLimit = opts.hardLimit ?? 100_000;
  const exchange: RawExchange = async (apdu) => {
    sent.push(apdu);
    if (sent.length > hardLimit) throw new Error(`fake card: more than ${hardLimit} exchanges`);
    const next = script[sent.length - 1] ?? opts.afterScript;
    if (next === undefined) throw new Error(`fake card: unscripted exchange #${sent.length}: ${hexOf(apdu)}`);
    return next;
  };
  return { exchange, sent };
}

const ok = (data: Uint8Array = new Uint8Array(0)): ResponseApdu => ({ data, sw: 0x9000 });
const sw = (word: number, data: Uint8Array = new Uint8Array(0)): ResponseApdu => ({ data, sw: word });
const filled = (length: number, byte: number): Uint8Array => new Uint8Array(length).fill(byte);

/** 600 distinct-ish bytes so chunk boundaries can be checked by content. */
const DATA_600 = Uint8Array.from({ length: 600 }, (_, i) => i & 0xff);
const PUT = { cla: 0x00, ins: 0xdb, p1: 0x3f, p2: 0xff };

describe('command chaining', () => {
  test('600 bytes in short mode: 3 APDUs, CLA 10 10 00, chunks of 255, 255, 90', async () => {
    const card = fakeCard([ok(), ok(), ok(h('abcd'))]);
    const response = await transceive(card.exchange, { ...PUT, data: DATA_600 });
    expect(card.sent.length).toBe(3);
    const decoded = card.sent.map((apdu) => decodeCommandApdu(apdu));
    expect(decoded.map((c) => c.cla)).toEqual([0x10, 0x10, 0x00]);
    expect(decoded.map((c) => c.data.length)).toEqual([255, 255, 90]);
    expect(decoded.every((c) => c.ins === 0xdb && c.p1 === 0x3f && c.p2 === 0xff && !c.extended)).toBe(true);
    // The chunks, in order, are the original data.
    expect(hexOf(Buffer.concat(decoded.map((c) => c.data)))).toBe(hexOf(DATA_600));
    // The last APDU's answer is the answer.
    expect(response).toEqual({ data: h('abcd'), sw: 0x9000 });
  });

  test('Le is sent only on the last link of the chain', async () => {
    const card = fakeCard([ok(), ok(), ok()]);
    await transceive(card.exchange, { ...PUT, data: DATA_600, le: 256 });
    expect(card.sent.map((a) => decodeCommandApdu(a).le)).toEqual([undefined, undefined, 256]);
  });

  test('exactly 255 bytes is one short APDU; 256 bytes is two', async () => {
    const one = fakeCard([ok()]);
    await transceive(one.exchange, { ...PUT, data: filled(255, 1) });
    expect(one.sent.length).toBe(1);
    expect(one.sent[0]![0]).toBe(0x00);

    const two = fakeCard([ok(), ok()]);
    await transceive(two.exchange, { ...PUT, data: filled(256, 1) });
    expect(two.sent.map((a) => [a[0], decodeCommandApdu(a).data.length])).toEqual([[0x10, 255], [0x00, 1]]);
  });

  test('no data: a single header-only APDU', async () => {
    const card = fakeCard([ok(h('01'))]);
    const response = await transceive(card.exchange, { cla: 0, ins: 0xfd, p1: 0, p2: 0 });
    expect(card.sent.map(hexOf)).toEqual(['00fd0000']);
    expect(hexOf(response.data)).toBe('01');
  });

  test('extended mode: 600 bytes go in one extended APDU', async () => {
    const card = fakeCard([ok()]);
    await transceive(card.exchange, { ...PUT, data: DATA_600 }, { ...DEFAULT_FRAMING, extended: true });
    expect(card.sent.length).toBe(1);
    expect(hexOf(card.sent[0]!.subarray(0, 7))).toBe('00db3fff000258');
    expect(hexOf(card.sent[0]!.subarray(7))).toBe(hexOf(DATA_600));
  });

  test('extended mode still chains data beyond maxExtendedData', async () => {
    const card = fakeCard([ok(), ok()]);
    await transceive(card.exchange, { ...PUT, data: DATA_600 }, { ...DEFAULT_FRAMING, extended: true, maxExtendedData: 500 });
    const decoded = card.sent.map((a) => decodeCommandApdu(a));
    expect(decoded.map((c) => [c.cla, c.data.length, c.extended])).toEqual([[0x10, 500, true], [0x00, 100, true]]);
  });

  test('a refused link (6A80 on the first chunk) is returned at once, the rest is not sent', async () => {
    const card = fakeCard([sw(0x6a80)]);
    const response = await transceive(card.exchange, { ...PUT, data: DATA_600 });
    expect(card.sent.length).toBe(1);
    expect(response.sw).toBe(0x6a80);
  });

  test('a refused middle link is returned at once', async () => {
    const card = fakeCard([ok(), sw(0x6a84)]);
    const response = await transceive(card.exchange, { ...PUT, data: DATA_600 });
    expect(card.sent.length).toBe(2);
    expect(response.sw).toBe(0x6a84);
  });
});

describe('response chaining (61xx)', () => {
  const GET_DATA = { cla: 0x00, ins: 0xcb, p1: 0x3f, p2: 0xff, data: h('5c 03 5f c1 05') };

  test('61 00, then 61 10, then 90 00: all parts collected, GET RESPONSE with the announced Le', async () => {
    const card = fakeCard([sw(0x6100, filled(10, 0xa1)), sw(0x6110, filled(256, 0xb2)), ok(filled(0x10, 0xc3))]);
    const response = await transceive(card.exchange, GET_DATA);
    expect(response.sw).toBe(0x9000);
    expect(hexOf(response.data)).toBe(hexOf(Buffer.concat([filled(10, 0xa1), filled(256, 0xb2), filled(0x10, 0xc3)])));
    // 61 00 means 256 more bytes: GET RESPONSE Le 00; 61 10: Le 10.
    expect(card.sent.slice(1).map(hexOf)).toEqual(['00c0000000', '00c0000010']);
  });

  test('GET RESPONSE is a short APDU with CLA 00 even when the command was extended', async () => {
    const card = fakeCard([sw(0x6105, h('01')), ok(h('0203040506'))]);
    const response = await transceive(card.exchange, { ...GET_DATA, cla: 0x00 }, { ...DEFAULT_FRAMING, extended: true });
    expect(hexOf(card.sent[1]!)).toBe('00c0000005');
    expect(hexOf(response.data)).toBe('010203040506');
  });

  test('the final status word after chaining is returned (not forced to 9000)', async () => {
    const card = fakeCard([sw(0x6102, h('01')), sw(0x6282, h('0203'))]);
    const response = await transceive(card.exchange, GET_DATA);
    expect(response).toEqual({ data: h('010203'), sw: 0x6282 });
  });

  test('a card that answers 61xx forever is cut off at maxResponseLength with MalformedDataError', async () => {
    const card = fakeCard([], { afterScript: sw(0x6100, filled(256, 0)), hardLimit: 10_000 });
    await expect(transceive(card.exchange, GET_DATA)).rejects.toThrow(MalformedDataError);
    // 64 KiB of 256-byte answers: about 257 exchanges, nowhere near the hard limit.
    expect(card.sent.length).toBeLessThanOrEqual(DEFAULT_FRAMING.maxResponseLength / 256 + 2);
  });

  test('maxResponseLength is honoured as configured', async () => {
    const options: FramingOptions = { ...DEFAULT_FRAMING, maxResponseLength: 1000 };
    const card = fakeCard([], { afterScript: sw(0x6164, filled(100, 7)), hardLimit: 10_000 });
    await expect(transceive(card.exchange, GET_DATA, options)).rejects.toThrow(MalformedDataError);
    expect(card.sent.length).toBeLessThanOrEqual(12);

    // Exactly at the limit is still fine.
    const exact = fakeCard([sw(0x6164, filled(100, 7)), ...Array.from({ length: 8 }, () => sw(0x6164, filled(100, 7))), ok(filled(100, 7))]);
    const response = await transceive(exact.exchange, GET_DATA, options);
    expect(response.data.length).toBe(1000);
  });

  test('61xx followed by GET RESPONSE answers of 61xx with no data is detected, not looped on', async () => {
    const card = fakeCard([sw(0x6110, h('01'))], { afterScript: sw(0x6110), hardLimit: 10_000 });
    await expect(transceive(card.exchange, GET_DATA)).rejects.toThrow(MalformedDataError);
    expect(card.sent.length).toBe(2);
  });
});

describe('wrong Le (6Cxx)', () => {
  const READ = { cla: 0x00, ins: 0xcb, p1: 0x3f, p2: 0xff, data: h('5c 01 7e') };

  test('6Cxx: the same command is sent once more with Le = xx', async () => {
    const card = fakeCard([sw(0x6c20), ok(filled(0x20, 9))]);
    const response = await transceive(card.exchange, READ);
    expect(card.sent.length).toBe(2);
    expect(hexOf(card.sent[0]!)).toBe('00cb3fff035c017e');
    expect(hexOf(card.sent[1]!)).toBe('00cb3fff035c017e20');
    expect(response).toEqual({ data: filled(0x20, 9), sw: 0x9000 });
  });

  test('6C00 resends with Le 256 (encoded 00)', async () => {
    const card = fakeCard([sw(0x6c00), ok()]);
    await transceive(card.exchange, { cla: 0, ins: 0xfd, p1: 0, p2: 0 });
    expect(hexOf(card.sent[1]!)).toBe('00fd000000');
  });

  test('the resent command may itself answer 61xx, which is then chained', async () => {
    const card = fakeCard([sw(0x6c10), sw(0x6102, h('aa')), ok(h('bbcc'))]);
    const response = await transceive(card.exchange, READ);
    expect(hexOf(response.data)).toBe('aabbcc');
    expect(hexOf(card.sent[2]!)).toBe('00c0000002');
  });

  test('a second 6Cxx throws MalformedDataError', async () => {
    const card = fakeCard([sw(0x6c10), sw(0x6c10)], { afterScript: ok(), hardLimit: 100 });
    await expect(transceive(card.exchange, READ)).rejects.toThrow(MalformedDataError);
    expect(card.sent.length).toBe(2);
  });

  test('6Cxx in answer to GET RESPONSE: GET RESPONSE is sent again with the Le the card named', async () => {
    const card = fakeCard([sw(0x6102, h('aa')), sw(0x6c01), ok(h('bb'))]);
    const response = await transceive(card.exchange, READ);
    expect(hexOf(response.data)).toBe('aabb');
    expect(card.sent.map(hexOf).slice(1)).toEqual(['00c0000002', '00c0000001']);
  });

  test('6Cxx at the end of a command chain throws MalformedDataError (a chain cannot be resent)', async () => {
    const card = fakeCard([ok(), ok(), sw(0x6c10)], { afterScript: ok(), hardLimit: 100 });
    await expect(transceive(card.exchange, { ...PUT, data: DATA_600 })).rejects.toThrow(MalformedDataError);
    expect(card.sent.length).toBe(3);
  });
});

describe('fuzz: a card answering random status words and data', () => {
  /** Status words biased towards the ones framing reacts to, plus anything at all. */
  const swArb = fc.oneof(
    fc.constant(0x9000),
    fc.integer({ min: 0x6100, max: 0x61ff }),
    fc.integer({ min: 0x6c00, max: 0x6cff }),
    fc.constantFrom(0x6a80, 0x6a82, 0x6982, 0x6700),
    fc.integer({ min: 0, max: 0xffff }),
  );
  const responseArb = fc.record({ data: fc.uint8Array({ maxLength: 40 }), sw: swArb });
  const commandArb = fc.record({
    cla: fc.constantFrom(0x00, 0x80),
    ins: fc.integer({ min: 0, max: 255 }),
    p1: fc.integer({ min: 0, max: 255 }),
    p2: fc.integer({ min: 0, max: 255 }),
    data: fc.uint8Array({ maxLength: 600 }),
    le: fc.option(fc.integer({ min: 1, max: 256 }), { nil: undefined }),
  });
  const MAX_RESPONSE = 256;
  const CALL_BOUND = 300;

  test('transceive returns or throws MalformedDataError, within a bounded number of exchanges', async () => {
    const outcomes = { returned: 0, malformed: 0 };
    await fc.assert(
      fc.asyncProperty(
        commandArb,
        fc.array(responseArb, { minLength: 1, maxLength: 30 }),
        fc.boolean(),
        async (command, script, extended) => {
          // The card cycles through its script forever, so a loop in transceive has to end by itself.
          let calls = 0;
          const exchange: RawExchange = async (apdu) => {
            calls++;
            if (calls > 10_000) throw new Error('runaway loop in transceive');
            // Every APDU transceive sends must be well-formed. (A plain Error, so the property does not
            // mistake it for the card-data MalformedDataError it tolerates.)
            try {
              decodeCommandApdu(apdu);
            } catch {
              throw new Error(`transceive sent a malformed APDU: ${hexOf(apdu)}`);
            }
            return script[(calls - 1) % script.length]!;
          };
          const options: FramingOptions = { extended, maxExtendedData: 200, maxResponseLength: MAX_RESPONSE };
          const response = await okOrMalformedAsync(() => transceive(exchange, command, options));
          expect(calls).toBeLessThanOrEqual(CALL_BOUND);
          outcomes[response === undefined ? 'malformed' : 'returned']++;
          if (response !== undefined) {
            expect(response.data.length).toBeLessThanOrEqual(MAX_RESPONSE);
            // A returned response never still announces more data: 61xx is always followed up
            // (except on a refused link of a command chain, which is returned as the card gave it).
            const chained = command.data.length > (extended ? 200 : 255);
            if (!chained) expect(response.sw >> 8).not.toBe(0x61);
          }
        },
      ),
      { numRuns: 2000 },
    );
    // Both ways out must actually have been exercised.
    expect(outcomes.returned).toBeGreaterThan(100);
    expect(outcomes.malformed).toBeGreaterThan(20);
  });

  test('with default options the loop is still bounded (by bytes) for a card that always says 61xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 256 }), async (xx, chunk) => {
        const card = fakeCard([], { afterScript: sw(0x6100 | xx, filled(chunk, 1)), hardLimit: 100_000 });
        await expect(transceive(card.exchange, { cla: 0, ins: 0xcb, p1: 0x3f, p2: 0xff })).rejects.toThrow(MalformedDataError);
        expect(card.sent.length).toBeLessThanOrEqual(Math.ceil(DEFAULT_FRAMING.maxResponseLength / chunk) + 2);
      }),
      { numRuns: 50 },
    );
  });
});
