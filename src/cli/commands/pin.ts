/**
 * `piv-enroll pin change` and `pin unblock`: flags, files, environment and prompts → the operations' requests
 * (operations/card-life/), the plan shown and confirmed, the result rendered. Secrets never come from argv: the current
 * PIN from --pin-file or PIV_PIN, the PUK from --puk-file or PIV_PUK, the new PIN from --new-pin-file or PIV_NEW_PIN,
 * else asked on a terminal (the new PIN twice).
 */
import { UsageError } from '../../errors.js';
import { changePin, checkPinChange, type ChangePinResult } from '../../operations/card-life/change-pin.js';
import { escrowPukSource } from '../../operations/card-life/escrow-puk.js';
import { unblockPin, type PukSource, type UnblockPinResult } from '../../operations/card-life/unblock-pin.js';
import { checkNewPinValue } from '../../operations/enroll/enroll-inputs.js';
import { defaultInventoryLocation } from '../../operations/inventory/inventory.js';
import type { CardSelection } from '../../operations/open-card.js';
import { cancellation } from '../cancellation.js';
import { cardJson, confirmed, describeCardState, type CardLifeEnvironment as PinEnvironment } from '../card-life-report.js';
import type { Output } from '../output.js';
import { askNewSecret } from '../prompter.js';
import { secretReader } from '../secrets.js';

export interface PinFlags extends CardSelection {
  inventory?: string;
  pinFile?: string;
  pukFile?: string;
  newPinFile?: string;
  /** pin unblock: the PUK from the inventory's escrow, opened with the age identity in escrowKey. */
  fromEscrow?: boolean;
  escrowKey?: string;
  yes?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

/** A secret from its file or variable, else (on a terminal, without --yes) asked; else a line in `missing`. */
async function secretOrAsk(
  value: string | undefined,
  ask: (() => Promise<string>) | undefined,
  missing: string[],
  what: string,
): Promise<string | undefined> {
  if (value !== undefined) return value;
  if (ask) return ask();
  missing.push(what);
  return undefined;
}

interface Secrets {
  current?: string;
  newPin: string;
}

interface CurrentSecret {
  file?: string;
  env: string;
  what: string;
  flag: string;
  prompt: string;
}

/**
 * Reads the current secret (PIN or PUK; none when the PUK comes from an escrow) and the new PIN; every problem is
 * reported at once, before the card is opened.
 */
async function readSecrets(flags: PinFlags, environment: PinEnvironment, current: CurrentSecret | undefined): Promise<Secrets> {
  const problems: string[] = [];
  const read = secretReader(problems, environment.env);
  const ask = environment.interactive && !flags.yes;
  const missing: string[] = [];
  const currentValue = current && (await read(current.file, current.env, current.what));
  const newValue = await read(flags.newPinFile, 'PIV_NEW_PIN', 'the new PIN');
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  const currentSecret = current && (await secretOrAsk(currentValue, ask ? () => environment.prompter.password(current.prompt) : undefined, missing, `${current.what} (${current.flag} FILE or ${current.env})`));
  const newPin = await secretOrAsk(newValue, ask ? () => askNewSecret(environment.prompter, 'PIN', checkNewPinValue) : undefined, missing, 'the new PIN (--new-pin-file FILE or PIV_NEW_PIN)');
  if (missing.length > 0) throw new UsageError(`missing (${flags.yes ? '--yes: nothing is asked' : 'no terminal to ask on'}): ${missing.join('; ')}`);
  return { current: currentSecret, newPin: newPin! };
}

function selection(flags: PinFlags): CardSelection {
  return { reader: flags.reader, virtual: flags.virtual, firmware: flags.firmware, serial: flags.serial, faults: flags.faults, allowLastPinTry: flags.allowLastPinTry };
}

function render(result: ChangePinResult | UnblockPinResult, flags: PinFlags, done: string): string {
  const card = result.plan?.card;
  if (flags.json) return JSON.stringify({ action: result.action, card: card && cardJson(card), recorded: result.recorded }, null, 2);
  const lines = card ? [describeCardState(card)] : [];
  if (result.action === 'planned') lines.push('(dry run: nothing changed)');
  else if (result.action === 'declined') lines.push('Nothing changed.');
  else lines.push(`${done}${result.recorded ? ' (recorded in the inventory)' : ''}`);
  return lines.join('\n');
}

export async function runPinChange(flags: PinFlags, output: Output, environment: PinEnvironment): Promise<number> {
  const secrets = await readSecrets(flags, environment, { file: flags.pinFile, env: 'PIV_PIN', what: 'the current PIN', flag: '--pin-file', prompt: 'Current PIN:' });
  // Checked before the card is opened: a bad new PIN never costs a try of the current one.
  const problems = checkPinChange(secrets.current!, secrets.newPin!);
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  const result = await changePin(
    { card: selection(flags), inventoryLocation: flags.inventory ?? defaultInventoryLocation(environment.env), currentPin: secrets.current!, newPin: secrets.newPin! },
    {
      dryRun: flags.dryRun,
      confirm: async (plan) => {
        if (!flags.json) output.notice(`Change the PIN of ${describeCardState(plan.card)}`);
        return confirmed({ ...environment, yes: flags.yes }, 'Change the PIN?', false);
      },
      write: (work) => cancellation.whileWritingCard(work, () => 'the PIN change was sent to the card'),
    },
  );
  output.result(render(result, flags, 'PIN changed.'));
  return result.action === 'declined' ? 1 : 0;
}

export async function runPinUnblock(flags: PinFlags, output: Output, environment: PinEnvironment): Promise<number> {
  if (flags.fromEscrow && flags.pukFile !== undefined) throw new UsageError('the PUK comes from the escrow (--from-escrow) or from --puk-file: give one of them');
  if (flags.fromEscrow && flags.escrowKey === undefined) throw new UsageError('--from-escrow needs --escrow-key FILE: the age identity that opens the escrow');
  if (!flags.fromEscrow && flags.escrowKey !== undefined) throw new UsageError('--escrow-key goes with --from-escrow');
  const escrow = flags.fromEscrow ? await escrowPukSource(flags.escrowKey!) : undefined;
  const secrets = await readSecrets(flags, environment, escrow ? undefined : { file: flags.pukFile, env: 'PIV_PUK', what: 'the PUK', flag: '--puk-file', prompt: 'PUK:' });
  const puk: PukSource = escrow ?? { kind: 'given', puk: secrets.current! };
  const result = await unblockPin(
    { card: selection(flags), inventoryLocation: flags.inventory ?? defaultInventoryLocation(environment.env), puk, newPin: secrets.newPin },
    {
      dryRun: flags.dryRun,
      confirm: async (plan) => {
        if (!flags.json) output.notice(`Set a new PIN with the PUK (${plan.pukFrom}) on ${describeCardState(plan.card)}`);
        return confirmed({ ...environment, yes: flags.yes }, 'Unblock the PIN?', false);
      },
      write: (work) => cancellation.whileWritingCard(work, () => 'the PIN unblock was sent to the card'),
    },
  );
  output.result(render(result, flags, 'PIN unblocked: the new PIN is set and has all its tries.'));
  return result.action === 'declined' ? 1 : 0;
}
