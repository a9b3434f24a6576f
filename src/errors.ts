/**
 * The root of every error piv-enroll raises on purpose. Each layer subclasses it with what it knows;
 * the CLI turns any PivEnrollError into its message and exit code, anything else into an internal error.
 * Messages never carry secrets: callers pass descriptions, never PIN or key bytes.
 */
export class PivEnrollError extends Error {
  /** Process exit status the CLI uses for this error. */
  readonly exitCode: number = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The person at the keyboard stopped the command (Ctrl-C): exit status 130, as a shell reports SIGINT. */
export class InterruptedError extends PivEnrollError {
  override readonly exitCode: number = 130;
}

/** A user gave something unusable (a flag, a file, a value). */
export class UsageError extends PivEnrollError {
  override readonly exitCode: number = 2;
}

/**
 * For checks that report every problem at once: `collect(() => parse(x))` returns the value, or records the
 * UsageError's message in `problems` and returns undefined. Any other error is a bug and is raised.
 */
export function usageProblemCollector(problems: string[]): <T>(parse: () => T) => T | undefined {
  return (parse) => {
    try {
      return parse();
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      problems.push(error.message);
      return undefined;
    }
  };
}
