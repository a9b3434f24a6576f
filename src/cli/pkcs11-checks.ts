/** The PKCS#11 check flags of enroll, batch and rekey, as the enrollment request takes them. */
import type { SignaturePolicy } from '../operations/enroll/verify.js';
import { selectPkcs11Modules, type Pkcs11Module } from '../operations/pkcs11-modules.js';

export function pkcs11Checks(flags: { pkcs11?: string; signEveryAlgorithm?: boolean }): { pkcs11Modules: Pkcs11Module[]; moduleSignatures: SignaturePolicy } {
  return { pkcs11Modules: selectPkcs11Modules(flags.pkcs11 ?? 'auto'), moduleSignatures: flags.signEveryAlgorithm ? 'every-algorithm' : 'one-per-path' };
}
