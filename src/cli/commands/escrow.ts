/**
 * `piv-enroll escrow show --card SERIAL --escrow-key FILE`: the helpdesk decrypts a card's escrowed PUK and management
 * key (operations/secrets/escrow.ts readEscrow; the opening is recorded in the inventory). The secrets go to stdout,
 * which is what the command is for, and nowhere else.
 */
import { UsageError } from '../../errors.js';
import { readEscrow, readEscrowIdentity } from '../../operations/secrets/escrow.js';
import { openInventoryToRecord } from '../inventory-option.js';
import type { Output } from '../output.js';

export interface EscrowShowFlags {
  card: string;
  escrowKey: string;
  inventory?: string;
  json?: boolean;
}

export async function runEscrowShow(flags: EscrowShowFlags, output: Output, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (!/^\d{1,10}$/.test(flags.card.trim())) throw new UsageError(`--card: "${flags.card}" is not a card serial number`);
  const serial = Number(flags.card);
  const identities = await readEscrowIdentity(flags.escrowKey); // before the inventory: a loose key file stops here
  const inventory = await openInventoryToRecord(flags.inventory, env);
  if (!inventory) throw new UsageError('escrow show reads the escrow from the inventory: --inventory none is not possible here');
  try {
    const content = await readEscrow(inventory, serial, identities, { purpose: 'escrow show' });
    if (flags.json) {
      output.result(JSON.stringify({ serial, puk: content.puk ?? null, managementKey: content.managementKey ?? null, managementKeyAlgorithm: content.managementKeyAlgorithm ?? null, managementKeyProtected: content.managementKeyProtected ?? false, escrowedAt: content.createdAt }, null, 2));
    } else {
      const lines = [`Card ${serial}, escrowed ${content.createdAt}:`];
      lines.push(content.puk !== undefined ? `  PUK: ${content.puk}` : '  PUK: not escrowed (the enrollment did not set it)');
      if (content.managementKey !== undefined) lines.push(`  Management key (${content.managementKeyAlgorithm ?? '?'}${content.managementKeyProtected ? ', also PIN-protected on the card' : ''}): ${content.managementKey}`);
      else lines.push('  Management key: not escrowed (the enrollment did not set it)');
      output.result(lines.join('\n'));
    }
    output.notice(`Recorded in the inventory ${inventory.description}: this escrow was opened.`);
    return 0;
  } finally {
    await inventory.close();
  }
}
