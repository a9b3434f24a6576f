/**
 * Management key authentication (GENERAL AUTHENTICATE with key reference 9B), both flows:
 * mutual (card sends E(witness), host returns witness + its challenge, card returns E(challenge)) and
 * external (card sends a challenge, host returns E(challenge)); and SET MANAGEMENT KEY.
 */
import { bytesEqual, fromHex, toHex } from '../../../bytes/hex.js';
import { encodeTlv, parseTlvMap } from '../../../bytes/tlv.js';
import { encryptBlock, decryptBlock } from '../../../crypto/management-key-cipher.js';
import { managementKeyAlgorithmById } from '../../../standards/algorithms.js';
import { REF } from '../../../standards/references.js';
import { SW } from '../../../standards/status-words.js';
import { TOUCH_POLICY } from '../../../standards/policies.js';
import { CardStatus, type CardContext, type InstructionHandler } from '../card-context.js';

const TAG_TEMPLATE = 0x7c;
const TAG_WITNESS = 0x80;
const TAG_CHALLENGE = 0x81;
const TAG_RESPONSE = 0x82;

function clearAuthentication(ctx: CardContext): void {
  ctx.volatile.managementAuthenticated = false;
  ctx.volatile.pendingWitness = undefined;
  ctx.volatile.pendingChallenge = undefined;
}

function fail(ctx: CardContext, sw: number, reason: string): never {
  clearAuthentication(ctx);
  throw new CardStatus(sw, reason);
}

/** GENERAL AUTHENTICATE, P2 = 9B. `template` is the content of the 7C tag. */
export function authenticateManagementKey(ctx: CardContext, p1: number, template: Map<number, Uint8Array>): Uint8Array {
  const stored = ctx.state.managementKey;
  const algorithm = managementKeyAlgorithmById(stored.algorithm)!;
  if (p1 !== stored.algorithm) fail(ctx, SW.INCORRECT_DATA, 'management key algorithm does not match');
  const key = fromHex(stored.keyHex);
  const block = algorithm.blockLength;
  const witness = template.get(TAG_WITNESS);
  const challenge = template.get(TAG_CHALLENGE);
  const response = template.get(TAG_RESPONSE);

  // Mutual, step 1: `80 00` alone. Starting over drops any earlier authentication.
  if (witness?.length === 0 && challenge === undefined) {
    clearAuthentication(ctx);
    const plain = ctx.deps.random(block);
    ctx.volatile.pendingWitness = plain;
    return encodeTlv(TAG_TEMPLATE, encodeTlv(TAG_WITNESS, encryptBlock(algorithm, key, plain)));
  }
  // Mutual, step 2: decrypted witness and the host's challenge (some hosts add an empty 82).
  if (witness !== undefined && challenge !== undefined && (response === undefined || response.length === 0)) {
    const expected = ctx.volatile.pendingWitness;
    ctx.volatile.pendingWitness = undefined;
    if (!expected) fail(ctx, SW.CONDITIONS_NOT_SATISFIED, 'no witness outstanding');
    if (witness.length !== block || challenge.length !== block) fail(ctx, SW.INCORRECT_DATA, 'witness or challenge of the wrong length');
    if (!bytesEqual(witness, expected)) fail(ctx, SW.SECURITY_STATUS_NOT_SATISFIED, 'wrong management key');
    ctx.touch(stored.touchRequired ? TOUCH_POLICY.ALWAYS : TOUCH_POLICY.NEVER);
    ctx.volatile.managementAuthenticated = true;
    return encodeTlv(TAG_TEMPLATE, encodeTlv(TAG_RESPONSE, encryptBlock(algorithm, key, challenge)));
  }
  // External, step 1: `81 00` alone.
  if (challenge?.length === 0 && witness === undefined && response === undefined) {
    clearAuthentication(ctx);
    const plain = ctx.deps.random(block);
    ctx.volatile.pendingChallenge = plain;
    return encodeTlv(TAG_TEMPLATE, encodeTlv(TAG_CHALLENGE, plain));
  }
  // External, step 2: the challenge encrypted by the host.
  if (response !== undefined && response.length > 0 && witness === undefined && challenge === undefined) {
    const expected = ctx.volatile.pendingChallenge;
    ctx.volatile.pendingChallenge = undefined;
    if (!expected) fail(ctx, SW.CONDITIONS_NOT_SATISFIED, 'no challenge outstanding');
    if (response.length !== block) fail(ctx, SW.INCORRECT_DATA, 'response of the wrong length');
    // Compare ciphertexts via decryption so the check does not depend on which side encrypts.
    if (!bytesEqual(decryptBlock(algorithm, key, response), expected)) fail(ctx, SW.SECURITY_STATUS_NOT_SATISFIED, 'wrong management key');
    ctx.touch(stored.touchRequired ? TOUCH_POLICY.ALWAYS : TOUCH_POLICY.NEVER);
    ctx.volatile.managementAuthenticated = true;
    return new Uint8Array(0);
  }
  return fail(ctx, SW.INCORRECT_DATA, 'unrecognised GENERAL AUTHENTICATE template');
}

/** SET MANAGEMENT KEY: `00 FF FF <FF|FE> <alg> 9B <len> <key>`. */
export const setManagementKey: InstructionHandler = (ctx, cmd) => {
  ctx.requireManagementKey();
  if (cmd.p1 !== 0xff || (cmd.p2 !== 0xff && cmd.p2 !== 0xfe)) throw new CardStatus(SW.INCORRECT_P1P2);
  const data = cmd.data;
  if (data.length < 3 || data[1] !== REF.MANAGEMENT_KEY) throw new CardStatus(SW.INCORRECT_DATA);
  const algorithm = managementKeyAlgorithmById(data[0]!);
  if (!algorithm) throw new CardStatus(SW.INCORRECT_DATA, 'unknown management key algorithm');
  if (algorithm.name !== 'TDES' && !ctx.has('aes-management-key')) throw new CardStatus(SW.INCORRECT_DATA, 'AES needs firmware 5.4');
  const key = data.subarray(3);
  if (data[2] !== key.length || key.length !== algorithm.keyLength) throw new CardStatus(SW.INCORRECT_DATA, 'key length');
  ctx.state.managementKey = { algorithm: algorithm.id, keyHex: toHex(key), touchRequired: cmd.p2 === 0xfe };
  ctx.markChanged();
  return new Uint8Array(0);
};

export function parseTemplate(data: Uint8Array): Map<number, Uint8Array> {
  if (data[0] !== TAG_TEMPLATE) throw new CardStatus(SW.INCORRECT_DATA, 'GENERAL AUTHENTICATE needs a 7C template');
  try {
    const outer = parseTlvMap(data);
    return parseTlvMap(outer.get(TAG_TEMPLATE)!);
  } catch {
    throw new CardStatus(SW.INCORRECT_DATA, 'malformed 7C template');
  }
}
