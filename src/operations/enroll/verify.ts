/**
 * The check this project exists for: the card signs a random challenge for every SSH signature algorithm
 * its key supports, and each signature is verified against the exported public key, as sshd would.
 */
import type { KeyObject } from 'node:crypto';
import { verifySignature } from '../../crypto/verify-signature.js';
import { sshSignatureAlgorithms } from '../ssh-public-key.js';
import type { CardKey } from './card-signer.js';

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

export async function verifyCardSignatures(key: CardKey, publicKey: KeyObject, random: (n: number) => Uint8Array): Promise<SignatureCheck[]> {
  const checks: SignatureCheck[] = [];
  for (const ssh of sshSignatureAlgorithms(key.algorithm)) {
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
