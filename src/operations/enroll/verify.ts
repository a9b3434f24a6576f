/**
 * The check this project exists for: the card signs a random challenge for every SSH signature algorithm
 * its key supports, and each signature is verified against the exported public key, as sshd would.
 */
import type { KeyObject } from 'node:crypto';
import { verifySignature } from '../../crypto/verify-signature.js';
import type { HashName } from '../../crypto/pkcs1.js';
import type { KeyAlgorithmInfo } from '../../standards/algorithms.js';
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
  /**
   * Set when this algorithm was not signed on its own: the check shares the outcome of the signature named here
   * ('certificate' for the certificate's), because the card or module cannot tell the two apart (see SignaturePolicy).
   */
  sharedWith?: string;
}

/**
 * How many signatures a path makes. 'every-algorithm': one per SSH signature algorithm of the key. 'one-per-path':
 * for RSA, one signature (rsa-sha2-512, what OpenSSH signs with by default and the longest DigestInfo) stands for
 * the others, since the PKCS#1 padding and the DigestInfo are bytes the host builds (over APDUs) or the module pads
 * without reading (CKM_RSA_PKCS): the card's operation is the same raw RSA for every hash. EC and Ed25519 keys have
 * one algorithm anyway. On a YubiKey each RSA-2048 signature costs ~150 ms and, for PIN-always keys, a VERIFY.
 */
export type SignaturePolicy = 'every-algorithm' | 'one-per-path';

/** The algorithms a path signs under `policy`, and for each of the others the one whose outcome it shares. */
export function signaturePlan(algorithms: readonly SshSignatureAlgorithm[], kind: KeyAlgorithmInfo['kind'], policy: SignaturePolicy): { signed: SshSignatureAlgorithm[]; sharedWith: Map<string, string> } {
  const representative = algorithms.find((a) => a.name === 'rsa-sha2-512');
  if (policy === 'every-algorithm' || kind !== 'rsa' || !representative) return { signed: [...algorithms], sharedWith: new Map() };
  return { signed: [representative], sharedWith: new Map(algorithms.filter((a) => a !== representative).map((a) => [a.name, representative.name])) };
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

export async function verifyCardSignatures(
  key: CardKey,
  publicKey: KeyObject,
  random: (n: number) => Uint8Array,
  verified?: VerifiedSignature,
  policy: SignaturePolicy = 'every-algorithm',
): Promise<SignatureCheck[]> {
  const checks: SignatureCheck[] = [];
  const algorithms = sshSignatureAlgorithms(key.algorithm);
  // Under one-per-path, a verified certificate signature of an RSA key is the path's one signature.
  if (policy === 'one-per-path' && key.algorithm.kind === 'rsa' && verified) {
    return algorithms.map((ssh) => ({ algorithm: ssh.name, path: key.path, module: key.module, legacy: ssh.legacy, valid: true, sharedWith: 'certificate' }));
  }
  const { signed, sharedWith } = signaturePlan(algorithms, key.algorithm.kind, policy);
  for (const ssh of signed) {
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
  return withShared(checks, algorithms, sharedWith);
}

/** Adds a check for each algorithm that shares another's signature, with that signature's outcome. */
export function withShared(checks: SignatureCheck[], algorithms: readonly SshSignatureAlgorithm[], sharedWith: ReadonlyMap<string, string>): SignatureCheck[] {
  if (sharedWith.size === 0) return checks;
  return algorithms.map((ssh) => {
    const own = checks.find((c) => c.algorithm === ssh.name);
    if (own) return own;
    const representative = checks.find((c) => c.algorithm === sharedWith.get(ssh.name))!;
    return { ...representative, algorithm: ssh.name, legacy: ssh.legacy, sharedWith: representative.algorithm };
  });
}
