/**
 * `--handout DIR` and `--helpdesk TEXT`, shared by enroll and batch: declared once, turned into the operation's
 * HandoutRequest once. No initial PIN here: the PIN a person chose (PIV_NEW_PIN, --new-pin-file, the wizard) is never
 * printed; only one piv-enroll generated for the card is, and that one comes from the enrollment itself.
 */
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import type { HandoutRequest } from '../operations/enroll/enroll-card.js';

export interface HandoutFlags {
  /** Write a printable handout per person into DIR (DIR/<person>-<serial>.pdf). */
  handout?: string;
  /** With --handout: how to reach the helpdesk. */
  helpdesk?: string;
}

export function addHandoutOptions(command: Command, each: string): Command {
  return command
    .option('--handout <dir>', `write a printable handout (PDF: card, key, how to log in from Linux, macOS, Windows) ${each} to DIR/<person>-<serial>.pdf; never over an existing file`)
    .option('--helpdesk <text>', 'with --handout: how to reach the helpdesk, printed with the blocked-PIN help');
}

/** The handout the flags ask for. --helpdesk alone is a usage problem: pushed to `problems`, else thrown. */
export function handoutRequest(flags: HandoutFlags, problems?: string[]): HandoutRequest | undefined {
  if (flags.handout === undefined) {
    const problem = flags.helpdesk === undefined ? undefined : '--helpdesk only applies with --handout DIR';
    if (problem && !problems) throw new UsageError(problem);
    if (problem) problems!.push(problem);
    return undefined;
  }
  return { dir: flags.handout, helpdesk: flags.helpdesk };
}
