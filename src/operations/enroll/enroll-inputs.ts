/**
 * The one validator of enrollment inputs given as text: the flags of `enroll`, the wizard's answers and the columns
 * of a batch manifest all go through it, so a bad value gets the same message wherever it comes from (the manifest
 * puts `FILE:LINE: ` before it). Each field is checked on its own and every problem is reported, not the first.
 */
import { KEY_ALGORITHM, keyAlgorithmByName, type KeyAlgorithmInfo } from '../../standards/algorithms.js';
import { PIN_POLICY, TOUCH_POLICY, parsePinPolicy, parseTouchPolicy } from '../../standards/policies.js';
import { parseSlot } from '../../standards/references.js';
import type { HashName } from '../../crypto/pkcs1.js';
import { describeKey } from '../../crypto/keys.js';
import type { NameAttribute } from '../../crypto/x509.js';
import { UsageError } from '../../errors.js';
import { FACTORY_PIN, FACTORY_PUK } from '../../standards/factory-defaults.js';
import { parseDistinguishedName, subjectFromTemplate } from '../distinguished-name.js';
import { KeyFileError, PassphraseRequiredError, readPrivateKeyFile } from '../key-file.js';
import type { CardSelection } from '../open-card.js';
import { selectPkcs11Modules } from '../pkcs11-modules.js';
import type { SitePolicy } from '../policy/types.js';
import { randomPin, randomPuk, type RandomBytes } from '../secrets/random-secrets.js';
import { DEFAULT_SLOT, DEFAULT_VALID_DAYS, type EnrollBackend, type EnrollOptions, type EnrollSecrets, type KeySource } from './options.js';

/** The fields, named as the manifest's columns (the flags are the same words with `--`). */
export type EnrollField = 'slot' | 'algorithm' | 'pin-policy' | 'touch-policy' | 'key-source' | 'valid-days' | 'hash';

export type EnrollInputText = Partial<Record<EnrollField, string>>;

export interface CheckedEnrollInputs {
  slot: number;
  algorithm: KeyAlgorithmInfo;
  /** The algorithm was given (not the default), so an imported key must match it. */
  algorithmGiven: boolean;
  pinPolicy: number;
  touchPolicy: number;
  keySource: 'host' | 'card';
  validDays: number;
  hash: HashName;
}

const DEFAULT_ALGORITHM = 'RSA2048';
/** X.509 validity beyond a century is a typo, not a policy. */
const MAX_VALID_DAYS = 36500;
const KEY_SOURCES = ['host', 'card'] as const;
const CERTIFICATE_HASHES: readonly HashName[] = ['sha256', 'sha384', 'sha512'];

const word = (name: string): string => name.toLowerCase().replace(/_/g, '-');
/** X25519 only agrees keys: it cannot sign a certificate or an SSH login. */
const SIGNING_ALGORITHMS = Object.keys(KEY_ALGORITHM).filter((name) => name !== 'X25519');

/** Checks every field given; `problem` hears each bad one (the field, and the message that names it). */
export function checkEnrollInputs(text: EnrollInputText, problem: (field: EnrollField, message: string) => void): CheckedEnrollInputs {
  const slot = parseSlot(text.slot ?? DEFAULT_SLOT.toString(16));
  if (slot === undefined) problem('slot', `slot "${text.slot}" is not one of 9a, 9c, 9d, 9e, 82–95 (or authentication, signature, key-management, card-authentication)`);

  const algorithm = keyAlgorithmByName(text.algorithm ?? DEFAULT_ALGORITHM);
  if (algorithm === undefined) problem('algorithm', `algorithm "${text.algorithm}" is not one of ${SIGNING_ALGORITHMS.join(', ')}`);
  else if (algorithm.kind === 'x25519') problem('algorithm', `algorithm "${text.algorithm}" only agrees keys and cannot sign an SSH login: use one of ${SIGNING_ALGORITHMS.join(', ')}`);

  const pinPolicy = text['pin-policy'] === undefined ? PIN_POLICY.DEFAULT : parsePinPolicy(text['pin-policy']);
  if (pinPolicy === undefined) problem('pin-policy', `pin-policy "${text['pin-policy']}" is not one of ${Object.keys(PIN_POLICY).map(word).join(', ')}`);

  const touchPolicy = text['touch-policy'] === undefined ? TOUCH_POLICY.DEFAULT : parseTouchPolicy(text['touch-policy']);
  if (touchPolicy === undefined) problem('touch-policy', `touch-policy "${text['touch-policy']}" is not one of ${Object.keys(TOUCH_POLICY).map(word).join(', ')}`);

  const keySource = text['key-source'] === undefined ? 'host' : KEY_SOURCES.find((source) => source === text['key-source']!.toLowerCase());
  if (keySource === undefined) problem('key-source', `key-source "${text['key-source']}" is not one of ${KEY_SOURCES.join(', ')}`);

  const days = text['valid-days'] === undefined ? DEFAULT_VALID_DAYS : /^\d{1,6}$/.test(text['valid-days'].trim()) ? Number(text['valid-days']) : NaN;
  if (!(days >= 1 && days <= MAX_VALID_DAYS)) problem('valid-days', `valid-days "${text['valid-days']}" is not a whole number of days from 1 to ${MAX_VALID_DAYS}`);

  const hash = (text.hash ?? 'sha256').toLowerCase().replace('-', '') as HashName;
  if (!CERTIFICATE_HASHES.includes(hash)) problem('hash', `hash "${text.hash}" is not one of SHA256, SHA384, SHA512`);

  return {
    slot: slot!,
    algorithm: algorithm!,
    algorithmGiven: text.algorithm !== undefined,
    pinPolicy: pinPolicy!,
    touchPolicy: touchPolicy!,
    keySource: keySource ?? 'host',
    validDays: days,
    hash,
  };
}

/** Everything an enrollment is asked for, as it comes from flags, a manifest row or the wizard (secrets already read). */
export interface EnrollInputs extends EnrollInputText {
  card: CardSelection;
  /** RFC 4514; or `user`, which makes CN=USER. */
  subject?: string;
  user?: string;
  /** A key file to import instead of making a key (`key-source` must then be absent). */
  importFile?: string;
  backupKey?: string;
  comment?: string;
  outDir?: string;
  /** Stop after a certificate request for an X.509 CA, written into this directory. */
  csrDir?: string;
  force?: boolean;
  keepDefaultCredentials?: boolean;
  /** apdu (default) or pkcs11 through `module` (ykcs11 by default). */
  backend?: string;
  module?: string;
  secrets: EnrollSecrets;
  /** The site policy: its defaults fill valid-days and the subject (from `user`) where they are not given; the plan checks its rules. */
  policy?: SitePolicy;
  /** Draw the new PIN / PUK for this card (a factory-fresh one) instead of taking one given. */
  randomPin?: boolean;
  randomPuk?: boolean;
  /** age recipients (already parsed) to escrow the new PUK and management key to. */
  escrowRecipients?: string[];
  /** The randomness of --random-pin/--random-puk; default the OS CSPRNG. */
  random?: RandomBytes;
}

/** The inputs with the policy's defaults where nothing was given (what is given always wins). */
export function withPolicyDefaults(inputs: EnrollInputs): EnrollInputs {
  const defaults = inputs.policy?.defaults;
  if (!defaults) return inputs;
  const filled = { ...inputs };
  if (filled['valid-days'] === undefined && defaults.validDays !== undefined) filled['valid-days'] = String(defaults.validDays);
  if (filled.subject === undefined && filled.user !== undefined && defaults.subject !== undefined) {
    filled.subject = subjectFromTemplate(defaults.subject, filled.user);
    filled.user = undefined;
  }
  return filled;
}

/** The certificate subject for a user name: the policy's template, else CN=NAME. */
export function subjectForPolicyUser(user: string, policy: SitePolicy | undefined): NameAttribute[] {
  return policy?.defaults.subject === undefined ? subjectForUser(user) : parseDistinguishedName(subjectFromTemplate(policy.defaults.subject, user));
}

/** Why a PIN or PUK may not be chosen; undefined when it may. */
export function checkNewPinValue(value: string): string | undefined {
  const length = new TextEncoder().encode(value).length;
  if (length < 6 || length > 8) return 'a PIN or PUK is 6 to 8 characters';
  if (value === FACTORY_PIN || value === FACTORY_PUK) return 'that is the factory default';
  return undefined;
}

/** The subject of a certificate for a user name: CN=NAME, with RFC 4514's special characters escaped. */
export function subjectForUser(user: string): NameAttribute[] {
  return parseDistinguishedName(`CN=${user.replace(/([,+"\\<>;=])/g, '\\$1')}`);
}

/**
 * Inputs → EnrollOptions, or every problem at once. Reads the key file to import (before the card is opened: a bad
 * file must not leave a half-hardened card behind); a file that needs a passphrase not given yet is left unread, and
 * the plan then lists that passphrase as missing.
 */
export async function buildEnrollOptions(given: EnrollInputs): Promise<{ options?: EnrollOptions; problems: string[] }> {
  const inputs = withPolicyDefaults(given);
  const problems: string[] = [];
  const checked = checkEnrollInputs(inputs, (_field, message) => problems.push(message));
  let algorithm = checked.algorithm;
  let keySource: KeySource = { kind: checked.keySource };
  if (inputs.importFile !== undefined) {
    if (inputs['key-source'] !== undefined) problems.push('an imported key and key-source each choose where the key comes from: give one');
    keySource = { kind: 'import', file: inputs.importFile };
  }
  if (inputs.backupKey !== undefined && keySource.kind !== 'host') problems.push('a key backup only applies to a key made on this computer (key-source host)');
  if (inputs.subject !== undefined && inputs.user !== undefined) problems.push('subject and user both name the certificate subject: give one');
  let subject: NameAttribute[] = [];
  try {
    if (inputs.subject !== undefined) subject = parseDistinguishedName(inputs.subject);
    else if (inputs.user !== undefined) subject = subjectForUser(inputs.user);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    problems.push(error.message);
  }
  const secrets = { ...inputs.secrets };
  const generated: NonNullable<EnrollOptions['generated']> = {};
  if (inputs.randomPin) {
    if (secrets.newPin !== undefined) problems.push('--random-pin and a new PIN (PIV_NEW_PIN or --new-pin-file) each choose the new PIN: give one');
    else (secrets.newPin = randomPin(inputs.random), (generated.pin = true));
  }
  if (inputs.randomPuk) {
    if (secrets.newPuk !== undefined) problems.push('--random-puk and a new PUK (PIV_NEW_PUK or --new-puk-file) each choose the new PUK: give one');
    else (secrets.newPuk = randomPuk(inputs.random), (generated.puk = true));
  }
  if ((inputs.randomPin || inputs.randomPuk || inputs.escrowRecipients) && inputs.keepDefaultCredentials) {
    problems.push('--keep-default-credentials sets no PIN, PUK or management key: --random-pin, --random-puk and --escrow-recipient have nothing to do');
  }
  for (const [value, what] of [[secrets.newPin, 'the new PIN'], [secrets.newPuk, 'the new PUK']] as const) {
    const problem = value === undefined ? undefined : checkNewPinValue(value);
    if (problem) problems.push(`${what}: ${problem}`);
  }
  if (keySource.kind === 'import') {
    try {
      keySource.privateKey = await readPrivateKeyFile(keySource.file, secrets.keyPassphrase);
      const inFile = describeKey(keySource.privateKey);
      if (!inFile) problems.push(`${keySource.file} holds a ${keySource.privateKey.asymmetricKeyType} key, which a PIV slot cannot hold (RSA, P-256, P-384 or Ed25519)`);
      else if (checked.algorithmGiven && algorithm && inFile.name !== algorithm.name) problems.push(`${keySource.file} holds an ${inFile.name} key, not ${algorithm.name}: leave the algorithm out, or give ${inFile.name}`);
      else algorithm = inFile;
    } catch (error) {
      if (!(error instanceof KeyFileError) && !(error instanceof UsageError)) throw error;
      if (!(error instanceof PassphraseRequiredError)) problems.push(error.message);
    }
  }
  let backend: EnrollBackend = { kind: 'apdu' };
  if (inputs.backend === 'pkcs11') {
    try {
      backend = { kind: 'pkcs11', module: selectPkcs11Modules(inputs.module ?? 'ykcs11')[0]! };
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      problems.push(error.message);
    }
    if (inputs.card.virtual !== undefined) problems.push('--backend pkcs11 reaches cards through pcscd only: serve the virtual card (piv-enroll virtual-card serve) and use --reader');
  } else if (inputs.backend !== undefined && inputs.backend !== 'apdu') problems.push(`backend "${inputs.backend}" is not one of apdu, pkcs11`);
  else if (inputs.module !== undefined) problems.push('--module chooses the module of --backend pkcs11 (for checking signatures through modules, see --pkcs11)');
  if (inputs.csrDir !== undefined && backend.kind === 'pkcs11') problems.push('a certificate request (--csr) is made through the APDU backend: leave out --backend pkcs11');
  if (problems.length > 0) return { problems };
  return {
    problems,
    options: {
      backend,
      card: inputs.card,
      slot: checked.slot,
      algorithm,
      pinPolicy: checked.pinPolicy,
      touchPolicy: checked.touchPolicy,
      keySource,
      backupKey: inputs.backupKey,
      subject,
      validDays: checked.validDays,
      hash: checked.hash,
      comment: inputs.comment ?? '',
      outDir: inputs.outDir,
      csrDir: inputs.csrDir,
      force: inputs.force ?? false,
      keepDefaultCredentials: inputs.keepDefaultCredentials ?? false,
      secrets,
      policy: inputs.policy,
      ...(generated.pin || generated.puk ? { generated } : {}),
      ...(inputs.escrowRecipients ? { escrowRecipients: inputs.escrowRecipients } : {}),
    },
  };
}
