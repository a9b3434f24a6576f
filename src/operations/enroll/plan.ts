/**
 * The enrollment plan: a pure function of the options and what the card reported. Shown to the user,
 * confirmed, then applied. Every problem is collected, so one run lists them all.
 */
import { managementKeyAlgorithmByName, type KeyAlgorithmInfo, type ManagementKeyAlgorithmInfo } from '../../standards/algorithms.js';
import { FEATURE_DESCRIPTION, featuresForKeyAlgorithm, formatFirmwareVersion, hasFeature } from '../../standards/firmware.js';
import { PIN_POLICY, TOUCH_POLICY, defaultPinPolicy, pinPolicyName, touchPolicyName } from '../../standards/policies.js';
import { slotHex } from '../../standards/references.js';
import { sshSignatureAlgorithms, type SshSignatureAlgorithm } from '../ssh-public-key.js';
import type { CardInspection } from './inspect.js';
import type { EnrollOptions } from './options.js';

export type KeyAction = 'generate-on-card' | 'import-host-key' | 'import-file' | 'keep-existing' | 'move-staged';

export interface EnrollmentPlan {
  cardName: string;
  /** apdu, or the name of the PKCS#11 module everything goes through. */
  through: string;
  serial?: number;
  slot: number;
  hardening: { changePin: boolean; changePuk: boolean; newManagementKey?: ManagementKeyAlgorithmInfo };
  key: { action: KeyAction; algorithm: KeyAlgorithmInfo; pinPolicy: number; touchPolicy: number; replaces?: string };
  certificate: { subject: string; validDays: number; hash: string };
  verify: SshSignatureAlgorithm[];
  warnings: string[];
}

export interface PlanResult {
  plan?: EnrollmentPlan;
  /** What stops the plan, besides inputs not given yet. */
  errors: string[];
  /** Inputs not given yet, as keys the front end words (and the wizard asks for). */
  missing: MissingInput[];
}

/** An input the plan needs and the options do not hold yet. */
export type MissingInput = 'subject' | 'pin' | 'new-pin' | 'new-puk' | 'management-key' | 'backup-passphrase' | 'import-passphrase';

/** The management key a hardened card gets: AES-192 where the firmware has AES (5.4+), else TDES. */
export function hardenedManagementKeyAlgorithm(inspection: CardInspection): ManagementKeyAlgorithmInfo {
  return managementKeyAlgorithmByName(hasFeature(inspection.firmware, 'aes-management-key') ? 'AES192' : 'TDES')!;
}

/** The PIN policy the card will apply: DEFAULT means the slot's own default (9C always, 9E never, others once). */
export function effectivePinPolicy(slot: number, pinPolicy: number): number {
  return pinPolicy === PIN_POLICY.DEFAULT ? defaultPinPolicy(slot) : pinPolicy;
}

/** Inputs the plan will need that the options do not hold yet. */
export function missingInputs(options: EnrollOptions, inspection: CardInspection): MissingInput[] {
  const missing: MissingInput[] = [];
  const { secrets } = options;
  const hardening = !options.keepDefaultCredentials;
  if (options.subject.length === 0) missing.push('subject');
  if (inspection.pinIsDefault !== true && secrets.pin === undefined) missing.push('pin');
  if (hardening && inspection.pinIsDefault === true && secrets.newPin === undefined) missing.push('new-pin');
  if (hardening && inspection.pukIsDefault === true && secrets.newPuk === undefined) missing.push('new-puk');
  if (inspection.managementKeyIsDefault !== true && !inspection.managementKeyProtected && secrets.managementKey === undefined) missing.push('management-key');
  if (options.keySource.kind === 'import' && !options.keySource.privateKey) missing.push('import-passphrase');
  if (options.keySource.kind === 'host' && options.backupKey && secrets.keyPassphrase === undefined) missing.push('backup-passphrase');
  return missing;
}

function describeSlotContent(inspection: CardInspection): string {
  const { slot } = inspection;
  const key = slot.keyAlgorithm ? `an ${slot.keyAlgorithm.name} key${slot.keyOrigin ? ` (${slot.keyOrigin})` : ''}` : 'a key';
  return slot.certificateSubject ? `${key} with certificate ${slot.certificateSubject}` : `${key} without a certificate`;
}

/** What a vendor PKCS#11 module cannot do, found before anything is written (see pkcs11-target.ts). */
function pkcs11BackendProblems(options: EnrollOptions, inspection: CardInspection, warnings: string[]): string[] {
  const problems: string[] = [];
  const module = options.backend.kind === 'pkcs11' ? options.backend.module.name : '';
  if (options.algorithm.kind === 'ed25519') problems.push(`${module} does not offer Ed25519 PIV keys: choose RSA or ECC, or the APDU backend`);
  if (options.pinPolicy !== PIN_POLICY.DEFAULT || options.touchPolicy !== TOUCH_POLICY.DEFAULT) {
    problems.push('PIN and touch policies cannot be set through a PKCS#11 module: leave them at their defaults, or use the APDU backend');
  }
  if (!options.keepDefaultCredentials && inspection.managementKeyIsDefault === true) {
    problems.push(
      'the PKCS#11 backend cannot harden a factory-fresh card (a module can neither change the PUK nor keep a management key PIN-protected on the card): ' +
        'harden it first with `piv-enroll enroll` (APDU backend) or ykman, or give --keep-default-credentials',
    );
  }
  warnings.push('the CHUID is not refreshed (a PKCS#11 module cannot write it): Windows may keep showing a cached certificate until it is');
  if (options.keySource.kind === 'card') warnings.push('no attestation certificate is saved (the module does not offer it)');
  return problems;
}

export function planEnrollment(options: EnrollOptions, inspection: CardInspection): PlanResult {
  const errors: string[] = [];
  const warnings: string[] = [];
  const firmware = inspection.firmware;
  const firmwareText = formatFirmwareVersion(firmware);
  const slotName = slotHex(options.slot);
  const { algorithm } = options;

  for (const feature of featuresForKeyAlgorithm(algorithm.name)) {
    if (!hasFeature(firmware, feature)) errors.push(`this card (firmware ${firmwareText}) has no ${FEATURE_DESCRIPTION[feature]}: choose another --algorithm`);
  }
  if (algorithm.kind === 'x25519') errors.push('X25519 keys cannot sign, so they cannot be SSH keys: choose RSA, ECC or Ed25519');
  if (options.keySource.kind === 'card' && algorithm.kind === 'rsa' && !hasFeature(firmware, 'rsa-generation')) {
    errors.push(`firmware ${firmwareText} must not generate RSA keys (ROCA, CVE-2017-15361): use --key-source host or an ECC algorithm`);
  }
  if ((options.pinPolicy !== PIN_POLICY.DEFAULT || options.touchPolicy !== TOUCH_POLICY.DEFAULT) && !hasFeature(firmware, 'pin-touch-policy')) {
    errors.push(`firmware ${firmwareText} has no PIN or touch policies`);
  }
  if (options.touchPolicy === TOUCH_POLICY.CACHED && !hasFeature(firmware, 'touch-cached')) errors.push(`firmware ${firmwareText} has no cached touch policy`);
  if (options.pinPolicy > PIN_POLICY.ALWAYS) errors.push('PIN policies MATCH-ONCE and MATCH-ALWAYS need a YubiKey Bio');

  if (options.backend.kind === 'pkcs11') errors.push(...pkcs11BackendProblems(options, inspection, warnings));

  if (inspection.pinAttemptsRemaining === 0) errors.push('the PIN is blocked: unblock it with the PUK first (piv-enroll pin unblock)');
  else if (inspection.pinAttemptsRemaining === 1 && inspection.pinIsDefault !== true && !options.card.allowLastPinTry) {
    // Not --force: replacing a slot is one decision, spending the last PIN try another.
    errors.push('only one PIN try is left: a wrong PIN would block the card; give --allow-last-pin-try to try anyway, or unblock the PIN with the PUK first');
  }

  // What the slot holds decides between a fresh key, finishing a half-done enrollment, and refusing.
  const { slot } = inspection;
  const occupied = slot.hasKey === true || (slot.hasKey === undefined && slot.certificateSubject !== undefined);
  const halfDone = slot.hasKey === true && slot.certificateMatchesKey !== true;
  const actions: Record<EnrollOptions['keySource']['kind'], KeyAction> = { card: 'generate-on-card', import: 'import-file', host: 'import-host-key', staged: 'move-staged', existing: 'keep-existing' };
  let action = actions[options.keySource.kind];
  if (action === 'keep-existing' && !(slot.hasKey === true && slot.publicKey && slot.keyAlgorithm)) errors.push(`slot ${slotName} holds no key to keep`);
  if (action === 'move-staged' && !hasFeature(firmware, 'move-delete-key')) errors.push(`firmware ${firmwareText} cannot move a key between slots (MOVE KEY needs 5.7)`);
  if (action === 'move-staged' && options.backend.kind === 'pkcs11') errors.push('a key staged in a retired slot is moved with MOVE KEY, which a PKCS#11 module does not offer');
  let replaces: string | undefined;
  if (action === 'keep-existing' && options.keySource.kind === 'existing') {
    warnings.push(`slot ${slotName} keeps its ${slot.keyAlgorithm?.name ?? ''} key; it gets a new certificate`);
  } else if (occupied && options.force) {
    replaces = describeSlotContent(inspection);
    warnings.push(`slot ${slotName} holds ${replaces}: it will be replaced (--force)`);
  } else if (halfDone && (options.keySource.kind === 'host' || options.keySource.kind === 'card') && slot.keyAlgorithm?.name === algorithm.name && slot.publicKey) {
    action = 'keep-existing';
    warnings.push(`slot ${slotName} holds ${describeSlotContent(inspection)} from an unfinished enrollment: it will be certified and finished`);
  } else if (occupied) {
    errors.push(`slot ${slotName} already holds ${describeSlotContent(inspection)}: give --force to replace it, or choose another --slot`);
  }

  const hardening: EnrollmentPlan['hardening'] = { changePin: false, changePuk: false };
  const defaults = [
    inspection.pinIsDefault === true ? 'PIN' : undefined,
    inspection.pukIsDefault === true ? 'PUK' : undefined,
    inspection.managementKeyIsDefault === true ? 'management key' : undefined,
  ].filter((d): d is string => d !== undefined);
  if (options.keepDefaultCredentials) {
    if (defaults.length > 0) warnings.push(`the factory-default ${defaults.join(', ')} stay${defaults.length === 1 ? 's' : ''} (--keep-default-credentials): anyone with the card can use or change it`);
  } else {
    hardening.changePin = inspection.pinIsDefault === true;
    hardening.changePuk = inspection.pukIsDefault === true;
    if (inspection.managementKeyIsDefault === true) hardening.newManagementKey = hardenedManagementKeyAlgorithm(inspection);
  }
  if (inspection.pinIsDefault === undefined) {
    const who = options.backend.kind === 'pkcs11' ? `the PKCS#11 module ${options.backend.module.name}` : `firmware ${firmwareText}`;
    warnings.push(`${who} cannot tell whether PIN and PUK are still the defaults; they are left as they are`);
  }

  if (options.escrowRecipients && inspection.serial === undefined) errors.push('this card reports no serial number, by which its escrow would be found again: leave --escrow-recipient out');
  if (options.generated?.pin && inspection.pinIsDefault !== true) warnings.push('the card\'s PIN is not the factory default: it keeps its PIN, and no random PIN is set');
  if (options.generated?.puk && inspection.pukIsDefault !== true) warnings.push('the card\'s PUK is not the factory default: it keeps its PUK, and no random PUK is set');
  const missing = missingInputs(options, inspection);
  if (errors.length > 0 || missing.length > 0) return { errors, missing };
  if (effectivePinPolicy(options.slot, options.pinPolicy) === PIN_POLICY.ALWAYS) warnings.push(`PIN policy ALWAYS (${slotName}): ssh asks for the PIN at every login`);
  return {
    errors,
    missing,
    plan: {
      cardName: inspection.cardName,
      through: options.backend.kind === 'pkcs11' ? options.backend.module.name : 'apdu',
      serial: inspection.serial,
      slot: options.slot,
      hardening,
      key: { action, algorithm: action === 'keep-existing' ? slot.keyAlgorithm! : algorithm, pinPolicy: options.pinPolicy, touchPolicy: options.touchPolicy, replaces },
      certificate: { subject: options.subject.map((a) => `${a.type}=${a.value}`).reverse().join(','), validDays: options.validDays, hash: options.hash },
      verify: sshSignatureAlgorithms(algorithm),
      warnings,
    },
  };
}

/** The plan as lines of text for the confirmation screen. */
export function describePlan(plan: EnrollmentPlan): string[] {
  const slot = slotHex(plan.slot);
  const viaModule = plan.through !== 'apdu';
  const lines = [`Card: ${plan.cardName}${plan.serial !== undefined ? `, serial ${plan.serial}` : ''}${viaModule ? ` (through the PKCS#11 module ${plan.through})` : ''}`];
  if (plan.hardening.changePin) lines.push('• Replace the factory-default PIN');
  if (plan.hardening.changePuk) lines.push('• Replace the factory-default PUK');
  if (plan.hardening.newManagementKey) lines.push(`• Set a random ${plan.hardening.newManagementKey.name} management key, stored on the card protected by the PIN`);
  const touch = plan.key.touchPolicy === TOUCH_POLICY.DEFAULT ? TOUCH_POLICY.NEVER : plan.key.touchPolicy;
  const policies = `PIN policy ${pinPolicyName(effectivePinPolicy(plan.slot, plan.key.pinPolicy))}, touch policy ${touchPolicyName(touch)}`;
  const keyLine: Record<KeyAction, string> = {
    'generate-on-card': `• Generate an ${plan.key.algorithm.name} key on the card in slot ${slot} (${policies})${viaModule ? '' : ' and save its attestation'}`,
    'import-host-key': `• Make an ${plan.key.algorithm.name} key on this computer and import it into slot ${slot} (${policies}); no copy is kept unless --backup-key`,
    'import-file': `• Import the ${plan.key.algorithm.name} key from the file into slot ${slot} (${policies})`,
    'keep-existing': `• Keep the ${plan.key.algorithm.name} key already in slot ${slot}`,
    'move-staged': `• Move the ${plan.key.algorithm.name} key generated on the card for this re-key into slot ${slot} (${policies}), replacing the key there`,
  };
  lines.push(keyLine[plan.key.action]);
  lines.push(`• Write a self-signed certificate ${plan.certificate.subject}, ${plan.certificate.validDays} days, ${plan.certificate.hash.toUpperCase()}${viaModule ? '' : ', and a fresh CHUID'}`);
  lines.push(`• Export the SSH public key and check that the card signs ${plan.verify.map((v) => v.name).join(', ')}`);
  return [...lines, ...plan.warnings.map((w) => `! ${w}`)];
}

