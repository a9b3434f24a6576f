/**
 * The second signing path: the same card through a PKCS#11 module, exactly as `ssh -I module.so` uses it
 * (C_Login, then CKM_RSA_PKCS over a DigestInfo for RSA, CKM_ECDSA over the digest, a context-specific
 * login for PIN-always keys). A driver that returns bad signatures shows up here even when raw APDUs are fine.
 */
import { createRequire } from 'node:module';
import type { KeyObject } from 'node:crypto';
import { verifySignature } from '../crypto/verify-signature.js';
import { digest, digestInfo } from '../crypto/pkcs1.js';
import type { KeyAlgorithmInfo } from '../spec/algorithms.js';
import { pkcs11KeyId, Pkcs11Error, type Pkcs11Module } from './pkcs11-modules.js';
import { Pkcs11Token } from './pkcs11-token.js';
import { sshSignatureAlgorithms } from './ssh-public-key.js';
import type { SignatureCheck } from './enroll/verify.js';

/** PKCS#11 3.0 EdDSA mechanism (pkcs11js 2 does not name it). */
const CKM_EDDSA = 0x1057;

type Pkcs11 = InstanceType<typeof import('pkcs11js').PKCS11>;
type PkcsLib = typeof import('pkcs11js');

export interface Pkcs11Target {
  module: Pkcs11Module;
  /** The PC/SC reader the card is in (the module's slot description). */
  reader: string;
  slot: number;
  algorithm: KeyAlgorithmInfo;
  publicKey: KeyObject;
  pin: string;
  random: (n: number) => Uint8Array;
}

function check(ssh: string, legacy: boolean, module: string, outcome: { valid: boolean; error?: string }): SignatureCheck {
  return { algorithm: ssh, path: 'pkcs11', module, legacy, ...outcome };
}

export function verifyThroughPkcs11(target: Pkcs11Target): SignatureCheck[] {
  const lib = createRequire(import.meta.url)('pkcs11js') as PkcsLib;
  const pkcs11: Pkcs11 = new lib.PKCS11();
  const algorithms = sshSignatureAlgorithms(target.algorithm);
  const failAll = (error: string): SignatureCheck[] => algorithms.map((a) => check(a.name, a.legacy, target.module.name, { valid: false, error }));
  try {
    pkcs11.load(target.module.path);
    pkcs11.C_Initialize();
  } catch (error) {
    return failAll(`cannot load ${target.module.path}: ${(error as Error).message}`);
  }
  try {
    const slot = pkcs11.C_GetSlotList(true).find((s) => pkcs11.C_GetSlotInfo(s).slotDescription.trim().startsWith(target.reader));
    if (!slot) return failAll(`the module shows no token in "${target.reader}"`);
    const session = pkcs11.C_OpenSession(slot, lib.CKF_SERIAL_SESSION);
    try {
      pkcs11.C_Login(session, lib.CKU_USER, target.pin);
      pkcs11.C_FindObjectsInit(session, [
        { type: lib.CKA_CLASS, value: lib.CKO_PRIVATE_KEY },
        { type: lib.CKA_ID, value: Buffer.from([pkcs11KeyId(target.slot)]) },
      ]);
      const key = pkcs11.C_FindObjects(session);
      pkcs11.C_FindObjectsFinal(session);
      if (!key && target.algorithm.kind === 'ed25519') {
        // OpenSC 0.23 and ykcs11 2.2 do not expose Ed25519 PIV keys (and ssh needs OpenSSH 10.1 for them).
        return algorithms.map((a) => ({ ...check(a.name, a.legacy, target.module.name, { valid: false, error: 'this module does not offer Ed25519 PIV keys; ssh -I cannot use this key through it' }), unsupported: true }));
      }
      if (!key) return failAll('the module shows no private key for the slot (it needs a certificate in the slot)');
      const [always] = pkcs11.C_GetAttributeValue(session, key, [{ type: lib.CKA_ALWAYS_AUTHENTICATE }]);
      const alwaysAuthenticate = Buffer.isBuffer(always?.value) && always.value[0] === 1;
      return algorithms.map((ssh) => {
        const challenge = Buffer.from(target.random(32));
        try {
          let mechanism: number;
          let data: Buffer;
          if (target.algorithm.kind === 'rsa') {
            mechanism = lib.CKM_RSA_PKCS;
            data = Buffer.from(digestInfo(ssh.hash!, digest(ssh.hash!, challenge)));
          } else if (target.algorithm.kind === 'ec') {
            mechanism = lib.CKM_ECDSA;
            data = Buffer.from(digest(ssh.hash!, challenge));
          } else {
            mechanism = CKM_EDDSA;
            data = challenge;
          }
          pkcs11.C_SignInit(session, { mechanism }, key);
          if (alwaysAuthenticate) pkcs11.C_Login(session, lib.CKU_CONTEXT_SPECIFIC, target.pin);
          const signature = pkcs11.C_Sign(session, data, Buffer.alloc(1024));
          // PKCS#11 returns ECDSA signatures as r‖s, not DER.
          const valid = verifySignature(target.algorithm, target.publicKey, challenge, signature, ssh.hash, 'ieee-p1363');
          return check(ssh.name, ssh.legacy, target.module.name, { valid });
        } catch (error) {
          return check(ssh.name, ssh.legacy, target.module.name, { valid: false, error: (error as Error).message });
        }
      });
    } finally {
      try {
        pkcs11.C_Logout(session);
      } catch {
        // not logged in
      }
      pkcs11.C_CloseSession(session);
    }
  } catch (error) {
    return failAll((error as Error).message);
  } finally {
    pkcs11.C_Finalize();
  }
}

/**
 * The key of a PIV slot as a PKCS#11 module shows it (its certificate object: what `ssh-keygen -D` and
 * `ssh -I` use). No login needed. `reader` narrows the module's slots to one PC/SC reader.
 */
export function readCertificateThroughPkcs11(module: Pkcs11Module, slot: number, reader?: string): Uint8Array {
  const token = Pkcs11Token.open(module, reader);
  try {
    const object = token.findSlotObject(token.lib.CKO_CERTIFICATE, slot);
    const value = object ? token.attribute(object, token.lib.CKA_VALUE) : undefined;
    if (!value) throw new Pkcs11Error(`${module.name} shows no certificate for the slot, so ssh -I sees no key there`);
    return new Uint8Array(value);
  } finally {
    token.close();
  }
}
