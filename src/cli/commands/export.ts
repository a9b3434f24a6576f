import { UsageError } from '../../errors.js';
import { exportSlot, type ExportFormat } from '../../operations/export-key.js';
import { openCard, type CardSelection } from '../../operations/open-card.js';
import { parseSlot } from '../../spec/references.js';
import type { Output } from '../output.js';

export interface ExportFlags extends CardSelection {
  slot: string;
  format: string;
  comment?: string;
}

export async function runExport(flags: ExportFlags, output: Output): Promise<number> {
  const slot = parseSlot(flags.slot);
  const problems: string[] = [];
  if (slot === undefined) problems.push(`--slot takes 9a, 9c, 9d, 9e or 82–95, not "${flags.slot}"`);
  if (!['ssh', 'pem', 'certificate'].includes(flags.format)) problems.push(`--format takes ssh, pem or certificate, not "${flags.format}"`);
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  const card = await openCard(flags);
  try {
    const exported = await card.session.transaction(() => exportSlot(card.session, slot!, flags.format as ExportFormat, flags.comment));
    output.result(exported.text);
    return 0;
  } finally {
    await card.close();
  }
}
