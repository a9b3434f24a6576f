/** VERIFY, CHANGE REFERENCE, RESET RETRY, SET PIN RETRIES and RESET: the PIN and PUK of the virtual card. */
import { bytesEqual, fromHex, toHex } from '../../../bytes/hex.js';
import { REF, SLOT } from '../../../standards/references.js';
import { OBJECT } from '../../../standards/objects.js';
import { SW } from '../../../standards/status-words.js';
import { CardStatus, freshVolatileState, type CardContext, type InstructionHandler } from '../card-context.js';
import { factoryCredentials, factoryManagementKey, objectKey, slotKey, type CredentialState } from '../card-state.js';

const NO_DATA = new Uint8Array(0);

function triesLeftStatus(left: number): CardStatus {
  // 63Cx carries at most 15; a card with more tries left still says "15 or more".
  return new CardStatus(SW.VERIFY_FAIL_PREFIX | Math.min(left, 15), 'wrong PIN or PUK');
}

/** Compares a credential, counting a failure down; throws 63Cx or 6983. */
function check(ctx: CardContext, credential: CredentialState, candidate: Uint8Array): void {
  if (credential.retriesLeft === 0) throw new CardStatus(SW.AUTH_METHOD_BLOCKED, 'blocked');
  if (bytesEqual(fromHex(credential.paddedHex), candidate)) {
    if (credential.retriesLeft !== credential.retriesTotal) {
      credential.retriesLeft = credential.retriesTotal;
      ctx.markChanged();
    }
    return;
  }
  credential.retriesLeft--;
  ctx.markChanged();
  throw triesLeftStatus(credential.retriesLeft);
}

/** A new PIN/PUK is 6 to 8 bytes followed by FF padding; anything else is refused with 6985. */
function requireValidNewValue(padded: Uint8Array): void {
  const length = padded.indexOf(0xff) === -1 ? 8 : padded.indexOf(0xff);
  const paddingOk = padded.subarray(length).every((b) => b === 0xff);
  if (length < 6 || !paddingOk) throw new CardStatus(SW.CONDITIONS_NOT_SATISFIED, 'new PIN/PUK must be 6 to 8 bytes');
}

function credentialFor(ctx: CardContext, p2: number): CredentialState {
  if (p2 === REF.PIN) return ctx.state.pin;
  if (p2 === REF.PUK) return ctx.state.puk;
  throw new CardStatus(SW.REFERENCE_NOT_FOUND, 'unknown key reference');
}

export const verify: InstructionHandler = (ctx, cmd) => {
  if (cmd.p2 !== REF.PIN) throw new CardStatus(SW.REFERENCE_NOT_FOUND, 'VERIFY only knows the PIN');
  if (cmd.p1 === 0xff) {
    ctx.requireFeature('pin-logout');
    if (cmd.data.length !== 0) throw new CardStatus(SW.INCORRECT_DATA);
    ctx.volatile.pinVerified = false;
    ctx.volatile.pinFreshForAlways = false;
    return NO_DATA;
  }
  if (cmd.p1 !== 0x00) throw new CardStatus(SW.INCORRECT_P1P2);
  const pin = ctx.state.pin;
  if (cmd.data.length === 0) {
    if (pin.retriesLeft === 0) throw new CardStatus(SW.AUTH_METHOD_BLOCKED);
    if (ctx.volatile.pinVerified) return NO_DATA;
    throw triesLeftStatus(pin.retriesLeft);
  }
  if (cmd.data.length !== 8) throw new CardStatus(SW.INCORRECT_DATA, 'PIN must be sent as 8 bytes');
  ctx.volatile.pinVerified = false;
  ctx.volatile.pinFreshForAlways = false;
  check(ctx, pin, cmd.data);
  ctx.volatile.pinVerified = true;
  ctx.volatile.pinFreshForAlways = true;
  return NO_DATA;
};

export const changeReference: InstructionHandler = (ctx, cmd) => {
  if (cmd.p1 !== 0x00) throw new CardStatus(SW.INCORRECT_P1P2);
  const credential = credentialFor(ctx, cmd.p2);
  if (cmd.data.length !== 16) throw new CardStatus(SW.INCORRECT_DATA, 'old and new value must be 8 bytes each');
  check(ctx, credential, cmd.data.subarray(0, 8));
  const replacement = cmd.data.slice(8);
  requireValidNewValue(replacement);
  credential.paddedHex = toHex(replacement);
  ctx.markChanged();
  return NO_DATA;
};

export const resetRetryCounter: InstructionHandler = (ctx, cmd) => {
  if (cmd.p1 !== 0x00 || cmd.p2 !== REF.PIN) throw new CardStatus(SW.REFERENCE_NOT_FOUND);
  if (cmd.data.length !== 16) throw new CardStatus(SW.INCORRECT_DATA, 'PUK and new PIN must be 8 bytes each');
  check(ctx, ctx.state.puk, cmd.data.subarray(0, 8));
  const newPin = cmd.data.slice(8);
  requireValidNewValue(newPin);
  ctx.state.pin.paddedHex = toHex(newPin);
  ctx.state.pin.retriesLeft = ctx.state.pin.retriesTotal;
  ctx.markChanged();
  return NO_DATA;
};

export const setPinRetries: InstructionHandler = (ctx, cmd) => {
  ctx.requireManagementKey();
  ctx.requirePin();
  if (cmd.p1 === 0 || cmd.p2 === 0) throw new CardStatus(SW.INCORRECT_P1P2, 'retry counts must be 1 to 255');
  const defaults = factoryCredentials();
  ctx.state.pin = { ...defaults.pin, retriesTotal: cmd.p1, retriesLeft: cmd.p1 };
  ctx.state.puk = { ...defaults.puk, retriesTotal: cmd.p2, retriesLeft: cmd.p2 };
  ctx.markChanged();
  return NO_DATA;
};

/** RESET: only once PIN and PUK are both blocked. Keeps the attestation key and its certificate. */
export const reset: InstructionHandler = (ctx) => {
  if (ctx.state.pin.retriesLeft !== 0 || ctx.state.puk.retriesLeft !== 0) {
    throw new CardStatus(SW.CONDITIONS_NOT_SATISFIED, 'reset needs PIN and PUK blocked');
  }
  const attestationKey = ctx.state.keys[slotKey(SLOT.ATTESTATION)];
  const attestationCertificate = ctx.state.objects[objectKey(OBJECT.ATTESTATION_CERTIFICATE)];
  Object.assign(ctx.state, factoryCredentials());
  ctx.state.managementKey = factoryManagementKey(ctx.firmware);
  ctx.state.keys = attestationKey ? { [slotKey(SLOT.ATTESTATION)]: attestationKey } : {};
  ctx.state.objects = attestationCertificate ? { [objectKey(OBJECT.ATTESTATION_CERTIFICATE)]: attestationCertificate } : {};
  ctx.volatile = freshVolatileState();
  ctx.markChanged();
  return NO_DATA;
};
