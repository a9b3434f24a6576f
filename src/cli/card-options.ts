/**
 * Flags shared by several commands (the card, host access, the inventory), and commander helpers. Command groups
 * that live in their own register-*.ts module (deploy, ca) use these too, so the options read the same everywhere.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { CardSelection } from '../operations/open-card.js';
import { FORM_FACTOR_OPTION_NAMES, parseFormFactor } from '../standards/management.js';

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function parseSerial(value: string): number {
  if (!/^\d{1,10}$/.test(value) || Number(value) < 1 || Number(value) > 0xffffffff) {
    throw new InvalidArgumentError('a serial is a whole number from 1 to 4294967295');
  }
  return Number(value);
}

/** `--form-factor usb-a-keychain|usb-c-nano|…` of a virtual card being created → the form factor code. */
export function parseFormFactorOption(value: string): number {
  const code = parseFormFactor(value);
  if (code === undefined) throw new InvalidArgumentError(`a form factor is one of ${FORM_FACTOR_OPTION_NAMES.join(', ')}`);
  return code;
}

/** Options every command that talks to a card shares. */
export function addCardOptions(command: Command): Command {
  return command
    .option('--reader <text>', 'the PC/SC reader whose name contains TEXT (default: the one reader holding a PIV card)')
    .option('--virtual <file>', 'use the embedded virtual YubiKey kept in FILE (created if missing; test-only)')
    .option('--firmware <version>', 'firmware of a virtual card being created (e.g. 4.3.7, 5.4.3, 5.7.2)')
    .addOption(new Option('--serial <n>', 'serial of a virtual card being created').argParser(parseSerial))
    .option('--allow-last-pin-try', 'try the PIN even when only one try is left (a wrong PIN then blocks the card)')
    .addOption(new Option('--fault <name>', 'make the virtual card misbehave (repeatable): corrupt-signature, wrong-certificate, no-space, attest-other-key, attest-other-serial, attest-broken-signature, attest-wrong-chain').argParser(collect).hideHelp());
}

export interface CardFlags {
  reader?: string;
  virtual?: string;
  firmware?: string;
  serial?: number;
  fault?: string[];
  allowLastPinTry?: boolean;
}

/** A command's flags as commander gives them: the card flags by their flag names (cardSelection maps them). */
export type WithCardFlags<F> = Omit<F, keyof CardSelection> & CardFlags;

/** Commander's flag names → the one CardSelection type every command shares. */
export function cardSelection(flags: CardFlags): CardSelection {
  return { reader: flags.reader, virtual: flags.virtual, firmware: flags.firmware, serial: flags.serial, faults: flags.fault, allowLastPinTry: flags.allowLastPinTry };
}


/** The flags addHostAccessOptions declares. */
export interface HostAccessFlags {
  identity?: string;
  knownHosts?: string;
  acceptNewHostKeys?: boolean;
  sshOption?: string[];
}

/** Just the host-access flags of a command's flags (what deploy's options are built from). */
export function hostAccess(flags: HostAccessFlags): HostAccessFlags {
  return { identity: flags.identity, knownHosts: flags.knownHosts, acceptNewHostKeys: flags.acceptNewHostKeys, sshOption: flags.sshOption };
}

/** How a command reaches SSH hosts (deploy, batch, rekey, offboard): one wording everywhere. */
export function addHostAccessOptions(command: Command, which = 'the hosts'): Command {
  return command
    .option('--identity <file>', `log in to ${which} with this private key (ssh -i)`)
    .option('--known-hosts <file>', `known_hosts file to check the host keys of ${which} against`)
    .option('--accept-new-host-keys', 'accept hosts not yet known (a changed host key is still refused)')
    .addOption(new Option('--ssh-option <key=value>', 'extra ssh -o option (repeatable)').argParser(collect));
}

const INVENTORY_HELP =
  'where to record this: a SQLite file, postgres://user@host/db (password from PGPASSWORD or ~/.pgpass), or none (default: PIV_ENROLL_INVENTORY or ~/.local/state/piv-enroll/inventory.sqlite)';

/** `--inventory LOCATION`, for every command that records itself or reads the inventory. */
export function addInventoryOption(command: Command): Command {
  return command.option('--inventory <location>', INVENTORY_HELP);
}

/** `--policy FILE`: the site policy (default /etc/piv-enroll/policy.yaml when present, or PIV_ENROLL_POLICY; `none` for none). */
export function addPolicyOption(command: Command): Command {
  return command.option('--policy <file>', 'the site policy to enforce (default: PIV_ENROLL_POLICY, else /etc/piv-enroll/policy.yaml when present; none: no policy)');
}
