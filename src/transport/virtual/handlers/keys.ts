/**
 * The virtual card's asymmetric keys: GENERATE, IMPORT, GENERAL AUTHENTICATE with a key slot
 * (sign, decrypt, key agreement), ATTEST, MOVE/DELETE and GET METADATA.
 */
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { decodeCertificateObject } from '../../../bytes/certificate-object.js';
import { fromHex, toHex, uintBytes } from '../../../bytes/hex.js';
import { encodeTlv, encodeTlvs, parseTlvMap, unwrapTlv } from '../../../bytes/tlv.js';
import {
  CURVE_FIELD_BYTES,
  ecPrivateKeyFromScalar,
  ecPublicPoint,
  okpPrivateKeyFromRaw,
  okpPublicRaw,
  rsaPrivateKeyFromCrt,
  rsaPublicComponents,
  RSA_PUBLIC_EXPONENT,
} from '../../../crypto/keys.js';
import { keyAlgorithmById, managementKeyAlgorithmById, type KeyAlgorithmInfo } from '../../../standards/algorithms.js';
import { FACTORY_MANAGEMENT_KEY_HEX, FACTORY_PIN, FACTORY_PUK } from '../../../standards/factory-defaults.js';
import { featuresForKeyAlgorithm } from '../../../standards/firmware.js';
import { defaultPinPolicy, PIN_POLICY, TOUCH_POLICY } from '../../../standards/policies.js';
import { REF, SLOT, isKeySlot } from '../../../standards/references.js';
import { OBJECT } from '../../../standards/objects.js';
import { SW } from '../../../standards/status-words.js';
import { attestSlot } from '../attestation.js';
import { CardCryptoInputError, ecdsaSignDigest, ed25519Sign, keyAgreement, rawRsa } from '../card-crypto.js';
import { CardStatus, type CardContext, type InstructionHandler } from '../card-context.js';
import { decodePrivateKey, encodePrivateKey, objectKey, slotKey, type KeySlotState, padCredential } from '../card-state.js';
import { authenticateManagementKey, parseTemplate } from './management-key.js';

const NO_DATA = new Uint8Array(0);
const TAG_PUBLIC_KEY = 0x7f49;

/** Slots that GENERATE may fill: the four standard ones and the twenty retired ones. F9 only takes imports. */
function isGenerationSlot(slot: number): boolean {
  return isKeySlot(slot) && slot !== SLOT.ATTESTATION;
}

function supportedAlgorithm(ctx: CardContext, id: number): KeyAlgorithmInfo {
  const algorithm = keyAlgorithmById(id);
  if (!algorithm || !featuresForKeyAlgorithm(algorithm.name).every((f) => ctx.has(f))) {
    throw new CardStatus(SW.INCORRECT_DATA, 'algorithm not supported by this firmware');
  }
  return algorithm;
}

function resolvePolicies(ctx: CardContext, slot: number, pin: number | undefined, touch: number | undefined): { pinPolicy: number; touchPolicy: number } {
  const explicit = (pin !== undefined && pin !== PIN_POLICY.DEFAULT) || (touch !== undefined && touch !== TOUCH_POLICY.DEFAULT);
  if (explicit && !ctx.has('pin-touch-policy')) throw new CardStatus(SW.INCORRECT_DATA, 'policies need firmware 4.0');
  // MATCH_* policies are for the YubiKey Bio, which this card is not.
  if (pin !== undefined && pin > PIN_POLICY.ALWAYS) throw new CardStatus(SW.INCORRECT_DATA, 'PIN policy not supported');
  if (touch !== undefined && touch > TOUCH_POLICY.CACHED) throw new CardStatus(SW.INCORRECT_DATA, 'touch policy not supported');
  if (touch === TOUCH_POLICY.CACHED && !ctx.has('touch-cached')) throw new CardStatus(SW.INCORRECT_DATA, 'cached touch needs firmware 4.3');
  return {
    pinPolicy: pin === undefined || pin === PIN_POLICY.DEFAULT ? defaultPinPolicy(slot) : pin,
    touchPolicy: touch === undefined || touch === TOUCH_POLICY.DEFAULT ? TOUCH_POLICY.NEVER : touch,
  };
}

function singleByte(value: Uint8Array | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (value.length !== 1) throw new CardStatus(SW.INCORRECT_DATA, 'policy must be one byte');
  return value[0];
}

/** Public key TLVs as the card returns them: RSA `81 n 82 e`, the others `86 point`. */
export function publicKeyTlvs(algorithm: KeyAlgorithmInfo, publicKey: KeyObject): Uint8Array {
  switch (algorithm.kind) {
    case 'rsa': {
      const { modulus, exponent } = rsaPublicComponents(publicKey);
      return encodeTlvs([[0x81, modulus], [0x82, exponent]]);
    }
    case 'ec':
      return encodeTlv(0x86, ecPublicPoint(publicKey, algorithm.curve!));
    default:
      return encodeTlv(0x86, okpPublicRaw(publicKey));
  }
}

function storeKey(ctx: CardContext, slot: number, entry: KeySlotState): void {
  ctx.state.keys[slotKey(slot)] = entry;
  ctx.markChanged();
}

function keyIn(ctx: CardContext, slot: number): KeySlotState | undefined {
  return ctx.state.keys[slotKey(slot)];
}

export const generateKey: InstructionHandler = (ctx, cmd) => {
  if (cmd.p1 !== 0x00) throw new CardStatus(SW.INCORRECT_P1P2);
  if (!isGenerationSlot(cmd.p2)) throw new CardStatus(SW.WRONG_P1P2, 'not a key slot');
  ctx.requireManagementKey();
  let control: Map<number, Uint8Array>;
  try {
    control = parseTlvMap(unwrapTlv(cmd.data, 0xac));
  } catch {
    throw new CardStatus(SW.INCORRECT_DATA, 'GENERATE needs an AC template');
  }
  const algorithmId = control.get(0x80);
  if (algorithmId?.length !== 1) throw new CardStatus(SW.INCORRECT_DATA, 'algorithm missing');
  const algorithm = supportedAlgorithm(ctx, algorithmId[0]!);
  if (algorithm.kind === 'rsa' && !ctx.has('rsa-generation')) throw new CardStatus(SW.INCORRECT_DATA, 'RSA generation disabled (ROCA)');
  const policies = resolvePolicies(ctx, cmd.p2, singleByte(control.get(0xaa)), singleByte(control.get(0xab)));
  const { privateKey, publicKey } = ctx.deps.generateKeyPair(algorithm);
  storeKey(ctx, cmd.p2, { algorithm: algorithm.id, privateKeyPkcs8: encodePrivateKey(privateKey), ...policies, origin: 'generated' });
  return encodeTlv(TAG_PUBLIC_KEY, publicKeyTlvs(algorithm, publicKey));
};

function importedPrivateKey(algorithm: KeyAlgorithmInfo, parts: Map<number, Uint8Array>): KeyObject {
  const part = (tag: number, length: number): Uint8Array => {
    const value = parts.get(tag);
    if (value === undefined || value.length === 0 || value.length > length) throw new CardStatus(SW.INCORRECT_DATA, `key part ${tag} missing or too long`);
    const padded = new Uint8Array(length);
    padded.set(value, length - value.length);
    return padded;
  };
  try {
    switch (algorithm.kind) {
      case 'rsa': {
        const half = algorithm.bits / 16;
        const key = rsaPrivateKeyFromCrt({
          p: part(0x01, half),
          q: part(0x02, half),
          dp: part(0x03, half),
          dq: part(0x04, half),
          qi: part(0x05, half),
          e: uintBytes(RSA_PUBLIC_EXPONENT, 3),
        });
        if (key.asymmetricKeyDetails?.modulusLength !== algorithm.bits) throw new CardStatus(SW.INCORRECT_DATA, 'modulus size does not match');
        return key;
      }
      case 'ec':
        return ecPrivateKeyFromScalar(algorithm.curve!, part(0x06, CURVE_FIELD_BYTES[algorithm.curve!]));
      case 'ed25519':
        return okpPrivateKeyFromRaw('ed25519', part(0x07, 32));
      case 'x25519':
        return okpPrivateKeyFromRaw('x25519', part(0x08, 32));
    }
  } catch (error) {
    if (error instanceof CardStatus) throw error;
    throw new CardStatus(SW.INCORRECT_DATA, 'inconsistent key');
  }
}

export const importKey: InstructionHandler = (ctx, cmd) => {
  if (!isKeySlot(cmd.p2)) throw new CardStatus(SW.WRONG_P1P2, 'not a key slot');
  ctx.requireManagementKey();
  const algorithm = supportedAlgorithm(ctx, cmd.p1);
  let parts: Map<number, Uint8Array>;
  try {
    parts = parseTlvMap(cmd.data);
  } catch {
    throw new CardStatus(SW.INCORRECT_DATA, 'malformed key TLVs');
  }
  const privateKey = importedPrivateKey(algorithm, parts);
  const policies = resolvePolicies(ctx, cmd.p2, singleByte(parts.get(0xaa)), singleByte(parts.get(0xab)));
  storeKey(ctx, cmd.p2, { algorithm: algorithm.id, privateKeyPkcs8: encodePrivateKey(privateKey), ...policies, origin: 'imported' });
  return NO_DATA;
};

/** PIN and touch policy gate for one private-key operation. One VERIFY covers one use for PIN-always keys. */
function authorizeKeyUse(ctx: CardContext, entry: KeySlotState): void {
  const policy = entry.pinPolicy;
  if (policy === PIN_POLICY.ONCE || policy === PIN_POLICY.MATCH_ONCE) ctx.requirePin();
  if (policy === PIN_POLICY.ALWAYS || policy === PIN_POLICY.MATCH_ALWAYS) {
    if (!ctx.volatile.pinVerified || !ctx.volatile.pinFreshForAlways) {
      throw new CardStatus(SW.SECURITY_STATUS_NOT_SATISFIED, 'PIN-always key needs a VERIFY right before');
    }
  }
  ctx.touch(entry.touchPolicy);
  ctx.volatile.pinFreshForAlways = false;
}

function corrupt(signature: Uint8Array): Uint8Array {
  const copy = signature.slice();
  copy[copy.length - 1]! ^= 0x01;
  return copy;
}

function usePrivateKey(ctx: CardContext, slot: number, p1: number, template: Map<number, Uint8Array>): Uint8Array {
  const entry = keyIn(ctx, slot);
  if (!entry || entry.algorithm !== p1) throw new CardStatus(SW.INCORRECT_DATA, 'no key of that algorithm in the slot');
  const algorithm = keyAlgorithmById(entry.algorithm)!;
  const response = template.get(0x82);
  const challenge = template.get(0x81);
  const peer = template.get(0x85);
  if (response?.length !== 0 || (challenge === undefined) === (peer === undefined)) {
    throw new CardStatus(SW.INCORRECT_DATA, 'template must hold 82 00 and one of 81 or 85');
  }
  const key = decodePrivateKey(entry);
  const corruptSignatures = ctx.faults.has('corrupt-signature');
  try {
    if (challenge !== undefined) {
      let signature: Uint8Array;
      switch (algorithm.kind) {
        case 'rsa':
          authorizeKeyUse(ctx, entry);
          signature = rawRsa(key, challenge, algorithm.bits / 8);
          break;
        case 'ec':
          authorizeKeyUse(ctx, entry);
          // A corrupt signer signs a different digest: the signature parses, but does not verify.
          signature = ecdsaSignDigest(key, algorithm.curve!, corruptSignatures ? corrupt(challenge) : challenge);
          return encodeTlv(0x7c, encodeTlv(0x82, signature));
        case 'ed25519':
          authorizeKeyUse(ctx, entry);
          signature = ed25519Sign(key, challenge);
          break;
        case 'x25519':
          throw new CardStatus(SW.INCORRECT_DATA, 'X25519 keys cannot sign');
      }
      return encodeTlv(0x7c, encodeTlv(0x82, corruptSignatures ? corrupt(signature) : signature));
    }
    if (algorithm.kind !== 'ec' && algorithm.kind !== 'x25519') throw new CardStatus(SW.INCORRECT_DATA, 'key agreement needs an EC or X25519 key');
    authorizeKeyUse(ctx, entry);
    return encodeTlv(0x7c, encodeTlv(0x82, keyAgreement(key, algorithm, peer!)));
  } catch (error) {
    if (error instanceof CardCryptoInputError) throw new CardStatus(SW.INCORRECT_DATA, error.message);
    throw error;
  }
}

export const generalAuthenticate: InstructionHandler = (ctx, cmd) => {
  const template = parseTemplate(cmd.data);
  if (cmd.p2 === REF.MANAGEMENT_KEY) {
    if (!managementKeyAlgorithmById(cmd.p1)) throw new CardStatus(SW.INCORRECT_DATA, 'unknown management key algorithm');
    return authenticateManagementKey(ctx, cmd.p1, template);
  }
  if (!isKeySlot(cmd.p2)) throw new CardStatus(SW.WRONG_P1P2, 'not a key slot');
  return usePrivateKey(ctx, cmd.p2, cmd.p1, template);
};

export const attest: InstructionHandler = async (ctx, cmd) => {
  ctx.requireFeature('attestation');
  if (!isGenerationSlot(cmd.p1) || cmd.p2 !== 0x00) throw new CardStatus(SW.WRONG_P1P2, 'not a key slot');
  const entry = keyIn(ctx, cmd.p1);
  if (!entry || entry.origin !== 'generated') throw new CardStatus(SW.INCORRECT_DATA, 'only keys generated on the card can be attested');
  const attestationEntry = keyIn(ctx, SLOT.ATTESTATION);
  const certificateObject = ctx.state.objects[objectKey(OBJECT.ATTESTATION_CERTIFICATE)];
  const attestationCertificate = certificateObject ? certificateFromObject(fromHex(certificateObject)) : undefined;
  if (!attestationEntry || !attestationCertificate) throw new CardStatus(SW.INCORRECT_DATA, 'no attestation key or certificate');
  const privateKey = decodePrivateKey(entry);
  const serialNumber = ctx.deps.random(16);
  serialNumber[0]! &= 0x7f;
  const certificate = await attestSlot({
    slot: cmd.p1,
    // Faults (tests only): a tampered attestation, as a counterfeit or replayed one would be.
    publicKey: ctx.faults.has('attest-other-key') ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey : createPublicKey(privateKey),
    pinPolicy: entry.pinPolicy,
    touchPolicy: entry.touchPolicy,
    firmware: ctx.firmware,
    serial: ctx.faults.has('attest-other-serial') ? ctx.state.serial + 1 : ctx.state.serial,
    formFactor: ctx.state.formFactor,
    attestationKey: decodePrivateKey(attestationEntry),
    attestationCertificate,
    serialNumber,
  });
  if (ctx.faults.has('attest-broken-signature')) certificate[certificate.length - 3]! ^= 0x01; // inside the signature value, the last field
  return certificate;
};

/** The DER certificate inside a stored `70 … 71 … FE …` object content. */
function certificateFromObject(content: Uint8Array): Uint8Array | undefined {
  try {
    return decodeCertificateObject(content).der;
  } catch {
    return undefined;
  }
}

/** P1 of MOVE KEY that means "delete the key in P2" (yubikit/piv.py delete_key, ykpiv_move_key). */
const DELETE_KEY_DESTINATION = 0xff;

/**
 * MOVE KEY / DELETE KEY (5.7) `00 F6 <to | FF> <from>`, no data. Before 5.7 the instruction does not exist (6D00).
 * Checks in a YubiKey's order: no data (6700), slots (6A86), management key (6982), a key in the source (6A88),
 * an empty destination (6A80, which ykman reports as "DEST slot is not empty"). The key moves with everything
 * its metadata says (algorithm, policies, origin: yubikit's tests compare the metadata before and after), so a
 * key generated on the card can still be attested in its new slot. Certificates stay where they are
 * (yubico-piv-tool doc/Actions/key_move.adoc: "moves only the key, not the certificate").
 */
export const moveKey: InstructionHandler = (ctx, cmd) => {
  ctx.requireFeature('move-delete-key');
  if (cmd.data.length !== 0) throw new CardStatus(SW.WRONG_LENGTH, 'MOVE KEY takes no data');
  const [to, from] = [cmd.p1, cmd.p2];
  if (!isKeySlot(from) || (to !== DELETE_KEY_DESTINATION && (!isGenerationSlot(to) || to === from))) throw new CardStatus(SW.INCORRECT_P1P2);
  ctx.requireManagementKey();
  const entry = keyIn(ctx, from);
  if (!entry) throw new CardStatus(SW.REFERENCE_NOT_FOUND, 'no key in the source slot');
  if (to !== DELETE_KEY_DESTINATION) {
    if (from === SLOT.ATTESTATION) throw new CardStatus(SW.INCORRECT_P1P2, 'the attestation key cannot be moved');
    if (keyIn(ctx, to)) throw new CardStatus(SW.INCORRECT_DATA, 'destination slot is not empty');
    ctx.state.keys[slotKey(to)] = entry;
  }
  delete ctx.state.keys[slotKey(from)];
  ctx.markChanged();
  return NO_DATA;
};

export const getMetadata: InstructionHandler = (ctx, cmd) => {
  ctx.requireFeature('metadata');
  if (cmd.p1 !== 0x00) throw new CardStatus(SW.INCORRECT_P1P2);
  const ref = cmd.p2;
  if (ref === REF.PIN || ref === REF.PUK) {
    const credential = ref === REF.PIN ? ctx.state.pin : ctx.state.puk;
    const isDefault = credential.paddedHex === toHex(padCredential(ref === REF.PIN ? FACTORY_PIN : FACTORY_PUK));
    return encodeTlvs([
      [0x01, Uint8Array.of(0xff)],
      [0x05, Uint8Array.of(isDefault ? 1 : 0)],
      [0x06, Uint8Array.of(credential.retriesTotal, credential.retriesLeft)],
    ]);
  }
  if (ref === REF.MANAGEMENT_KEY) {
    const key = ctx.state.managementKey;
    return encodeTlvs([
      [0x01, Uint8Array.of(key.algorithm)],
      [0x02, Uint8Array.of(0x00, key.touchRequired ? TOUCH_POLICY.ALWAYS : TOUCH_POLICY.NEVER)],
      [0x05, Uint8Array.of(key.keyHex === FACTORY_MANAGEMENT_KEY_HEX ? 1 : 0)],
    ]);
  }
  const entry = isKeySlot(ref) ? keyIn(ctx, ref) : undefined;
  if (!entry) throw new CardStatus(SW.REFERENCE_NOT_FOUND, 'no key in that slot');
  const algorithm = keyAlgorithmById(entry.algorithm)!;
  return encodeTlvs([
    [0x01, Uint8Array.of(entry.algorithm)],
    [0x02, Uint8Array.of(entry.pinPolicy, entry.touchPolicy)],
    [0x03, Uint8Array.of(entry.origin === 'generated' ? 1 : 2)],
    [0x04, publicKeyTlvs(algorithm, createPublicKey(decodePrivateKey(entry)))],
  ]);
};
