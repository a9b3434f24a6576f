/**
 * Argument parsing only: argv → typed options → a command module, loaded lazily. One handler turns
 * errors into messages and exit codes: 0 ok, 1 the operation failed, 2 bad usage, 70 internal error.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { PivEnrollError } from '../errors.js';
import type { CardSelection } from '../operations/open-card.js';
import { processOutput, type Output } from './output.js';

const EXIT_INTERNAL = 70;

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function parseSerial(value: string): number {
  if (!/^\d{1,10}$/.test(value) || Number(value) < 1 || Number(value) > 0xffffffff) {
    throw new InvalidArgumentError('a serial is a whole number from 1 to 4294967295');
  }
  return Number(value);
}

/** Options every command that talks to a card shares. */
function addCardOptions(command: Command): Command {
  return command
    .option('--reader <text>', 'the PC/SC reader whose name contains TEXT (default: the one reader holding a PIV card)')
    .option('--virtual <file>', 'use the embedded virtual YubiKey kept in FILE (created if missing; test-only)')
    .option('--firmware <version>', 'firmware of a virtual card being created (e.g. 4.3.7, 5.4.3, 5.7.2)')
    .addOption(new Option('--serial <n>', 'serial of a virtual card being created').argParser(parseSerial))
    .addOption(new Option('--fault <name>', 'make the virtual card misbehave (repeatable): corrupt-signature').argParser(collect).hideHelp());
}

interface CardFlags {
  reader?: string;
  virtual?: string;
  firmware?: string;
  serial?: number;
  fault?: string[];
}

/** Commander's flag names → the one CardSelection type every command shares. */
function cardSelection(flags: CardFlags): CardSelection {
  return { reader: flags.reader, virtual: flags.virtual, firmware: flags.firmware, serial: flags.serial, faults: flags.fault };
}

export function buildProgram(output: Output, setExit: (code: number) => void): Command {
  const program = new Command('piv-enroll')
    .description('Takes a PIV smart card (YubiKey) to a verified SSH key.')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .configureOutput({ writeOut: (s) => output.result(s.trimEnd()), writeErr: (s) => output.error(s.replace(/^error: /, '').trimEnd()) });

  addCardOptions(program.command('status').description('show what the card holds: firmware, serial, PIN/PUK tries, management key, slots and certificates'))
    .option('--json', 'print JSON instead of text')
    .action(async (flags: CardFlags & { json?: boolean }) => {
      const { runStatus } = await import('./commands/status.js');
      setExit(await runStatus({ ...cardSelection(flags), json: flags.json }, output));
    });

  const virtualCard = program.command('virtual-card').description('the embedded virtual YubiKey (test-only)');
  virtualCard
    .command('serve')
    .description('play the virtual card to vsmartcard vpcd, so pcscd and every PC/SC tool see it in a reader')
    .option('--vpcd <host:port>', 'where vpcd listens (the YubiKey-named reader of scripts/testbench.sh is on 35965)', '127.0.0.1:35965')
    .requiredOption('--state <file>', 'card state file (created factory-fresh if missing; mode 0600)')
    .option('--firmware <version>', 'firmware of a card being created (e.g. 4.3.7, 5.4.3, 5.7.2)')
    .addOption(new Option('--serial <n>', 'serial of a card being created').argParser(parseSerial))
    .addOption(new Option('--fault <name>', 'make the card misbehave (repeatable): corrupt-signature, drop-mid-command').argParser(collect))
    .option('--verbose', 'trace APDUs (PIN, PUK, management key and private keys redacted)')
    .action(async (flags: { vpcd: string; state: string; firmware?: string; serial?: number; fault?: string[]; verbose?: boolean }) => {
      const { runServe } = await import('./commands/virtual-card-serve.js');
      setExit(await runServe({ ...flags, faults: flags.fault }, output));
    });

  return program;
}

export async function run(argv: string[], output: Output = processOutput): Promise<number> {
  let exitCode = 0;
  const program = buildProgram(output, (code) => (exitCode = code));
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return 0;
    }
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help' ? 0 : 2;
    }
    if (error instanceof PivEnrollError) {
      output.error(error.message);
      return error.exitCode;
    }
    output.error(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return EXIT_INTERNAL;
  }
}
