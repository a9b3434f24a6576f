/**
 * `piv-enroll batch --manifest FILE`: a whole intake of people, one card each (the workflow: operations/batch/
 * run-batch.ts). This file reads the manifest and the secrets, checks every host and value before any reader is
 * touched, shows one task per reader on a terminal, asks for cards one by one at a desk, and prints the report.
 */
import { stringify } from 'csv-stringify/sync';
import { attestationRequirement, type AttestationFlags } from '../attestation-options.js';
import { readFile } from 'node:fs/promises';
import { UsageError } from '../../errors.js';
import { parseManifest, type ManifestEntry } from '../../operations/batch/manifest.js';
import { ReaderMonitor } from '../../operations/batch/card-readers.js';
import { manifestPolicyProblems } from '../../operations/batch/manifest-policy.js';
import { runBatch, type PersonReport } from '../../operations/batch/run-batch.js';
import { resolvePolicy } from '../../operations/policy/resolve.js';
import { parseDuration } from '../../operations/ca/validity.js';
import { defaultInventoryLocation } from '../../operations/inventory/inventory.js';
import { pkcs11Checks, type Pkcs11CheckFlags } from '../pkcs11-checks.js';
import { cancellation, CancelledError } from '../cancellation.js';
import { enrolledCardStatement } from '../card-write-statements.js';
import { MISSING_INPUT_WORDS } from '../enroll/wizard.js';
import type { Output } from '../output.js';
import { terminalPrompter, type Prompter } from '../prompter.js';
import { parseManagementKey, secretReader, escrowRecipientsFrom } from '../secrets.js';
import { startTaskList } from '../task-list.js';
import { prepareBatchHandOut, rescueHeldPin } from '../hand-out.js';
import { deployOptionsFrom, hostsAndOptions } from '../host-options.js';
import { hostAccess, type HostAccessFlags } from '../card-options.js';
import { handoutRequest, type HandoutFlags } from '../handout-options.js';

export interface BatchFlags extends HostAccessFlags, AttestationFlags, HandoutFlags, Pkcs11CheckFlags {
  /** The site policy file (none: no policy). */
  policy?: string;
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
  pinFile?: string;
  newPinFile?: string;
  newPukFile?: string;
  managementKeyFile?: string;
  caPassphraseFile?: string;
  keepDefaultCredentials?: boolean;
  /** A directory for each person's generated PIN (and PUK): DIR/USER.txt, mode 0600. */
  pinOut?: string;
  escrowRecipient?: string;
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

export type { PersonReport, PersonStatus } from '../../operations/batch/run-batch.js';

const DEFAULT_WAIT = '10m';

export async function runBatchCommand(flags: BatchFlags, output: Output, environment: BatchEnvironment): Promise<number> {
  const problems: string[] = [];
  if (flags.json && flags.csv) problems.push('--json and --csv each choose the report format: give one');
  let text: string | undefined;
  try {
    text = await readFile(flags.manifest, 'utf8');
  } catch (error) {
    problems.push(`cannot read the manifest ${flags.manifest}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const policy = await resolvePolicy(flags.policy, environment.env); // first: the manifest's hosts may name its groups (@GROUP)
  const manifest = text === undefined ? { entries: [], errors: [] } : parseManifest(text, flags.manifest, { policy });
  for (const error of manifest.errors) problems.push(error); // a loop: a manifest can have more problems than a call takes arguments
  let waitMs = 0;
  try {
    waitMs = parseDuration(flags.wait ?? DEFAULT_WAIT, '--wait') * 1000;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    problems.push(error.message);
  }
  const interactive = environment.interactive && !flags.yes;
  if (!interactive) {
    for (const entry of manifest.entries) {
      if (entry.cardSerial === undefined) problems.push(`${flags.manifest}:${entry.line}: ${entry.user} has no card-serial: without a terminal, people are matched to cards by serial`);
    }
  }
  if (policy) problems.push(...manifestPolicyProblems(manifest.entries, policy, flags.manifest));
  // Checked once for every host of the manifest, before any card is touched.
  if (manifest.entries.some((e) => e.hosts.length > 0)) await hostsAndOptions({ host: manifest.entries.flatMap((e) => e.hosts), ...hostAccess(flags) }, problems);
  const deploy = deployOptionsFrom(hostAccess(flags), problems);
  const location = flags.inventory ?? (environment.env.PIV_ENROLL_INVENTORY || policy?.defaults.inventory) ?? defaultInventoryLocation(environment.env);
  if (location === 'none') problems.push('batch keeps its progress in the inventory: --inventory none is not possible here');
  const read = secretReader(problems, environment.env);
  const secrets = {
    pin: await read(flags.pinFile, 'PIV_PIN', 'the PIN'),
    newPin: await read(flags.newPinFile, 'PIV_NEW_PIN', 'the new PIN'),
    newPuk: await read(flags.newPukFile, 'PIV_NEW_PUK', 'the new PUK'),
    managementKey: undefined as Uint8Array | undefined,
  };
  const managementKey = await read(flags.managementKeyFile, 'PIV_MANAGEMENT_KEY', 'the management key');
  if (managementKey !== undefined) secrets.managementKey = parseManagementKey(managementKey);
  const caPassphrase = manifest.entries.some((e) => e.ca !== undefined) || policy?.defaults.ca !== undefined ? await read(flags.caPassphraseFile, 'PIV_CA_PASSPHRASE', 'the CA passphrase') : undefined;
  const escrowRecipients = await escrowRecipientsFrom(flags.escrowRecipient, problems);
  const handout = handoutRequest(flags, problems);
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  const attestation = await attestationRequirement(flags); // a bad roots file stops the batch before any card
  // Random per card unless one value for every card was given (then said out loud: one leaked sheet opens them all).
  const hardening = !flags.keepDefaultCredentials;
  for (const [given, what] of [[secrets.newPin, 'PIN'], [secrets.newPuk, 'PUK']] as const) {
    if (hardening && given !== undefined) output.notice(`warning: every factory-fresh card gets the same ${what} (given for all): one leaked sheet opens them all; leave it out for a random ${what} per card`);
  }
  const handOutTo = flags.pinOut === undefined ? undefined : await prepareBatchHandOut(flags.pinOut);

  const finished: PersonReport[] = [];
  const pendingNow = (): ManifestEntry[] => manifest.entries.filter((e) => !finished.some((r) => r.user === e.user));
  const stopReporting = cancellation.reportWith(() => progressStatement(pendingNow(), finished));
  let result: Awaited<ReturnType<typeof runBatch>>;
  try {
    result = await withReaderTasks(environment.taskList && !flags.json && !interactive ? new ReaderMonitor(flags.reader).readerNames() : undefined, output, (progress) =>
      runBatch(
        {
          entries: manifest.entries, readers: flags.reader, inventoryLocation: location, force: flags.force ?? false, allowLastPinTry: flags.allowLastPinTry ?? false,
          keepDefaultCredentials: flags.keepDefaultCredentials ?? false, ...pkcs11Checks(flags), outDir: flags.out,
          secrets, caPassphrase, deploy, waitMs, pollMs: environment.pollMs, policy, attestation,
          randomPin: hardening && secrets.newPin === undefined, randomPuk: hardening && secrets.newPuk === undefined, escrowRecipients,
          handout, // a PIN the batch generated goes on its person's handout (enrollCard); one given for all cards never does
        },
        {
          notice: (t) => output.notice(t),
          progress,
          stopRequested: environment.stopRequested,
          desk: interactive ? { say: (t) => environment.prompter.say(t), confirm: (q) => environment.prompter.confirm(q, true) } : undefined,
          personDone: (report) => finished.push(report),
          wordMissing: (m) => MISSING_INPUT_WORDS[m],
          write: (work) => cancellation.whileWritingCard(() => work(() => undefined), enrolledCardStatement),
          handOut: handOutTo && ((entry, serial, generated) => handOutTo(entry.user).deliver(generated, `${entry.user}'s card ${serial ?? ''}`.trim())),
          rescuePin: flags.handout === undefined ? undefined : (entry, generated) => rescueHeldPin(flags.handout!, entry.user, generated),
        },
      ),
    );
  } finally {
    stopReporting();
  }
  output.result(renderReport(result.reports, flags));
  // Stopped by Ctrl-C: the report above, then "cancelled: …" and exit 130 like every other command.
  if (cancellation.interrupted) throw new CancelledError(progressStatement(result.pending, finished));
  return result.reports.every((r) => (r.status === 'enrolled' || r.status === 'already-enrolled') && r.hosts.failed === 0) ? 0 : 1;
}

type ReaderProgress = (reader: string, text: string) => void;

/**
 * On a terminal, one task per reader, running side by side, each showing what its reader is doing; elsewhere
 * (`readers` undefined) plain notices, one line each.
 */
async function withReaderTasks<T>(readers: string[] | undefined, output: Output, work: (progress: ReaderProgress) => Promise<T>): Promise<T> {
  if (!readers || readers.length === 0) return work((_, text) => output.notice(text));
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const tasks = new Map<string, { title: string }>();
  const { done: listing } = await startTaskList(
    readers.map((reader) => ({
      title: `${reader}: waiting for a card`,
      task: async (_context, task) => {
        tasks.set(reader, task);
        await done;
        task.title = `${reader}: done`;
      },
    })),
    { concurrent: true, exitOnError: false },
  );
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
