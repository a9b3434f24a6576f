/**
 * Where an enrollment's time goes, step by step, for enroll's --json `timings`: fed by the same Progress callback
 * as the task list. A step lasts from its first progress message until the next step's; a step that comes back
 * (harden, authenticate, harden) adds up. With an APDU counter, each step also gets the APDUs sent during it.
 */
import type { Progress, StepName } from './apply.js';

/** Steps outside applyEnrollment's Progress that a caller may mark too (the PKCS#11 checks, the inventory, deploy). */
export type TimedStep = StepName | 'connect' | 'pkcs11' | 'inventory' | 'deploy' | (string & {});

export interface StepTiming {
  ms: number;
  apdus?: number;
}

export type StepTimings = Record<string, StepTiming>;

export class StepTimer {
  private current: { step: TimedStep; startedAt: number; apdusAtStart?: number; apdusCounted?: number } | undefined;
  private readonly totals: StepTimings = {};

  constructor(
    private readonly now: () => number = () => performance.now(),
    /** APDUs sent so far (e.g. a counting transport's); absent: timings without APDU counts. */
    private apduCount?: () => number,
  ) {}

  /**
   * Counts APDUs from now on with `counter` (a card just opened: the step in progress counts from 0, the card's
   * opening included), or stops counting (undefined: the card was let go; later steps, such as a PKCS#11 module's
   * checks, send APDUs this process does not see, so they get no count rather than a wrong 0).
   */
  countApdus(counter: (() => number) | undefined): void {
    const open = this.current;
    if (open && !this.apduCount && counter) open.apdusAtStart = 0;
    if (open && this.apduCount && !counter && open.apdusAtStart !== undefined) {
      open.apdusCounted = this.apduCount() - open.apdusAtStart;
      open.apdusAtStart = undefined;
    }
    this.apduCount = counter;
  }

  /** Starts `step` (ending the one before); the same step again is a no-op. */
  mark(step: TimedStep): void {
    if (this.current?.step === step) return;
    this.close();
    this.current = { step, startedAt: this.now(), apdusAtStart: this.apduCount?.() };
  }

  /** A Progress callback that marks each step and passes every message on to `next` (the task list). */
  progress(next: Progress = () => undefined): Progress {
    return (step, message) => {
      this.mark(step);
      next(step, message);
    };
  }

  /** Ends the step in progress and returns every step's total, in the order they first started. */
  finish(): StepTimings {
    this.close();
    return Object.fromEntries(Object.entries(this.totals).map(([step, t]) => [step, { ...t, ms: Math.round(t.ms * 10) / 10 }]));
  }

  private close(): void {
    const open = this.current;
    if (!open) return;
    this.current = undefined;
    const total = (this.totals[open.step] ??= { ms: 0 });
    total.ms += this.now() - open.startedAt;
    const apdus = open.apdusCounted ?? (open.apdusAtStart !== undefined && this.apduCount ? this.apduCount() - open.apdusAtStart : undefined);
    if (apdus !== undefined) total.apdus = (total.apdus ?? 0) + apdus;
  }
}
