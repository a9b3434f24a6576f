/**
 * `piv-enroll batch --manifest FILE`: a whole intake of people, one card each. Each card is enrolled exactly as
 * `piv-enroll enroll` would (same plan, checks, CA certificate, deployment and inventory record), on as many readers
 * as hold cards, in parallel. The inventory is the batch's memory: a person with an active enrollment is never
 * enrolled again (unless --force), and hosts the manifest lists but the inventory does not show the key on are
 * deployed to on the next run, so an interrupted batch simply runs again.
 *
 * Without a terminal (or with --yes) people are matched to cards by the manifest's card-serial column; on a terminal
 * the batch asks for each person's card in turn.
 */
import { stringify } from 'csv-stringify/sync';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PivEnrollError, UsageError } from '../../errors.js';
import { parseManifest, type ManifestEntry } from '../../operations/batch/manifest.js';
import { ReaderMonitor, type CardInReader } from '../../operations/batch/card-readers.js';
import { parseDuration } from '../../operations/ca/validity.js';
import { deployKey, type HostResult } from '../../operations/deploy/deploy-key.js';
import { defaultInventoryLocation, hostsWithKey, Inventory, type EnrollmentRecord } from '../../operations/inventory/inventory.js';
import { recordDeployResults } from '../../operations/inventory/record-deploy.js';
import { cancellation, CancelledError } from '../cancellation.js';
import type { Output } from '../output.js';
import { terminalPrompter, type Prompter } from '../prompter.js';
import { deployOptionsFrom, hostsAndOptions } from './deploy.js';
import { runEnroll, type EnrollEnvironment, type EnrollFlags } from './enroll.js';
import { hostAccess, type HostAccessFlags } from '../card-options.js';

export interface BatchFlags extends HostAccessFlags {
  manifest: string;
  inventory?: string;
  reader?: string[];
  yes?: boolean;
  force?: boolean;
  allowLastPinTry?: boolean;
  json?: boolean;
  csv?: boolean;
  /** How long to wait for cards not yet inserted (non-interactive). */
  wait?: string;
  out?: string;
  pkcs11?: string;
  pinFile?: string;
  newPinFile?: string;
  newPukFile?: string;
  managementKeyFile?: string;
  caPassphraseFile?: string;
  keepDefaultCredentials?: boolean;
}

export interface BatchEnvironment {
  env: NodeJS.ProcessEnv;
  interactive: boolean;
  prompter: Prompter;
  /** Poll interval of the reader monitor. */
  pollMs?: number;
  /** Resolves when the user asked to stop (Ctrl-C): no new enrollment starts, running ones finish. */
  stopRequested?: Promise<void>;
  /** Show one task per reader (a terminal), rather than a line per event. */
  taskList?: boolean;
}

export type PersonStatus = 'enrolled' | 'already-enrolled' | 'failed' | 'not-inserted' | 'stopped';

export interface PersonReport {
  user: string;
  line: number;
  status: PersonStatus;
  cardSerial?: number;
  reader?: string;
  fingerprint?: string;
  hosts: { present: number; failed: number };
  error?: string;
}

const DEFAULT_WAIT = '10m';
const POLL_MS = 500;

function enrollFlagsFor(entry: ManifestEntry, reader: string, flags: BatchFlags, inventory: string): EnrollFlags {
  return {
    reader,
    person: entry.user,
    user: entry.subject === undefined ? entry.user : undefined,
    subject: entry.subject,
    slot: entry.slot,
    algorithm: entry.algorithm,
    pinPolicy: entry.pinPolicy,
    touchPolicy: entry.touchPolicy,
    keySource: entry.keySource,
    validDays: entry.validDays === undefined ? undefined : String(entry.validDays),
    ca: entry.ca,
    principals: entry.ca ? (entry.principals ?? [entry.user]).join(',') : undefined,
    deployTo: entry.hosts.length > 0 ? entry.hosts : undefined,
    // enroll refuses host-access flags without hosts: they go along only with someone's hosts.
    ...(entry.hosts.length > 0 ? hostAccess(flags) : {}),
    out: flags.out === undefined ? undefined : join(flags.out, entry.user),
    inventory,
    force: flags.force,
    allowLastPinTry: flags.allowLastPinTry,
    keepDefaultCredentials: flags.keepDefaultCredentials,
    yes: true,
    json: true,
    pkcs11: flags.pkcs11,
    pinFile: flags.pinFile,
    newPinFile: flags.newPinFile,
    newPukFile: flags.newPukFile,
    managementKeyFile: flags.managementKeyFile,
    caPassphraseFile: entry.ca ? flags.caPassphraseFile : undefined,
  };
}

/** Hosts from the manifest the inventory does not show the key on. */
function missingHosts(entry: ManifestEntry, record: EnrollmentRecord): string[] {
  const present = new Set(hostsWithKey(record));
  return entry.hosts.filter((h) => !present.has(h));
}

export async function runBatch(flags: BatchFlags, output: Output, environment: BatchEnvironment): Promise<number> {
  const problems: string[] = [];
  if (flags.json && flags.csv) problems.push('--json and --csv each choose the report format: give one');
  let text: string | undefined;
  try {
    text = await readFile(flags.manifest, 'utf8');
  } catch (error) {
    problems.push(`cannot read the manifest ${flags.manifest}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const manifest = text === undefined ? { entries: [], errors: [] } : parseManifest(text, flags.manifest);
  for (const error of manifest.errors) problems.push(error); // a loop: a manifest can have more problems than a call takes arguments
  let waitMs = 0;
  try {
    waitMs = parseDuration(flags.wait ?? DEFAULT_WAIT, '--wait') * 1000;
  } catch (error) {
    problems.push((error as Error).message);
  }
  const interactive = environment.interactive && !flags.yes;
  if (!interactive) {
    for (const entry of manifest.entries) {
      if (entry.cardSerial === undefined) problems.push(`${flags.manifest}:${entry.line}: ${entry.user} has no card-serial: without a terminal, people are matched to cards by serial`);
    }
  }
  const anyHosts = manifest.entries.some((e) => e.hosts.length > 0);
  if (anyHosts) {
    // Checked once for every host of the manifest, before any card is touched.
    await hostsAndOptions({ host: manifest.entries.flatMap((e) => e.hosts), ...hostAccess(flags) }, problems);
  }
  const location = flags.inventory ?? defaultInventoryLocation(environment.env);
  if (location === 'none') problems.push('batch keeps its progress in the inventory: --inventory none is not possible here');
  if (problems.length > 0) throw new UsageError(problems.join('\n'));

  const inventory = await Inventory.open(location);
  const reports = new Map<string, PersonReport>();
  const pending: ManifestEntry[] = [];
  try {
    // Resume: who is done already, and whose deployment stopped half-way.
    for (const entry of manifest.entries) {
      const [record] = await inventory.enrollments({ person: entry.user });
      if (!record || flags.force) {
        pending.push(entry);
        continue;
      }
      const report: PersonReport = { user: entry.user, line: entry.line, status: 'already-enrolled', cardSerial: record.cardSerial, fingerprint: record.fingerprint, hosts: { present: 0, failed: 0 } };
      const missing = missingHosts(entry, record);
      if (missing.length > 0) {
        output.notice(`${entry.user}: enrolled before; deploying to the ${missing.length} host(s) the key is not on yet`);
        const results = await deployTo(record.authorizedKey, missing, flags);
        await recordDeployResults(inventory, record.fingerprint, 'add', results, record.id);
        report.hosts.failed = results.filter((r) => r.status === 'failed').length;
        if (report.hosts.failed > 0) report.error = results.filter((r) => r.status === 'failed').map((r) => `${r.host}: ${r.reason}`).join('; ');
      }
      report.hosts.present = entry.hosts.length - report.hosts.failed;
      reports.set(entry.user, report);
    }
  } finally {
    await inventory.close();
  }
  const finished: PersonReport[] = [];
  if (pending.length > 0) {
    output.notice(`${pending.length} of ${manifest.entries.length} people to enroll${reports.size > 0 ? ` (${reports.size} enrolled before)` : ''}`);
    const stopReporting = cancellation.reportWith(() => progressStatement(pending, finished));
    const enrollOne = (entry: ManifestEntry, card: CardInReader, progress: ReaderProgress): Promise<PersonReport> =>
      enrollPerson(entry, card, flags, location, environment, progress).then((report) => (finished.push(report), report));
    try {
      const results = interactive
        ? await enrollInteractively(pending, (entry, card) => enrollOne(entry, card, (_, text) => output.notice(text)), flags, environment, output)
        : await withReaderTasks(environment.taskList && !flags.json ? new ReaderMonitor(flags.reader).readerNames() : undefined, output, (progress) =>
            enrollBySerial(pending, (entry, card) => enrollOne(entry, card, progress), flags, environment, output, waitMs),
          );
      for (const report of results) reports.set(report.user, report);
    } finally {
      stopReporting();
    }
  }

  const ordered = manifest.entries.map((e) => reports.get(e.user)!);
  output.result(renderReport(ordered, flags));
  // Stopped by Ctrl-C: the report above, then "cancelled: …" and exit 130 like every other command.
  if (cancellation.interrupted) throw new CancelledError(progressStatement(pending, finished));
  return ordered.every((r) => (r.status === 'enrolled' || r.status === 'already-enrolled') && r.hosts.failed === 0) ? 0 : 1;
}

async function deployTo(authorizedKey: string, hosts: string[], flags: BatchFlags): Promise<HostResult[]> {
  const problems: string[] = [];
  const options = deployOptionsFrom(hostAccess(flags), problems);
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return deployKey({ action: 'add', keyLine: authorizedKey }, hosts, options);
}

/** One person on one card: the enroll command itself, its JSON captured. */
async function enrollPerson(entry: ManifestEntry, card: CardInReader, flags: BatchFlags, inventory: string, environment: BatchEnvironment, progress: ReaderProgress): Promise<PersonReport> {
  const report: PersonReport = { user: entry.user, line: entry.line, status: 'failed', cardSerial: card.serial, reader: card.reader, hosts: { present: 0, failed: 0 } };
  const captured: string[] = [];
  const errors: string[] = [];
  const quiet: Output = { result: (t) => captured.push(t), notice: () => undefined, error: (t) => errors.push(t) };
  const enrollEnvironment: EnrollEnvironment = { env: environment.env, interactive: false, prompter: environment.prompter };
  progress(card.reader, `${entry.user}: enrolling card ${card.serial ?? '(no serial)'} in "${card.reader}"`);
  try {
    const code = await runEnroll(enrollFlagsFor(entry, card.reader, flags, inventory), quiet, enrollEnvironment);
    const result = captured.length > 0 ? (JSON.parse(captured.join('\n')) as { fingerprint: string; deployment: { hosts: HostResult[] } | null }) : undefined;
    report.fingerprint = result?.fingerprint;
    const hosts = result?.deployment?.hosts ?? [];
    report.hosts = { present: hosts.filter((h) => h.status !== 'failed').length, failed: hosts.filter((h) => h.status === 'failed').length };
    report.status = result ? 'enrolled' : 'failed';
    if (code !== 0) report.error = errors.join('; ') || `enroll exited ${code}`;
  } catch (error) {
    if (error instanceof CancelledError) throw error; // a second Ctrl-C, honoured once the card write was done
    report.error = error instanceof PivEnrollError ? error.message : `internal error: ${(error as Error).message}`;
  }
  progress(card.reader, `${entry.user}: ${report.status}${report.error ? ` — ${report.error}` : ''}`);
  return report;
}

/** For "cancelled: …": who of this run is enrolled, who failed, who is left. */
function progressStatement(pending: ManifestEntry[], finished: PersonReport[]): string {
  const names = (reports: PersonReport[]): string => reports.map((r) => r.user).join(', ');
  const enrolled = finished.filter((r) => r.status === 'enrolled');
  const failed = finished.filter((r) => r.status !== 'enrolled');
  const left = pending.filter((entry) => !finished.some((r) => r.user === entry.user));
  return [
    enrolled.length > 0 ? `enrolled: ${names(enrolled)}` : 'nobody enrolled',
    failed.length > 0 && `failed: ${names(failed)}`,
    left.length > 0 && `not done: ${left.map((e) => e.user).join(', ')} (run the batch again: the inventory remembers who is done)`,
  ].filter((part): part is string => typeof part === 'string').join('; ');
}

/** Where a reader's progress lines go: a notice each, or the line of that reader's task in the task list. */
type ReaderProgress = (reader: string, text: string) => void;

/**
 * On a terminal, one listr2 task per reader, running side by side, each showing what its reader is doing; elsewhere
 * (`readers` undefined) plain notices, one line each.
 */
async function withReaderTasks<T>(readers: string[] | undefined, output: Output, work: (progress: ReaderProgress) => Promise<T>): Promise<T> {
  if (!readers || readers.length === 0) return work((_, text) => output.notice(text));
  const { Listr, ListrLogger, ProcessOutput } = await import('listr2');
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const tasks = new Map<string, { output: string; title: string }>();
  const list = new Listr(
    readers.map((reader) => ({
      title: `${reader}: waiting for a card`,
      task: async (_ctx: unknown, task: { output: string; title: string }) => {
        tasks.set(reader, task);
        await finished;
        task.title = `${reader}: done`;
      },
    })),
    {
      concurrent: true,
      exitOnError: false,
      // listr2 would otherwise answer Ctrl-C with process.exit(127), in the middle of a card write or a batch that
      // promised to let running enrollments finish: signals stay with the command.
      registerSignalListeners: false,
      rendererOptions: { collapseSubtasks: false, logger: new ListrLogger({ processOutput: new ProcessOutput(process.stderr, process.stderr) }) },
    },
  );
  const listing = list.run().catch(() => undefined);
  try {
    return await work((reader, text) => {
      const task = tasks.get(reader);
      if (task) task.title = `${reader}: ${text}`;
      else output.notice(text);
    });
  } finally {
    finish();
    await listing;
  }
}

/**
 * Non-interactive: every reader holding a card whose serial is someone's in the manifest enrolls that person, all
 * readers at once; the batch waits (up to `waitMs`) for the cards not inserted yet.
 */
async function enrollBySerial(
  pending: ManifestEntry[],
  enrollOne: (entry: ManifestEntry, card: CardInReader) => Promise<PersonReport>,
  flags: BatchFlags,
  environment: BatchEnvironment,
  output: Output,
  waitMs: number,
): Promise<PersonReport[]> {
  const monitor = new ReaderMonitor(flags.reader);
  const bySerial = new Map(pending.map((e) => [e.cardSerial!, e]));
  const reports: PersonReport[] = [];
  const running = new Map<string, Promise<void>>();
  const told = new Set<string>();
  let stopped = false;
  void environment.stopRequested?.then(() => (stopped = true));
  const deadline = Date.now() + waitMs;
  while (bySerial.size > 0 || running.size > 0) {
    if (!stopped && bySerial.size > 0) {
      for (const card of await monitor.cards(new Set(running.keys()))) {
        const entry = card.serial === undefined ? undefined : bySerial.get(card.serial);
        if (!entry) {
          const note = `${card.reader}:${card.serial ?? card.problem}`;
          if (!told.has(note)) output.notice(card.problem ? `"${card.reader}": ${card.problem}` : `card ${card.serial ?? '(no serial)'} in "${card.reader}" is nobody's in this batch: swap it`);
          told.add(note);
          continue;
        }
        bySerial.delete(card.serial!);
        running.set(
          card.reader,
          enrollOne(entry, card).then((report) => {
            reports.push(report);
            monitor.forget(card.reader);
            running.delete(card.reader);
          }),
        );
      }
    }
    if (bySerial.size === 0 || stopped || Date.now() > deadline) {
      if (running.size === 0) break;
      await Promise.race(running.values());
      continue;
    }
    await Promise.race([new Promise((r) => setTimeout(r, environment.pollMs ?? POLL_MS)), ...running.values()]);
  }
  for (const entry of bySerial.values()) {
    reports.push({ user: entry.user, line: entry.line, status: stopped ? 'stopped' : 'not-inserted', cardSerial: entry.cardSerial, hosts: { present: 0, failed: 0 }, error: stopped ? 'the batch was stopped' : `card ${entry.cardSerial} was not inserted within ${flags.wait ?? DEFAULT_WAIT}` });
  }
  return reports;
}

/** On a terminal: one person at a time, "insert the card for Ana", enroll, "remove it", next. */
async function enrollInteractively(
  pending: ManifestEntry[],
  enrollOne: (entry: ManifestEntry, card: CardInReader) => Promise<PersonReport>,
  flags: BatchFlags,
  environment: BatchEnvironment,
  output: Output,
): Promise<PersonReport[]> {
  const monitor = new ReaderMonitor(flags.reader);
  const reports: PersonReport[] = [];
  const others = new Set(pending.map((e) => e.cardSerial).filter((s): s is number => s !== undefined));
  let stopped = false;
  void environment.stopRequested?.then(() => (stopped = true));
  const stopHere = (from: number): PersonReport[] => [
    ...reports,
    ...pending.slice(from).map((rest): PersonReport => ({ user: rest.user, line: rest.line, status: 'stopped', hosts: { present: 0, failed: 0 }, error: 'the batch was stopped' })),
  ];
  for (const [index, entry] of pending.entries()) {
    if (stopped) return stopHere(index);
    environment.prompter.say(`(${index + 1}/${pending.length}) Insert the card for ${entry.user}${entry.cardSerial ? ` (serial ${entry.cardSerial})` : ''}.`);
    let card: CardInReader | undefined;
    const refused = new Set<string>();
    while (!card) {
      if (stopped) return stopHere(index);
      for (const candidate of await monitor.cards(new Set())) {
        const wrong = entry.cardSerial !== undefined ? candidate.serial !== entry.cardSerial : candidate.serial !== undefined && others.has(candidate.serial);
        if (candidate.problem || wrong) {
          const key = `${candidate.reader}:${candidate.serial}`;
          if (!refused.has(key)) output.notice(candidate.problem ? `"${candidate.reader}": ${candidate.problem}` : `card ${candidate.serial} is not ${entry.user}'s: swap it`);
          refused.add(key);
          continue;
        }
        card = candidate;
        break;
      }
      if (!card) await new Promise((r) => setTimeout(r, environment.pollMs ?? POLL_MS));
    }
    const report = await enrollOne(entry, card);
    reports.push(report);
    monitor.forget(card.reader);
    if (card.serial !== undefined) others.add(card.serial);
    if (index < pending.length - 1 && !(await environment.prompter.confirm(`${entry.user}: ${report.status}. Go on with ${pending[index + 1]!.user}?`, true))) {
      return stopHere(index + 1);
    }
  }
  return reports;
}

const COLUMNS = ['user', 'line', 'status', 'card_serial', 'reader', 'fingerprint', 'hosts_present', 'hosts_failed', 'error'];

function renderReport(reports: PersonReport[], flags: BatchFlags): string {
  if (flags.json) return JSON.stringify({ people: reports, summary: summarizeReport(reports) }, null, 2);
  const rows = reports.map((r) => [r.user, String(r.line), r.status, r.cardSerial === undefined ? '' : String(r.cardSerial), r.reader ?? '', r.fingerprint ?? '', String(r.hosts.present), String(r.hosts.failed), r.error ?? '']);
  if (flags.csv) return stringify([COLUMNS, ...rows]).trimEnd();
  const table = [['PERSON', 'STATUS', 'CARD', 'FINGERPRINT', 'HOSTS', 'PROBLEM'], ...rows.map((r) => [r[0]!, r[2]!, r[3] || '-', r[5] || '-', r[7] === '0' ? r[6]! : `${r[6]} ok, ${r[7]} failed`, r[8]!])];
  const widths = table[0]!.map((_, i) => table.reduce((width, row) => Math.max(width, row[i]!.length), 0));
  const summary = summarizeReport(reports);
  return [
    ...table.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()),
    '',
    `${summary.enrolled} enrolled, ${summary.alreadyEnrolled} enrolled before, ${summary.failed} failed, ${summary.waiting} not done`,
  ].join('\n');
}

function summarizeReport(reports: PersonReport[]): { enrolled: number; alreadyEnrolled: number; failed: number; waiting: number } {
  return {
    enrolled: reports.filter((r) => r.status === 'enrolled').length,
    alreadyEnrolled: reports.filter((r) => r.status === 'already-enrolled').length,
    failed: reports.filter((r) => r.status === 'failed').length,
    waiting: reports.filter((r) => r.status === 'not-inserted' || r.status === 'stopped').length,
  };
}

export const defaultBatchEnvironment = (yes: boolean | undefined): BatchEnvironment => {
  let stop!: () => void;
  const stopRequested = new Promise<void>((resolve) => (stop = resolve));
  // First Ctrl-C: start nothing new, let running enrollments finish, report. A second one cancels, once the card
  // writes under way are done (cancellation.ts).
  cancellation.onFirstInterrupt(() => {
    process.stderr.write('\nstopping: running enrollments finish first (Ctrl-C again to cancel once the card writes under way are done)\n');
    stop();
  });
  process.once('SIGTERM', () => stop());
  return {
    env: process.env,
    interactive: !yes && Boolean(process.stdin.isTTY && process.stdout.isTTY) && process.env.CI !== 'true',
    prompter: terminalPrompter,
    stopRequested,
    taskList: Boolean(process.stderr.isTTY),
  };
};
