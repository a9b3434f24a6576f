/** The PKCS#11 check flags of enroll, batch and rekey, as the enrollment request takes them. */
import type { SignaturePolicy } from '../operations/enroll/verify.js';
import { selectPkcs11Modules, type Pkcs11Module } from '../operations/pkcs11-modules.js';

export interface Pkcs11CheckFlags {
  /** PKCS#11 modules to check signatures through: auto (every one found), none, or a comma list of opensc, ykcs11, paths. */
  pkcs11?: string;
  /** Each PKCS#11 module signs every SSH algorithm of an RSA key, not one for all. */
  signEveryAlgorithm?: boolean;
}

/** --sign-every-algorithm's help, the same on enroll, batch and rekey. */
export const SIGN_EVERY_ALGORITHM_HELP =
  'through each PKCS#11 module, sign rsa-sha2-256, rsa-sha2-512 and ssh-rsa one by one (default: one rsa-sha2-512 signature stands for all three: the module pads, the card cannot tell them apart)';

export function pkcs11Checks(flags: Pkcs11CheckFlags): { pkcs11Modules: Pkcs11Module[]; moduleSignatures: SignaturePolicy } {
  return { pkcs11Modules: selectPkcs11Modules(flags.pkcs11 ?? 'auto'), moduleSignatures: flags.signEveryAlgorithm ? 'every-algorithm' : 'one-per-path' };
}
