/**
 * `piv-enroll certificate import [--slot] FILE`: the certificate an X.509 CA issued for a card key goes into its
 * slot. Flags and files become ImportCertificateOptions; the management key comes from --management-key-file or
 * PIV_MANAGEMENT_KEY when the card does not keep it PIN-protected, the PIN from --pin-file, PIV_PIN or a prompt.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { PivEnrollError, UsageError } from '../../errors.js';
import { openCard, type CardSelection } from '../../operations/open-card.js';
import { importCertificate } from '../../operations/x509/import-certificate.js';
import { parseSlot } from '../../standards/references.js';
import type { Output } from '../output.js';
import { parseManagementKey, secretReader } from '../secrets.js';
import { pinSource, type X509Environment } from '../x509-environment.js';

export interface CertificateImportFlags extends CardSelection {
  slot: string;
  pinFile?: string;
  managementKeyFile?: string;
  json?: boolean;
  yes?: boolean;
}

export async function runCertificateImport(file: string, flags: CertificateImportFlags, output: Output, environment: X509Environment, now: () => Date = () => new Date()): Promise<number> {
  const problems: string[] = [];
  const slot = parseSlot(flags.slot);
  if (slot === undefined) problems.push(`--slot takes 9a, 9c, 9d, 9e or 82–95, not "${flags.slot}"`);
  let certificate: Uint8Array | undefined;
  try {
    certificate = new Uint8Array(await readFile(file));
  } catch (error) {
    problems.push(`cannot read the certificate ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const keyText = await secretReader(problems, environment.env)(flags.managementKeyFile, 'PIV_MANAGEMENT_KEY', 'the management key');
  let managementKey: Uint8Array | undefined;
  if (keyText !== undefined) {
    try {
      managementKey = parseManagementKey(keyText);
    } catch (error) {
      if (!(error instanceof PivEnrollError)) throw error;
      problems.push(error.message);
    }
  }
  if (problems.length > 0) throw new UsageError(problems.join('\n'));

  const card = await openCard(flags);
  try {
    if (card.createdVirtualCard) output.notice(`Created a new virtual card in ${card.createdVirtualCard} (test-only: it keeps its secrets in clear).`);
    const result = await importCertificate(
      { session: card.session, slot: slot!, certificate: certificate!, managementKey, now: now(), random: (n) => new Uint8Array(randomBytes(n)) },
      { pin: pinSource(flags, environment), progress: (message) => (flags.json ? undefined : output.notice(message)) },
    );
    if (flags.json) output.result(JSON.stringify(result, null, 2));
    else {
      for (const warning of result.warnings) output.notice(`! ${warning}`);
      output.result(
        `Slot ${result.slot}: ${result.subject}, issued by ${result.issuer}, serial ${result.serial}, valid until ${result.notAfter}` +
          `${result.compressed ? `, stored gzip-compressed (${result.objectBytes} bytes)` : ''}; CHUID refreshed.\nKey ${result.fingerprint} (matched through ${result.keySource}).`,
      );
    }
    return 0;
  } finally {
    await card.close();
  }
}
