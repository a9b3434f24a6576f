/**
 * `--handout DIR` and `--helpdesk TEXT`, shared by enroll and batch: declared once, turned into the operation's
 * HandoutRequest once. No initial PIN here: the PIN a person chose (PIV_NEW_PIN, --new-pin-file, the wizard) is never
 * printed; only one piv-enroll generated for the card is, and that one comes from the enrollment itself.
 */
import type { Command } from 'commander';
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

/** The handout the flags ask for; a problem (--helpdesk alone) goes into `problems`. */
export function handoutRequest(flags: HandoutFlags, problems: string[]): HandoutRequest | undefined {
  if (flags.handout === undefined) {
    if (flags.helpdesk !== undefined) problems.push('--helpdesk only applies with --handout DIR');
    return undefined;
  }
  return { dir: flags.handout, helpdesk: flags.helpdesk };
}
