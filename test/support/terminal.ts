/** The front ends' two outside parts in tests: an Output that keeps what was printed, and a scripted person at the terminal. */
import type { Output } from '../../src/cli/output.js';
import type { Prompter } from '../../src/cli/prompter.js';

/** stdout lines in `out`, notices and errors (stderr) in `err`. */
export function captured(): Output & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, result: (t) => out.push(t), notice: (t) => err.push(t), error: (t) => err.push(t) };
}

/** Answers in order and records every question (what is said too, as "(said) …"); an unexpected question fails. */
export function scriptedPrompter(answers: Array<string | boolean>): Prompter & { asked: string[] } {
  const asked: string[] = [];
  const next = (question: string): string | boolean => {
    asked.push(question);
    if (answers.length === 0) throw new Error(`unexpected question: ${question}`);
    return answers.shift()!;
  };
  return { asked, input: async (m) => String(next(m)), password: async (m) => String(next(m)), confirm: async (m) => Boolean(next(m)), say: (t) => asked.push(`(said) ${t}`) };
}
