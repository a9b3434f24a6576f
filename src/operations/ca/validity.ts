/**
 * Certificate validity: a duration in the subset of `ssh-keygen -V` time spans that matters for a CA
 * (`30d`, `12h`, `52w`, `90m`, combined as `1w2d`, an optional leading `+`), and the window it gives.
 * Every certificate has an end: "forever" (ssh-keygen's default) is not offered.
 */
import { UsageError } from '../../errors.js';

export const DEFAULT_VALIDITY = '30d';
/** valid-after is set this far back, so a server whose clock is a little behind still accepts a fresh certificate. */
export const CLOCK_SKEW_SECONDS = 5 * 60;
/** The longest validity accepted: past this, revocation is the only control left. */
export const MAX_VALIDITY_SECONDS = 5 * 366 * 24 * 3600;

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 7 * 86400 };

/** `30d` → 2592000 (also 12h, 52w, 90m, 1w2d). `flag` names the option in the UsageError that says what is accepted. */
export function parseDuration(text: string, flag: string): number {
  const clean = text.trim().toLowerCase().replace(/^\+/, '');
  if (!/^(\d+[smhdw])+$/.test(clean)) {
    throw new UsageError(`${flag} takes a duration such as 30d, 12h, 52w or 1w2d (s, m, h, d, w), not "${text}"`);
  }
  let seconds = 0;
  for (const [, count, unit] of clean.matchAll(/(\d+)([smhdw])/g)) seconds += Number(count) * UNIT_SECONDS[unit!]!;
  return seconds;
}

/** A certificate validity: a duration from one minute to five years. */
export function parseValidity(text: string): number {
  const seconds = parseDuration(text, '--validity');
  if (seconds < 60) throw new UsageError('--validity must be at least one minute');
  if (seconds > MAX_VALIDITY_SECONDS) throw new UsageError('--validity is at most five years (260w): shorter certificates need no revocation');
  return seconds;
}

export interface ValidityWindow {
  validAfter: bigint;
  validBefore: bigint;
}

/** From slightly before `now` (clock skew) until `now + seconds`. */
export function validityWindow(now: Date, seconds: number): ValidityWindow {
  const nowSeconds = Math.floor(now.getTime() / 1000);
  return { validAfter: BigInt(nowSeconds - CLOCK_SKEW_SECONDS), validBefore: BigInt(nowSeconds + seconds) };
}

/** ISO 8601 (UTC, seconds) of a certificate time. */
export function certificateTime(seconds: bigint): string {
  return new Date(Number(seconds) * 1000).toISOString().replace(/\.000Z$/, 'Z');
}
