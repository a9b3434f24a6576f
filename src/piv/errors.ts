/**
 * What a PIV card said, as typed errors. Status words are translated once, in status-translation.ts;
 * callers test with instanceof and never look at status words themselves.
 */
import { PivEnrollError } from '../errors.js';
import { swHex } from '../spec/status-words.js';

export class PivError extends PivEnrollError {}

/** Any status word without a more specific class. */
export class CardStatusError extends PivError {
  constructor(readonly sw: number, what: string) {
    super(`${what}: the card answered ${swHex(sw)}`);
  }
}

export type Credential = 'PIN' | 'PUK';

export class WrongPinError extends PivError {
  constructor(readonly credential: Credential, readonly attemptsRemaining: number) {
    super(
      attemptsRemaining === 0
        ? `wrong ${credential}; the ${credential} is now blocked`
        : `wrong ${credential}, ${attemptsRemaining} attempt${attemptsRemaining === 1 ? '' : 's'} left`,
    );
  }
}

export class PinBlockedError extends PivError {
  constructor(readonly credential: Credential) {
    super(
      credential === 'PIN'
        ? 'the PIN is blocked: unblock it with the PUK, or reset the PIV application'
        : 'the PUK is blocked: once the PIN is blocked too, only a reset of the PIV application helps',
    );
  }
}

/** 6982: the operation needs a PIN verification, a management-key authentication or a touch first. */
export class SecurityStatusError extends PivError {}

/** Management key authentication failed: wrong key, or the card did not prove it holds the same key. */
export class ManagementKeyError extends PivError {}

/** 6985: the card's state does not allow the operation (e.g. reset while PIN or PUK have tries left). */
export class ConditionsNotSatisfiedError extends PivError {}

/** 6A80/6A86/6B00/6700: the card refused the command's data or parameters. */
export class InvalidDataError extends PivError {}

/** 6A82/6A88: no such object, key or reference. */
export class NotFoundError extends PivError {}

/** The card (or its firmware version) cannot do this. Raised before any APDU when the version says so. */
export class NotSupportedError extends PivError {}

/** 6A84: the object does not fit in the card's storage. */
export class ObjectTooLargeError extends PivError {}

/** The card has no PIV application (SELECT refused). */
export class ApplicationNotFoundError extends PivError {}
