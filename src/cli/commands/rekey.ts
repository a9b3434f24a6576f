/**
 * `piv-enroll rekey`: the inserted card gets a new key and certificates with the properties of its enrollment, without
 * a moment in which its owner cannot log in (the workflow and its order: operations/rekey.ts). This file turns flags
 * into a RekeyRequest, shows the plan (confirmed on a terminal unless --yes; --dry-run stops there), and prints the report.
 */
import { UsageError } from '../../errors.js';
import { attestationRequirement, type AttestationFlags } from '../attestation-options.js';
import { parseDuration } from '../../operations/ca/validity.js';
import { defaultInventoryLocation } from '../../operations/inventory/inventory.js';
import { resolvePolicy } from '../../operations/policy/resolve.js';
import type { CardSelection } from '../../operations/open-card.js';
import { pkcs11Checks, type Pkcs11CheckFlags } from '../pkcs11-checks.js';
import { rekeyCard, type RekeyPlan, type RekeyReport, type RekeyStep } from '../../operations/rekey.js';
import { parseSlot } from '../../standards/references.js';
import { pinPolicyName, touchPolicyName } from '../../standards/policies.js';
import { hostAccess, type HostAccessFlags } from '../card-options.js';
import { cancellation } from '../cancellation.js';
import { enrolledCardStatement } from '../card-write-statements.js';
import { MISSING_INPUT_WORDS } from '../enroll/wizard.js';
import type { Output } from '../output.js';
import { terminalPrompter, type Prompter } from '../prompter.js';
import { parseManagementKey, secretReader } from '../secrets.js';
import { deployOptionsFrom } from '../host-options.js';

export type { RekeyStep } from '../../operations/rekey.js';

export interface RekeyFlags extends CardSelection, HostAccessFlags, AttestationFlags, Pkcs11CheckFlags {
  slot?: string;
  inventory?: string;
  expiringWithin?: string;
  force?: boolean;
  out?: string;
  json?: boolean;
  pinFile?: string;
  managementKeyFile?: string;
  caPassphraseFile?: string;
  caReader?: string;
  caPinFile?: string;
  keySource?: string;
  yes?: boolean;
  dryRun?: boolean;
  /** The site policy file (none: no policy). */
  policy?: string;
}

export interface RekeyEnvironment {
  env: NodeJS.ProcessEnv;
  prompter: Prompter;
  /** A person can answer questions (a terminal). */
  interactive?: boolean;
  /** Called after each step (tests log in between steps to prove there is never a gap). */
  afterStep?: (step: RekeyStep) => Promise<void>;
  now?: () => Date;
}

export function describeRekeyPlan(plan: RekeyPlan): string {
  const where = { host: 'made on this computer and imported', 'card-staged': 'generated on the card in a free retired slot, then moved in', 'card-in-place': 'generated on the card in the slot itself' }[plan.origin];
  return [
    `Re-key card ${plan.card}, slot ${plan.slot} (${plan.person}): ${plan.oldFingerprint} is replaced by a new ${plan.algorithm} key, ${where}`,
    `• PIN policy ${pinPolicyName(plan.pinPolicy)}, touch policy ${touchPolicyName(plan.touchPolicy)}, certificate ${plan.subject}`,
    plan.hosts.length > 0 ? `• the new key goes onto ${plan.hosts.join(', ')}, then the old key comes off` : '• the key is on no recorded host',
    ...plan.caDirs.map((dir) => `• the CA ${dir} certifies the new key; the old certificates are revoked`),
    ...plan.notes.map((note) => `! ${note}`),
  ].join('\n');
}

function render(report: RekeyReport, flags: RekeyFlags): string {
  if (flags.json) return JSON.stringify(report, null, 2);
  const lines = [`Card ${report.card}, slot ${report.slot}${report.person ? ` (${report.person})` : ''}: ${report.action}`];
  if (report.newFingerprint) lines.push(`  ${report.oldFingerprint} → ${report.newFingerprint}`);
  for (const h of report.hosts) lines.push(`  new key on ${h.host}: ${h.status}`);
  for (const c of report.certificates) lines.push(`  new SSH certificate ${c.serial} from ${c.caDir}: ${c.file}`);
  for (const h of report.removedFrom) lines.push(`  old key off ${h.host}: ${h.status}`);
  for (const r of report.revoked) lines.push(`  revoked ${r}`);
  for (const n of report.notes) lines.push(`  (${n})`);
  if (report.action === 'planned' && report.plan) lines.push(describeRekeyPlan(report.plan), '(dry run: nothing changed)');
  return lines.join('\n');
}

export async function runRekey(flags: RekeyFlags, output: Output, environment: RekeyEnvironment): Promise<number> {
  const problems: string[] = [];
  let withinSeconds = 30 * 86_400;
  try {
    if (flags.expiringWithin !== undefined) withinSeconds = parseDuration(flags.expiringWithin, '--expiring-within');
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    problems.push(error.message);
  }
  if (flags.force && flags.expiringWithin !== undefined) problems.push('--force re-keys now, whatever the expiry: give it or --expiring-within, not both');
  const slot = parseSlot(flags.slot ?? '9c');
  if (slot === undefined) problems.push(`slot "${flags.slot}" is not one of 9a, 9c, 9d, 9e, 82–95`);
  if (flags.keySource !== undefined && flags.keySource !== 'host' && flags.keySource !== 'card') problems.push(`key-source "${flags.keySource}" is not one of host, card`);
  const deploy = deployOptionsFrom(hostAccess(flags), problems);
  const policy = await resolvePolicy(flags.policy, environment.env);
  const location = flags.inventory ?? (environment.env.PIV_ENROLL_INVENTORY || policy?.defaults.inventory) ?? defaultInventoryLocation(environment.env);
  if (location === 'none') problems.push('rekey repeats the enrollment the inventory recorded: --inventory none is not possible here');
  const read = secretReader(problems, environment.env);
  const pin = await read(flags.pinFile, 'PIV_PIN', 'the PIN');
  const managementKey = await read(flags.managementKeyFile, 'PIV_MANAGEMENT_KEY', 'the management key');
  const ca = {
    passphrase: await read(flags.caPassphraseFile, 'PIV_CA_PASSPHRASE', 'the CA passphrase'),
    reader: flags.caReader,
    pin: await read(flags.caPinFile, 'PIV_CA_PIN', 'the PIN of the CA card'),
  };
  if (problems.length > 0) throw new UsageError(problems.join('\n'));

  const interactive = (environment.interactive ?? false) && !flags.yes;
  const report = await rekeyCard(
    {
      card: { reader: flags.reader, virtual: flags.virtual, allowLastPinTry: flags.allowLastPinTry },
      slot: slot!,
      inventoryLocation: location,
      due: flags.force ? 'now' : { withinSeconds },
      now: (environment.now ?? (() => new Date()))(),
      outDir: flags.out,
      ...pkcs11Checks(flags),
      secrets: { pin, managementKey: managementKey === undefined ? undefined : parseManagementKey(managementKey) },
      ca,
      deploy,
      keySource: flags.keySource as 'host' | 'card' | undefined,
      policy,
      attestation: await attestationRequirement(flags),
    },
    {
      notice: (t) => output.notice(t),
      dryRun: flags.dryRun,
      confirm: async (plan) => {
        output.notice(describeRekeyPlan(plan));
        return !interactive || environment.prompter.confirm('Re-key the card as planned?', true);
      },
      afterStep: environment.afterStep,
      write: (work) => cancellation.whileWritingCard(() => work(() => undefined), enrolledCardStatement),
      wordMissing: (m) => MISSING_INPUT_WORDS[m],
    },
  );
  output.result(render(report, flags));
  return report.action === 'declined' ? 1 : 0;
}

export const defaultRekeyEnvironment = (): RekeyEnvironment => ({
  env: process.env,
  prompter: terminalPrompter,
  interactive: Boolean(process.stdin.isTTY && process.stdout.isTTY) && process.env.CI !== 'true',
});
