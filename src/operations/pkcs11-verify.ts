/**
 * The second signing path: the same card through a PKCS#11 module, exactly as `ssh -I module.so` uses it
 * (C_Login, then CKM_RSA_PKCS over a DigestInfo for RSA, CKM_ECDSA over the digest, a context-specific
 * login for PIN-always keys). A driver that returns bad signatures shows up here even when raw APDUs are fine.
 */
import type { KeyObject } from 'node:crypto';
import { verifySignature } from '../crypto/verify-signature.js';
import type { KeyAlgorithmInfo } from '../standards/algorithms.js';
import { pkcs11Unavailable } from './pkcs11-binding.js';
import { Pkcs11Error, type Pkcs11Module } from './pkcs11-modules.js';
import { Pkcs11TimeoutError, Pkcs11Token } from './pkcs11-token.js';
import { sshSignatureAlgorithms } from './ssh-public-key.js';
import { signaturePlan, withShared, type SignatureCheck, type SignaturePolicy } from './enroll/verify.js';

export interface Pkcs11Target {
  module: Pkcs11Module;
  /** The PC/SC reader the card is in (the module's slot description). */
  reader: string;
  slot: number;
  algorithm: KeyAlgorithmInfo;
  publicKey: KeyObject;
  pin: string;
  random: (n: number) => Uint8Array;
  /** One signature per SSH algorithm (the default), or one for all of an RSA key's (see SignaturePolicy). */
  signatures?: SignaturePolicy;
}

function check(ssh: string, legacy: boolean, module: string, outcome: { valid: boolean; error?: string }): SignatureCheck {
  return { algorithm: ssh, path: 'pkcs11', module, legacy, ...outcome };
}

/**
 * A module's signature, tried a second time when the module refused the first (a return code; never after a timeout
 * or a wrong PIN). A PIN-always key's signature is a context-specific login and a C_Sign: any
 * program that SELECTs the card in between (another reader's check in a batch, pcsc_scan, a browser) resets the
 * login, and the module fails the C_Sign. (The CKR_BUFFER_TOO_SMALL once put down to this, in a 4-reader batch, came
 * from C_GetSlotList while a card was swapped into another reader: pkcs11-token.ts asks for the list again.) A wrong
 * signature is not an error and is never retried: the check reports it.
 */
async function signOnceMore(sign: () => Promise<Uint8Array>): Promise<Uint8Array> {
  try {
    return await sign();
  } catch (error) {
    // Module return codes arrive as Pkcs11Error; a timeout, a wrong PIN or a blocked one are not retried.
    if (!(error instanceof Pkcs11Error) || error instanceof Pkcs11TimeoutError) throw error;
    // A second failure (or a host gone with the first) is reported as the first: that is what went wrong.
    return sign().catch(() => Promise.reject(error));
  }
}

/**
 * Every SSH signature algorithm of the key, signed through the module and verified. Never throws: what went
 * wrong (a module that does not return is abandoned after its time bound) is each check's error.
 */
export async function verifyThroughPkcs11(target: Pkcs11Target): Promise<SignatureCheck[]> {
  const algorithms = sshSignatureAlgorithms(target.algorithm);
  const failAll = (error: string): SignatureCheck[] => algorithms.map((a) => check(a.name, a.legacy, target.module.name, { valid: false, error }));
  // No pkcs11js on this machine: the path cannot be checked here, which is not the card signing badly.
  const unavailable = pkcs11Unavailable();
  if (unavailable) return failAll(unavailable).map((c) => ({ ...c, unsupported: true }));
  let token: Pkcs11Token;
  try {
    token = await Pkcs11Token.open(target.module, target.reader);
  } catch (error) {
    return failAll((error as Error).message);
  }
  try {
    await token.login('user', target.pin);
    if (target.algorithm.kind === 'ed25519' && !(await token.findSlotObject(token.lib.CKO_PRIVATE_KEY, target.slot))) {
      // OpenSC 0.23 and ykcs11 2.2 do not expose Ed25519 PIV keys (and ssh needs OpenSSH 10.1 for them).
      return algorithms.map((a) => ({ ...check(a.name, a.legacy, target.module.name, { valid: false, error: 'this module does not offer Ed25519 PIV keys; ssh -I cannot use this key through it' }), unsupported: true }));
    }
    const checks: SignatureCheck[] = [];
    const { signed, sharedWith } = signaturePlan(algorithms, target.algorithm.kind, target.signatures ?? 'every-algorithm');
    for (const ssh of signed) {
      const challenge = target.random(32);
      try {
        const signature = await signOnceMore(() => token.sign(target.slot, target.algorithm, challenge, ssh.hash ?? 'sha512', target.pin));
        // PKCS#11 returns ECDSA signatures as r‖s, not DER.
        checks.push(check(ssh.name, ssh.legacy, target.module.name, { valid: verifySignature(target.algorithm, target.publicKey, challenge, signature, ssh.hash, 'ieee-p1363') }));
      } catch (error) {
        checks.push(check(ssh.name, ssh.legacy, target.module.name, { valid: false, error: (error as Error).message }));
      }
    }
    return withShared(checks, algorithms, sharedWith);
  } catch (error) {
    return failAll((error as Error).message);
  } finally {
    await token.close().catch(() => undefined); // the checks say what went wrong; a failed C_Finalize adds nothing
  }
}

/**
 * The key of a PIV slot as a PKCS#11 module shows it (its certificate object: what `ssh-keygen -D` and
 * `ssh -I` use). No login needed. `reader` narrows the module's slots to one PC/SC reader.
 */
export async function readCertificateThroughPkcs11(module: Pkcs11Module, slot: number, reader?: string): Promise<Uint8Array> {
  const token = await Pkcs11Token.open(module, reader);
  try {
    const object = await token.findSlotObject(token.lib.CKO_CERTIFICATE, slot);
    const value = object ? await token.attribute(object, token.lib.CKA_VALUE) : undefined;
    if (!value) throw new Pkcs11Error(`${module.name} shows no certificate for the slot, so ssh -I sees no key there`);
    return new Uint8Array(value);
  } finally {
    await token.close();
  }
}
