import { readCardStatus } from '../../operations/card-status.js';
import { openCard, type CardSelection } from '../../operations/open-card.js';
import { formatStatus } from '../format-status.js';
import type { Output } from '../output.js';

export interface StatusOptions extends CardSelection {
  json?: boolean;
}

export async function runStatus(options: StatusOptions, output: Output): Promise<number> {
  const card = await openCard(options);
  try {
    if (card.createdVirtualCard) output.notice(`Created a new virtual card in ${card.createdVirtualCard} (test-only: it keeps its secrets in clear).`);
    const report = await readCardStatus(card.session);
    output.result(options.json ? JSON.stringify(report, null, 2) : formatStatus(report));
    return 0;
  } finally {
    await card.close();
  }
}
