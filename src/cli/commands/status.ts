import { siteAttestationTrust, trustForCard } from '../../operations/attestation/evidence.js';
import { readCardStatus } from '../../operations/card-status.js';
import { openCard, type CardSelection } from '../../operations/open-card.js';
import { describeCardPolicy, judgeCardSlots } from '../../operations/policy/card-report.js';
import { resolvePolicy } from '../../operations/policy/resolve.js';
import { formatStatus } from '../format-status.js';
import type { Output } from '../output.js';

export interface StatusOptions extends CardSelection {
  attestationRoots?: string[];
  json?: boolean;
  /** The site policy file (none: no policy); with one, each slot's key is judged by its rules. */
  policy?: string;
}

export async function runStatus(options: StatusOptions, output: Output, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const policy = await resolvePolicy(options.policy, env); // a bad policy file stops us before the card is opened
  const card = await openCard(options);
  try {
    if (card.createdVirtualCard) output.notice(`Created a new virtual card in ${card.createdVirtualCard} (test-only: it keeps its secrets in clear).`);
    // The virtual card test root only for a card opened as the embedded virtual card, never for one in a reader.
    const trust = await trustForCard(await siteAttestationTrust(options.attestationRoots ?? []), card.readerName === undefined);
    const report = await readCardStatus(card.session, { trust, now: new Date() });
    const judged = policy ? judgeCardSlots(policy, report.firmware, report.slots, report.device) : undefined;
    if (options.json) output.result(JSON.stringify(judged ? { ...report, policy: judged } : report, null, 2));
    else output.result([formatStatus(report), ...(judged ? describeCardPolicy(judged) : [])].join('\n'));
    return 0;
  } finally {
    await card.close();
  }
}
