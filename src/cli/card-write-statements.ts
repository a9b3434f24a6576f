/** What a finished card write did, for the "cancelled: …" line of a Ctrl-C that came during or after it. */
import type { EnrollmentResult } from '../operations/enroll/apply.js';

/** The apply step ran to its end: every step of its task list is done; what follows it in `enroll` is not. */
export function enrolledCardStatement(result: EnrollmentResult): string {
  const card = `${result.card}${result.serial !== undefined ? ` (serial ${result.serial})` : ''}`;
  const files = result.files.length > 0 ? `, files written: ${result.files.join(', ')}` : '';
  return (
    `the card is enrolled (${card}, slot ${result.slot}: ${result.algorithm}, ${result.fingerprint}${files}): ` +
    'credentials, key, certificate and CHUID, export and signature checks done; ' +
    'not done, where asked for: PKCS#11 checks, SSH CA certificate, inventory record, deployment (piv-enroll export prints the key)'
  );
}
