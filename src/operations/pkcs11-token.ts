/**
 * One PIV card seen through a PKCS#11 module (pkcs11js): load, find the one token (optionally in a named
 * reader), open a read-write session, log in as user (PIN) or security officer (ykcs11: the management
 * key in hex), find objects by PIV slot. Module return codes become typed errors here, once.
 * The module runs in the PKCS#11 host process (pkcs11-host.ts), so every call is asynchronous and bounded in
 * time: a call that does not return is a Pkcs11TimeoutError naming the module and the call.
 */
import { PivEnrollError } from '../errors.js';
import { ManagementKeyError, PinBlockedError, WrongPinError } from '../piv/errors.js';
import { digest, digestInfo, type HashName } from '../crypto/pkcs1.js';
import type { KeyAlgorithmInfo } from '../standards/algorithms.js';
import type { FirmwareVersion } from '../standards/firmware.js';
import { pkcs11KeyId, Pkcs11Error, type Pkcs11Module } from './pkcs11-modules.js';
import { loadPkcs11, type Pkcs11Handle, type PkcsLib } from './pkcs11-binding.js';
import { currentReaderReach } from './pkcs11-isolation.js';
import { pkcs11Timeouts, RemoteModule, type Pkcs11Timeouts, type RemotePkcs11 } from './pkcs11-host.js';

export type { Pkcs11Handle } from './pkcs11-binding.js';
export { Pkcs11TimeoutError, type Pkcs11Timeouts } from './pkcs11-host.js';

/** Token flags (PKCS#11 2.40 §5.3): what a module tells about the user PIN's retry counter. */
const CKF_USER_PIN_COUNT_LOW = 0x10000;
/** PKCS#11 3.0 EdDSA mechanism (pkcs11js 2 does not name it). */
const CKM_EDDSA = 0x1057;
const CKF_USER_PIN_FINAL_TRY = 0x20000;
const CKF_USER_PIN_LOCKED = 0x40000;

export interface TokenInfo {
  /** The PC/SC reader (the module's slot description). */
  reader: string;
  label: string;
  serial?: number;
  /** ykcs11 reports the YubiKey firmware as major.(minor·10+patch); other modules their own version. */
  firmware?: FirmwareVersion;
  /** What the flags say of the user PIN: undefined when the module does not say. */
  pinTriesRemaining?: 0 | 1;
  pinCountLow: boolean;
}

function returnCode(error: unknown): string {
  return /CKR_[A-Z_]+/.exec((error as Error).message)?.[0] ?? (error as Error).message;
}

/** What a module refused (a return code), as opposed to our typed errors (a timeout, a crashed host). */
function isModuleError(error: unknown): boolean {
  return !(error instanceof PivEnrollError);
}

/** Slot lists asked for before a module whose cards keep changing is given up on. */
const SLOT_LIST_ATTEMPTS = 5;

/**
 * The slots holding a token. pkcs11js asks the module twice, for the count and then for the list: a card inserted
 * in another reader in between makes the second call CKR_BUFFER_TOO_SMALL (PKCS#11 2.40 §5.5, C_GetSlotList: the
 * list is not fixed, and an application that finds its buffer too small asks again). Seen in a 4-reader batch:
 * a card swapped in while another card's checks opened OpenSC failed all that card's PKCS#11 checks.
 */
async function slotsWithToken(module: Pkcs11Module, pkcs11: RemotePkcs11): Promise<Pkcs11Handle[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await pkcs11.C_GetSlotList(true);
    } catch (error) {
      if (!isModuleError(error) || returnCode(error) !== 'CKR_BUFFER_TOO_SMALL') throw error;
      if (attempt >= SLOT_LIST_ATTEMPTS) throw new Pkcs11Error(`${module.name} could not list its cards: CKR_BUFFER_TOO_SMALL ${attempt} times (cards inserted or removed all the while)`);
    }
  }
}

export class Pkcs11Token {
  private loggedIn: 'user' | 'so' | undefined;

  private constructor(
    readonly lib: PkcsLib,
    private readonly remote: RemoteModule,
    readonly module: Pkcs11Module,
    private readonly slot: Buffer,
    readonly session: Pkcs11Handle,
  ) {}

  /** The module's calls (through the host process). */
  get pkcs11(): RemotePkcs11 {
    return this.remote.api;
  }

  /**
   * Opens the one token the module sees (in `reader`, when given). `timeouts` bound each call
   * (default: pkcs11Timeouts(), which PIV_ENROLL_PKCS11_TIMEOUT_MS can shorten or lengthen).
   */
  static async open(module: Pkcs11Module, reader?: string, timeouts: Pkcs11Timeouts = pkcs11Timeouts()): Promise<Pkcs11Token> {
    const lib = loadPkcs11();
    let remote: RemoteModule;
    try {
      remote = await RemoteModule.load(module, timeouts, currentReaderReach(module, reader));
    } catch (error) {
      if (!isModuleError(error)) throw error;
      throw new Pkcs11Error(`cannot load the PKCS#11 module ${module.path}: ${(error as Error).message}`);
    }
    const pkcs11 = remote.api;
    try {
      await pkcs11.C_Initialize();
    } catch (error) {
      await remote.release().catch(() => undefined);
      throw error;
    }
    try {
      const tokens: Pkcs11Handle[] = [];
      for (const slot of await slotsWithToken(module, pkcs11)) {
        if (reader === undefined || (await pkcs11.C_GetSlotInfo(slot)).slotDescription.trim().includes(reader)) tokens.push(slot);
      }
      if (tokens.length === 0) throw new Pkcs11Error(`${module.name} sees no card${reader ? ` in a reader named like "${reader}"` : ''} (is pcscd running and the card inserted?)`);
      if (tokens.length > 1) throw new Pkcs11Error(`${module.name} sees several cards: choose one with --reader`);
      const session = await pkcs11.C_OpenSession(tokens[0]!, lib.CKF_SERIAL_SESSION | lib.CKF_RW_SESSION);
      return new Pkcs11Token(lib, remote, module, tokens[0]!, session);
    } catch (error) {
      await Pkcs11Token.finalize(remote);
      throw error;
    }
  }

  /** C_Finalize and forget the module, unless it was abandoned (then there is nothing left to finalize). */
  private static async finalize(remote: RemoteModule): Promise<void> {
    if (!remote.alive) return remote.release(); // no call: only the next token's turn
    try {
      await remote.api.C_Finalize();
    } finally {
      await remote.release();
    }
  }

  async info(): Promise<TokenInfo> {
    const slotInfo = await this.pkcs11.C_GetSlotInfo(this.slot);
    const token = await this.pkcs11.C_GetTokenInfo(this.slot);
    const serial = /^\s*(\d{1,10})\s*$/.exec(token.serialNumber)?.[1];
    const { major, minor } = token.firmwareVersion;
    const firmware = this.module.name === 'ykcs11' || /ykcs11/.test(this.module.path) ? { major, minor: Math.floor(minor / 10), patch: minor % 10 } : undefined;
    const flags = token.flags;
    return {
      reader: slotInfo.slotDescription.trim(),
      label: token.label.trim(),
      serial: serial === undefined ? undefined : Number(serial),
      firmware,
      pinTriesRemaining: flags & CKF_USER_PIN_LOCKED ? 0 : flags & CKF_USER_PIN_FINAL_TRY ? 1 : undefined,
      pinCountLow: (flags & CKF_USER_PIN_COUNT_LOW) !== 0,
    };
  }

  /** Logs in as the PIV user (PIN) or, with ykcs11, as security officer (the management key in hex). */
  async login(who: 'user' | 'so', secret: string): Promise<void> {
    if (this.loggedIn === who) return;
    await this.logout();
    try {
      await this.pkcs11.C_Login(this.session, who === 'user' ? this.lib.CKU_USER : this.lib.CKU_SO, secret);
    } catch (error) {
      if (!isModuleError(error)) throw error;
      const code = returnCode(error);
      if (code === 'CKR_USER_ALREADY_LOGGED_IN') {
        this.loggedIn = who;
        return;
      }
      throw await this.loginError(who, code);
    }
    this.loggedIn = who;
  }

  /** Whether the management key given is the card's (no retry counter: trying is safe). Leaves the token logged out. */
  async trySoLogin(secret: string): Promise<boolean> {
    try {
      await this.login('so', secret);
      await this.logout();
      return true;
    } catch (error) {
      if (error instanceof ManagementKeyError) return false;
      throw error;
    }
  }

  /** The context-specific login a PIN-always key wants right after C_SignInit. */
  async loginForSignature(pin: string): Promise<void> {
    try {
      await this.pkcs11.C_Login(this.session, this.lib.CKU_CONTEXT_SPECIFIC, pin);
    } catch (error) {
      if (!isModuleError(error)) throw error;
      throw await this.loginError('user', returnCode(error));
    }
  }

  async logout(): Promise<void> {
    if (this.loggedIn === undefined) return;
    try {
      await this.pkcs11.C_Logout(this.session);
    } catch (error) {
      if (!isModuleError(error)) throw error;
      // already logged out (e.g. the card was reset)
    }
    this.loggedIn = undefined;
  }

  private async loginError(who: 'user' | 'so', code: string): Promise<PivEnrollError> {
    if (who === 'so') {
      return new ManagementKeyError(
        code === 'CKR_PIN_INCORRECT'
          ? `${this.module.name} could not authenticate with the management key: it is not the card's, or the card uses an AES management key, which ykcs11 before 2.3 cannot use (TDES only)`
          : `${this.module.name} refused the management key (${code})`,
      );
    }
    const { pinTriesRemaining, pinCountLow } = await this.info();
    if (code === 'CKR_PIN_LOCKED' || pinTriesRemaining === 0) return new PinBlockedError('PIN');
    if (code === 'CKR_PIN_INCORRECT') {
      if (pinTriesRemaining === 1) return new WrongPinError('PIN', 1);
      return new Pkcs11Error(`wrong PIN${pinCountLow ? ' (the module says few tries are left)' : ''}`);
    }
    return new Pkcs11Error(`${this.module.name} refused the PIN (${code})`);
  }

  /** The object of this class for a PIV slot (by CKA_ID), if the module shows one. */
  async findSlotObject(objectClass: number, slot: number): Promise<Pkcs11Handle | undefined> {
    await this.pkcs11.C_FindObjectsInit(this.session, [
      { type: this.lib.CKA_CLASS, value: objectClass },
      { type: this.lib.CKA_ID, value: Buffer.from([pkcs11KeyId(slot)]) },
    ]);
    try {
      return (await this.pkcs11.C_FindObjects(this.session)) ?? undefined;
    } finally {
      if (this.remote.alive) await this.pkcs11.C_FindObjectsFinal(this.session);
    }
  }

  /** The attribute's value; undefined when the module refuses it (not shown, not that type of object). */
  async attribute(object: Pkcs11Handle, type: number): Promise<Buffer | undefined> {
    try {
      const [value] = await this.pkcs11.C_GetAttributeValue(this.session, object, [{ type }]);
      return Buffer.isBuffer(value?.value) ? value.value : undefined;
    } catch (error) {
      if (!isModuleError(error)) throw error;
      return undefined;
    }
  }

  /**
   * Signs `message` with the slot's private key as `ssh -I` would: CKM_RSA_PKCS over a DigestInfo built here,
   * CKM_ECDSA over the digest, CKM_EDDSA over the message; a context-specific login for PIN-always keys.
   * Returns what the module returns: ECDSA as r‖s. Logs in as user first.
   */
  async sign(slot: number, algorithm: KeyAlgorithmInfo, message: Uint8Array, hash: HashName, pin: string): Promise<Uint8Array> {
    await this.login('user', pin);
    const key = await this.findSlotObject(this.lib.CKO_PRIVATE_KEY, slot);
    if (!key) throw new Pkcs11Error(`${this.module.name} shows no private key for the slot (it needs a certificate in the slot)`);
    const always = (await this.attribute(key, this.lib.CKA_ALWAYS_AUTHENTICATE))?.[0] === 1;
    const [mechanism, data] =
      algorithm.kind === 'rsa' ? [this.lib.CKM_RSA_PKCS, digestInfo(hash, digest(hash, message))]
      : algorithm.kind === 'ec' ? [this.lib.CKM_ECDSA, digest(hash, message)]
      : [CKM_EDDSA, message];
    await this.call('start a signature', () => this.pkcs11.C_SignInit(this.session, { mechanism }, key));
    if (always) await this.loginForSignature(pin);
    return new Uint8Array(await this.call('sign', () => this.pkcs11.C_Sign(this.session, Buffer.from(data), Buffer.alloc(1024))));
  }

  /** Runs a module call, turning its return code into a Pkcs11Error that says what was being done. */
  async call<T>(what: string, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      if (!isModuleError(error)) throw error;
      throw new Pkcs11Error(`${this.module.name} could not ${what}: ${returnCode(error)}`);
    }
  }

  /** Logs out, closes the session and finalizes; after a timeout there is nothing left to close. */
  async close(): Promise<void> {
    if (!this.remote.alive) return this.remote.release(); // nothing to call: only the next token's turn
    await this.logout();
    try {
      await this.pkcs11.C_CloseSession(this.session);
    } finally {
      await Pkcs11Token.finalize(this.remote);
    }
  }
}
