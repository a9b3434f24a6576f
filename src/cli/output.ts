/** Where a command's words go: results to stdout, notices and errors to stderr. Injected for tests. */
export interface Output {
  result(text: string): void;
  notice(text: string): void;
  error(text: string): void;
}

export const processOutput: Output = {
  result: (text) => process.stdout.write(text + '\n'),
  notice: (text) => process.stderr.write(text + '\n'),
  error: (text) => process.stderr.write(`piv-enroll: ${text}\n`),
};
