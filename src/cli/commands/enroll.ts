/**
 * `piv-enroll enroll`: flags, environment and files become one EnrollCardRequest (the validator in
 * operations/enroll/enroll-inputs.ts checks them, as it checks a batch manifest's rows); on a terminal the wizard asks
 * for what is left, otherwise every missing input is reported at once. The workflow is enrollCard's; this file words
 * its questions and renders its result.
 */
import { UsageError, PivEnrollError } from '../../errors.js';
import { EnrollmentError, type StepName } from '../../operations/enroll/apply.js';
import { enrollCard, type EnrollCardRequest } from '../../operations/enroll/enroll-card.js';
import { buildEnrollOptions, type EnrollInputs } from '../../operations/enroll/enroll-inputs.js';
import type { EnrollOptions } from '../../operations/enroll/options.js';
import { describePlan, type MissingInput } from '../../operations/enroll/plan.js';
import { defaultInventoryLocation } from '../../operations/inventory/inventory.js';
import { defaultVirtualCardFile, type CardSelection } from '../../operations/open-card.js';
import { pkcs11Checks, type Pkcs11CheckFlags } from '../pkcs11-checks.js';
import { resolvePolicy } from '../../operations/policy/resolve.js';
import type { SitePolicy } from '../../operations/policy/types.js';
import { attestationRequirement, type AttestationFlags } from '../attestation-options.js';
import { cancellation } from '../cancellation.js';
import { enrolledCardStatement } from '../card-write-statements.js';
import { askDeployStep } from '../enroll/deploy-step.js';
import { enrollmentJson, enrollmentSummary, timingsTable } from '../enroll/report.js';
import { askForMissing, MISSING_INPUT_WORDS } from '../enroll/wizard.js';
import type { Output } from '../output.js';
import { terminalPrompter, type Prompter } from '../prompter.js';
import { parseManagementKey, secretReader, escrowRecipientsFrom } from '../secrets.js';
import { withStepTasks } from '../task-list.js';
import { prepareEnrollHandOut, processSecretTerminal, rescueHeldPin, type SecretTerminal } from '../hand-out.js';
import { handoutRequest, type HandoutFlags } from '../handout-options.js';
import { caStepOf, checkCaFlags, type EnrollCaFlags } from './enroll-ca.js';
import { prepareDeployTargets, type EnrollDeployFlags } from './enroll-deploy.js';

export interface EnrollFlags extends CardSelection, EnrollCaFlags, EnrollDeployFlags, AttestationFlags, HandoutFlags, Pkcs11CheckFlags {
  /** Where to record the enrollment (a SQLite file, postgres://…, or none). */
  inventory?: string;
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
  /** Stop after a certificate request for an X.509 CA, written into DIR. */
  csr?: string;
  force?: boolean;
  keepDefaultCredentials?: boolean;
  yes?: boolean;
  json?: boolean;
  /** Print where the time went, per step, on stderr. */
  verbose?: boolean;
  pinFile?: string;
  newPinFile?: string;
  pukFile?: string;
  newPukFile?: string;
  managementKeyFile?: string;
  passphraseFile?: string;
  /** apdu (default) or pkcs11: enroll through a vendor module only. */
  backend?: string;
  /** With --backend pkcs11: ykcs11 (default) or a PATH. */
  module?: string;
  /** The site policy file (none: no policy). */
  policy?: string;
  randomPin?: boolean;
  randomPuk?: boolean;
  /** age1… or a file of recipients: escrow the PUK and management key to them. */
  escrowRecipient?: string;
  /** A new 0600 file for the generated PIN/PUK (else the terminal, once). */
  pinOut?: string;
}

export interface EnrollEnvironment {
  env: NodeJS.ProcessEnv;
  /** A person can answer questions (a terminal, and no --yes). */
  interactive: boolean;
  prompter: Prompter;
  /** Where the embedded virtual card lives when no card is found. */
  fallbackVirtualCard?: string;
  /** Where a generated PIN may be shown once: the terminal (stderr on a TTY) only. */
  secretTerminal?: SecretTerminal;
}

/** The plan refused: exit status 2 when only inputs are missing (a usage problem), 1 otherwise. */
export class EnrollmentPlanError extends PivEnrollError {
  override readonly exitCode: number;
  constructor(errors: string[], missing: MissingInput[]) {
    const problems = [...missing.map((m) => `missing: ${MISSING_INPUT_WORDS[m]}`), ...errors];
    super(`cannot enroll:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.exitCode = errors.length === 0 ? 2 : 1;
  }
}

/** Flags, environment and files → the validator's inputs; secrets are read here (files others can read are refused). */
async function inputsFromFlags(flags: EnrollFlags, env: NodeJS.ProcessEnv, policy: SitePolicy | undefined, problems: string[]): Promise<EnrollInputs> {
  const read = secretReader(problems, env);
  const secrets: EnrollOptions['secrets'] = {
    pin: await read(flags.pinFile, 'PIV_PIN', 'the PIN'),
    newPin: await read(flags.newPinFile, 'PIV_NEW_PIN', 'the new PIN'),
    puk: await read(flags.pukFile, 'PIV_PUK', 'the PUK'),
    newPuk: await read(flags.newPukFile, 'PIV_NEW_PUK', 'the new PUK'),
    keyPassphrase: await read(flags.passphraseFile, 'PIV_KEY_PASSPHRASE', 'the key passphrase'),
  };
  const managementKey = await read(flags.managementKeyFile, 'PIV_MANAGEMENT_KEY', 'the management key');
  if (managementKey !== undefined) {
    try {
      secrets.managementKey = parseManagementKey(managementKey);
    } catch (error) {
      if (!(error instanceof PivEnrollError)) throw error;
      problems.push(error.message);
    }
  }
  return {
    card: { reader: flags.reader, virtual: flags.virtual, firmware: flags.firmware, serial: flags.serial, faults: flags.faults, allowLastPinTry: flags.allowLastPinTry },
    slot: flags.slot, algorithm: flags.algorithm, 'pin-policy': flags.pinPolicy, 'touch-policy': flags.touchPolicy, 'key-source': flags.keySource,
    'valid-days': flags.validDays, hash: flags.hash, importFile: flags.import, backupKey: flags.backupKey, subject: flags.subject, user: flags.user,
    comment: flags.comment, outDir: flags.out, csrDir: flags.csr, force: flags.force, keepDefaultCredentials: flags.keepDefaultCredentials, backend: flags.backend, module: flags.module,
    secrets, policy, randomPin: flags.randomPin, randomPuk: flags.randomPuk,
    escrowRecipients: await escrowRecipientsFrom(flags.escrowRecipient, problems),
  };
}

/** Flags (and environment, files) → options. Everything that can be checked without a card is checked here. */
async function optionsFromFlags(flags: EnrollFlags, env: NodeJS.ProcessEnv, policy: SitePolicy | undefined): Promise<EnrollOptions> {
  const problems: string[] = [];
  const built = await buildEnrollOptions(await inputsFromFlags(flags, env, policy, problems));
  for (const problem of built.problems) problems.push(problem);
  if (problems.length > 0 || !built.options) throw new UsageError(problems.join('\n'));
  return built.options;
}

const STEP_TITLES: Array<[StepName[], string]> = [
  [['harden', 'authenticate'], 'Credentials'],
  [['key'], 'Key'],
  [['certificate'], 'Certificate and CHUID'],
  [['export'], 'Export'],
  [['verify'], 'Verify signatures'],
];

export async function runEnroll(flags: EnrollFlags, output: Output, environment: EnrollEnvironment): Promise<number> {
  const interactive = environment.interactive && !flags.yes;
  const policy = await resolvePolicy(flags.policy, environment.env);
  if (interactive && policy) Object.assign(flags, await askDeployStep(flags, policy, environment.prompter));
  // The policy's CA is the default; flags win (`--ca none`: no CA).
  const caDir = flags.ca === 'none' ? undefined : (flags.ca ?? policy?.defaults.ca);
  const options = await optionsFromFlags(flags, environment.env, policy);
  checkCaFlags({ ...flags, ca: caDir });
  if (flags.csr !== undefined && (caDir !== undefined || flags.deployTo !== undefined || flags.deployHostsFile !== undefined)) {
    throw new UsageError('--csr stops the enrollment at the certificate request: --ca and --deploy-to come after `piv-enroll certificate import`');
  }
  // Checked before the card is touched: bad hosts stop the enrollment first.
  const deploy = await prepareDeployTargets(flags, policy);
  // A generated PIN (or a generated PUK no escrow keeps) needs somewhere to go, found before the card is touched.
  // The handout carries a generated PIN (not a PUK: that goes to the escrow or --pin-out).
  const needed = flags.randomPin && flags.handout === undefined ? '--random-pin' : flags.randomPuk && !options.escrowRecipients ? '--random-puk without --escrow-recipient' : undefined;
  const handOut = await prepareEnrollHandOut(flags.pinOut, environment.secretTerminal, interactive ? undefined : needed);
  try {
    return await enrollWith(flags, output, environment, options, interactive, deploy, handOut, policy, caDir);
  } finally {
    await handOut?.finish();
  }
}

async function enrollWith(
  flags: EnrollFlags, output: Output, environment: EnrollEnvironment, options: EnrollOptions, interactive: boolean,
  deploy: EnrollCardRequest['deploy'], handOut: Awaited<ReturnType<typeof prepareEnrollHandOut>>, policy: SitePolicy | undefined, caDir: string | undefined,
): Promise<number> {
  const named = flags.inventory ?? (environment.env.PIV_ENROLL_INVENTORY || undefined) ?? policy?.defaults.inventory;
  const request: EnrollCardRequest = {
    options,
    ...pkcs11Checks(flags),
    inventory: named === 'none' ? 'none' : { location: named ?? defaultInventoryLocation(environment.env), named: named !== undefined },
    standInFile: environment.fallbackVirtualCard ?? defaultVirtualCardFile(environment.env),
    deploy,
    ca: caDir === undefined ? undefined : caStepOf(flags, caDir, environment, interactive),
    attestation: await attestationRequirement(flags),
    handout: handoutRequest(flags),
  };
  const person = options.subject.find((a) => a.type === 'CN')?.value ?? 'its owner';
  const handoutDir = flags.handout;
  const outcome = await enrollCard(request, {
    notice: (text) => output.notice(text),
    complete: interactive ? (o, inspection, missing) => askForMissing(o, inspection, missing, environment.prompter, handOut !== undefined || flags.handout !== undefined) : undefined,
    // Never undefined when something was generated, but for a PIN the handout carries: --random-* without a
    // destination were refused above, and the wizard offers a generated PIN only with one.
    handOut: async (secrets) => handOut?.deliver(secrets, `the card of ${person}`),
    // A generated PIN only the handout would carry (no --pin-out, no terminal): kept when the handout is not written.
    rescuePin: handOut !== undefined || handoutDir === undefined ? undefined : async (secrets) => {
      output.notice(`The card has a new PIN that no handout carries (the enrollment did not finish): it is in ${await rescueHeldPin(handoutDir, person, secrets)} (mode 0600)`);
    },
    confirm: async (plan) => {
      output.notice(describePlan(plan).join('\n')); // stderr: with --json, stdout holds the JSON alone
      if (!interactive || (await environment.prompter.confirm('Enroll the card as planned?', true))) return true;
      output.notice('Nothing was changed.');
      return false;
    },
    // The card write: a Ctrl-C during it waits for its end, so the card is never left half-enrolled.
    write: (work) =>
      cancellation.whileWritingCard(() => withStepTasks(STEP_TITLES, flags.json ? 'silent' : interactive ? 'default' : 'simple', work), enrolledCardStatement),
  });
  if (outcome.status === 'refused') throw new EnrollmentPlanError(outcome.errors, outcome.missing);
  if (outcome.status === 'declined') return 1;
  const { enrollment, failedChecks, unreachedHosts } = outcome;
  output.result(flags.json ? JSON.stringify(enrollmentJson(enrollment), null, 2) : enrollmentSummary(enrollment));
  if (flags.verbose && enrollment.timings) output.notice(timingsTable(enrollment.timings)); // stderr: --json's stdout stays one object
  if (failedChecks.length > 0) {
    throw new EnrollmentError(
      `signatures through ${[...new Set(failedChecks.map((c) => c.module ?? c.path))].join(', ')} failed for ${[...new Set(failedChecks.map((c) => c.algorithm))].join(', ')}: ` +
        'a server would accept this key and then refuse its signatures. Check the module or driver, or replace the card.' +
        [...new Set(failedChecks.map((c) => c.error).filter((e): e is string => !!e))].map((e) => ` (${e})`).join(''),
    );
  }
  if (unreachedHosts.length > 0) {
    output.error(`the card is enrolled, but the key did not reach ${unreachedHosts.map((r) => `${r.host} (${r.reason})`).join(', ')}: fix that and run piv-enroll deploy --slot ${enrollment.slot.toLowerCase()} for those hosts`);
    return 1;
  }
  return 0;
}

export const defaultEnrollEnvironment = (yes: boolean | undefined): EnrollEnvironment => ({
  env: process.env,
  interactive: !yes && Boolean(process.stdin.isTTY && process.stdout.isTTY) && process.env.CI !== 'true',
  prompter: terminalPrompter,
  secretTerminal: processSecretTerminal(),
});
