import { UsageError } from '../../errors.js';
import { exportSlot, exportThroughPkcs11, type ExportFormat } from '../../operations/export-key.js';
import { selectPkcs11Modules } from '../../operations/pkcs11-modules.js';
import { readCertificateThroughPkcs11 } from '../../operations/pkcs11-verify.js';
import { openCard, type CardSelection } from '../../operations/open-card.js';
import { parseSlot } from '../../standards/references.js';
import type { Output } from '../output.js';

export interface ExportFlags extends CardSelection {
  slot: string;
  format: string;
  comment?: string;
  via?: string;
  module?: string;
}

export async function runExport(flags: ExportFlags, output: Output): Promise<number> {
  const slot = parseSlot(flags.slot);
  const problems: string[] = [];
  if (slot === undefined) problems.push(`--slot takes 9a, 9c, 9d, 9e or 82–95, not "${flags.slot}"`);
  if (!['ssh', 'pem', 'certificate'].includes(flags.format)) problems.push(`--format takes ssh, pem or certificate, not "${flags.format}"`);
  const via = flags.via ?? 'apdu';
  if (via !== 'apdu' && via !== 'pkcs11') problems.push(`--via takes apdu or pkcs11, not "${flags.via}"`);
  if (via === 'pkcs11' && (flags.virtual !== undefined)) problems.push('--via pkcs11 needs a card in a reader: PKCS#11 modules cannot reach the embedded virtual card');
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  if (via === 'pkcs11') {
    const [module] = selectPkcs11Modules(flags.module ?? 'opensc');
    if (!module) throw new UsageError('no PKCS#11 module given');
    output.result(exportThroughPkcs11(await readCertificateThroughPkcs11(module, slot!, flags.reader), slot!, flags.format as ExportFormat, flags.comment).text);
    return 0;
  }
  const card = await openCard(flags);
  try {
    const exported = await card.session.transaction(() => exportSlot(card.session, slot!, flags.format as ExportFormat, flags.comment));
    output.result(exported.text);
    return 0;
  } finally {
    await card.close();
  }
}
