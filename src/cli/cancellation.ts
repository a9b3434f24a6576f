/**
 * Ctrl-C, the same way in every command. A SIGINT, or a Ctrl-C at a prompt (which @inquirer/prompts reports as an
 * ExitPromptError and the Prompter turns into a CancelledError), ends the command with "cancelled: …" saying what
 * was done and what was not, and exit status 130 (128 + SIGINT, what a shell reports for a Ctrl-C), never a trace.
 *
 * A card write is a critical section: a Ctrl-C during it is deferred, with a notice, until the write is done, so a
 * card is never left half-enrolled (a new PIN but no key, a key without its certificate). A command that stops
 * gracefully by itself (batch: start nothing new, let running enrollments finish) takes the first Ctrl-C.
 */
import { InterruptedError, PivEnrollError } from '../errors.js';

export const EXIT_CANCELLED = 130;

export const CARD_WRITE_IN_PROGRESS = 'a card write is in progress: wait for it to finish';

/** The user cancelled: the message says what was done and what was not. */
export class CancelledError extends InterruptedError {
  override readonly exitCode: number = EXIT_CANCELLED;
  constructor(statement: string = cancellation.statement(), options?: { cause?: unknown }) {
    super(`cancelled: ${statement}`, options);
  }
}

export interface CancellationHooks {
  notice(text: string): void;
  /** Ends the process now with this message (outside any card write). */
  exit(message: string, code: number): void;
}

export class Cancellation {
  private writesInProgress = 0;
  private abortPending = false;
  private readonly finished: string[] = [];
  private readonly reporters = new Set<() => string>();
  private readonly stoppers = new Set<() => void>();
  private stopping = false;

  constructor(private hooks: CancellationHooks) {}

  /** True once the user pressed Ctrl-C (a command that stopped gracefully still ends as cancelled). */
  get interrupted(): boolean {
    return this.stopping || this.abortPending;
  }

  /** Where notices and the final exit go (the CLI front end sets its own output). */
  useHooks(hooks: CancellationHooks): void {
    this.hooks = hooks;
  }

  /** What SIGINT does. */
  interrupt(): void {
    if (!this.stopping && this.stoppers.size > 0) {
      this.stopping = true;
      for (const stop of this.stoppers) stop();
      return;
    }
    this.stopping = true;
    if (this.writesInProgress > 0) {
      this.abortPending = true;
      this.hooks.notice(CARD_WRITE_IN_PROGRESS);
      return;
    }
    this.hooks.exit(`cancelled: ${this.statement()}`, EXIT_CANCELLED);
  }

  /**
   * Runs a card write to its end whatever Ctrl-C is pressed meanwhile; `describe` says what it did, for a later
   * "cancelled: …". A Ctrl-C during the write raises CancelledError once the last running write is done.
   */
  async whileWritingCard<T>(work: () => Promise<T>, describe: (result: T) => string): Promise<T> {
    this.writesInProgress++;
    let result: T;
    try {
      result = await work();
    } catch (error) {
      this.writesInProgress--;
      // The write failed with a Ctrl-C pending: the failure says what happened to the card.
      if (this.abortPending && this.writesInProgress === 0 && error instanceof PivEnrollError) {
        throw new CancelledError(`the card write stopped with an error: ${error.message}`, { cause: error });
      }
      throw error;
    }
    this.writesInProgress--;
    this.finished.push(describe(result));
    if (this.abortPending && this.writesInProgress === 0) throw new CancelledError(this.statement());
    return result;
  }

  /** A command's own account of what it did so far (deploy: the hosts), asked for at the moment of a Ctrl-C. */
  reportWith(report: () => string): () => void {
    this.reporters.add(report);
    return () => this.reporters.delete(report);
  }

  /** A command that stops gracefully takes the first Ctrl-C; a second one cancels (deferred during card writes). */
  onFirstInterrupt(stop: () => void): () => void {
    this.stoppers.add(stop);
    return () => this.stoppers.delete(stop);
  }

  /** What a cancellation now leaves behind: the card writes done, then each command's own report. */
  statement(): string {
    const parts = [...this.finished, ...[...this.reporters].map((report) => report())];
    return parts.length > 0 ? parts.join('; ') : 'nothing was changed on the card';
  }
}

/** The process's one Cancellation; the CLI front end connects it to SIGINT. */
export const cancellation = new Cancellation({
  notice: (text) => process.stderr.write(`${text}\n`),
  exit: (message, code) => {
    process.stderr.write(`${message}\n`);
    process.exit(code);
  },
});

/** Ends a task list's drawing: listr2 hides the cursor while it runs. */
const SHOW_CURSOR = '\u001b[?25h';

// While a task list draws, listr2 takes over process.stdout/stderr.write and holds what others write until it ends;
// a process.exit would drop it. Kept from before any task list, to give the streams back on the way out.
const streamWrites = [process.stdout, process.stderr].map((stream) => [stream, stream.write] as const);

/** Connects `cancellation` to SIGINT for one run of the CLI; returns the disconnect. */
export function handleInterrupts(error: (text: string) => void): () => void {
  cancellation.useHooks({
    notice: (text) => process.stderr.write(`\n${text}\n`),
    exit: (message, code) => {
      for (const [stream, write] of streamWrites) stream.write = write;
      if (process.stderr.isTTY) process.stderr.write(SHOW_CURSOR);
      process.stderr.write('\n');
      error(message);
      process.exit(code);
    },
  });
  const onSigint = (): void => cancellation.interrupt();
  process.on('SIGINT', onSigint);
  return () => process.off('SIGINT', onSigint);
}
