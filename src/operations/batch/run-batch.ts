/**
 * A whole intake of people, one card each. Each card is enrolled by enrollCard, exactly as `enroll` does it (same
 * validator, plan, checks, CA certificate, deployment and inventory record), on as many readers as hold cards, in
 * parallel. The inventory is the batch's memory: a person with an active enrollment is never enrolled again (unless
 * `force`), and hosts the manifest lists but the inventory does not show the key on are deployed to on the next run,
 * so an interrupted batch simply runs again.
 *
 * Matching people to cards: by the manifest's card-serial (every reader at once), or, with `ask` hooks, one person at
 * a time as a person at the desk inserts each card.
 */
import { join } from 'node:path';
import type { AttestationRequirement } from '../attestation/evidence.js';
import { InterruptedError, PivEnrollError, UsageError } from '../../errors.js';
import { deployKey, type DeployOptions } from '../deploy/deploy-key.js';
import { parseHostSpec, type HostTarget } from '../deploy/host-spec.js';
import { prepareCaStep } from '../enroll/ca-step.js';
import { enrollCard, type EnrollCardHooks, type HandoutRequest } from '../enroll/enroll-card.js';
import { HandoutFileError, planHandoutFile } from '../handout/handout-file.js';
import { buildEnrollOptions } from '../enroll/enroll-inputs.js';
import type { SitePolicy } from '../policy/types.js';
import type { EnrollSecrets, InitialSecrets } from '../enroll/options.js';
import type { MissingInput } from '../enroll/plan.js';
import { hostsWithKey, Inventory, type EnrollmentRecord } from '../inventory/inventory.js';
import { recordDeployResults } from '../inventory/record-deploy.js';
import type { Pkcs11Module } from '../pkcs11-modules.js';
import type { SignaturePolicy } from '../enroll/verify.js';
import type { StepTimings } from '../enroll/step-timer.js';
import { keepHostKeysAhead } from '../enroll/early-host-key.js';
import { keyAlgorithmByName } from '../../standards/algorithms.js';
import { ReaderMonitor, type CardInReader } from './card-readers.js';
import type { ManifestEntry } from './manifest.js';

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
  /** The handout written for this person (its path; never the PIN). */
  handout?: string;
  /** Where the enrollment's time went, per step (as enroll --json's timings). */
  timings?: StepTimings;
}

export interface BatchRequest {
  /** The manifest's people, already checked (parseManifest). */
  entries: ManifestEntry[];
  /** Reader names must contain one of these; none: every reader. */
  readers?: string[];
  inventoryLocation: string;
  /** Enroll people the inventory shows as enrolled again, and replace keys already on their cards. */
  force: boolean;
  allowLastPinTry: boolean;
  keepDefaultCredentials: boolean;
  pkcs11Modules: Pkcs11Module[];
  moduleSignatures?: SignaturePolicy;
  /** Each person's files go into OUT/USER. */
  outDir?: string;
  /** For every card: the PIN of cards already hardened, the PIN and PUK factory-fresh cards get, a management key. */
  secrets: Pick<EnrollSecrets, 'pin' | 'newPin' | 'newPuk' | 'managementKey'>;
  /**
   * Each factory-fresh card gets its own random PIN / PUK (the default when `secrets` has no new PIN / PUK): one leaked
   * sheet then opens one card. They reach the person through `hooks.handOut`; the PUK may go to the escrow instead.
   */
  randomPin?: boolean;
  randomPuk?: boolean;
  /** age recipients to escrow every card's new PUK and management key to. */
  escrowRecipients?: string[];
  caPassphrase?: string;
  /** How to reach the manifest's hosts. */
  deploy: DeployOptions;
  /** The attestation of card-generated keys: trust, and whether one that does not verify stops that person's enrollment. */
  attestation?: AttestationRequirement;
  /** A handout per person: DIR/<user>-<serial>.pdf (initialPin: the PIN the batch generated for that card, if any). */
  handout?: HandoutRequest;
  /** Matching by serial: how long to wait for cards not inserted yet. */
  waitMs: number;
  pollMs?: number;
  /** The site policy every person's plan must meet; its CA and defaults apply where the manifest gives none. */
  policy?: SitePolicy;
}

export interface BatchHooks {
  notice(text: string): void;
  /** What one reader is doing (a task per reader on a terminal). */
  progress(reader: string, text: string): void;
  /** Resolves when the user asked to stop (Ctrl-C): no new enrollment starts, running ones finish. */
  stopRequested?: Promise<void>;
  /** A person at the desk: cards are asked for one by one (say), and each next person confirmed. */
  desk?: { say(text: string): void; confirm(question: string): Promise<boolean> };
  /** Each person's report, as soon as their card is done. */
  personDone?(report: PersonReport): void;
  /** How an input the plan still needs is named (the CLI's words). */
  wordMissing?(missing: MissingInput): string;
  /** Wraps each card write (the CLI holds a second Ctrl-C until it ends). */
  write?: EnrollCardHooks['write'];
  /**
   * A card's generated PIN (and PUK, when no escrow keeps it), the moment the card took it: for the person's handout.
   * Required when the batch generates them: without it they would reach nobody.
   */
  handOut?(entry: ManifestEntry, cardSerial: number | undefined, secrets: InitialSecrets): Promise<void>;
  /**
   * Without `handOut`, a generated PIN reaches its person on the handout alone, written when the enrollment ends well.
   * When it did not (a step failed after the card took the PIN), the PIN is kept here instead; returns where.
   */
  rescuePin?(entry: ManifestEntry, secrets: InitialSecrets): Promise<string>;
}

const POLL_MS = 500;

/** Hosts from the manifest the inventory does not show the key on. */
function missingHosts(entry: ManifestEntry, record: EnrollmentRecord): string[] {
  const present = new Set(hostsWithKey(record));
  return entry.hosts.filter((h) => !present.has(h));
}

/** Runs the batch; returns one report per manifest entry, in manifest order. */
export async function runBatch(request: BatchRequest, hooks: BatchHooks): Promise<{ reports: PersonReport[]; pending: ManifestEntry[] }> {
  const reports = new Map<string, PersonReport>();
  const pending: ManifestEntry[] = [];
  const inventory = await Inventory.open(request.inventoryLocation);
  // Before any reader is touched: generated secrets nobody would receive are refused, not set on cards.
  // A generated PIN reaches its person on the handout (page 2, mode 0600) when there is one.
  const unreached = [request.randomPin && !request.handout && 'PIN', request.randomPuk && !request.escrowRecipients && 'PUK'].filter(Boolean);
  if (unreached.length > 0 && !hooks.handOut) {
    await inventory.close();
    throw new UsageError(
      `batch gives every factory-fresh card its own random ${unreached.join(' and ')}: say where they go for each person (--handout DIR for the PIN, --pin-out DIR${unreached.includes('PUK') ? '; the PUK can go to --escrow-recipient instead' : ''}), ` +
        'or give one value for every card (PIV_NEW_PIN / --new-pin-file, PIV_NEW_PUK / --new-puk-file; not recommended)',
    );
  }
  try {
    // Resume: who is done already, and whose deployment stopped half-way.
    const resumed: Array<{ entry: ManifestEntry; record: EnrollmentRecord }> = [];
    for (const entry of request.entries) {
      const [record] = await inventory.enrollments({ person: entry.user });
      if (!record || request.force) pending.push(entry);
      else resumed.push({ entry, record });
    }
    // Before any card or host is touched: a handout already there for someone to enroll (known by card-serial) stops the batch.
    if (request.handout) await checkHandouts(pending, request.handout.dir);
    for (const { entry, record } of resumed) {
      const report: PersonReport = { user: entry.user, line: entry.line, status: 'already-enrolled', cardSerial: record.cardSerial, fingerprint: record.fingerprint, hosts: { present: 0, failed: 0 } };
      const missing = missingHosts(entry, record);
      if (missing.length > 0) {
        hooks.notice(`${entry.user}: enrolled before; deploying to the ${missing.length} host(s) the key is not on yet`);
        const results = await deployKey({ action: 'add', keyLine: record.authorizedKey }, missing, request.deploy);
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
  if (pending.length > 0) {
    hooks.notice(`${pending.length} of ${request.entries.length} people to enroll${reports.size > 0 ? ` (${reports.size} enrolled before)` : ''}`);
    makeHostKeysAhead(pending, request);
    const enrollOne = async (entry: ManifestEntry, card: CardInReader): Promise<PersonReport> => {
      const report = await enrollPerson(entry, card, request, hooks);
      hooks.personDone?.(report);
      return report;
    };
    const results = hooks.desk ? await enrollAtDesk(pending, enrollOne, request, hooks, hooks.desk) : await enrollBySerial(pending, enrollOne, request, hooks);
    for (const report of results) reports.set(report.user, report);
  }
  return { reports: request.entries.map((e) => reports.get(e.user)!), pending };
}

/**
 * The host keys the pending people will take, made ahead one by one while the batch waits for cards (one ready per
 * reader). A policy that wants card-generated keys gets none: nobody would take them.
 */
function makeHostKeysAhead(pending: ManifestEntry[], request: BatchRequest): void {
  if (request.policy?.require.keyOrigin === 'generated') return;
  const counts = new Map<string, number>();
  for (const entry of pending) if (entry.keySource !== 'card') counts.set(entry.algorithm, (counts.get(entry.algorithm) ?? 0) + 1);
  const readers = Math.max(1, new ReaderMonitor(request.readers).readerNames().length);
  for (const [name, count] of counts) {
    const algorithm = keyAlgorithmByName(name);
    if (algorithm) keepHostKeysAhead(algorithm, count, readers);
  }
}

/** Every pending person with a card-serial: their handout file must not exist yet (the others are checked at their card). */
async function checkHandouts(pending: ManifestEntry[], dir: string): Promise<void> {
  const problems: string[] = [];
  for (const entry of pending.filter((e) => e.cardSerial !== undefined)) {
    try {
      await planHandoutFile(dir, entry.user, entry.cardSerial);
    } catch (error) {
      if (!(error instanceof HandoutFileError)) throw error;
      problems.push(`line ${entry.line}: ${error.message}`);
    }
  }
  if (problems.length > 0) throw new HandoutFileError(`cannot start the batch:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
}

/** One person on one card, through enrollCard with that person's manifest values. */
async function enrollPerson(entry: ManifestEntry, card: CardInReader, request: BatchRequest, hooks: BatchHooks): Promise<PersonReport> {
  const report: PersonReport = { user: entry.user, line: entry.line, status: 'failed', cardSerial: card.serial, reader: card.reader, hosts: { present: 0, failed: 0 } };
  let rescuedTo: string | undefined; // where a generated PIN went that the handout did not carry (enrollCard's rescuePin)
  const keepPin = hooks.rescuePin;
  const rescuePin = hooks.handOut || !keepPin ? undefined : async (secrets: InitialSecrets): Promise<void> => {
    rescuedTo = await keepPin(entry, secrets);
    hooks.notice(`${entry.user}: the card has a new PIN that no handout carries (the enrollment did not finish): it is in ${rescuedTo} (mode 0600)`);
  };
  hooks.progress(card.reader, `${entry.user}: enrolling card ${card.serial ?? '(no serial)'} in "${card.reader}"`);
  try {
    const outDir = request.outDir === undefined ? undefined : join(request.outDir, entry.user);
    const built = await buildEnrollOptions({
      card: { reader: card.reader, allowLastPinTry: request.allowLastPinTry },
      slot: entry.slot, algorithm: entry.algorithm, 'pin-policy': entry.pinPolicy, 'touch-policy': entry.touchPolicy, 'key-source': entry.keySource,
      'valid-days': entry.validDays === undefined ? undefined : String(entry.validDays),
      subject: entry.subject, user: entry.subject === undefined ? entry.user : undefined,
      outDir, force: request.force, keepDefaultCredentials: request.keepDefaultCredentials,
      secrets: { ...request.secrets, managementKey: request.secrets.managementKey?.slice() },
      policy: request.policy,
      randomPin: request.randomPin, randomPuk: request.randomPuk, escrowRecipients: request.escrowRecipients,
    });
    if (!built.options) throw new PivEnrollError(built.problems.join('; '));
    const subjectCn = built.options.subject.find((a) => a.type === 'CN')?.value;
    const caDir = entry.ca ?? request.policy?.defaults.ca;
    const caRequest = caDir === undefined ? undefined : { dir: caDir, principals: (entry.principals ?? [entry.user]).join(','), outDir, passphrase: request.caPassphrase };
    const outcome = await enrollCard(
      {
        options: built.options,
        pkcs11Modules: request.pkcs11Modules,
        moduleSignatures: request.moduleSignatures,
        attestation: request.attestation,
        person: entry.user,
        inventory: { location: request.inventoryLocation, named: true },
        ca: caRequest ? { request: caRequest, prepare: (cn) => prepareCaStep(caRequest, cn ?? subjectCn) } : undefined,
        deploy: entry.hosts.length > 0 ? { targets: entry.hosts.map((h) => parseHostSpec(h) as HostTarget), options: request.deploy } : undefined,
        handout: request.handout,
      },
      { notice: () => undefined, write: hooks.write, handOut: hooks.handOut && ((secrets) => hooks.handOut!(entry, card.serial, secrets)), rescuePin },
    );
    if (outcome.status === 'refused') throw new PivEnrollError(`cannot enroll: ${[...outcome.missing.map((m) => `missing: ${hooks.wordMissing?.(m) ?? m}`), ...outcome.errors].join('; ')}`);
    if (outcome.status === 'enrolled') {
      const hosts = outcome.enrollment.deployment ?? [];
      report.fingerprint = outcome.enrollment.fingerprint;
      report.timings = outcome.enrollment.timings;
      report.hosts = { present: hosts.filter((h) => h.status !== 'failed').length, failed: hosts.filter((h) => h.status === 'failed').length };
      report.status = 'enrolled';
      const handout = outcome.enrollment.handout;
      if (handout) {
        report.handout = handout.path;
        hooks.notice(`Handout for ${entry.user}: ${handout.path}${handout.withPin ? ' (mode 0600: it holds the initial PIN)' : ''}`);
        if (handout.unprintable.length > 0) hooks.notice(`${entry.user}: the handout's font cannot draw ${handout.unprintable.join(' ')} (empty boxes on it)`);
      }
      const problems = [
        ...outcome.failedChecks.map((c) => `signature ${c.algorithm} via ${c.module ?? c.path} failed${c.error ? ` (${c.error})` : ''}`),
        ...outcome.unreachedHosts.map((h) => `${h.host}: ${h.reason}`),
      ];
      if (outcome.failedChecks.length > 0) report.status = 'failed';
      if (problems.length > 0) report.error = problems.join('; ');
    }
  } catch (error) {
    if (!(error instanceof PivEnrollError) || error instanceof InterruptedError) throw error; // a bug, or a second Ctrl-C honoured once the card write was done
    report.error = error.message;
  }
  if (rescuedTo !== undefined) report.error = `${report.error ? `${report.error}; ` : ''}its new PIN is in ${rescuedTo}`;
  hooks.progress(card.reader, `${entry.user}: ${report.status}${report.error ? ` — ${report.error}` : ''}`);
  return report;
}

/** Every reader holding a card whose serial is someone's in the manifest enrolls that person, all readers at once. */
async function enrollBySerial(pending: ManifestEntry[], enrollOne: (entry: ManifestEntry, card: CardInReader) => Promise<PersonReport>, request: BatchRequest, hooks: BatchHooks): Promise<PersonReport[]> {
  const monitor = new ReaderMonitor(request.readers);
  const bySerial = new Map(pending.map((e) => [e.cardSerial!, e]));
  const reports: PersonReport[] = [];
  const running = new Map<string, Promise<void>>();
  const told = new Set<string>();
  let stopped = false;
  void hooks.stopRequested?.then(() => (stopped = true));
  const deadline = Date.now() + request.waitMs;
  while (bySerial.size > 0 || running.size > 0) {
    if (!stopped && bySerial.size > 0) {
      for (const card of await monitor.cards(new Set(running.keys()))) {
        const entry = card.serial === undefined ? undefined : bySerial.get(card.serial);
        if (!entry) {
          const note = `${card.reader}:${card.serial ?? card.problem}`;
          if (!told.has(note)) hooks.notice(card.problem ? `"${card.reader}": ${card.problem}` : `card ${card.serial ?? '(no serial)'} in "${card.reader}" is nobody's in this batch: swap it`);
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
    await Promise.race([new Promise((r) => setTimeout(r, request.pollMs ?? POLL_MS)), ...running.values()]);
  }
  for (const entry of bySerial.values()) {
    reports.push({
      user: entry.user, line: entry.line, status: stopped ? 'stopped' : 'not-inserted', cardSerial: entry.cardSerial, hosts: { present: 0, failed: 0 },
      error: stopped ? 'the batch was stopped' : `card ${entry.cardSerial} was not inserted in time`,
    });
  }
  return reports;
}

/** A person at the desk: one person at a time, "insert the card for Ana", enroll, next. */
async function enrollAtDesk(
  pending: ManifestEntry[],
  enrollOne: (entry: ManifestEntry, card: CardInReader) => Promise<PersonReport>,
  request: BatchRequest,
  hooks: BatchHooks,
  desk: NonNullable<BatchHooks['desk']>,
): Promise<PersonReport[]> {
  const monitor = new ReaderMonitor(request.readers);
  const reports: PersonReport[] = [];
  const others = new Set(pending.map((e) => e.cardSerial).filter((s): s is number => s !== undefined));
  let stopped = false;
  void hooks.stopRequested?.then(() => (stopped = true));
  const stopHere = (from: number): PersonReport[] => [
    ...reports,
    ...pending.slice(from).map((rest): PersonReport => ({ user: rest.user, line: rest.line, status: 'stopped', hosts: { present: 0, failed: 0 }, error: 'the batch was stopped' })),
  ];
  for (const [index, entry] of pending.entries()) {
    if (stopped) return stopHere(index);
    desk.say(`(${index + 1}/${pending.length}) Insert the card for ${entry.user}${entry.cardSerial ? ` (serial ${entry.cardSerial})` : ''}.`);
    let card: CardInReader | undefined;
    const refused = new Set<string>();
    while (!card) {
      if (stopped) return stopHere(index);
      for (const candidate of await monitor.cards(new Set())) {
        const wrong = entry.cardSerial !== undefined ? candidate.serial !== entry.cardSerial : candidate.serial !== undefined && others.has(candidate.serial);
        if (candidate.problem || wrong) {
          const key = `${candidate.reader}:${candidate.serial}`;
          if (!refused.has(key)) hooks.notice(candidate.problem ? `"${candidate.reader}": ${candidate.problem}` : `card ${candidate.serial} is not ${entry.user}'s: swap it`);
          refused.add(key);
          continue;
        }
        card = candidate;
        break;
      }
      if (!card) await new Promise((r) => setTimeout(r, request.pollMs ?? POLL_MS));
    }
    const report = await enrollOne(entry, card);
    reports.push(report);
    monitor.forget(card.reader);
    if (card.serial !== undefined) others.add(card.serial);
    if (index < pending.length - 1 && !(await desk.confirm(`${entry.user}: ${report.status}. Go on with ${pending[index + 1]!.user}?`))) return stopHere(index + 1);
  }
  return reports;
}
