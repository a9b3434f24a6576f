/** `deploy`: public keys onto hosts (issue 5 part 1). Flags only; the command module is imported lazily. */
import type { Command } from 'commander';
import type { Output } from './output.js';

export function registerDeployCommand(program: Command, output: Output, setExit: (code: number) => void): void {
  void program;
  void output;
  void setExit;
}
