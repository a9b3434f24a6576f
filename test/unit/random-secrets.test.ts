/**
 * The per-card PIN and PUK generators: digits only, the right length, never a weak value, every digit equally likely
 * (rejection sampling: bytes 250–255 are drawn again), and the injected randomness is the only source.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { RANDOM_PIN_LENGTH, RANDOM_PUK_LENGTH, randomPin, randomPuk, weakDigitsReason, type RandomBytes } from '../../src/operations/secrets/random-secrets.js';

/** Replays `bytes`, then fails: a generator that asked for more than it was given would show. */
function replay(bytes: number[]): RandomBytes {
  let at = 0;
  return (n) => {
    if (at + n > bytes.length) throw new Error('out of bytes');
    const out = Uint8Array.from(bytes.slice(at, at + n));
    at += n;
    return out;
  };
}

describe('weak values', () => {
  test.each(['123456', '12345678', '654321', '234567', '98765432', '000000', '11111111', '777777'])('%s is weak', (value) => {
    expect(weakDigitsReason(value)).toBeDefined();
  });
  test.each(['135790', '112233', '12345670', '908172', '012346'])('%s is not', (value) => {
    expect(weakDigitsReason(value)).toBeUndefined();
  });
});

describe('randomPin / randomPuk', () => {
  test('default lengths: PIN 6 digits, PUK 8 digits, from the OS CSPRNG', () => {
    const pins = new Set(Array.from({ length: 200 }, () => randomPin()));
    for (const pin of pins) expect(pin).toMatch(new RegExp(`^\\d{${RANDOM_PIN_LENGTH}}$`));
    for (const puk of Array.from({ length: 50 }, () => randomPuk())) expect(puk).toMatch(new RegExp(`^\\d{${RANDOM_PUK_LENGTH}}$`));
    // 200 draws of 10^6 values: a collision is possible but (birthday bound) has a chance of about 2 %.
    expect(pins.size).toBeGreaterThan(195);
  });

  test('bytes of 250 and up are skipped, others give their value modulo 10', () => {
    // 8 bytes asked for a 6-digit PIN: 250 and 255 are dropped, the rest give 1 3 5 7 9 0.
    expect(randomPin(replay([1, 250, 13, 255, 25, 37, 49, 60]))).toBe('135790');
  });

  test('a weak draw is thrown away and drawn again', () => {
    // First draw 1 2 3 4 5 6 (the factory PIN and a run), then 9 9 9 9 9 9 (all equal), then 4 0 7 1 8 2.
    const weak = [1, 2, 3, 4, 5, 6, 0, 0].map((d, i) => (i < 6 ? d : 251));
    const same = [9, 9, 9, 9, 9, 9, 251, 251];
    expect(randomPin(replay([...weak, ...same, 4, 0, 7, 1, 8, 2, 251, 251]))).toBe('407182');
  });

  test('property: whatever the bytes, a PIN or PUK is digits of the asked length and never weak', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.integer({ min: 6, max: 8 }), (seed, length) => {
        // Endless bytes from the seed (a counter mixed in, so a constant seed still moves on).
        let counter = 0;
        const random: RandomBytes = (n) => Uint8Array.from({ length: n }, () => (seed[counter % 64]! + 37 * Math.floor(counter++ / 64)) & 0xff);
        const pin = randomPin(random, length);
        return new RegExp(`^\\d{${length}}$`).test(pin) && weakDigitsReason(pin) === undefined;
      }),
    );
  });

  test('every digit is about equally likely (chi-square over 60 000 digits)', () => {
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 10_000; i++) for (const digit of randomPin()) counts[Number(digit)]!++;
    const expected = 6000;
    const chiSquare = counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
    // 9 degrees of freedom: p = 0.0001 at 33.7. Weak values removed shift it a hair, far below this bound.
    expect(chiSquare).toBeLessThan(33.7);
  });

  test('lengths outside 6–8 are refused', () => {
    expect(() => randomPin(undefined, 5)).toThrow(RangeError);
    expect(() => randomPuk(undefined, 9)).toThrow(RangeError);
  });
});
