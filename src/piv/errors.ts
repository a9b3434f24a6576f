/**
 * What a PIV card said, as typed errors. Status words are translated once, in status-translation.ts;
 * callers test with instanceof and never look at status words themselves.
 */
import { PivEnrollError } from '../errors.js';
import { swHex } from '../standards/status-words.js';

export class PivError extends PivEnrollError {}

/** Any status word without a more specific class. */
export class CardStatusError extends PivError {
  constructor(readonly sw: number, what: string) {
    super(`${what}: the card answered ${swHex(sw)}`);
  }
}

export type Credential = 'PIN' | 'PUK';

/** How a blocked credential is unblocked: said with every wrong or blocked PIN/PUK. */
export function unblockAdvice(credential: Credential): string {
  return credential === 'PIN'
    ? 'a blocked PIN is unblocked with the PUK: piv-enroll pin unblock'
    : 'a blocked PUK cannot be unblocked: once the PIN is blocked too, only a reset of the PIV application helps (piv-enroll reset)';
}

export class WrongPinError extends PivError {
  constructor(readonly credential: Credential, readonly attemptsRemaining: number) {
    super(
      attemptsRemaining === 0
        ? `wrong ${credential}; the ${credential} is now blocked: ${unblockAdvice(credential)}`
        : `wrong ${credential}, ${attemptsRemaining} attempt${attemptsRemaining === 1 ? '' : 's'} left (${unblockAdvice(credential)})`,
    );
  }
}

/** One try is left and the caller did not allow using it: a wrong value would block the credential. */
export class LastTryError extends PivError {
  constructor(readonly credential: Credential) {
    super(
      `only one ${credential} try is left, and a wrong ${credential} would block it: nothing was sent to the card. ` +
        `Give --allow-last-pin-try to try it anyway${credential === 'PIN' ? ', or unblock the PIN with the PUK first' : ''}`,
    );
  }
}

/** The card refused this value earlier in the same run: it is not sent again (it would only cost another try). */
export class RefusedAgainError extends PivError {
  constructor(readonly credential: Credential) {
    super(`the card already refused this ${credential} in this run: it is not tried again`);
  }
}

export class PinBlockedError extends PivError {
  constructor(readonly credential: Credential) {
    super(
      credential === 'PIN'
        ? 'the PIN is blocked: unblock it with the PUK (piv-enroll pin unblock), or reset the PIV application (piv-enroll reset)'
        : 'the PUK is blocked: once the PIN is blocked too, only a reset of the PIV application helps (piv-enroll reset)',
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
