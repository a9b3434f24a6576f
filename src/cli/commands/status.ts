import { siteAttestationTrust, trustForCard } from '../../operations/attestation/evidence.js';
import { readCardStatus } from '../../operations/card-status.js';
import { openCard, type CardSelection } from '../../operations/open-card.js';
import { formatStatus } from '../format-status.js';
import type { Output } from '../output.js';

export interface StatusOptions extends CardSelection {
  attestationRoots?: string[];
  json?: boolean;
}

export async function runStatus(options: StatusOptions, output: Output): Promise<number> {
  const card = await openCard(options);
  try {
    if (card.createdVirtualCard) output.notice(`Created a new virtual card in ${card.createdVirtualCard} (test-only: it keeps its secrets in clear).`);
    // The virtual card test root only for a card opened as the embedded virtual card, never for one in a reader.
    const trust = await trustForCard(await siteAttestationTrust(options.attestationRoots ?? []), card.readerName === undefined);
    const report = await readCardStatus(card.session, { trust, now: new Date() });
    output.result(options.json ? JSON.stringify(report, null, 2) : formatStatus(report));
    return 0;
  } finally {
    await card.close();
  }
}
