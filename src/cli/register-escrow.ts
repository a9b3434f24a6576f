/** `escrow show`: the helpdesk's view of a card's escrowed PUK and management key. Flags only; the command is imported lazily. */
import type { Command } from 'commander';
import { addInventoryOption } from './card-options.js';
import type { EscrowShowFlags } from './commands/escrow.js';
import type { Output } from './output.js';

export function registerEscrowCommands(program: Command, output: Output, setExit: (code: number) => void): void {
  const escrow = program.command('escrow').description('the PUKs and management keys enroll escrowed (--escrow-recipient), for the helpdesk');
  addInventoryOption(escrow.command('show').description('decrypt a card\'s escrowed PUK and management key (recorded in the inventory as an escrow-show event)'))
    .requiredOption('--card <serial>', 'the card\'s serial number')
    .requiredOption('--escrow-key <file>', 'the age identity file (AGE-SECRET-KEY-1…, mode 0600) of the escrow recipient')
    .option('--json', 'print JSON')
    .action(async (flags: EscrowShowFlags) => {
      const { runEscrowShow } = await import('./commands/escrow.js');
      setExit(await runEscrowShow(flags, output));
    });
}
