/** The questions a wizard can ask, behind an interface so tests can answer them. */
export interface Prompter {
  input(message: string, defaultValue?: string): Promise<string>;
  /** Hidden input. */
  password(message: string): Promise<string>;
  confirm(message: string, defaultValue: boolean): Promise<boolean>;
  /** A line of explanation between questions. */
  say(text: string): void;
}

/** The terminal, through @inquirer/prompts (loaded only when a question is actually asked). */
export const terminalPrompter: Prompter = {
  async input(message, defaultValue) {
    const { input } = await import('@inquirer/prompts');
    return input({ message, default: defaultValue });
  },
  async password(message) {
    const { password } = await import('@inquirer/prompts');
    return password({ message, mask: '*' });
  },
  async confirm(message, defaultValue) {
    const { confirm } = await import('@inquirer/prompts');
    return confirm({ message, default: defaultValue });
  },
  say(text) {
    process.stderr.write(`${text}\n`);
  },
};

/** Asks for a new secret twice, until both match and `check` accepts it. */
export async function askNewSecret(prompter: Prompter, what: string, check: (value: string) => string | undefined): Promise<string> {
  for (;;) {
    const first = await prompter.password(`New ${what}:`);
    const problem = check(first);
    if (problem) {
      prompter.say(`${problem}; try again.`);
      continue;
    }
    if ((await prompter.password(`New ${what} again:`)) === first) return first;
    prompter.say(`The two ${what}s differ; try again.`);
  }
}
