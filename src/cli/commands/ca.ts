/**
 * `piv-enroll ca …`: flags, environment and files → the CA operations in src/operations/ca/. Secrets (the CA
 * passphrase, the CA card's PIN) come from a file flag, the environment or a hidden prompt, never from argv.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError, usageProblemCollector } from '../../errors.js';
import { CA_ALGORITHMS, caPath, readCaConfig, type CaAlgorithm } from '../../operations/ca/ca-store.js';
import { certificateCriticalOptions, certificateExtensions, parsePrincipals } from '../../operations/ca/certificate-options.js';
import { cardCaNeedsPin, readSlotKey } from '../../operations/ca/card-ca.js';
import { initCa, type CaKeySource } from '../../operations/ca/init.js';
import { parseOpenSshLine, publicKeyBlob } from '../../operations/ca/key-blob.js';
import { MIN_PASSPHRASE_LENGTH } from '../../operations/ca/openssh-private-key.js';
import { caAttestationProblems, certificateKeyId, type CaAttestationFlags } from '../ca-attestation.js';
import { defaultCertificateFile, signUserCertificate, type CaCredentials, type IssuedCertificate } from '../../operations/ca/sign.js';
import { DEFAULT_VALIDITY, parseValidity } from '../../operations/ca/validity.js';
import { openCard, type CardSelection, type OpenedCard } from '../../operations/open-card.js';
import { NotFoundError } from '../../piv/errors.js';
import { parseSlot, slotHex } from '../../standards/references.js';
import { openInventoryToRecord } from '../inventory-option.js';
import type { Output } from '../output.js';
import { askNewSecret, terminalPrompter, type Prompter } from '../prompter.js';
import { secretFrom } from '../secrets.js';

export interface CaEnvironment {
  env: NodeJS.ProcessEnv;
  /** A person can answer questions (a terminal, no --yes, not CI). */
  interactive: boolean;
  prompter: Prompter;
}

export const defaultCaEnvironment = (yes: boolean | undefined): CaEnvironment => ({
  env: process.env,
  interactive: !yes && Boolean(process.stdin.isTTY && process.stdout.isTTY) && process.env.CI !== 'true',
  prompter: terminalPrompter,
});

const PASSPHRASE_ENV = 'PIV_CA_PASSPHRASE';
const PIN_ENV = 'PIV_PIN';

function describeCardFlags(flags: CardSelection): string {
  if (flags.virtual !== undefined) return `--virtual ${flags.virtual}`;
  if (flags.reader !== undefined) return `--reader "${flags.reader}"`;
  return '';
}

async function withCard<T>(selection: CardSelection, work: (card: OpenedCard) => Promise<T>): Promise<T> {
  const card = await openCard(selection);
  try {
    return await card.session.transaction(() => work(card));
  } finally {
    await card.close();
  }
}

// ---- ca init ----

export interface CaInitFlags extends CardSelection {
  dir: string;
  algorithm?: string;
  onCard?: boolean;
  slot?: string;
  serverDir?: string;
  principalsFile?: string;
  comment?: string;
  passphraseFile?: string;
  json?: boolean;
}

function checkPassphrase(value: string): string | undefined {
  return value.length < MIN_PASSPHRASE_LENGTH ? `the CA passphrase must be at least ${MIN_PASSPHRASE_LENGTH} characters` : undefined;
}

async function newPassphrase(flags: { passphraseFile?: string }, environment: CaEnvironment): Promise<string> {
  const given = await secretFrom(flags.passphraseFile, PASSPHRASE_ENV, 'the CA passphrase', environment.env);
  if (given !== undefined) {
    const problem = checkPassphrase(given);
    if (problem) throw new UsageError(problem);
    return given;
  }
  if (!environment.interactive) throw new UsageError(`missing: a passphrase for the new CA key (${PASSPHRASE_ENV} or --passphrase-file)`);
  return askNewSecret(environment.prompter, 'CA passphrase', checkPassphrase);
}

export async function runCaInit(flags: CaInitFlags, output: Output, environment: CaEnvironment): Promise<number> {
  const problems: string[] = [];
  const algorithm = flags.algorithm?.toLowerCase() as CaAlgorithm | undefined;
  if (algorithm !== undefined && !CA_ALGORITHMS.includes(algorithm)) problems.push(`--algorithm takes ${CA_ALGORITHMS.join(', ')}, not "${flags.algorithm}"`);
  const slot = flags.onCard ? parseSlot(flags.slot ?? '9d') : undefined;
  if (flags.onCard && slot === undefined) problems.push(`--slot takes 9a, 9c, 9d, 9e or 82–95, not "${flags.slot}"`);
  if (!flags.onCard && (flags.reader !== undefined || flags.virtual !== undefined)) problems.push('--reader and --virtual choose the card of a CA on a card: add --on-card');
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  const request = { dir: flags.dir, serverDir: flags.serverDir, principalsFile: flags.principalsFile, comment: flags.comment };

  const result = flags.onCard
    ? await withCard(flags, (card) => {
        const source: CaKeySource = { kind: 'card', session: card.session, slot: slot!, algorithm, cardFlags: describeCardFlags(flags) };
        return initCa(request, source);
      })
    : await initCa(request, { kind: 'software', algorithm: algorithm ?? 'ed25519', passphrase: await newPassphrase(flags, environment) });

  if (flags.json) {
    output.result(JSON.stringify({ dir: flags.dir, ...result.config, files: result.files }));
    return 0;
  }
  const where = result.config.key.kind === 'file' ? `${caPath(flags.dir, 'privateKey')} (encrypted, mode 0600)` : `card ${result.config.key.cardSerial ?? '(no serial)'}, slot ${result.config.key.slot}`;
  output.result(
    [
      `CA created in ${flags.dir}`,
      `  key:        ${result.config.keyType} ${result.config.fingerprint}, ${where}`,
      `  signs with: ${result.config.signatureAlgorithm}`,
      `  ca.pub:     ${result.config.publicKey}`,
      `  servers:    ${caPath(flags.dir, 'sshdConfig')} (TrustedUserCAKeys, RevokedKeys); copy ca.pub and revoked.krl with it`,
    ].join('\n'),
  );
  return 0;
}

// ---- ca sign ----

export interface CaSignFlags extends CardSelection, CaAttestationFlags {
  dir: string;
  inventory?: string;
  publicKey?: string;
  slot?: string;
  principals?: string;
  keyId?: string;
  validity?: string;
  extension?: string[];
  critical?: string[];
  out?: string;
  force?: boolean;
  comment?: string;
  passphraseFile?: string;
  pinFile?: string;
  json?: boolean;
}

async function secretOrPrompt(file: string | undefined, envName: string, what: string, flagName: string, environment: CaEnvironment): Promise<string> {
  const given = await secretFrom(file, envName, what, environment.env);
  if (given !== undefined) return given;
  if (!environment.interactive) throw new UsageError(`missing: ${what} (${envName} or ${flagName})`);
  return environment.prompter.password(`${what[0]!.toUpperCase()}${what.slice(1)}:`);
}

export async function runCaSign(flags: CaSignFlags, output: Output, environment: CaEnvironment): Promise<number> {
  const problems: string[] = [];
  const collectProblem = usageProblemCollector(problems);
  if ((flags.publicKey === undefined) === (flags.slot === undefined)) problems.push('give the key to certify: --public-key FILE or --slot SLOT (one of them)');
  const userSlot = flags.slot === undefined ? undefined : parseSlot(flags.slot);
  if (flags.slot !== undefined && userSlot === undefined) problems.push(`--slot takes 9a, 9c, 9d, 9e or 82–95, not "${flags.slot}"`);
  const principals = collectProblem(() => parsePrincipals(flags.principals));
  if (flags.keyId === undefined || flags.keyId.trim() === '') problems.push('--key-id is required: a name for the certificate (shown in sshd logs, revocable with ca revoke --key-id)');
  const validitySeconds = collectProblem(() => parseValidity(flags.validity ?? DEFAULT_VALIDITY));
  const extensions = collectProblem(() => certificateExtensions(flags.extension));
  const criticalOptions = collectProblem(() => certificateCriticalOptions(flags.critical));
  problems.push(...caAttestationProblems(flags));
  if (problems.length > 0) throw new UsageError(problems.join('\n'));

  const config = await readCaConfig(flags.dir);
  const cardNeeded = config.key.kind === 'card' || userSlot !== undefined;
  const credentials: CaCredentials = {};
  if (config.key.kind === 'file') credentials.passphrase = await secretOrPrompt(flags.passphraseFile, PASSPHRASE_ENV, 'the CA passphrase', '--passphrase-file', environment);

  const sign = async (card: OpenedCard | undefined): Promise<number> => {
    let publicKey: Uint8Array;
    let comment = flags.comment;
    let outFile = flags.out;
    if (userSlot !== undefined) {
      const key = await readSlotKey(card!.session, userSlot);
      if (!key) throw new NotFoundError(`slot ${slotHex(userSlot)} holds no key to certify`);
      publicKey = publicKeyBlob(key.publicKey);
      outFile ??= `piv-${slotHex(userSlot).toLowerCase()}-cert.pub`;
    } else {
      let text: string;
      try {
        text = await readFile(flags.publicKey!, 'utf8');
      } catch (error) {
        throw new UsageError(`cannot read the public key ${flags.publicKey}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
      const line = parseOpenSshLine(text, flags.publicKey!);
      publicKey = line.blob;
      comment ??= line.comment || undefined;
      outFile ??= defaultCertificateFile(flags.publicKey!);
    }
    if (config.key.kind === 'card') {
      const caSlot = parseSlot(config.key.slot);
      const caKey = caSlot === undefined ? undefined : await readSlotKey(card!.session, caSlot);
      const pinNeeded = caKey === undefined || cardCaNeedsPin(caKey);
      const pin = pinNeeded ? await secretOrPrompt(flags.pinFile, PIN_ENV, 'the PIN of the CA card', '--pin-file', environment) : undefined;
      credentials.card = { session: card!.session, ...(pin === undefined ? {} : { pin }) };
    }
    const issued = await signUserCertificate(flags.dir, {
      publicKey,
      keyId: await certificateKeyId(flags, flags.keyId!, publicKey, card, userSlot), // before the CA signs: a refused attestation stops here
      principals: principals!,
      validitySeconds: validitySeconds!,
      extensions: extensions!,
      criticalOptions: criticalOptions!,
      ...(comment === undefined ? {} : { comment }),
      outFile,
      force: flags.force,
    }, credentials);
    await recordCaSignature(flags, issued, output);
    if (flags.json) {
      output.result(JSON.stringify(issued));
      return 0;
    }
    output.result(
      [
        `${issued.certificateFile}: certificate serial ${issued.serial}, key id "${issued.keyId}"`,
        `  principals: ${issued.principals.join(', ')}`,
        `  valid:      ${issued.validAfter} to ${issued.validBefore}${flags.validity === undefined ? ` (the default ${DEFAULT_VALIDITY}; --validity to change)` : ''}`,
        `  extensions: ${issued.extensions.join(', ') || '(none)'}`,
        ...(issued.criticalOptions.length > 0 ? [`  critical:   ${issued.criticalOptions.map((o) => (o.value === undefined ? o.name : `${o.name}=${o.value}`)).join(' ')}`] : []),
        `  key:        ${issued.publicKeyFingerprint}`,
        `  CA:         ${issued.caFingerprint}, signed with ${issued.signatureAlgorithm}`,
      ].join('\n'),
    );
    return 0;
  };
  return cardNeeded ? withCard(flags, sign) : sign(undefined);
}

/** A certificate for a key the inventory knows (by fingerprint) is recorded with that enrollment. */
async function recordCaSignature(flags: CaSignFlags, issued: IssuedCertificate, output: Output): Promise<void> {
  const inventory = await openInventoryToRecord(flags.inventory);
  if (!inventory) return;
  try {
    const [enrollment] = await inventory.enrollments({ fingerprint: issued.publicKeyFingerprint });
    if (!enrollment) {
      output.notice(`inventory: ${issued.publicKeyFingerprint} is not an enrolled key there; the certificate is logged in ${caPath(flags.dir, 'issued')} only`);
      return;
    }
    await inventory.recordCaCertificate(enrollment.id, { caDir: resolve(flags.dir), serial: String(issued.serial), keyId: issued.keyId, principals: issued.principals, validBefore: issued.validBefore });
  } finally {
    await inventory.close();
  }
}
