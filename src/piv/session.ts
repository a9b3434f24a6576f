/**
 * A PIV session with a YubiKey (or any PIV card): one method per instruction, typed results, typed errors.
 * Nothing here prints or prompts; secrets come in as arguments and are wiped from buffers after use.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import type { CommandApdu, ResponseApdu } from '../bytes/apdu.js';
import { decodeCertificateObject, encodeCertificateObject } from '../bytes/certificate-object.js';
import { MalformedDataError } from '../bytes/errors.js';
import { DEFAULT_FRAMING, transceive, type FramingOptions } from '../bytes/framing.js';
import { bytesEqual, concatBytes, readUint, wipe } from '../bytes/hex.js';
import { encodeTlv, encodeTlvs, parseTlvMap, requireTag, unwrapTlv, unwrapLeadingTlv } from '../bytes/tlv.js';
import { decryptBlock, encryptBlock } from '../crypto/management-key-cipher.js';
import { CURVE_FIELD_BYTES, describeKey, ecPrivateScalar, ecPublicPoint, fixedLength, okpPrivateRaw, okpPublicRaw, rsaPrivateComponents } from '../crypto/keys.js';
import { digest, DIGEST_LENGTH, digestInfo, pkcs1v15SignatureBlock, type HashName } from '../crypto/pkcs1.js';
import type { CardTransport } from '../transport/transport.js';
import { managementKeyAlgorithmByName, type KeyAlgorithmInfo, type ManagementKeyAlgorithmInfo } from '../standards/algorithms.js';
import { atLeast, hasFeature, type FirmwareVersion } from '../standards/firmware.js';
import { INS, PIV_AID_SHORT } from '../standards/instructions.js';
import { certificateObjectForSlot, OBJECT, objectIdBytes, TAG_DATA_OBJECT, TAG_OBJECT_ID } from '../standards/objects.js';
import { PIN_POLICY, TOUCH_POLICY } from '../standards/policies.js';
import { REF, SLOT, isKeySlot, slotHex } from '../standards/references.js';
import { SW } from '../standards/status-words.js';
import { requireFeature, requireKeyAlgorithm, requireKeyGeneration, requireManagementKeyAlgorithm, requirePolicies } from './capabilities.js';
import { encodeCcc, encodeChuid } from './chuid.js';
import { ApplicationNotFoundError, InvalidDataError, ManagementKeyError, NotFoundError, NotSupportedError, SecurityStatusError } from './errors.js';
import { parseManagementKeyMetadata, parsePinMetadata, parseSlotMetadata, type ManagementKeyMetadata, type PinMetadata, type SlotMetadata } from './metadata.js';
import { parseCardPublicKey } from './public-key.js';
import { CredentialGuard } from './pin-guard.js';
import { FACTORY_PIN, FACTORY_PUK } from '../standards/factory-defaults.js';
import { errorForStatus, type StatusContext } from './status-translation.js';

export interface SessionOptions {
  /** APDU format: extended length where the link and firmware allow it (as ykman does), or short + chaining. */
  apduFormat?: 'auto' | 'short' | 'extended';
  /** Randomness for challenges, GUIDs and card identifiers; injectable for known-answer tests. */
  random?: (length: number) => Uint8Array;
  /** Let the PIN/PUK guard use the last try (a wrong value then blocks the credential). Default: refused. */
  allowLastPinTry?: boolean;
}

export interface SelectInfo {
  /** The PIX (application identifier without RID) the card reports. */
  pix: Uint8Array;
}

export interface KeyPolicy {
  pinPolicy?: number;
  touchPolicy?: number;
}

/** Which SSH/X.509 hashes a signature may use. */
export type SignatureHash = HashName;

const MIN_PIN_LENGTH = 6;
const MAX_PIN_LENGTH = 8;

/** The PIN/PUK as the card wants it: up to 8 bytes, padded with FF. */
export function encodePin(value: string, minLength: number, what: string): Uint8Array {
  const bytes = new TextEncoder().encode(value);
  if (bytes.length < minLength || bytes.length > MAX_PIN_LENGTH) {
    throw new InvalidDataError(`${what} must be ${minLength === MAX_PIN_LENGTH ? MAX_PIN_LENGTH : `${minLength} to ${MAX_PIN_LENGTH}`} bytes long`);
  }
  const padded = new Uint8Array(8).fill(0xff);
  padded.set(bytes);
  wipe(bytes);
  return padded;
}

export class PivSession {
  private framing: FramingOptions = DEFAULT_FRAMING;
  private readonly random: (length: number) => Uint8Array;
  private managementKeyAlgorithmCache: ManagementKeyAlgorithmInfo | undefined;
  /** Every PIN and PUK try goes through these (pin-guard.ts). */
  private readonly pinGuard: CredentialGuard;
  private readonly pukGuard: CredentialGuard;

  private constructor(
    readonly transport: CardTransport,
    readonly version: FirmwareVersion,
    readonly selectInfo: SelectInfo,
    options: SessionOptions,
  ) {
    this.random = options.random ?? ((n) => new Uint8Array(randomBytes(n)));
    this.pinGuard = new CredentialGuard('PIN', () => this.getPinAttempts(), options.allowLastPinTry ?? false);
    // Before metadata (5.3) a card cannot tell the PUK tries without using one: then nothing is known to refuse.
    this.pukGuard = new CredentialGuard('PUK', async () => (hasFeature(this.version, 'metadata') ? (await this.getPukMetadata()).attemptsRemaining : undefined), options.allowLastPinTry ?? false);
    const format = options.apduFormat ?? 'auto';
    const extended = format === 'extended' || (format === 'auto' && transport.supportsExtendedLength && atLeast(version, 4, 0, 0));
    // Firmware before 4.3 takes at most 2048-byte APDUs (ykman's _MaxApduSize.YK4).
    this.framing = { ...DEFAULT_FRAMING, extended, maxExtendedData: (atLeast(version, 4, 3, 0) ? 3062 : 2048) - 7 };
  }

  /** Selects the PIV application and reads the firmware version. */
  static async open(transport: CardTransport, options: SessionOptions = {}): Promise<PivSession> {
    const raw = (command: CommandApdu): Promise<ResponseApdu> => transceive((apdu) => transport.transmit(apdu), command);
    const selected = await raw({ cla: 0, ins: INS.SELECT, p1: 0x04, p2: 0x00, data: PIV_AID_SHORT });
    if (selected.sw !== SW.SUCCESS) throw new ApplicationNotFoundError(`${transport.name}: the card has no PIV application (SELECT answered ${selected.sw.toString(16).toUpperCase()})`);
    const selectInfo = parseSelectResponse(selected.data);
    const version = await raw({ cla: 0, ins: INS.GET_VERSION, p1: 0, p2: 0 });
    if (version.sw !== SW.SUCCESS || version.data.length !== 3) {
      throw new MalformedDataError(`${transport.name}: GET VERSION did not return 3 bytes; not a YubiKey-compatible PIV card`);
    }
    const [major, minor, patch] = version.data;
    return new PivSession(transport, { major: major!, minor: minor!, patch: patch! }, selectInfo, options);
  }

  get usesExtendedApdus(): boolean {
    return this.framing.extended;
  }

  /** Runs `work` inside one exclusive transaction on the card. */
  transaction<T>(work: () => Promise<T>): Promise<T> {
    return this.transport.transaction(work);
  }

  /** Sends a command; returns the data on 9000, throws the typed error otherwise. */
  private async send(ins: number, p1: number, p2: number, data: Uint8Array | undefined, context: StatusContext): Promise<Uint8Array> {
    const response = await transceive((apdu) => this.transport.transmit(apdu), { cla: 0, ins, p1, p2, data }, this.framing);
    if (response.sw !== SW.SUCCESS) throw errorForStatus(response.sw, context);
    return response.data;
  }

  /** SELECT again: clears PIN and management-key state on the card. */
  async reselect(): Promise<void> {
    await this.send(INS.SELECT, 0x04, 0x00, PIV_AID_SHORT, { what: 'selecting the PIV application' });
    this.managementKeyAlgorithmCache = undefined;
  }

  async getSerial(): Promise<number> {
    requireFeature(this.version, 'serial');
    const data = await this.send(INS.GET_SERIAL, 0, 0, undefined, { what: 'reading the serial number' });
    if (data.length !== 4) throw new MalformedDataError(`GET SERIAL returned ${data.length} bytes`);
    return readUint(data);
  }

  // ---- metadata ----

  private async getMetadata(reference: number, what: string): Promise<Uint8Array> {
    requireFeature(this.version, 'metadata');
    return this.send(INS.GET_METADATA, 0, reference, undefined, { what });
  }

  async getPinMetadata(): Promise<PinMetadata> {
    return parsePinMetadata(await this.getMetadata(REF.PIN, 'reading PIN metadata'));
  }

  async getPukMetadata(): Promise<PinMetadata> {
    return parsePinMetadata(await this.getMetadata(REF.PUK, 'reading PUK metadata'));
  }

  async getManagementKeyMetadata(): Promise<ManagementKeyMetadata> {
    const metadata = parseManagementKeyMetadata(await this.getMetadata(REF.MANAGEMENT_KEY, 'reading management key metadata'));
    this.managementKeyAlgorithmCache = metadata.algorithm;
    return metadata;
  }

  /** Metadata of a key slot; NotFoundError when the slot is empty. */
  async getSlotMetadata(slot: number): Promise<SlotMetadata> {
    requireKeySlot(slot, true);
    return parseSlotMetadata(await this.getMetadata(slot, `reading metadata of slot ${slotHex(slot)}`));
  }

  /** The management key algorithm: from metadata where the firmware has it, else TDES (the only one before 5.4). */
  async getManagementKeyAlgorithm(): Promise<ManagementKeyAlgorithmInfo> {
    if (!this.managementKeyAlgorithmCache) {
      this.managementKeyAlgorithmCache = hasFeature(this.version, 'metadata')
        ? (await this.getManagementKeyMetadata()).algorithm
        : managementKeyAlgorithmByName('TDES')!;
    }
    return this.managementKeyAlgorithmCache;
  }

  // ---- PIN and PUK ----

  /** VERIFY, through the PIN guard: the tries are read first, the last one is not used unless allowed. */
  async verifyPin(pin: string): Promise<void> {
    const padded = encodePin(pin, 1, 'the PIN');
    try {
      await this.pinGuard.attempt(pin, () => this.send(INS.VERIFY, 0, REF.PIN, padded, { what: 'verifying the PIN', credential: 'PIN' }));
    } finally {
      wipe(padded);
    }
  }

  /** PIN tries left, without using one. undefined when the PIN is verified and the firmware has no metadata. */
  async getPinAttempts(): Promise<number | undefined> {
    if (hasFeature(this.version, 'metadata')) return (await this.getPinMetadata()).attemptsRemaining;
    const response = await transceive((apdu) => this.transport.transmit(apdu), { cla: 0, ins: INS.VERIFY, p1: 0, p2: REF.PIN }, this.framing);
    if (response.sw === SW.SUCCESS) return undefined;
    if ((response.sw & 0xfff0) === SW.VERIFY_FAIL_PREFIX) return response.sw & 0x0f;
    if (response.sw === SW.AUTH_METHOD_BLOCKED) return 0;
    throw errorForStatus(response.sw, { what: 'reading PIN tries' });
  }

  /** Whether the PIN is currently verified (empty VERIFY; uses no try). */
  async isPinVerified(): Promise<boolean> {
    const response = await transceive((apdu) => this.transport.transmit(apdu), { cla: 0, ins: INS.VERIFY, p1: 0, p2: REF.PIN }, this.framing);
    return response.sw === SW.SUCCESS;
  }

  /** Forgets the PIN verification (firmware 5.4.3+). */
  async logoutPin(): Promise<void> {
    requireFeature(this.version, 'pin-logout');
    await this.send(INS.VERIFY, 0xff, REF.PIN, undefined, { what: 'logging out the PIN' });
  }

  private async changeReference(ins: number, p2: number, current: Uint8Array, replacement: Uint8Array, context: StatusContext): Promise<void> {
    const data = concatBytes(current, replacement);
    try {
      await this.send(ins, 0, p2, data, context);
    } finally {
      wipe(data);
      wipe(current);
      wipe(replacement);
    }
  }

  /** CHANGE REFERENCE of the PIN: the current PIN is a try, so it goes through the PIN guard. */
  async changePin(oldPin: string, newPin: string): Promise<void> {
    const change = (): Promise<void> =>
      this.changeReference(INS.CHANGE_REFERENCE, REF.PIN, encodePin(oldPin, 1, 'the current PIN'), encodePin(newPin, MIN_PIN_LENGTH, 'the new PIN'), { what: 'changing the PIN', credential: 'PIN' });
    await this.pinGuard.attempt(oldPin, change);
    this.pinGuard.replaced(newPin);
  }

  async changePuk(oldPuk: string, newPuk: string): Promise<void> {
    const change = (): Promise<void> =>
      this.changeReference(INS.CHANGE_REFERENCE, REF.PUK, encodePin(oldPuk, 1, 'the current PUK'), encodePin(newPuk, MIN_PIN_LENGTH, 'the new PUK'), { what: 'changing the PUK', credential: 'PUK' });
    await this.pukGuard.attempt(oldPuk, change);
    this.pukGuard.replaced(newPuk);
  }

  /** RESET RETRY: sets a new PIN with the PUK, unblocking it. The PUK is a try, so it goes through the PUK guard. */
  async unblockPin(puk: string, newPin: string): Promise<void> {
    const unblock = (): Promise<void> =>
      this.changeReference(INS.RESET_RETRY, REF.PIN, encodePin(puk, 1, 'the PUK'), encodePin(newPin, MIN_PIN_LENGTH, 'the new PIN'), { what: 'unblocking the PIN', credential: 'PUK' });
    await this.pukGuard.attempt(puk, unblock);
    this.pinGuard.replaced(newPin);
  }

  /** Sets PIN and PUK retry counts. Needs management key and PIN; resets PIN and PUK to their defaults. */
  async setPinRetries(pinRetries: number, pukRetries: number): Promise<void> {
    for (const [name, value] of [['PIN', pinRetries], ['PUK', pukRetries]] as const) {
      if (!Number.isInteger(value) || value < 1 || value > 255) throw new InvalidDataError(`${name} retries must be 1 to 255`);
    }
    await this.send(INS.SET_PIN_RETRIES, pinRetries, pukRetries, undefined, {
      what: 'setting PIN and PUK retries',
      securityHint: 'authenticate with the management key and verify the PIN first',
    });
  }

  /** Resets the PIV application to factory state. The card allows it only with PIN and PUK both blocked. */
  async reset(): Promise<void> {
    await this.send(INS.RESET, 0, 0, undefined, { what: 'resetting the PIV application' });
    this.managementKeyAlgorithmCache = undefined;
    this.pinGuard.replaced(FACTORY_PIN);
    this.pukGuard.replaced(FACTORY_PUK);
  }

  /** Blocks PIN and PUK by using up their tries with wrong values, then resets, as ykman's `piv reset` does. */
  async blockAndReset(): Promise<void> {
    const wrong = new Uint8Array(8).fill(0xff); // an all-padding PIN can never be the right one
    for (let i = 0; i < 256; i++) {
      const r = await transceive((apdu) => this.transport.transmit(apdu), { cla: 0, ins: INS.VERIFY, p1: 0, p2: REF.PIN, data: wrong }, this.framing);
      // Only 63Cx with tries left goes on: blocked (6983, 63C0) or any other answer ends the loop (RESET then says why).
      if ((r.sw & 0xfff0) !== SW.VERIFY_FAIL_PREFIX || r.sw === (SW.VERIFY_FAIL_PREFIX | 0)) break;
    }
    const wrongPair = new Uint8Array(16).fill(0xff);
    for (let i = 0; i < 256; i++) {
      const r = await transceive((apdu) => this.transport.transmit(apdu), { cla: 0, ins: INS.RESET_RETRY, p1: 0, p2: REF.PIN, data: wrongPair }, this.framing);
      if ((r.sw & 0xfff0) !== SW.VERIFY_FAIL_PREFIX || r.sw === (SW.VERIFY_FAIL_PREFIX | 0)) break;
    }
    await this.reset();
  }

  // ---- management key ----

  /**
   * Mutual authentication with the management key: the card proves it holds the key too. The algorithm
   * comes from metadata where the firmware has it; a card answering 6A80 has a key of another algorithm.
   */
  async authenticate(managementKey: Uint8Array, algorithm?: ManagementKeyAlgorithmInfo): Promise<void> {
    const alg = await this.managementKeyAlgorithmFor(managementKey, algorithm);
    const step = (template: Uint8Array): Promise<Uint8Array> => this.managementKeyStep(alg, template);
    const step1 = await step(encodeTlv(0x7c, encodeTlv(0x80, new Uint8Array(0))));
    const encryptedWitness = requireTag(parseTlvMap(unwrapTlv(step1, 0x7c, 'authentication witness')), 0x80, 'authentication witness');
    if (encryptedWitness.length !== alg.blockLength) throw new MalformedDataError(`witness of ${encryptedWitness.length} bytes for ${alg.name}`);
    const witness = decryptBlock(alg, managementKey, encryptedWitness);
    const challenge = this.random(alg.blockLength);
    const step2 = await step(encodeTlv(0x7c, encodeTlvs([[0x80, witness], [0x81, challenge]])));
    const answer = requireTag(parseTlvMap(unwrapTlv(step2, 0x7c, 'authentication response')), 0x82, 'authentication response');
    if (!bytesEqual(answer, encryptBlock(alg, managementKey, challenge))) {
      throw new ManagementKeyError('the card did not prove it holds the same management key');
    }
  }

  /** External (one-way) authentication: the host proves the key; the card proves nothing (pivy, piv-tool). */
  async authenticateExternal(managementKey: Uint8Array, algorithm?: ManagementKeyAlgorithmInfo): Promise<void> {
    const alg = await this.managementKeyAlgorithmFor(managementKey, algorithm);
    const step1 = await this.managementKeyStep(alg, encodeTlv(0x7c, encodeTlv(0x81, new Uint8Array(0))));
    const challenge = requireTag(parseTlvMap(unwrapTlv(step1, 0x7c, 'authentication challenge')), 0x81, 'authentication challenge');
    if (challenge.length !== alg.blockLength) throw new MalformedDataError(`challenge of ${challenge.length} bytes for ${alg.name}`);
    await this.managementKeyStep(alg, encodeTlv(0x7c, encodeTlv(0x82, encryptBlock(alg, managementKey, challenge))));
  }

  private async managementKeyAlgorithmFor(key: Uint8Array, algorithm?: ManagementKeyAlgorithmInfo): Promise<ManagementKeyAlgorithmInfo> {
    const alg = algorithm ?? (await this.getManagementKeyAlgorithm());
    if (key.length !== alg.keyLength) {
      throw new ManagementKeyError(`the management key must be ${alg.keyLength} bytes for ${alg.name} (got ${key.length})`);
    }
    return alg;
  }

  /** One GENERAL AUTHENTICATE exchange with key reference 9B; 6982 and 6A80 mean a wrong key or key type. */
  private async managementKeyStep(alg: ManagementKeyAlgorithmInfo, template: Uint8Array): Promise<Uint8Array> {
    try {
      return await this.send(INS.GENERAL_AUTHENTICATE, alg.id, REF.MANAGEMENT_KEY, template, { what: 'authenticating with the management key' });
    } catch (error) {
      if (error instanceof SecurityStatusError) throw new ManagementKeyError('wrong management key');
      if (error instanceof InvalidDataError) throw new ManagementKeyError(`the card's management key is not ${alg.name}`);
      throw error;
    }
  }

  /** SET MANAGEMENT KEY (needs authentication). `requireTouch` makes every authentication need a touch. */
  async setManagementKey(algorithm: ManagementKeyAlgorithmInfo, key: Uint8Array, requireTouch = false): Promise<void> {
    requireManagementKeyAlgorithm(this.version, algorithm);
    if (key.length !== algorithm.keyLength) throw new InvalidDataError(`a ${algorithm.name} management key is ${algorithm.keyLength} bytes`);
    const data = concatBytes(Uint8Array.of(algorithm.id, REF.MANAGEMENT_KEY, key.length), key);
    try {
      await this.send(INS.SET_MANAGEMENT_KEY, 0xff, requireTouch ? 0xfe : 0xff, data, {
        what: 'setting the management key',
        securityHint: 'authenticate with the current management key first',
      });
    } finally {
      wipe(data);
    }
    this.managementKeyAlgorithmCache = algorithm;
  }

  // ---- keys ----

  async generateKey(slot: number, algorithm: KeyAlgorithmInfo, policy: KeyPolicy = {}): Promise<KeyObject> {
    requireKeySlot(slot, false);
    requireKeyGeneration(this.version, algorithm);
    const pinPolicy = policy.pinPolicy ?? PIN_POLICY.DEFAULT;
    const touchPolicy = policy.touchPolicy ?? TOUCH_POLICY.DEFAULT;
    requirePolicies(this.version, pinPolicy, touchPolicy);
    const control = encodeTlvs([
      [0x80, Uint8Array.of(algorithm.id)],
      pinPolicy !== PIN_POLICY.DEFAULT ? [0xaa, Uint8Array.of(pinPolicy)] : undefined,
      touchPolicy !== TOUCH_POLICY.DEFAULT ? [0xab, Uint8Array.of(touchPolicy)] : undefined,
    ]);
    const data = await this.send(INS.GENERATE_ASYMMETRIC, 0, slot, encodeTlv(0xac, control), {
      what: `generating a ${algorithm.name} key in slot ${slotHex(slot)}`,
      securityHint: 'authenticate with the management key first',
    });
    return parseCardPublicKey(algorithm, unwrapLeadingTlv(data, 0x7f49, 'generated public key'));
  }

  /** Imports a private key (RSA 1024–4096 with e = 65537, P-256, P-384, Ed25519, X25519). */
  async importKey(slot: number, privateKey: KeyObject, policy: KeyPolicy = {}): Promise<KeyAlgorithmInfo> {
    requireKeySlot(slot, true);
    const algorithm = describeKey(privateKey);
    if (!algorithm || privateKey.type !== 'private') throw new InvalidDataError('this key type cannot be stored on a PIV card');
    requireKeyAlgorithm(this.version, algorithm);
    const pinPolicy = policy.pinPolicy ?? PIN_POLICY.DEFAULT;
    const touchPolicy = policy.touchPolicy ?? TOUCH_POLICY.DEFAULT;
    requirePolicies(this.version, pinPolicy, touchPolicy);
    const parts = privateKeyTlvs(algorithm, privateKey);
    const data = concatBytes(
      parts,
      encodeTlvs([
        pinPolicy !== PIN_POLICY.DEFAULT ? [0xaa, Uint8Array.of(pinPolicy)] : undefined,
        touchPolicy !== TOUCH_POLICY.DEFAULT ? [0xab, Uint8Array.of(touchPolicy)] : undefined,
      ]),
    );
    try {
      await this.send(INS.IMPORT_KEY, algorithm.id, slot, data, {
        what: `importing a ${algorithm.name} key into slot ${slotHex(slot)}`,
        securityHint: 'authenticate with the management key first',
      });
    } finally {
      wipe(parts);
      wipe(data);
    }
    return algorithm;
  }

  /** Moves a key to an empty slot (firmware 5.7+). */
  async moveKey(from: number, to: number): Promise<void> {
    requireFeature(this.version, 'move-delete-key');
    requireKeySlot(from, true);
    requireKeySlot(to, false);
    if (from === to) throw new InvalidDataError(`a key cannot be moved onto its own slot (${slotHex(from)})`);
    await this.send(INS.MOVE_KEY, to, from, undefined, { what: `moving the key from ${slotHex(from)} to ${slotHex(to)}`, securityHint: 'authenticate with the management key first' });
  }

  /** Deletes the key in a slot (firmware 5.7+); its certificate, if any, stays. */
  async deleteKey(slot: number): Promise<void> {
    requireFeature(this.version, 'move-delete-key');
    requireKeySlot(slot, true);
    await this.send(INS.MOVE_KEY, 0xff, slot, undefined, { what: `deleting the key in ${slotHex(slot)}`, securityHint: 'authenticate with the management key first' });
  }

  /** Attestation certificate (DER) for a key generated on the card, signed by the card's F9 key. */
  async attest(slot: number): Promise<Uint8Array> {
    requireFeature(this.version, 'attestation');
    requireKeySlot(slot, false);
    const data = await this.send(INS.ATTEST, slot, 0, undefined, { what: `attesting slot ${slotHex(slot)}` }).catch((error: unknown) => {
      if (error instanceof InvalidDataError) throw new NotFoundError(`slot ${slotHex(slot)} holds no key generated on the card, so it cannot be attested`);
      throw error;
    });
    // Some cards wrap the certificate in tag 70; a YubiKey sends bare DER.
    return data[0] === 0x70 ? unwrapLeadingTlv(data, 0x70, 'attestation') : data;
  }

  /** The raw private-key operation: `input` is the whole block (RSA), digest (ECDSA) or message (Ed25519). */
  async privateKeyOperation(slot: number, algorithm: KeyAlgorithmInfo, input: Uint8Array, tag: 0x81 | 0x85 = 0x81): Promise<Uint8Array> {
    requireKeySlot(slot, true);
    const template = encodeTlv(0x7c, encodeTlvs([[0x82, new Uint8Array(0)], [tag, input]]));
    const data = await this.send(INS.GENERAL_AUTHENTICATE, algorithm.id, slot, template, {
      what: `using the key in slot ${slotHex(slot)}`,
      securityHint: 'the key needs the PIN verified (right before, for PIN policy ALWAYS) or a touch',
    }).catch((error: unknown) => {
      if (error instanceof InvalidDataError) throw new InvalidDataError(`slot ${slotHex(slot)} holds no ${algorithm.name} key, or the card refused the input`);
      throw error;
    });
    return requireTag(parseTlvMap(unwrapTlv(data, 0x7c, 'signature')), 0x82, 'signature');
  }

  /**
   * Signs `message` with the key in `slot`: RSA PKCS#1 v1.5 (the block built here), ECDSA over the
   * digest (DER signature), or Ed25519 over the message itself (hash ignored).
   */
  async sign(slot: number, algorithm: KeyAlgorithmInfo, message: Uint8Array, hash: SignatureHash = 'sha256'): Promise<Uint8Array> {
    if (algorithm.kind === 'ed25519') return this.privateKeyOperation(slot, algorithm, message);
    return this.signDigest(slot, algorithm, digest(hash, message), hash);
  }

  /** Signs a digest the caller computed (for PKCS#11-style and SSH-agent-style callers). */
  async signDigest(slot: number, algorithm: KeyAlgorithmInfo, messageDigest: Uint8Array, hash: SignatureHash): Promise<Uint8Array> {
    if (messageDigest.length !== DIGEST_LENGTH[hash]) throw new InvalidDataError(`a ${hash} digest is ${DIGEST_LENGTH[hash]} bytes`);
    switch (algorithm.kind) {
      case 'rsa': {
        const modulusBytes = algorithm.bits / 8;
        const signature = await this.privateKeyOperation(slot, algorithm, pkcs1v15SignatureBlock(digestInfo(hash, messageDigest), modulusBytes));
        // A card may drop leading zero bytes; SSH and X.509 want the full modulus length.
        return fixedLength(signature, modulusBytes);
      }
      case 'ec':
        // ECDSA uses the leftmost bits of the digest (FIPS 186-4 §6.4); truncate as ykman does.
        return this.privateKeyOperation(slot, algorithm, messageDigest.subarray(0, CURVE_FIELD_BYTES[algorithm.curve!]));
      default:
        throw new NotSupportedError(`${algorithm.name} keys do not sign digests`);
    }
  }

  /** ECDH / X25519 with the key in `slot`; `peer` is the other side's public key. */
  async calculateSecret(slot: number, algorithm: KeyAlgorithmInfo, peer: KeyObject): Promise<Uint8Array> {
    if (algorithm.kind !== 'ec' && algorithm.kind !== 'x25519') throw new NotSupportedError(`${algorithm.name} keys do not do key agreement`);
    const point = algorithm.kind === 'ec' ? ecPublicPoint(peer, algorithm.curve!) : okpPublicRaw(peer);
    return this.privateKeyOperation(slot, algorithm, point, 0x85);
  }

  // ---- data objects ----

  /** Object content (inside its 53 wrapper). NotFoundError when absent. */
  async getObject(objectId: number): Promise<Uint8Array> {
    const data = await this.send(INS.GET_DATA, 0x3f, 0xff, encodeTlv(TAG_OBJECT_ID, objectIdBytes(objectId)), {
      what: `reading object ${objectId.toString(16).toUpperCase()}`,
      securityHint: 'this object is only readable after the PIN is verified',
    });
    if (objectId === OBJECT.DISCOVERY) return data;
    return unwrapLeadingTlv(data, TAG_DATA_OBJECT, `object ${objectId.toString(16).toUpperCase()}`);
  }

  /** Writes (or, with undefined, deletes) an object. Needs management key authentication. */
  async putObject(objectId: number, content: Uint8Array | undefined): Promise<void> {
    const data = concatBytes(encodeTlv(TAG_OBJECT_ID, objectIdBytes(objectId)), encodeTlv(TAG_DATA_OBJECT, content ?? new Uint8Array(0)));
    await this.send(INS.PUT_DATA, 0x3f, 0xff, data, {
      what: `writing object ${objectId.toString(16).toUpperCase()}`,
      securityHint: 'authenticate with the management key first',
    });
  }

  async getCertificate(slot: number): Promise<Uint8Array> {
    return decodeCertificateObject(await this.getObject(certificateObjectFor(slot))).der;
  }

  async putCertificate(slot: number, der: Uint8Array, compress = false): Promise<void> {
    await this.putObject(certificateObjectFor(slot), encodeCertificateObject(der, compress));
  }

  async deleteCertificate(slot: number): Promise<void> {
    await this.putObject(certificateObjectFor(slot), undefined);
  }

  /** Writes a CHUID with a fresh random GUID (returned), so hosts that cache by GUID re-read the card. */
  async setChuid(guid: Uint8Array = this.random(16)): Promise<Uint8Array> {
    await this.putObject(OBJECT.CHUID, encodeChuid(guid));
    return guid;
  }

  async setCcc(cardIdentifier: Uint8Array = this.random(14)): Promise<void> {
    await this.putObject(OBJECT.CARD_CAPABILITY_CONTAINER, encodeCcc(cardIdentifier));
  }
}

function parseSelectResponse(data: Uint8Array): SelectInfo {
  if (data.length === 0) return { pix: new Uint8Array(0) };
  try {
    const template = parseTlvMap(unwrapTlv(data, 0x61, 'SELECT response'));
    return { pix: template.get(0x4f) ?? new Uint8Array(0) };
  } catch (error) {
    throw new MalformedDataError('the card answered SELECT with a malformed application template', { cause: error });
  }
}

function requireKeySlot(slot: number, allowAttestation = false): void {
  if (!isKeySlot(slot) || (!allowAttestation && slot === SLOT.ATTESTATION)) {
    throw new InvalidDataError(`${slot.toString(16).toUpperCase()} is not a PIV key slot`);
  }
}

function certificateObjectFor(slot: number): number {
  const objectId = certificateObjectForSlot(slot);
  if (objectId === undefined) throw new InvalidDataError(`${slot.toString(16).toUpperCase()} is not a PIV key slot`);
  return objectId;
}

/** Private key parts as IMPORT KEY wants them (RSA CRT parts padded to half the modulus length). */
function privateKeyTlvs(algorithm: KeyAlgorithmInfo, key: KeyObject): Uint8Array {
  switch (algorithm.kind) {
    case 'rsa': {
      const parts = rsaPrivateComponents(key);
      if (readUint(parts.e) !== 65537) throw new NotSupportedError('PIV cards only take RSA keys with public exponent 65537');
      const half = algorithm.bits / 16;
      return encodeTlvs([
        [0x01, fixedLength(parts.p, half)],
        [0x02, fixedLength(parts.q, half)],
        [0x03, fixedLength(parts.dp, half)],
        [0x04, fixedLength(parts.dq, half)],
        [0x05, fixedLength(parts.qi, half)],
      ]);
    }
    case 'ec':
      return encodeTlv(0x06, ecPrivateScalar(key, algorithm.curve!));
    case 'ed25519':
      return encodeTlv(0x07, okpPrivateRaw(key));
    case 'x25519':
      return encodeTlv(0x08, okpPrivateRaw(key));
  }
}
