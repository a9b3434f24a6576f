/** The one place where status words become typed errors. */
import { SW } from '../standards/status-words.js';
import {
  CardStatusError,
  ConditionsNotSatisfiedError,
  InvalidDataError,
  NotFoundError,
  NotSupportedError,
  ObjectTooLargeError,
  PinBlockedError,
  SecurityStatusError,
  WrongPinError,
  type Credential,
  type PivError,
} from './errors.js';

export interface StatusContext {
  /** What was being done, for the message: "reading certificate 9C", "verifying the PIN". */
  what: string;
  /** Which credential 63Cx and 6983 refer to, when the command checks one. */
  credential?: Credential;
  /** Message for 6982, which means different things for different commands. */
  securityHint?: string;
}

export function errorForStatus(sw: number, context: StatusContext): PivError {
  const { what } = context;
  if ((sw & 0xfff0) === SW.VERIFY_FAIL_PREFIX && context.credential) return new WrongPinError(context.credential, sw & 0x0f);
  switch (sw) {
    case SW.AUTH_METHOD_BLOCKED:
      if (context.credential) return new PinBlockedError(context.credential);
      return new SecurityStatusError(`${what}: the card's authentication method is blocked`);
    case SW.SECURITY_STATUS_NOT_SATISFIED:
      return new SecurityStatusError(`${what}: ${context.securityHint ?? 'the card requires a PIN verification, management key authentication or touch first'}`);
    case SW.CONDITIONS_NOT_SATISFIED:
      return new ConditionsNotSatisfiedError(`${what}: the card's conditions for this are not met`);
    case SW.INCORRECT_DATA:
    case SW.INCORRECT_P1P2:
    case SW.WRONG_P1P2:
    case SW.WRONG_LENGTH:
      return new InvalidDataError(`${what}: the card refused the request as invalid (${sw.toString(16).toUpperCase()})`);
    case SW.FILE_NOT_FOUND:
    case SW.REFERENCE_NOT_FOUND:
      return new NotFoundError(`${what}: not found on the card`);
    case SW.INS_NOT_SUPPORTED:
    case SW.FUNCTION_NOT_SUPPORTED:
    case SW.CLA_NOT_SUPPORTED:
      return new NotSupportedError(`${what}: not supported by this card`);
    case SW.NOT_ENOUGH_MEMORY:
      return new ObjectTooLargeError(`${what}: the card has no room for it`);
    default:
      return new CardStatusError(sw, what);
  }
}
