/**
 * Progress as listr2 task lists, on stderr (stdout carries the result, and nothing else with --json). One set-up for
 * every command: enroll's steps, batch's readers, deploy's hosts.
 */
export interface TaskSpec {
  title: string;
  task: (context: unknown, task: { title: string; output: string }) => Promise<void>;
}

export interface TaskListOptions {
  /** true, false, or how many at once. */
  concurrent: boolean | number;
  exitOnError: boolean;
  renderer?: 'default' | 'simple' | 'silent';
}

/** Starts drawing `tasks`; `done` settles when every task has (it never rejects). An object: an async function would flatten a returned promise into its own. */
export async function startTaskList(tasks: TaskSpec[], options: TaskListOptions): Promise<{ done: Promise<void> }> {
  const { Listr, ListrLogger, ProcessOutput } = await import('listr2');
  const list = new Listr(tasks, {
    concurrent: options.concurrent,
    exitOnError: options.exitOnError,
    // listr2 would otherwise answer Ctrl-C with process.exit(127), in the middle of a card write or a batch that
    // promised to let running enrollments finish: signals stay with the command (cancellation.ts).
    registerSignalListeners: false,
    renderer: options.renderer ?? 'default',
    rendererOptions: { logger: new ListrLogger({ processOutput: new ProcessOutput(process.stderr, process.stderr) }) },
  });
  return {
    done: list.run().then(
      () => undefined,
      () => undefined,
    ),
  };
}

/**
 * Runs `run` under a sequential task list of `steps`, each task following the progress events: a step's task ends
 * when a later step starts, and the task of the step that failed shows the failure.
 */
export async function withStepTasks<Step extends string, T>(
  steps: ReadonlyArray<readonly [readonly Step[], string]>,
  renderer: TaskListOptions['renderer'],
  run: (progress: (step: Step, message: string) => void) => Promise<T>,
): Promise<T> {
  type Gate = { resolve: () => void; reject: (e: unknown) => void; promise: Promise<void>; output?: (m: string) => void };
  const gates: Gate[] = steps.map(() => {
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    promise.catch(() => undefined);
    return { resolve, reject, promise };
  });
  let current = -1;
  const advance = (to: number): void => {
    for (let i = Math.max(current, 0); i < to; i++) gates[i]!.resolve();
    current = Math.max(current, to);
  };
  const { done: listing } = await startTaskList(
    steps.map(([, title], index) => ({
      title,
      task: async (_context, task) => {
        gates[index]!.output = (m) => (task.output = m);
        await gates[index]!.promise;
      },
    })),
    { concurrent: false, exitOnError: true, renderer },
  );
  try {
    const result = await run((step, message) => {
      const index = steps.findIndex(([names]) => names.includes(step));
      if (index > current) advance(index);
      gates[index]?.output?.(message);
    });
    advance(steps.length);
    await listing;
    return result;
  } catch (error) {
    gates[Math.max(current, 0)]!.reject(error);
    await listing;
    throw error;
  }
}
