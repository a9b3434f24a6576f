/**
 * `piv-enroll enroll`: flags, environment and files fill one EnrollOptions; on a terminal the wizard asks
 * for what is left, otherwise every missing input is reported at once. The plan is shown (and confirmed,
 * interactively), then applied as a task list.
 */
import { UsageError, PivEnrollError } from '../../errors.js';
import { parseDistinguishedName } from '../../operations/distinguished-name.js';
import { certificatePem, publicKeyPem } from '../../crypto/pem.js';
import { connectForEnrollment } from '../../operations/enroll/connect.js';
import { applyEnrollment, currentPin, defaultEnrollDependencies, EnrollmentError, type EnrollDependencies, type EnrollmentResult, type StepName } from '../../operations/enroll/apply.js';
import type { CardInspection } from '../../operations/enroll/inspect.js';
import { DEFAULT_SLOT, DEFAULT_VALID_DAYS, type EnrollOptions, type KeySource } from '../../operations/enroll/options.js';
import { describePlan, missingInputs, planEnrollment } from '../../operations/enroll/plan.js';
import { defaultVirtualCardFile, type CardSelection, type FallbackPolicy } from '../../operations/open-card.js';
import { selectPkcs11Modules } from '../../operations/pkcs11-modules.js';
import { verifyThroughPkcs11 } from '../../operations/pkcs11-verify.js';
import { randomBytes } from 'node:crypto';
import { keyAlgorithmByName } from '../../spec/algorithms.js';
import { FACTORY_PIN, FACTORY_PUK } from '../../spec/factory-defaults.js';
import { parsePinPolicy, parseTouchPolicy, PIN_POLICY, TOUCH_POLICY } from '../../spec/policies.js';
import { parseSlot, slotHex } from '../../spec/references.js';
import type { HashName } from '../../crypto/pkcs1.js';
import type { Output } from '../output.js';
import { openInventoryToRecord } from '../inventory-option.js';
import type { Inventory } from '../../operations/inventory/inventory.js';
import { formatFirmwareVersion } from '../../spec/firmware.js';
import { resolve } from 'node:path';
import { prepareCaFollowUp, type EnrollCaFlags } from './enroll-ca.js';
import { prepareDeployFollowUp, type EnrollDeployFlags } from './enroll-deploy.js';
import { summarize, type HostResult } from '../../operations/deploy/deploy-key.js';
import { recordDeployResults } from '../../operations/inventory/record-deploy.js';
import type { IssuedCertificate } from '../../operations/ca/sign.js';
import { askNewSecret, terminalPrompter, type Prompter } from '../prompter.js';
import { KeyFileError, PassphraseRequiredError, readPrivateKeyFile } from '../../operations/key-file.js';
import { describeKey } from '../../crypto/keys.js';
import { cancellation } from '../cancellation.js';
import { enrolledCardStatement } from '../card-write-statements.js';
import { parseManagementKey, secretFrom } from '../secrets.js';

export interface EnrollFlags extends CardSelection, EnrollCaFlags, EnrollDeployFlags {
  /** Where to record the enrollment (a SQLite file, postgres://…, or none). */
  inventory?: string;
  /** Who the inventory records the card for (batch: the manifest's user); default the subject's CN. */
  person?: string;
  slot?: string;
  algorithm?: string;
  pinPolicy?: string;
  touchPolicy?: string;
  keySource?: string;
  import?: string;
  backupKey?: string;
  subject?: string;
  user?: string;
  validDays?: string;
  hash?: string;
  comment?: string;
  out?: string;
  force?: boolean;
  keepDefaultCredentials?: boolean;
  yes?: boolean;
  json?: boolean;
  pinFile?: string;
  newPinFile?: string;
  pukFile?: string;
  newPukFile?: string;
  managementKeyFile?: string;
  passphraseFile?: string;
  /** PKCS#11 modules to check signatures through: auto (every one found), none, or a comma list of opensc, ykcs11, paths. */
  pkcs11?: string;
  /** apdu (default) or pkcs11: enroll through a vendor module only. */
  backend?: string;
  /** With --backend pkcs11: ykcs11 (default) or a PATH. */
  module?: string;
}

export interface EnrollEnvironment {
  env: NodeJS.ProcessEnv;
  /** A person can answer questions (a terminal, and no --yes). */
  interactive: boolean;
  prompter: Prompter;
  /** Where the embedded virtual card lives when no card is found. */
  fallbackVirtualCard?: string;
}

/** Plan errors: exit status 2 when only inputs are missing (a usage problem), 1 otherwise. */
export class EnrollmentPlanError extends PivEnrollError {
  override readonly exitCode: number;
  constructor(readonly problems: string[]) {
    super(`cannot enroll:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.exitCode = problems.every((p) => p.startsWith('missing:')) ? 2 : 1;
  }
}

const CERTIFICATE_HASHES: readonly HashName[] = ['sha256', 'sha384', 'sha512'];

function checkPinValue(value: string): string | undefined {
  const length = new TextEncoder().encode(value).length;
  if (length < 6 || length > 8) return 'a PIN or PUK is 6 to 8 characters';
  if (value === FACTORY_PIN || value === FACTORY_PUK) return 'that is the factory default';
  return undefined;
}

/** Flags (and environment, files) → options. Everything that can be checked without a card is checked here. */
export async function optionsFromFlags(flags: EnrollFlags, env: NodeJS.ProcessEnv): Promise<EnrollOptions> {
  const problems: string[] = [];
  const slot = flags.slot === undefined ? DEFAULT_SLOT : parseSlot(flags.slot);
  if (slot === undefined) problems.push(`--slot takes 9a, 9c, 9d, 9e or 82–95, not "${flags.slot}"`);
  let algorithm = keyAlgorithmByName(flags.algorithm ?? 'RSA2048');
  if (!algorithm) problems.push(`--algorithm takes RSA1024, RSA2048, RSA3072, RSA4096, ECCP256, ECCP384 or ED25519, not "${flags.algorithm}"`);
  const pinPolicy = flags.pinPolicy === undefined ? PIN_POLICY.DEFAULT : parsePinPolicy(flags.pinPolicy);
  if (pinPolicy === undefined) problems.push(`--pin-policy takes default, never, once or always, not "${flags.pinPolicy}"`);
  const touchPolicy = flags.touchPolicy === undefined ? TOUCH_POLICY.DEFAULT : parseTouchPolicy(flags.touchPolicy);
  if (touchPolicy === undefined) problems.push(`--touch-policy takes default, never, always or cached, not "${flags.touchPolicy}"`);
  let keySource: KeySource = { kind: 'host' };
  if (flags.import !== undefined) {
    if (flags.keySource !== undefined) problems.push('--import and --key-source each choose where the key comes from: give one');
    keySource = { kind: 'import', file: flags.import };
  } else if (flags.keySource === 'card') keySource = { kind: 'card' };
  else if (flags.keySource !== undefined && flags.keySource !== 'host') problems.push(`--key-source takes host or card, not "${flags.keySource}"`);
  if (flags.backupKey !== undefined && keySource.kind !== 'host') problems.push('--backup-key only applies to a key made on this computer (--key-source host)');
  const validDays = flags.validDays === undefined ? DEFAULT_VALID_DAYS : Number(flags.validDays);
  if (!Number.isInteger(validDays) || validDays < 1 || validDays > 36500) problems.push(`--valid-days takes a whole number of days from 1 to 36500, not "${flags.validDays}"`);
  const hash = (flags.hash ?? 'sha256').toLowerCase().replace('-', '') as HashName;
  if (!CERTIFICATE_HASHES.includes(hash)) problems.push(`--hash takes SHA256, SHA384 or SHA512, not "${flags.hash}"`);
  if (flags.subject !== undefined && flags.user !== undefined) problems.push('--subject and --user both name the certificate subject: give one');
  let subject: EnrollOptions['subject'] = [];
  try {
    if (flags.subject !== undefined) subject = parseDistinguishedName(flags.subject);
    else if (flags.user !== undefined) subject = parseDistinguishedName(`CN=${flags.user.replace(/([,+"\\<>;=])/g, '\\$1')}`);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    problems.push(error.message);
  }
  const secrets: EnrollOptions['secrets'] = {};
  const read = async (file: string | undefined, name: string, what: string): Promise<string | undefined> => {
    try {
      return await secretFrom(file, name, what, env);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      problems.push(error.message);
      return undefined;
    }
  };
  secrets.pin = await read(flags.pinFile, 'PIV_PIN', 'the PIN');
  secrets.newPin = await read(flags.newPinFile, 'PIV_NEW_PIN', 'the new PIN');
  secrets.puk = await read(flags.pukFile, 'PIV_PUK', 'the PUK');
  secrets.newPuk = await read(flags.newPukFile, 'PIV_NEW_PUK', 'the new PUK');
  secrets.keyPassphrase = await read(flags.passphraseFile, 'PIV_KEY_PASSPHRASE', 'the key passphrase');
  const managementKey = await read(flags.managementKeyFile, 'PIV_MANAGEMENT_KEY', 'the management key');
  if (managementKey !== undefined) {
    try {
      secrets.managementKey = parseManagementKey(managementKey);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  for (const [value, what] of [[secrets.newPin, 'the new PIN'], [secrets.newPuk, 'the new PUK']] as const) {
    const problem = value === undefined ? undefined : checkPinValue(value);
    if (problem) problems.push(`${what}: ${problem}`);
  }
  if (keySource.kind === 'import') {
    // Read now, before the card is even opened: a bad key file must not leave a half-hardened card behind.
    try {
      keySource.privateKey = await readPrivateKeyFile(keySource.file, secrets.keyPassphrase);
      const inFile = describeKey(keySource.privateKey);
      if (!inFile) problems.push(`${keySource.file} holds a ${keySource.privateKey.asymmetricKeyType} key, which a PIV slot cannot hold (RSA, P-256, P-384 or Ed25519)`);
      else if (flags.algorithm !== undefined && algorithm && inFile.name !== algorithm.name) problems.push(`${keySource.file} holds an ${inFile.name} key, not ${algorithm.name} (--algorithm): leave --algorithm out, or give ${inFile.name}`);
      else algorithm = inFile;
    } catch (error) {
      // No passphrase yet: the wizard asks for it, or the plan lists it as missing. Any other problem is final.
      if (!(error instanceof PassphraseRequiredError) && !(error instanceof KeyFileError) && !(error instanceof UsageError)) throw error;
      if (!(error instanceof PassphraseRequiredError)) problems.push(error.message);
    }
  }
  let backend: EnrollOptions['backend'] = { kind: 'apdu' };
  if (flags.backend === 'pkcs11') {
    try {
      backend = { kind: 'pkcs11', module: selectPkcs11Modules(flags.module ?? 'ykcs11')[0]! };
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      problems.push(error.message);
    }
    if (flags.virtual !== undefined) problems.push('--backend pkcs11 reaches cards through pcscd only: serve the virtual card (piv-enroll virtual-card serve) and use --reader');
  } else if (flags.backend !== undefined && flags.backend !== 'apdu') problems.push(`--backend takes apdu or pkcs11, not "${flags.backend}"`);
  else if (flags.module !== undefined) problems.push('--module chooses the module of --backend pkcs11 (for checking signatures through modules, see --pkcs11)');
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return {
    backend,
    card: { reader: flags.reader, virtual: flags.virtual, firmware: flags.firmware, serial: flags.serial, faults: flags.faults, allowLastPinTry: flags.allowLastPinTry },
    slot: slot!,
    algorithm: algorithm!,
    pinPolicy: pinPolicy!,
    touchPolicy: touchPolicy!,
    keySource,
    backupKey: flags.backupKey,
    subject,
    validDays,
    hash,
    comment: flags.comment ?? '',
    outDir: flags.out,
    force: flags.force ?? false,
    keepDefaultCredentials: flags.keepDefaultCredentials ?? false,
    secrets,
  };
}

/** Interactive only: asks for what the plan still needs. */
async function askForMissing(options: EnrollOptions, inspection: CardInspection, prompter: Prompter): Promise<void> {
  const occupied = inspection.slot.hasKey === true && inspection.slot.certificateMatchesKey === true;
  if (occupied && !options.force) {
    const what = `${inspection.slot.keyAlgorithm?.name ?? 'a'} key${inspection.slot.certificateSubject ? ` with certificate ${inspection.slot.certificateSubject}` : ''}`;
    prompter.say(`Slot ${options.slot.toString(16).toUpperCase()} already holds an ${what}. Replacing it makes that key unusable everywhere it was deployed.`);
    options.force = await prompter.confirm('Replace it?', false);
  }
  if (options.subject.length === 0) {
    const user = (await prompter.input('Who is this card for (user name, goes into the certificate as CN)?')).trim();
    if (user !== '') options.subject = parseDistinguishedName(`CN=${user.replace(/([,+"\\<>;=])/g, '\\$1')}`);
  }
  const { secrets } = options;
  for (const missing of missingInputs(options, inspection)) {
    if (missing.startsWith('the PIN')) secrets.pin = await prompter.password('PIN:');
    else if (missing.startsWith('a new PIN')) {
      prompter.say('The card still has the factory-default PIN: choose the user\'s PIN (6 to 8 characters).');
      secrets.newPin = await askNewSecret(prompter, 'PIN', checkPinValue);
    } else if (missing.startsWith('a new PUK')) {
      prompter.say('The card still has the factory-default PUK: choose a PUK (6 to 8 characters), kept by IT to unblock the PIN.');
      secrets.newPuk = await askNewSecret(prompter, 'PUK', checkPinValue);
    } else if (missing.startsWith('the management key')) secrets.managementKey = parseManagementKey(await prompter.password('Management key (hex):'));
    else if (missing.startsWith('a passphrase')) secrets.keyPassphrase = await askNewSecret(prompter, 'backup passphrase', (v) => (v.length < 8 ? 'at least 8 characters' : undefined));
    else if (missing.startsWith('the passphrase of the key to import') && options.keySource.kind === 'import') {
      secrets.keyPassphrase = await prompter.password(`Passphrase of ${options.keySource.file}:`);
      // Still before anything is written: a wrong passphrase stops here.
      options.keySource.privateKey = await readPrivateKeyFile(options.keySource.file, secrets.keyPassphrase);
      const inFile = describeKey(options.keySource.privateKey);
      if (!inFile) throw new UsageError(`${options.keySource.file} holds a key a PIV slot cannot hold`);
      options.algorithm = inFile;
    }
  }
}

function defaultComment(options: EnrollOptions, serial: number | undefined): string {
  const cn = options.subject.find((a) => a.type === 'CN')?.value ?? 'piv';
  return `${cn.replace(/\s+/g, '_')}@piv${serial !== undefined ? `-${serial}` : ''}-${options.slot.toString(16)}`;
}

export function enrollmentJson(result: FinishedEnrollment): Record<string, unknown> {
  return {
    card: result.card,
    serial: result.serial ?? null,
    slot: result.slot,
    algorithm: result.algorithm,
    keySource: result.keyAction,
    fingerprint: result.fingerprint,
    authorizedKey: result.authorizedKey,
    publicKeyPem: publicKeyPem(result.publicKey),
    certificate: { ...result.certificate, pem: certificatePem(result.certificateDer) },
    attestation: result.attestationDer ? certificatePem(result.attestationDer) : null,
    chuidGuid: result.chuidGuid ?? null,
    hardened: result.hardened,
    verification: result.verification,
    caCertificate: result.caCertificate
      ? (({ serial, keyId, principals, validAfter, validBefore, signatureAlgorithm, caFingerprint, certificateFile }) => ({ serial, keyId, principals, validAfter, validBefore, signatureAlgorithm, caFingerprint, file: certificateFile }))(result.caCertificate)
      : null,
    files: result.files,
    inventory: result.inventory ?? null,
    deployment: result.deployment ? { summary: summarize(result.deployment), hosts: result.deployment } : null,
    notes: result.notes ?? [],
  };
}

function summary(result: FinishedEnrollment): string {
  const lines = [
    `Enrolled ${result.card}${result.serial !== undefined ? ` (serial ${result.serial})` : ''}, slot ${result.slot}: ${result.algorithm}, ${result.fingerprint}`,
    `Certificate: ${result.certificate.subject}, serial ${result.certificate.serial}, valid until ${result.certificate.notAfter}`,
    'Signatures made by the card:',
    ...result.verification.map((c) => `  ${c.valid ? 'ok  ' : c.unsupported ? 'n/a ' : 'BAD '} ${c.algorithm} via ${c.module ? `PKCS#11 (${c.module})` : 'APDUs'}${c.legacy ? ' (legacy SHA-1: refused by OpenSSH 8.8+ servers by default)' : ''}${c.error ? ` — ${c.error}` : ''}`),
    '',
    'authorized_keys line:',
    result.authorizedKey,
  ];
  for (const note of result.notes ?? []) lines.splice(3 + result.verification.length, 0, `  (${note})`);
  const ca = result.caCertificate;
  if (ca) lines.push('', `SSH certificate: serial ${ca.serial}, key id "${ca.keyId}", principals ${ca.principals.join(', ')}, valid until ${ca.validBefore}, CA signature ${ca.signatureAlgorithm}`);
  if (result.files.length > 0) lines.push('', 'Files written:', ...result.files.map((f) => `  ${f}`));
  if (result.deployment) {
    const summary = summarize(result.deployment);
    lines.push('', `Deployed to ${result.deployment.length} host${result.deployment.length === 1 ? '' : 's'}: ${summary.changed} added, ${summary.unchanged} already there, ${summary.failed} failed`);
    for (const r of result.deployment) lines.push(`  ${r.host}: ${r.status}${r.status === 'failed' ? ` (${r.reason}${r.detail ? `: ${r.detail}` : ''})` : ''}`);
  }
  if (result.inventory) lines.push('', `Recorded as enrollment ${result.inventory.enrollmentId} in ${result.inventory.location}`);
  return lines.join('\n');
}

const STEP_TITLES: Array<[StepName[], string]> = [
  [['harden', 'authenticate'], 'Credentials'],
  [['key'], 'Key'],
  [['certificate'], 'Certificate and CHUID'],
  [['export'], 'Export'],
  [['verify'], 'Verify signatures'],
];

/** Runs the apply step under a listr2 task list whose tasks follow the progress events. */
async function withTaskList<T>(json: boolean, interactive: boolean, run: (progress: (step: StepName, message: string) => void) => Promise<T>): Promise<T> {
  const { Listr, ListrLogger, ProcessOutput } = await import('listr2');
  type Gate = { resolve: () => void; reject: (e: unknown) => void; promise: Promise<void>; output?: (m: string) => void };
  const gates: Gate[] = STEP_TITLES.map(() => {
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
  const list = new Listr(
    STEP_TITLES.map(([, title], index) => ({
      title,
      task: async (_ctx: unknown, task: { output: string }) => {
        gates[index]!.output = (m) => (task.output = m);
        await gates[index]!.promise;
      },
    })),
    {
      concurrent: false,
      exitOnError: true,
      // listr2 would otherwise answer Ctrl-C with process.exit(127), in the middle of a card write or a batch that
      // promised to let running enrollments finish: signals stay with the command.
      registerSignalListeners: false,
      renderer: json ? 'silent' : interactive ? 'default' : 'simple',
      // Progress goes to stderr: stdout carries the result (and nothing else, with --json).
      rendererOptions: { logger: new ListrLogger({ processOutput: new ProcessOutput(process.stderr, process.stderr) }) },
    },
  );
  const listing = list.run().catch(() => undefined);
  try {
    const result = await run((step, message) => {
      const index = STEP_TITLES.findIndex(([steps]) => steps.includes(step));
      if (index > current) advance(index);
      gates[index]?.output?.(message);
    });
    advance(STEP_TITLES.length);
    await listing;
    return result;
  } catch (error) {
    gates[Math.max(current, 0)]!.reject(error);
    await listing;
    throw error;
  }
}

type FinishedEnrollment = EnrollmentResult & { notes: string[]; caCertificate?: IssuedCertificate; inventory?: { location: string; enrollmentId: number }; deployment?: HostResult[] };

/** The options worth repeating at a re-key, without secrets or file paths of keys. */
function recordedOptions(options: EnrollOptions, flags: EnrollFlags): Record<string, unknown> {
  return {
    slot: slotHex(options.slot), algorithm: options.algorithm.name, pinPolicy: options.pinPolicy, touchPolicy: options.touchPolicy,
    keySource: options.keySource.kind, subject: options.subject.map((a) => `${a.type}=${a.value}`).reverse().join(','),
    validDays: options.validDays, hash: options.hash, backend: options.backend.kind,
    ...(flags.ca ? { ca: flags.ca, principals: flags.principals, caValidity: flags.caValidity } : {}),
  };
}

/** `dependencies`: what re-key injects (its own, already deployed, host key); tests pin clock and randomness. */
export async function runEnroll(flags: EnrollFlags, output: Output, environment: EnrollEnvironment, dependencies: Partial<EnrollDependencies> = {}): Promise<number> {
  const options = await optionsFromFlags(flags, environment.env);
  const pkcs11Modules = selectPkcs11Modules(flags.pkcs11 ?? 'auto');
  const interactive = environment.interactive && !flags.yes;
  // Checked before the card is touched: bad hosts, and an inventory that cannot be written, stop the enrollment first.
  const deployFollowUp = await prepareDeployFollowUp(flags);
  const namedInventory = flags.inventory ?? (environment.env.PIV_ENROLL_INVENTORY || undefined);
  const connection = await connectForEnrollment(options, standInPolicy(flags, deployFollowUp !== undefined, namedInventory !== undefined && namedInventory !== 'none', environment));
  // A stand-in virtual card is a demonstration: it goes into no inventory (a named one was refused above).
  const inventory = connection.standIn ? undefined : await openInventoryToRecord(flags.inventory, environment.env).catch(async (error: unknown) => {
    await connection.close();
    throw error;
  });
  if (connection.standIn && namedInventory !== 'none') {
    connection.notices.push('Not recorded in the inventory: the embedded virtual card only stands in for a demonstration.');
  }
  try {
    let result: FinishedEnrollment;
    let pin: string;
    let firmware: string;
    let caFollowUp: Awaited<ReturnType<typeof prepareCaFollowUp>>;
    try {
      for (const notice of connection.notices) output.notice(notice);
      const inspection = await connection.inspect(options.slot);
      firmware = formatFirmwareVersion(inspection.firmware);
      if (interactive) await askForMissing(options, inspection, environment.prompter);
      if (options.subject.length === 0) {
        const planned = planEnrollment(options, inspection);
        throw new EnrollmentPlanError(['missing: the certificate subject (--user NAME or --subject "CN=…")', ...planned.errors]);
      }
      if (options.comment === '') options.comment = defaultComment(options, inspection.serial);
      // Before anything is written: a CA that cannot sign must not leave an enrolled card without its certificate.
      caFollowUp = await prepareCaFollowUp(flags, options.subject.find((a) => a.type === 'CN')?.value, { ...environment, interactive });
      const { plan, errors } = planEnrollment(options, inspection);
      if (!plan) throw new EnrollmentPlanError(errors);
      output.notice(describePlan(plan).join('\n')); // stderr: with --json, stdout holds the JSON alone
      if (interactive && !(await environment.prompter.confirm('Enroll the card as planned?', true))) {
        output.notice('Nothing was changed.');
        return 1;
      }
      // The card write: a Ctrl-C during it waits for its end, so the card is never left half-enrolled.
      const applied = await connection.withTarget((target) =>
        cancellation.whileWritingCard(
          () => withTaskList(flags.json ?? false, interactive, (progress) => applyEnrollment(target, inspection, plan, options, progress, { ...defaultEnrollDependencies, ...dependencies })),
          enrolledCardStatement,
        ),
      );
      result = { ...applied, notes: [] };
      // The PIN the card has now, which the APDU path just verified: the PKCS#11 checks log in with no other.
      pin = plan.hardening.changePin ? options.secrets.newPin! : currentPin(inspection, options.secrets);
    } finally {
      await connection.close(); // PKCS#11 modules can reach the card only once we let go of it
    }
    // The second path, as ssh -I uses the card: every PKCS#11 module installed here.
    if (connection.readerName) {
      // The backend's own module already made every signature above: check through the others.
      const enrolledThrough = options.backend.kind === 'pkcs11' ? options.backend.module.path : undefined;
      for (const module of pkcs11Modules.filter((m) => m.path !== enrolledThrough)) {
        result.verification.push(
          ...(await verifyThroughPkcs11({ module, reader: connection.readerName, slot: options.slot, algorithm: keyAlgorithmByName(result.algorithm)!, publicKey: result.publicKey, pin, random: (n) => new Uint8Array(randomBytes(n)) })),
        );
      }
    } else if (pkcs11Modules.length > 0) {
      result.notes.push('PKCS#11 path not checked: PKCS#11 modules cannot reach the embedded virtual card (serve it behind pcscd for that)');
    }
    const failed = result.verification.filter((c) => !c.valid && !c.legacy && !c.unsupported);
    if (failed.length === 0) {
      if (caFollowUp) {
        result.caCertificate = await caFollowUp(result, options.comment);
        result.files.push(result.caCertificate.certificateFile);
      }
      if (inventory) result.inventory = { location: inventory.description, enrollmentId: await recordInInventory(inventory, result, options, flags, firmware, connection.readerName) };
      if (deployFollowUp) {
        result.deployment = await deployFollowUp(result.authorizedKey);
        if (inventory) await recordDeployResults(inventory, result.fingerprint, 'add', result.deployment, result.inventory!.enrollmentId);
      }
    }
    output.result(flags.json ? JSON.stringify(enrollmentJson(result), null, 2) : summary(result));
    if (failed.length > 0) {
      throw new EnrollmentError(
        `signatures through ${[...new Set(failed.map((c) => c.module ?? c.path))].join(', ')} failed for ${[...new Set(failed.map((c) => c.algorithm))].join(', ')}: ` +
          'a server would accept this key and then refuse its signatures. Check the module or driver, or replace the card.' +
          [...new Set(failed.map((c) => c.error).filter((e): e is string => !!e))].map((e) => ` (${e})`).join(''),
      );
    }
    const unreached = (result.deployment ?? []).filter((r) => r.status === 'failed');
    if (unreached.length > 0) {
      output.error(`the card is enrolled, but the key did not reach ${unreached.map((r) => `${r.host} (${r.reason})`).join(', ')}: fix that and run piv-enroll deploy --slot ${result.slot.toLowerCase()} for those hosts`);
      return 1;
    }
    return 0;
  } finally {
    await inventory?.close();
  }
}

async function recordInInventory(inventory: Inventory, result: FinishedEnrollment, options: EnrollOptions, flags: EnrollFlags, firmware: string, reader: string | undefined): Promise<number> {
  const person = flags.person ?? options.subject.find((a) => a.type === 'CN')?.value ?? options.comment;
  const id = await inventory.recordEnrollment({
    person,
    card: result.serial === undefined ? undefined : { serial: result.serial, firmware, reader, virtual: reader === undefined },
    slot: result.slot,
    algorithm: result.algorithm,
    fingerprint: result.fingerprint,
    authorizedKey: result.authorizedKey,
    certificateSerial: result.certificate.serial,
    certificateNotAfter: result.certificate.notAfter,
    options: recordedOptions(options, flags),
  });
  const ca = result.caCertificate;
  if (ca) await inventory.recordCaCertificate(id, { caDir: resolve(flags.ca!), serial: String(ca.serial), keyId: ca.keyId, principals: ca.principals, validBefore: ca.validBefore });
  return id;
}

/** The embedded virtual card stands in only for a plain enrollment that stays on this machine. */
function standInPolicy(flags: EnrollFlags, deploys: boolean, inventoryNamed: boolean, environment: EnrollEnvironment): FallbackPolicy {
  const because = [deploys && 'deploying a key to hosts', flags.ca && 'an SSH CA certificate', inventoryNamed && 'recording a card in a named inventory'].filter((b): b is string => typeof b === 'string');
  if (because.length > 0) return { allowed: false, because: because.join(', ') };
  return { allowed: true, file: environment.fallbackVirtualCard ?? defaultVirtualCardFile(environment.env) };
}

export const defaultEnrollEnvironment = (yes: boolean | undefined): EnrollEnvironment => ({
  env: process.env,
  interactive: !yes && Boolean(process.stdin.isTTY && process.stdout.isTTY) && process.env.CI !== 'true',
  prompter: terminalPrompter,
});
