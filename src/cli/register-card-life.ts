/** `pin change|unblock`, `reset`, `retire`: the card's later life (issue 18). Flags only; the command modules are imported lazily. */
import { Command } from 'commander';
import { addCardOptions, addHostAccessOptions, addInventoryOption, cardSelection, parseSerial, type WithCardFlags } from './card-options.js';
import { defaultCardLifeEnvironment } from './card-life-report.js';
import type { Output } from './output.js';
import type { PinFlags } from './commands/pin.js';
import type { ResetFlags } from './commands/reset.js';
import type { RetireFlags } from './commands/retire.js';

const commonFlags = (command: Command): Command =>
  addInventoryOption(addCardOptions(command))
    .option('--yes', 'never ask: no confirmation, no prompt (what is missing is listed instead)')
    .option('--dry-run', 'read the card and show the plan, change nothing')
    .option('--json', 'print one JSON object');

export function registerCardLifeCommands(program: Command, output: Output, setExit: (code: number) => void): void {
  const pin = program.command('pin').description('the card\'s PIN after enrollment: change it, or unblock it with the PUK');

  commonFlags(pin.command('change').description('change the PIN (the current PIN is checked through the PIN guard: tries read first, the last one only with --allow-last-pin-try)'))
    .option('--pin-file <file>', 'the current PIN (or PIV_PIN; else asked on a terminal)')
    .option('--new-pin-file <file>', 'the new PIN, 6 to 8 characters, not a factory default (or PIV_NEW_PIN; else asked twice on a terminal)')
    .action(async (flags: WithCardFlags<PinFlags>) => {
      const { runPinChange } = await import('./commands/pin.js');
      setExit(await runPinChange({ ...flags, ...cardSelection(flags) }, output, defaultCardLifeEnvironment()));
    });

  commonFlags(pin.command('unblock').description('set a new PIN with the PUK, which gives the PIN its tries back'))
    .option('--puk-file <file>', 'the PUK (or PIV_PUK; else asked on a terminal)')
    .option('--from-escrow', 'the helpdesk\'s way: the PUK from the inventory\'s escrow of this card (found by its serial; the opening is recorded)')
    .option('--escrow-key <file>', 'with --from-escrow: the age identity file (AGE-SECRET-KEY-1…, mode 0600) that opens the escrow')
    .option('--new-pin-file <file>', 'the new PIN, 6 to 8 characters, not a factory default (or PIV_NEW_PIN; else asked twice on a terminal)')
    .action(async (flags: WithCardFlags<PinFlags>) => {
      const { runPinUnblock } = await import('./commands/pin.js');
      setExit(await runPinUnblock({ ...flags, ...cardSelection(flags) }, output, defaultCardLifeEnvironment()));
    });

  commonFlags(program.command('reset').description('erase the PIV application (keys, certificates; factory PIN, PUK, management key): only with PIN and PUK blocked, or --force'))
    .option('--force', 'reset a card whose PIN or PUK still has tries: they are blocked on purpose first, after confirmation (as ykman piv reset)')
    .action(async (flags: WithCardFlags<ResetFlags>) => {
      const { runReset } = await import('./commands/reset.js');
      setExit(await runReset({ ...flags, ...cardSelection(flags) }, output, defaultCardLifeEnvironment()));
    });

  addHostAccessOptions(addInventoryOption(program.command('retire').description('retire a lost card from the inventory: its keys off every recorded host, revoked in their CAs, the card marked lost')), 'the hosts')
    .requiredOption('--card <serial>', 'the lost card\'s serial, as the inventory has it', parseSerial)
    .option('--yes', 'do not ask before retiring (needed without a terminal)')
    .option('--dry-run', 'show the plan, change nothing')
    .option('--json', 'print JSON')
    .action(async (flags: RetireFlags) => {
      const { runRetire } = await import('./commands/retire.js');
      setExit(await runRetire(flags, output, defaultCardLifeEnvironment()));
    });
}
