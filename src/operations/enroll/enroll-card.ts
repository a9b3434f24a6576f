/**
 * One enrollment, the whole workflow: find the card, inspect it, plan, confirm, apply (the card write), check the
 * signatures through every PKCS#11 module, have the SSH CA certify the key, record it in the inventory, deploy it.
 * `enroll`, `batch` and `rekey` all run exactly this; the front ends only turn flags, prompts and manifest rows into
 * an EnrollCardRequest and render the EnrollCardResult. Nothing here prints or prompts: the hooks do.
 */
import { randomBytes } from 'node:crypto';
import { basename, resolve } from 'node:path';
import { formatFirmwareVersion } from '../../standards/firmware.js';
import { keyAlgorithmByName } from '../../standards/algorithms.js';
import { slotHex } from '../../standards/references.js';
import type { IssuedCertificate } from '../ca/sign.js';
import { deployKey, type DeployOptions, type HostResult } from '../deploy/deploy-key.js';
import { HandoutFileError, planHandoutFile, writeHandout, type HandoutTarget, type WrittenHandout } from '../handout/handout-file.js';
import type { HostTarget } from '../deploy/host-spec.js';
import { Inventory } from '../inventory/inventory.js';
import { recordDeployResults } from '../inventory/record-deploy.js';
import { recordAttestation } from '../inventory/attestations.js';
import { attestKey, enforceAttestation, siteAttestationTrust, trustForCard, type AttestationEvidence, type AttestationRequirement } from '../attestation/evidence.js';
import type { FallbackPolicy } from '../open-card.js';
import type { Pkcs11Module } from '../pkcs11-modules.js';
import { verifyThroughPkcs11 } from '../pkcs11-verify.js';
import type { SignaturePolicy } from './verify.js';
import type { SignatureCheck } from './verify.js';
import { prestartPkcs11Host } from '../pkcs11-host.js';
import { applyEnrollment, currentPin, defaultEnrollDependencies, type EnrollDependencies, type EnrollmentResult, type Progress } from './apply.js';
import { StepTimer, type StepTimings } from './step-timer.js';
import { takeEarlyHostKey } from './early-host-key.js';
import type { CaStep } from './ca-step.js';
import { connectForEnrollment } from './connect.js';
import { requirementUnderPolicy } from '../policy/attested.js';
import type { CardInspection } from './inspect.js';
import type { EnrollOptions, InitialSecrets, NewCredentials } from './options.js';
import { recordEscrow } from '../inventory/escrow-store.js';
import { sealEscrow } from '../secrets/escrow.js';
import { UsageError } from '../../errors.js';
import { planEnrollment, type EnrollmentPlan, type MissingInput } from './plan.js';
import { policyNeedsDevice } from '../policy/enforce.js';

export interface EnrollCardRequest {
  options: EnrollOptions;
  /** Modules to check the new key's signatures through, as ssh -I will (a card in a reader only). */
  pkcs11Modules: Pkcs11Module[];
  /**
   * How many signatures each module makes: for an RSA key one rsa-sha2-512 signature standing for all three algorithms
   * (the default, see SignaturePolicy), or one per algorithm (--sign-every-algorithm).
   */
  moduleSignatures?: SignaturePolicy;
  /** Who the inventory records the card for; default the subject's CN. */
  person?: string;
  /** Where to record: a location and whether the user named it (a stand-in card refuses a named one), or none. */
  inventory: { location: string; named: boolean } | 'none';
  /** Where the embedded virtual card lives when it may stand in for a missing card; undefined: it may not. */
  standInFile?: string;
  /**
   * The SSH CA step: `prepare` (prepareCaStep) runs once the subject is known and before anything is written (the CA
   * unlocked, its inputs checked); the step it returns runs after the checks pass.
   */
  ca?: { request: { dir: string; principals?: string; validity?: string }; prepare(subjectCn: string | undefined): Promise<CaStep> };
  /** Hosts to put the key on after the checks pass. */
  deploy?: { targets: HostTarget[]; options: DeployOptions };
  /** What re-key injects (its own, already deployed, host key); tests pin clock and randomness. */
  dependencies?: Partial<EnrollDependencies>;
  /**
   * The attestation of a card-generated key: whom a card in a reader is trusted through, whether a failed verification
   * stops the enrollment, and a policy's judgement of the facts. Default: Yubico's roots, not required.
   */
  attestation?: AttestationRequirement;
  /** Recorded options a re-key overrides (a staged card key is recorded as key source card). */
  recordOverrides?: Record<string, unknown>;
  /** A printable handout for the person, written after the enrollment succeeded. */
  handout?: HandoutRequest;
}

export interface HandoutRequest {
  /** DIR: the handout goes to DIR/<person>-<serial>.pdf; an existing file refuses the enrollment while planning. */
  dir: string;
  /** How to reach the helpdesk, printed with the blocked-PIN help. */
  helpdesk?: string;
  /**
   * The initial PIN, printed on a sheet of its own (the file is then 0600): only a PIN piv-enroll generated for this
   * card, never one a person chose or typed.
   */
  initialPin?: string;
}

export interface EnrollCardHooks {
  notice(text: string): void;
  /** With the card inspected and before planning: fill what is missing (the wizard asks). */
  complete?(options: EnrollOptions, inspection: CardInspection, missing: MissingInput[]): Promise<void>;
  /** The plan, shown; false: stop with nothing changed. */
  confirm?(plan: EnrollmentPlan): Promise<boolean>;
  /**
   * The generated PIN (and PUK, when no escrow keeps it) the card has just taken: hand them to the person now (a file,
   * the terminal), before a later step can fail. Never log them. Not called when nothing was generated.
   */
  handOut?(secrets: InitialSecrets): Promise<void>;
  /**
   * For a caller whose only destination for a generated PIN is the handout (written when the enrollment ends well):
   * called with what `handOut` got when the enrollment ended without its handout (a step failed after the card took
   * the PIN, a check failed, the handout could not be written), so that the PIN is kept, not lost.
   */
  rescuePin?(secrets: InitialSecrets): Promise<void>;
  /** Runs the card write (the CLI shows a task list and holds Ctrl-C until it ends); default: just runs it. */
  write?(work: (progress: Progress) => Promise<EnrollmentResult>): Promise<EnrollmentResult>;
}

export interface FinishedEnrollment extends EnrollmentResult {
  notes: string[];
  /** Where the time went, per step (connect, inspect, the card steps, pkcs11, inventory, deploy). */
  timings?: StepTimings;
  caCertificate?: IssuedCertificate;
  inventory?: { location: string; enrollmentId: number };
  deployment?: HostResult[];
  /** The verdict on a card-generated key's attestation, with the certificates (recorded in the inventory). */
  attestation?: AttestationEvidence;
  /** Generated values the card now has, for the handout: in memory only, never in --json, logs or the inventory. */
  initialSecrets?: InitialSecrets;
  /** What was escrowed (no secret: which credentials, to whom). */
  escrow?: { recipients: string[]; puk: boolean; managementKey: boolean };
  /** The handout written (its path; it holds the PIN when withPin). */
  handout?: WrittenHandout;
}

export type EnrollCardResult =
  | { status: 'refused'; errors: string[]; missing: MissingInput[] }
  | { status: 'declined' }
  /** Enrolled; `failedChecks` non-empty: the card signs badly somewhere (no CA, inventory or deployment then). */
  | { status: 'enrolled'; enrollment: FinishedEnrollment; failedChecks: SignatureCheck[]; unreachedHosts: HostResult[] };

function defaultComment(options: EnrollOptions, serial: number | undefined): string {
  const cn = options.subject.find((a) => a.type === 'CN')?.value ?? 'piv';
  return `${cn.replace(/\s+/g, '_')}@piv${serial !== undefined ? `-${serial}` : ''}-${options.slot.toString(16)}`;
}

/** The options worth repeating at a re-key, without secrets or key file paths. */
function recordedOptions(options: EnrollOptions, ca: EnrollCardRequest['ca']): Record<string, unknown> {
  return {
    slot: slotHex(options.slot), algorithm: options.algorithm.name, pinPolicy: options.pinPolicy, touchPolicy: options.touchPolicy,
    keySource: options.keySource.kind, subject: options.subject.map((a) => `${a.type}=${a.value}`).reverse().join(','),
    validDays: options.validDays, hash: options.hash, backend: options.backend.kind,
    ...(ca ? { ca: ca.request.dir, principals: ca.request.principals, caValidity: ca.request.validity } : {}),
  };
}

function standInPolicy(request: EnrollCardRequest): FallbackPolicy {
  const because = [
    request.deploy && 'deploying a key to hosts',
    request.ca && 'an SSH CA certificate',
    request.inventory !== 'none' && request.inventory.named && 'recording a card in a named inventory',
    request.options.csrDir !== undefined && 'a certificate request for an X.509 CA',
    request.options.escrowRecipients && 'escrowing the PUK and management key',
    request.handout && 'a handout for a person',
  ].filter((b): b is string => typeof b === 'string');
  if (request.standInFile === undefined) because.push('this command');
  return because.length > 0 ? { allowed: false, because: because.join(', ') } : { allowed: true, file: request.standInFile! };
}

/** Only a key the card makes (or a staged one it made) has an attestation: a required one refuses any other source. */
function attestationProblems(request: EnrollCardRequest): string[] {
  const kind = request.options.keySource.kind;
  if (!request.attestation?.required || kind === 'card' || kind === 'staged') return [];
  return [`an attestation is required, and only a key generated on the card has one: use --key-source card (not ${kind === 'import' ? '--import' : `key source ${kind}`})`];
}

/** The attestation of the key the card just made or moved, judged against this card's trust. */
async function attestEnrolledKey(request: EnrollCardRequest, applied: EnrollmentResult, virtual: boolean, now: Date): Promise<AttestationEvidence | undefined> {
  if (applied.keyAction !== 'generate-on-card' && applied.keyAction !== 'move-staged') return undefined;
  // The site policy judges what the card attests, and a policy requiring generated keys requires the proof.
  const requirement = await requirementUnderPolicy(request.attestation, request.options.policy, applied.algorithm, request.options.validDays);
  const trust = await trustForCard(requirement?.trust ?? (await siteAttestationTrust()), virtual);
  const evidence = attestKey(
    { attestation: applied.attestationDer, deviceCertificate: applied.attestationDeviceDer, publicKey: applied.publicKey, cardSerial: applied.serial, trust, now,
      missingBecause: request.options.backend.kind === 'pkcs11' ? 'the PKCS#11 backend does not attest' : 'firmware before 4.3 has no attestation' },
    requirement?.evaluatePolicy,
  );
  enforceAttestation(evidence, requirement?.required ?? false, `the key in slot ${applied.slot}`);
  return evidence;
}

export async function enrollCard(request: EnrollCardRequest, hooks: EnrollCardHooks): Promise<EnrollCardResult> {
  const keep = hooks.rescuePin;
  if (!keep) return enrollCardSteps(request, hooks);
  let held: InitialSecrets | undefined; // what the card took, until the handout carries it
  const rescue = async (): Promise<void> => {
    if (held?.pin !== undefined) await keep(held);
    held = undefined;
  };
  const handOut = async (secrets: InitialSecrets): Promise<void> => {
    held = secrets;
    await hooks.handOut?.(secrets);
  };
  let result: EnrollCardResult;
  try {
    result = await enrollCardSteps(request, { ...hooks, handOut });
  } catch (error) {
    await rescue();
    throw error;
  }
  if (result.status !== 'enrolled' || !result.enrollment.handout) await rescue();
  return result;
}

async function enrollCardSteps(request: EnrollCardRequest, hooks: EnrollCardHooks): Promise<EnrollCardResult> {
  const { options } = request;
  const refusals = attestationProblems(request);
  if (refusals.length > 0) return { status: 'refused', errors: refusals, missing: [] };
  if (options.csrDir !== undefined && (request.ca || request.deploy)) {
    // The key is certified later by the X.509 CA: an SSH certificate or a deployment now would precede its certificate.
    return { status: 'refused', errors: ['a certificate request (--csr) stops the enrollment before the SSH CA and the deployment: run those after `certificate import`'], missing: [] };
  }
  const timer = new StepTimer();
  timer.mark('connect');
  const dependencies = { ...defaultEnrollDependencies, ...request.dependencies };
  // A host key takes the host's CPU for a while: start it now, so it overlaps with finding and inspecting the card.
  if (options.keySource.kind === 'host' && !request.dependencies?.generateKeyPair) {
    const early = takeEarlyHostKey(options.algorithm.name) ?? dependencies.generateKeyPair(options.algorithm);
    early.catch(() => undefined); // a failure surfaces where apply awaits it
    dependencies.generateKeyPair = (algorithm) => (algorithm.name === options.algorithm.name ? early : defaultEnrollDependencies.generateKeyPair(algorithm));
  }
  if (options.escrowRecipients && request.inventory === 'none') throw new UsageError('--escrow-recipient keeps the escrow in the inventory: it cannot go with --inventory none');
  const connection = await connectForEnrollment(options, standInPolicy(request));
  timer.countApdus(connection.apduCount);
  let inventory: Inventory | undefined;
  try {
    // A stand-in virtual card is a demonstration: it goes into no inventory (a named one was refused above).
    if (connection.standIn && request.inventory !== 'none') connection.notices.push('Not recorded in the inventory: the embedded virtual card only stands in for a demonstration.');
    else if (request.inventory !== 'none' && options.csrDir === undefined) inventory = await Inventory.open(request.inventory.location); // before any change: an unreachable one stops us first
  } catch (error) {
    await connection.close();
    throw error;
  }
  try {
    let enrollment: FinishedEnrollment;
    let pin: string;
    let firmware: string;
    let caStep: CaStep | undefined;
    let handoutTarget: HandoutTarget | undefined;
    try {
      for (const notice of connection.notices) hooks.notice(notice);
      timer.mark('inspect');
      const inspection = await connection.inspect(options.slot, policyNeedsDevice(options.policy));
      firmware = formatFirmwareVersion(inspection.firmware);
      const first = planEnrollment(options, inspection);
      if (first.missing.length > 0 && hooks.complete) await hooks.complete(options, inspection, first.missing);
      if (options.comment === '') options.comment = defaultComment(options, inspection.serial);
      // Before anything is written: a CA that cannot sign must not leave an enrolled card without its certificate.
      // (Without a subject the plan refuses below, naming it: the CA's own checks would only hide that.)
      if (options.subject.length > 0) caStep = await request.ca?.prepare(options.subject.find((a) => a.type === 'CN')?.value);
      const { plan, errors, missing } = planEnrollment(options, inspection);
      // The handout's file is known once the serial is: an existing one refuses here, with the card untouched.
      let handoutProblem: string | undefined;
      if (request.handout) {
        try {
          handoutTarget = await planHandoutFile(request.handout.dir, personOf(request), inspection.serial);
        } catch (error) {
          if (!(error instanceof HandoutFileError)) throw error;
          handoutProblem = error.message;
        }
      }
      if (!plan || handoutProblem) return { status: 'refused', errors: handoutProblem ? [...errors, handoutProblem] : errors, missing };
      if (hooks.confirm && !(await hooks.confirm(plan))) return { status: 'declined' };
      const write = hooks.write ?? ((work: (progress: Progress) => Promise<EnrollmentResult>) => work(() => undefined));
      // The PKCS#11 checks come after the card write: their module host starts while the card is busy.
      if (connection.readerName && request.pkcs11Modules.length > 0 && options.csrDir === undefined) prestartPkcs11Host();
      const handed: Pick<FinishedEnrollment, 'initialSecrets' | 'escrow'> = {};
      const credentialsSet = options.escrowRecipients || options.generated ? (set: NewCredentials) => secureCredentials(set, options, inventory, hooks, handed, dependencies.now()) : undefined;
      const applied = await connection.withTarget((target) => write((progress) => applyEnrollment(target, inspection, plan, options, timer.progress(progress), dependencies, credentialsSet)));
      enrollment = { ...applied, notes: [], ...handed };
      if (options.escrowRecipients && !handed.escrow) enrollment.notes.push('nothing escrowed: this enrollment set no new PUK or management key');
      // Before the PKCS#11 checks, the CA, the inventory and the hosts: a required attestation that fails stops here.
      enrollment.attestation = await attestEnrolledKey(request, applied, connection.virtual, dependencies.now());
      // The PIN the card has now, which the APDU path just verified: the PKCS#11 checks log in with no other.
      pin = plan.hardening.changePin ? options.secrets.newPin! : currentPin(inspection, options.secrets);
    } finally {
      timer.countApdus(undefined);
      await connection.close(); // PKCS#11 modules can reach the card only once we let go of it
    }
    if (enrollment.request) {
      // enroll --csr stops here: modules find the key by its certificate, which the CA has yet to issue.
      enrollment.notes.push(`stopped after the certificate request: import the CA's certificate with piv-enroll certificate import --slot ${enrollment.slot.toLowerCase()} FILE`);
      enrollment.timings = timer.finish();
      return { status: 'enrolled', enrollment, failedChecks: [], unreachedHosts: [] };
    }
    timer.mark('pkcs11');
    await checkThroughModules(request, connection.readerName, enrollment, pin);
    const failedChecks = enrollment.verification.filter((c) => !c.valid && !c.legacy && !c.unsupported);
    if (failedChecks.length === 0) {
      if (caStep) {
        enrollment.caCertificate = await caStep(enrollment, options.comment);
        enrollment.files.push(enrollment.caCertificate.certificateFile);
      }
      timer.mark('inventory');
      if (inventory && enrollment.certificate) enrollment.inventory = { location: inventory.description, enrollmentId: await record(inventory, request, enrollment, enrollment.certificate, firmware, connection.readerName) };
      if (request.deploy) {
        timer.mark('deploy');
        enrollment.deployment = await deployKey({ action: 'add', keyLine: enrollment.authorizedKey }, request.deploy.targets, request.deploy.options);
        if (inventory) await recordDeployResults(inventory, enrollment.fingerprint, 'add', enrollment.deployment, enrollment.inventory!.enrollmentId);
      }
      if (handoutTarget && request.handout) {
        timer.mark('handout');
        enrollment.handout = await writeHandout(handoutTarget, {
          person: personOf(request), serial: enrollment.serial, slot: enrollment.slot, algorithm: enrollment.algorithm, fingerprint: enrollment.fingerprint,
          authorizedKey: enrollment.authorizedKey, hosts: enrollment.deployment?.filter((h) => h.status !== 'failed').map((h) => h.host),
          caCertificate: enrollment.caCertificate ? basename(enrollment.caCertificate.certificateFile) : undefined,
          initialPin: request.handout.initialPin ?? enrollment.initialSecrets?.pin, helpdesk: request.handout.helpdesk, virtualCard: connection.readerName === undefined, createdAt: dependencies.now(),
        });
        hooks.notice(`Handout for ${personOf(request)}: ${enrollment.handout.path}${enrollment.handout.withPin ? ' (mode 0600: it holds the initial PIN)' : ''}`);
        const { unprintable } = enrollment.handout;
        if (unprintable.length > 0) hooks.notice(`The handout's font cannot draw ${unprintable.join(' ')}: those show as empty boxes on it; write them in by hand`);
      }
    }
    enrollment.timings = timer.finish();
    return { status: 'enrolled', enrollment, failedChecks, unreachedHosts: (enrollment.deployment ?? []).filter((r) => r.status === 'failed') };
  } finally {
    await inventory?.close();
  }
}

/**
 * The moment the card took new credentials: escrow the PUK and management key (sealed to the recipients, stored in the
 * inventory at once, so a later failure cannot lose them), then hand the generated values to the person.
 */
async function secureCredentials(set: NewCredentials, options: EnrollOptions, inventory: Inventory | undefined, hooks: EnrollCardHooks, handed: Pick<FinishedEnrollment, 'initialSecrets' | 'escrow'>, now: Date): Promise<void> {
  const recipients = options.escrowRecipients;
  if (recipients && inventory && set.serial !== undefined && (set.puk !== undefined || set.managementKey)) {
    const ciphertext = await sealEscrow(recipients, {
      format: 'piv-enroll-escrow/1', serial: set.serial, puk: set.puk, managementKey: set.managementKey?.hex, managementKeyAlgorithm: set.managementKey?.algorithm,
      managementKeyProtected: set.managementKey ? true : undefined, createdAt: now.toISOString(),
    });
    await recordEscrow(inventory, { cardSerial: set.serial, recipient: recipients.join(' '), ciphertext, virtual: options.card.virtual !== undefined }, now);
    handed.escrow = { recipients, puk: set.puk !== undefined, managementKey: set.managementKey !== undefined };
  }
  const secrets: InitialSecrets = {};
  if (options.generated?.pin && set.pin !== undefined) secrets.pin = set.pin;
  if (options.generated?.puk && set.puk !== undefined && !handed.escrow?.puk) secrets.puk = set.puk;
  if (secrets.pin === undefined && secrets.puk === undefined) return;
  handed.initialSecrets = secrets;
  await hooks.handOut?.(secrets);
}

/** The second path, as ssh -I uses the card: every PKCS#11 module chosen (the backend's own already signed everything). */
async function checkThroughModules(request: EnrollCardRequest, reader: string | undefined, enrollment: FinishedEnrollment, pin: string): Promise<void> {
  const { options } = request;
  if (!reader) {
    if (request.pkcs11Modules.length > 0) enrollment.notes.push('PKCS#11 path not checked: PKCS#11 modules cannot reach the embedded virtual card (serve it behind pcscd for that)');
    return;
  }
  const enrolledThrough = options.backend.kind === 'pkcs11' ? options.backend.module.path : undefined;
  const algorithm = keyAlgorithmByName(enrollment.algorithm)!;
  for (const module of request.pkcs11Modules.filter((m) => m.path !== enrolledThrough)) {
    const signatures = request.moduleSignatures ?? 'one-per-path';
    for (const check of await verifyThroughPkcs11({ module, reader, slot: options.slot, algorithm, publicKey: enrollment.publicKey, pin, random: (n) => new Uint8Array(randomBytes(n)), signatures })) {
      enrollment.verification.push(check);
    }
  }
}

/** Who the card is for: the inventory's person, else the subject's CN, else the key comment. */
function personOf(request: EnrollCardRequest): string {
  return request.person ?? request.options.subject.find((a) => a.type === 'CN')?.value ?? request.options.comment;
}

async function record(inventory: Inventory, request: EnrollCardRequest, enrollment: FinishedEnrollment, certificate: NonNullable<FinishedEnrollment['certificate']>, firmware: string, reader: string | undefined): Promise<number> {
  const { options, ca } = request;
  const id = await inventory.recordEnrollment({
    person: personOf(request),
    // No reader: the embedded virtual card, named with --virtual (a stand-in never gets here).
    card: enrollment.serial === undefined ? undefined : { serial: enrollment.serial, firmware, reader, virtual: reader === undefined },
    slot: enrollment.slot,
    algorithm: enrollment.algorithm,
    fingerprint: enrollment.fingerprint,
    authorizedKey: enrollment.authorizedKey,
    certificateSerial: certificate.serial,
    certificateNotAfter: certificate.notAfter,
    options: { ...recordedOptions(options, ca), ...request.recordOverrides },
  });
  if (enrollment.attestation) await recordAttestation(inventory, id, enrollment.attestation);
  const sshCertificate = enrollment.caCertificate;
  if (sshCertificate && ca) {
    await inventory.recordCaCertificate(id, { caDir: resolve(ca.request.dir), serial: String(sshCertificate.serial), keyId: sshCertificate.keyId, principals: sshCertificate.principals, validBefore: sshCertificate.validBefore });
  }
  return id;
}
