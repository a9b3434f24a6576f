/**
 * The check this project exists for: the card signs a random challenge for every SSH signature algorithm
 * its key supports, and each signature is verified against the exported public key, as sshd would.
 */
import type { KeyObject } from 'node:crypto';
import { verifySignature } from '../../crypto/verify-signature.js';
import type { HashName } from '../../crypto/pkcs1.js';
import type { KeyAlgorithmInfo } from '../../spec/algorithms.js';
import { sshSignatureAlgorithms, type SshSignatureAlgorithm } from '../ssh-public-key.js';
import { certificateSignatureAlgorithm, type CardKey } from './card-signer.js';

export interface SignatureCheck {
  algorithm: string;
  path: 'apdu' | 'pkcs11';
  /** For the PKCS#11 path: which module (opensc, ykcs11). */
  module?: string;
  legacy: boolean;
  valid: boolean;
  /** The path cannot carry this algorithm at all (e.g. Ed25519 through today's PIV PKCS#11 modules): not a card fault. */
  unsupported?: boolean;
  error?: string;
}

/**
 * A signature the card already made with this key and was verified against the exported public key: the
 * certificate's, over its TBS data with `hash`. It is the same card operation, padding and hash as the SSH algorithm
 * that uses that hash (the card cannot tell a TBS from a challenge), so that algorithm needs no second signature:
 * on a real card each one costs a private-key operation (~150 ms for RSA-2048) and, for PIN-always keys, a VERIFY.
 */
export interface VerifiedSignature {
  hash: HashName;
}

/** The SSH algorithm the verified certificate signature already proves, if any. */
function provenBy(algorithm: KeyAlgorithmInfo, ssh: SshSignatureAlgorithm, verified: VerifiedSignature | undefined): boolean {
  if (!verified) return false;
  if (algorithm.kind === 'ed25519') return true; // pure Ed25519: no hash, one scheme
  return ssh.hash === certificateSignatureHash(algorithm, verified.hash);
}

/** The hash the certificate signature really used (certificateSignatureAlgorithm's rule: ECDSA never with SHA-1). */
function certificateSignatureHash(algorithm: KeyAlgorithmInfo, hash: HashName): HashName {
  const signature = certificateSignatureAlgorithm(algorithm, hash);
  return signature.kind === 'ed25519' ? hash : signature.hash;
}

export async function verifyCardSignatures(key: CardKey, publicKey: KeyObject, random: (n: number) => Uint8Array, verified?: VerifiedSignature): Promise<SignatureCheck[]> {
  const checks: SignatureCheck[] = [];
  for (const ssh of sshSignatureAlgorithms(key.algorithm)) {
    if (provenBy(key.algorithm, ssh, verified)) {
      checks.push({ algorithm: ssh.name, path: key.path, module: key.module, legacy: ssh.legacy, valid: true });
      continue;
    }
    const challenge = random(32);
    try {
      const signature = await key.sign(challenge, ssh.hash ?? 'sha512');
      const valid = verifySignature(key.algorithm, publicKey, challenge, signature, ssh.hash);
      checks.push({ algorithm: ssh.name, path: key.path, module: key.module, legacy: ssh.legacy, valid });
    } catch (error) {
      checks.push({ algorithm: ssh.name, path: key.path, module: key.module, legacy: ssh.legacy, valid: false, error: (error as Error).message });
    }
  }
  return checks;
}
