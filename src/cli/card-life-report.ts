/** Words shared by `pin change`, `pin unblock` and `reset`: the card as read before the change, and the confirmation. */
import { UsageError } from '../errors.js';
import type { CardState } from '../operations/card-life/card-life.js';
import { terminalPrompter, type Prompter } from './prompter.js';

const tries = (left: number | undefined): string => (left === undefined ? 'unknown' : left === 0 ? 'blocked' : `${left} ${left === 1 ? 'try' : 'tries'} left`);

export function describeCardState(card: CardState): string {
  const name = card.serial === undefined ? 'the card (no serial)' : `card ${card.serial}`;
  const where = card.virtual ? 'the embedded virtual card (test only)' : card.reader ? `in ${card.reader}` : '';
  return `${name}, firmware ${card.firmware}${where ? `, ${where}` : ''}: PIN ${tries(card.pinTriesLeft)}, PUK ${tries(card.pukTriesLeft)}`;
}

/** The card in --json: no secret is in CardState, so it goes out as it is. */
export function cardJson(card: CardState): Record<string, unknown> {
  return { serial: card.serial, firmware: card.firmware, reader: card.reader, virtual: card.virtual, pinTriesLeft: card.pinTriesLeft, pukTriesLeft: card.pukTriesLeft };
}

export interface ConfirmContext {
  interactive: boolean;
  yes?: boolean;
  prompter: Prompter;
}

/**
 * Asks on a terminal (unless --yes). Without a terminal a command that `needsYes` (it erases or retires something)
 * refuses without --yes; the others go on, as rekey does.
 */
export async function confirmed(context: ConfirmContext, question: string, needsYes: boolean): Promise<boolean> {
  if (context.yes) return true;
  if (context.interactive) return context.prompter.confirm(question, false);
  if (needsYes) throw new UsageError('no terminal to confirm on: give --yes to go ahead (or --dry-run to see the plan)');
  return true;
}

/** Where the card-life commands read secrets and ask questions; injected for tests. */
export interface CardLifeEnvironment {
  env: NodeJS.ProcessEnv;
  prompter: Prompter;
  /** A person can answer questions (a terminal). */
  interactive: boolean;
}

export const defaultCardLifeEnvironment = (): CardLifeEnvironment => ({
  env: process.env,
  prompter: terminalPrompter,
  interactive: Boolean(process.stdin.isTTY && process.stdout.isTTY) && process.env.CI !== 'true',
});
