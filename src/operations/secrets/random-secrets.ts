/**
 * Per-card PINs and PUKs drawn from the operating system's CSPRNG, so one leaked sheet opens one card, not an intake.
 * Digits only (a PIN pad and a phone keypad both have them; YubiKey PIN and PUK are 6–8 bytes of any value, NIST SP
 * 800-73-4 part 2 §2.4.3 pads them to 8 with 0xFF). A value a person (or an attacker's first three guesses) would try
 * is drawn again: all digits equal, a straight ascending or descending run, the factory defaults.
 *
 * Lengths: a PIN of 6 digits (10^6 values against 3 tries before the card blocks it; 6 is what a person types at every
 * login), a PUK of 8 (the most the card takes; nobody types it but the helpdesk, from the escrow).
 */
import { randomBytes } from 'node:crypto';
import { FACTORY_PIN, FACTORY_PUK } from '../../standards/factory-defaults.js';

/** `n` random bytes; injected so tests can replay a sequence. */
export type RandomBytes = (n: number) => Uint8Array;

export const RANDOM_PIN_LENGTH = 6;
export const RANDOM_PUK_LENGTH = 8;
const MIN_LENGTH = 6;
const MAX_LENGTH = 8;
/** The largest multiple of 10 a byte holds: bytes from 250 up are drawn again, so every digit is equally likely. */
const DIGIT_LIMIT = 250;

const osRandom: RandomBytes = (n) => new Uint8Array(randomBytes(n));

/** Why a digit string is too weak to hand out; undefined when it is not. */
export function weakDigitsReason(value: string): string | undefined {
  if (!/^\d+$/.test(value)) return undefined;
  if (value === FACTORY_PIN || value === FACTORY_PUK) return 'it is a factory default';
  const digits = [...value].map(Number);
  const steps = new Set(digits.slice(1).map((d, i) => d - digits[i]!));
  if (steps.size === 1 && steps.has(0)) return 'all its digits are the same';
  if (steps.size === 1 && (steps.has(1) || steps.has(-1))) return 'its digits are a straight run';
  return undefined;
}

/** Uniform random digits by rejection sampling of bytes (no modulo bias). */
function randomDigits(length: number, random: RandomBytes): string {
  let out = '';
  while (out.length < length) {
    for (const byte of random(length - out.length + 2)) {
      if (byte < DIGIT_LIMIT && out.length < length) out += String(byte % 10);
    }
  }
  return out;
}

function randomSecret(length: number, random: RandomBytes): string {
  if (!Number.isInteger(length) || length < MIN_LENGTH || length > MAX_LENGTH) throw new RangeError(`a PIN or PUK has ${MIN_LENGTH} to ${MAX_LENGTH} digits, not ${length}`);
  for (;;) {
    const value = randomDigits(length, random);
    if (weakDigitsReason(value) === undefined) return value;
  }
}

/** A new PIN: RANDOM_PIN_LENGTH digits unless told otherwise, never a weak one. */
export function randomPin(random: RandomBytes = osRandom, length = RANDOM_PIN_LENGTH): string {
  return randomSecret(length, random);
}

/** A new PUK: RANDOM_PUK_LENGTH digits, never a weak one. */
export function randomPuk(random: RandomBytes = osRandom, length = RANDOM_PUK_LENGTH): string {
  return randomSecret(length, random);
}
