/** Small helpers shared by the unit tests (no test cases here). */
import { expect } from 'vitest';
import fc from 'fast-check';
import { MalformedDataError } from '../../src/bytes/errors.js';
import { fromHex, toHex } from '../../src/bytes/hex.js';

/** Hex literal to bytes; spaces allowed so test vectors can be written the way specs print them. */
export const h = (text: string): Uint8Array => fromHex(text);

/** Bytes to lowercase hex without separators, for readable `toBe` comparisons. */
export const hexOf = (bytes: Uint8Array): string => toHex(bytes).toLowerCase();

/**
 * Runs `fn` and returns its result, or `undefined` if it threw a MalformedDataError. Any other error
 * (RangeError, TypeError, …) is rethrown so that a fuzz property fails on it.
 */
export function okOrMalformed<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (error) {
    if (error instanceof MalformedDataError) return undefined;
    throw error;
  }
}

/** Async variant of okOrMalformed. */
export async function okOrMalformedAsync<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof MalformedDataError) return undefined;
    throw error;
  }
}

/** Asserts that `fn` throws a MalformedDataError (and not some other error type). */
export function expectMalformed(fn: () => unknown): void {
  expect(fn).toThrow(MalformedDataError);
}

/**
 * Large byte arrays without generating every byte through fast-check (which would be slow for 70 KB
 * values): a length and a seed, expanded with a small xorshift PRNG. Shrinks on length and seed.
 */
export function bigBytes(minLength: number, maxLength: number): fc.Arbitrary<Uint8Array> {
  return fc.record({ length: fc.integer({ min: minLength, max: maxLength }), seed: fc.integer({ min: 1, max: 0x7fffffff }) }).map(({ length, seed }) => {
    const out = new Uint8Array(length);
    let x = seed;
    for (let i = 0; i < length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[i] = x & 0xff;
    }
    return out;
  });
}

/** True when `part` is a view into the same memory as `whole` and lies entirely inside it. */
export function isViewInside(part: Uint8Array, whole: Uint8Array): boolean {
  return (
    part.buffer === whole.buffer &&
    part.byteOffset >= whole.byteOffset &&
    part.byteOffset + part.length <= whole.byteOffset + whole.length
  );
}
