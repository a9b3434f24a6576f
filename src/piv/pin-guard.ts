/**
 * The one guard every PIN and PUK try goes through (VERIFY, CHANGE REFERENCE, RESET RETRY), so no path can spend a
 * try on its own: the tries left are read first (free: metadata, or an empty VERIFY), the last try is refused unless
 * the caller allowed it explicitly, and a value the card refused in this session is never sent again. A value the
 * card accepted in this session is known good and is sent again without reading the tries (PIN-always signatures
 * verify before every signature).
 */
import { createHash, randomBytes } from 'node:crypto';
import { LastTryError, PinBlockedError, RefusedAgainError, WrongPinError, type Credential } from './errors.js';

/**
 * The guard's rule on the tries left: a blocked credential is reported, the last try needs `allowLastTry`; undefined
 * (the card cannot tell) refuses nothing. Commands that plan apply it early too, so a refused plan is never confirmed.
 */
export function requireTryAllowed(credential: Credential, left: number | undefined, allowLastTry: boolean): void {
  if (left === 0) throw new PinBlockedError(credential);
  if (left === 1 && !allowLastTry) throw new LastTryError(credential);
}

export class CredentialGuard {
  private readonly salt = randomBytes(16);
  private readonly accepted = new Set<string>();
  private readonly refused = new Set<string>();

  constructor(
    private readonly credential: Credential,
    /** The tries left without using one; undefined when the card cannot tell (then nothing is refused for it). */
    private readonly triesLeft: () => Promise<number | undefined>,
    private readonly allowLastTry: boolean,
  ) {}

  /** Kept only as a salted hash, so that the guard itself holds no secret. */
  private id(value: string): string {
    return createHash('sha256').update(this.salt).update(value, 'utf8').digest('hex');
  }

  /** Sends `value` to the card through `use`, if the guard lets it. */
  async attempt<T>(value: string, use: () => Promise<T>): Promise<T> {
    const id = this.id(value);
    if (this.refused.has(id)) throw new RefusedAgainError(this.credential);
    if (!this.accepted.has(id)) {
      requireTryAllowed(this.credential, await this.triesLeft(), this.allowLastTry);
    }
    try {
      const result = await use();
      this.accepted.add(id);
      return result;
    } catch (error) {
      if (error instanceof WrongPinError || error instanceof PinBlockedError) {
        this.accepted.delete(id);
        this.refused.add(id);
      }
      throw error;
    }
  }

  /** The card's value is now `value` (changed, or set by an unblock): the old ones are no longer known. */
  replaced(value: string): void {
    this.accepted.clear();
    this.refused.clear();
    this.accepted.add(this.id(value));
  }
}
