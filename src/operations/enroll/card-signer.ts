/**
 * The card as a signer: X.509 TBS data and verification challenges are signed by the key in the slot.
 * For PIN-always keys the PIN is verified right before each signature, as the card demands.
 */
import type { TbsSigner, SignatureAlgorithm } from '../../crypto/x509.js';
import type { HashName } from '../../crypto/pkcs1.js';
import type { PivSession } from '../../piv/session.js';
import type { KeyAlgorithmInfo } from '../../spec/algorithms.js';
import { PIN_POLICY } from '../../spec/policies.js';

export interface CardKey {
  session: PivSession;
  slot: number;
  algorithm: KeyAlgorithmInfo;
  /** Effective PIN policy of the key. */
  pinPolicy: number;
  pin: string;
}

/** Signs `message` with the card key (hash ignored for Ed25519), verifying the PIN as the policy requires. */
export async function signWithCard(key: CardKey, message: Uint8Array, hash: HashName): Promise<Uint8Array> {
  if (key.pinPolicy === PIN_POLICY.ALWAYS || key.pinPolicy === PIN_POLICY.ONCE) {
    if (key.pinPolicy === PIN_POLICY.ALWAYS || !(await key.session.isPinVerified())) await key.session.verifyPin(key.pin);
  }
  return key.session.sign(key.slot, key.algorithm, message, hash);
}

export function certificateSignatureAlgorithm(algorithm: KeyAlgorithmInfo, hash: HashName): SignatureAlgorithm {
  if (algorithm.kind === 'ed25519') return { kind: 'ed25519' };
  if (algorithm.kind === 'ec') return { kind: 'ecdsa', hash: hash === 'sha1' ? 'sha256' : hash };
  return { kind: 'rsa', hash };
}

export function cardTbsSigner(key: CardKey, hash: HashName): TbsSigner {
  return (tbs) => signWithCard(key, tbs, hash);
}
