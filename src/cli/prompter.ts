import { CancelledError } from './cancellation.js';

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
    return asked(input({ message, default: defaultValue }));
  },
  async password(message) {
    const { password } = await import('@inquirer/prompts');
    return asked(password({ message, mask: '*' }));
  },
  async confirm(message, defaultValue) {
    const { confirm } = await import('@inquirer/prompts');
    return asked(confirm({ message, default: defaultValue }));
  },
  say(text) {
    process.stderr.write(`${text}\n`);
  },
};

/**
 * A Ctrl-C at a prompt is a keypress in raw mode, not a signal: @inquirer/prompts rejects with its ExitPromptError,
 * which becomes the CancelledError every command ends with. Matched by name: @inquirer/prompts does not export the
 * class, and @inquirer/core is not a dependency of ours.
 */
async function asked<T>(answer: Promise<T>): Promise<T> {
  try {
    return await answer;
  } catch (error) {
    if (error instanceof Error && error.name === 'ExitPromptError') throw new CancelledError(undefined, { cause: error });
    throw error;
  }
}

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
