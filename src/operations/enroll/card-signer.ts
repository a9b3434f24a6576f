/**
 * The card as a signer: X.509 TBS data and verification challenges are signed by the key in the slot.
 * Like piv-go's crypto.Signer, the rest of the enrollment cannot tell how the signature was made: raw
 * APDUs (this file) or a vendor PKCS#11 module (pkcs11-target.ts). ECDSA signatures are DER, as the PIV
 * card returns them; RSA signatures are PKCS#1 v1.5 built on the host from the hash named.
 */
import type { TbsSigner, SignatureAlgorithm } from '../../crypto/x509.js';
import type { HashName } from '../../crypto/pkcs1.js';
import type { PivSession } from '../../piv/session.js';
import type { KeyAlgorithmInfo } from '../../standards/algorithms.js';
import { PIN_POLICY } from '../../standards/policies.js';

export interface CardKey {
  algorithm: KeyAlgorithmInfo;
  /** How the signatures travel: 'apdu' (piv-enroll talks to the card) or 'pkcs11' (through `module`). */
  path: 'apdu' | 'pkcs11';
  module?: string;
  /** Signs `message` (hash ignored for Ed25519), verifying the PIN as the key's policy requires. */
  sign(message: Uint8Array, hash: HashName): Promise<Uint8Array>;
}

export interface PivSlotKey {
  session: PivSession;
  slot: number;
  algorithm: KeyAlgorithmInfo;
  /** Effective PIN policy of the key. */
  pinPolicy: number;
  pin: string;
}

/** The key in a PIV slot, signing over APDUs; for PIN-always keys the PIN is verified before each signature. */
export function pivCardKey(key: PivSlotKey): CardKey {
  return {
    algorithm: key.algorithm,
    path: 'apdu',
    sign: async (message, hash) => {
      if (key.pinPolicy === PIN_POLICY.ALWAYS || key.pinPolicy === PIN_POLICY.ONCE) {
        if (key.pinPolicy === PIN_POLICY.ALWAYS || !(await key.session.isPinVerified())) await key.session.verifyPin(key.pin);
      }
      return key.session.sign(key.slot, key.algorithm, message, hash);
    },
  };
}

export function certificateSignatureAlgorithm(algorithm: KeyAlgorithmInfo, hash: HashName): SignatureAlgorithm {
  if (algorithm.kind === 'ed25519') return { kind: 'ed25519' };
  if (algorithm.kind === 'ec') return { kind: 'ecdsa', hash: hash === 'sha1' ? 'sha256' : hash };
  return { kind: 'rsa', hash };
}

export function cardTbsSigner(key: CardKey, hash: HashName): TbsSigner {
  return (tbs) => key.sign(tbs, hash);
}

/** One signature by the key in a PIV slot over APDUs (for callers that sign once, like the SSH CA). */
export function signWithCard(key: PivSlotKey, message: Uint8Array, hash: HashName): Promise<Uint8Array> {
  return pivCardKey(key).sign(message, hash);
}
