/**
 * `piv-enroll rekey`: the inserted card gets a new key and certificates, without a moment in which its owner
 * cannot log in. The order is what makes that true:
 *   1. a new key is made on this computer (not yet on the card) and put on every host the old key is on;
 *   2. each CA that certified the old key certifies the new one (the files are written beside the old ones);
 *   3. the card's slot gets the new key and a new X.509 certificate (the enrollment itself, recorded);
 *   4. the old key comes off the hosts, and its SSH certificates are revoked.
 * Before 3 the old key works everywhere; from 3 on the new one does. If a run stops before 3, the new key's private
 * half is gone: the next run takes that key off the hosts again (the inventory remembers it) and starts afresh. If it
 * stops after 3, the next run finds the replaced enrollment still on hosts and finishes step 4.
 */
import { generateKeyPairForAsync } from '../../crypto/keys.js';
import { PivEnrollError, UsageError } from '../../errors.js';
import { revoke } from '../../operations/ca/revocations.js';
import { signUserCertificate, unlockSoftwareCa, type IssuedCertificate } from '../../operations/ca/sign.js';
import { readCaConfig } from '../../operations/ca/ca-store.js';
import { DEFAULT_VALIDITY, parseDuration, parseValidity } from '../../operations/ca/validity.js';
import { deployKey, type DeployOptions, type HostResult } from '../../operations/deploy/deploy-key.js';
import { defaultInventoryLocation, firstExpiry, hostsWithKey, Inventory, type EnrollmentRecord } from '../../operations/inventory/inventory.js';
import { recordDeployResults } from '../../operations/inventory/record-deploy.js';
import { openCardOrVirtual, type CardSelection } from '../../operations/open-card.js';
import { authorizedKeysLine, sshFingerprint } from '../../operations/ssh-public-key.js';
import { keyAlgorithmByName } from '../../spec/algorithms.js';
import { hasFeature } from '../../spec/firmware.js';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Output } from '../output.js';
import { terminalPrompter, type Prompter } from '../prompter.js';
import { secretFrom } from '../secrets.js';
import { deployOptionsFrom } from './deploy.js';
import { runEnroll } from './enroll.js';
import { hostAccess, type HostAccessFlags } from '../card-options.js';

export interface RekeyFlags extends CardSelection, HostAccessFlags {
  slot?: string;
  inventory?: string;
  expiringWithin?: string;
  force?: boolean;
  out?: string;
  json?: boolean;
  pkcs11?: string;
  pinFile?: string;
  managementKeyFile?: string;
  caPassphraseFile?: string;
}

export type RekeyStep = 'new-key-deployed' | 'certificates-issued' | 'card-rekeyed' | 'old-key-removed' | 'old-certificates-revoked';

export interface RekeyEnvironment {
  env: NodeJS.ProcessEnv;
  prompter: Prompter;
  /** Called after each step (tests log in between steps to prove there is never a gap). */
  afterStep?: (step: RekeyStep) => Promise<void>;
  now?: () => Date;
}

interface RekeyReport {
  card?: number;
  slot: string;
  person?: string;
  action: 'rekeyed' | 'not-due' | 'finished-earlier-rekey';
  oldFingerprint?: string;
  newFingerprint?: string;
  hosts: HostResult[];
  removedFrom: HostResult[];
  certificates: Array<{ caDir: string; serial: number; file: string }>;
  revoked: string[];
  notes: string[];
}

function certificateFile(out: string, slot: string): string {
  return join(out, `piv-${slot.toLowerCase()}-cert.pub`);
}

/** Step 4 for an enrollment the card no longer holds: its key off the hosts, its certificates revoked. */
async function retire(old: EnrollmentRecord, inventory: Inventory, deploy: DeployOptions, report: RekeyReport, environment: RekeyEnvironment): Promise<void> {
  const hosts = hostsWithKey(old);
  if (hosts.length > 0) {
    const removed = await deployKey({ action: 'remove', keyLine: old.authorizedKey }, hosts, deploy);
    await recordDeployResults(inventory, old.fingerprint, 'remove', removed, old.id);
    report.removedFrom.push(...removed);
    const failed = removed.filter((r) => r.status === 'failed');
    if (failed.length > 0) throw new RekeyError(`the card has its new key, but the old key is still on ${failed.map((r) => `${r.host} (${r.reason})`).join(', ')}: run rekey again to finish`);
  }
  await environment.afterStep?.('old-key-removed');
  for (const certificate of old.caCertificates.filter((c) => !c.revokedAt)) {
    await revoke(certificate.caDir, { kind: 'serial', from: Number(certificate.serial), to: Number(certificate.serial) });
    await inventory.recordCaRevocation(certificate.caDir, { serial: certificate.serial });
    report.revoked.push(`${certificate.caDir} serial ${certificate.serial}`);
  }
  await environment.afterStep?.('old-certificates-revoked');
}

export class RekeyError extends PivEnrollError {}

export async function runRekey(flags: RekeyFlags, output: Output, environment: RekeyEnvironment): Promise<number> {
  const problems: string[] = [];
  const now = (environment.now ?? (() => new Date()))();
  let within = 30 * 86_400;
  try {
    if (flags.expiringWithin !== undefined) within = parseDuration(flags.expiringWithin, '--expiring-within');
  } catch (error) {
    problems.push((error as Error).message);
  }
  if (flags.force && flags.expiringWithin !== undefined) problems.push('--force re-keys now, whatever the expiry: give it or --expiring-within, not both');
  const deploy = deployOptionsFrom(hostAccess(flags), problems);
  const location = flags.inventory ?? defaultInventoryLocation(environment.env);
  if (location === 'none') problems.push('rekey repeats the enrollment the inventory recorded: --inventory none is not possible here');
  if (problems.length > 0) throw new UsageError(problems.join('\n'));

  // Which card is this? Its serial (and the slot) name the enrollment to repeat.
  const card = await openCardOrVirtual(flags, { allowed: false, because: 'a re-key' });
  let serial: number | undefined;
  try {
    serial = hasFeature(card.session.version, 'serial') ? await card.session.transaction(() => card.session.getSerial()) : undefined;
  } finally {
    await card.close();
  }
  if (serial === undefined) throw new UsageError('this card reports no serial, so the inventory cannot tell whose it is');
  const slot = (flags.slot ?? '9c').toUpperCase();

  const inventory = await Inventory.open(location);
  const report: RekeyReport = { card: serial, slot, action: 'not-due', hosts: [], removedFrom: [], certificates: [], revoked: [], notes: [] };
  try {
    const records = (await inventory.enrollments({ cardSerial: serial, status: 'all' })).filter((r) => r.slot === slot);
    const current = records.find((r) => r.status === 'active');
    if (!current) throw new UsageError(`the inventory has no active enrollment of card ${serial}, slot ${slot}: enroll it first (piv-enroll enroll)`);
    report.person = current.person;
    report.oldFingerprint = current.fingerprint;

    // A re-key that stopped after the card was re-keyed: finish retiring the old key.
    for (const old of records.filter((r) => r.status === 'replaced' && (hostsWithKey(r).length > 0 || r.caCertificates.some((c) => !c.revokedAt)))) {
      report.notes.push(`finishing an earlier re-key: retiring ${old.fingerprint}`);
      report.action = 'finished-earlier-rekey';
      await retire(old, inventory, deploy, report, environment);
    }
    // A re-key that stopped before the card got its new key: that key's private half is gone; take it off the hosts.
    for (const orphan of await inventory.unfinishedRekeys(current.id)) {
      const removed = await deployKey({ action: 'remove', keyLine: orphan.authorizedKey }, orphan.hosts, deploy);
      if (removed.some((r) => r.status === 'failed')) throw new RekeyError(`an earlier re-key left ${orphan.fingerprint} on ${orphan.hosts.join(', ')} and it cannot be removed now: fix the hosts and run rekey again`);
      await inventory.endRekey(orphan.id, 'abandoned');
      report.notes.push(`took ${orphan.fingerprint} (from an interrupted re-key) off ${orphan.hosts.length} host(s)`);
    }

    const expiry = firstExpiry(current);
    const due = flags.force || (expiry !== undefined && expiry < new Date(now.getTime() + within * 1000).toISOString());
    if (!due) {
      report.notes.push(`not due: the first certificate ends ${expiry ?? 'never'} (--expiring-within ${flags.expiringWithin ?? '30d'}; --force re-keys anyway)`);
      output.result(render(report, flags));
      return 0;
    }

    // Everything the CA steps need, gathered before any change.
    const certificates = current.caCertificates.filter((c) => !c.revokedAt);
    if (certificates.length > 0 && flags.out === undefined) throw new UsageError(`the key has SSH certificates: give --out DIR for the new ones`);
    const passphrase = await secretFrom(flags.caPassphraseFile, 'PIV_CA_PASSPHRASE', 'the CA passphrase', environment.env);
    const unlocked = new Map<string, Awaited<ReturnType<typeof unlockSoftwareCa>>>();
    for (const dir of new Set(certificates.map((c) => c.caDir))) {
      const config = await readCaConfig(dir);
      if (config.key.kind !== 'file') throw new UsageError(`the CA ${dir} keeps its key on a card: re-key with a software CA, or issue the new certificate with piv-enroll ca sign`);
      unlocked.set(dir, await unlockSoftwareCa(dir, config, passphrase));
    }

    // 1. The new key, on the hosts first.
    const algorithm = keyAlgorithmByName(String(current.options.algorithm ?? current.algorithm));
    if (!algorithm) throw new RekeyError(`the recorded algorithm "${current.algorithm}" is unknown`);
    const pair = await generateKeyPairForAsync(algorithm);
    const comment = current.authorizedKey.split(' ').slice(2).join(' ');
    const newLine = authorizedKeysLine(pair.publicKey, comment);
    report.newFingerprint = sshFingerprint(pair.publicKey);
    const hosts = hostsWithKey(current);
    const rekeyId = await inventory.startRekey(current.id, report.newFingerprint, newLine, hosts);
    if (hosts.length > 0) {
      report.hosts = await deployKey({ action: 'add', keyLine: newLine }, hosts, deploy);
      const failed = report.hosts.filter((r) => r.status === 'failed');
      if (failed.length > 0) throw new RekeyError(`the new key did not reach ${failed.map((r) => `${r.host} (${r.reason})`).join(', ')}; the card is unchanged and the old key still works: fix that and run rekey again`);
    }
    await environment.afterStep?.('new-key-deployed');

    // 2. New certificates, before the card changes (the old certificate still covers the old key until then).
    const issued: Array<{ caDir: string; certificate: IssuedCertificate }> = [];
    for (const old of certificates) {
      const certificate = await signUserCertificate(old.caDir, {
        publicKey: pair.publicKey, keyId: old.keyId, principals: old.principals, validitySeconds: parseValidity(String(current.options.caValidity ?? DEFAULT_VALIDITY)),
        // Beside the current file until the card changes: ssh keeps presenting the old certificate with the old key.
        comment, outFile: `${certificateFile(flags.out!, slot)}.next`, force: true,
      }, { privateKey: unlocked.get(old.caDir) });
      issued.push({ caDir: old.caDir, certificate });
      report.certificates.push({ caDir: old.caDir, serial: certificate.serial, file: certificate.certificateFile });
    }
    await environment.afterStep?.('certificates-issued');

    // 3. The card: the enrollment itself, with the key made above, replacing the old one in the slot.
    const captured: string[] = [];
    const errors: string[] = [];
    const options = current.options;
    const code = await runEnroll(
      {
        ...(flags.virtual !== undefined ? { virtual: flags.virtual } : { reader: flags.reader }),
        allowLastPinTry: flags.allowLastPinTry,
        slot, algorithm: algorithm.name, subject: String(options.subject ?? `CN=${current.person}`), person: current.person,
        validDays: options.validDays === undefined ? undefined : String(options.validDays), hash: options.hash === undefined ? undefined : String(options.hash),
        keySource: 'host', force: true, keepDefaultCredentials: true, comment, yes: true, json: true, inventory: location, pkcs11: flags.pkcs11,
        pinFile: flags.pinFile, managementKeyFile: flags.managementKeyFile, out: flags.out,
      },
      { result: (t) => captured.push(t), notice: () => undefined, error: (t) => errors.push(t) },
      { env: environment.env, interactive: false, prompter: environment.prompter },
      { generateKeyPair: async () => pair },
    );
    if (code !== 0 || captured.length === 0) throw new RekeyError(`the card was not re-keyed (${errors.join('; ') || `enroll exited ${code}`}); the old key still works. Run rekey again.`);
    const enrolled = JSON.parse(captured.join('\n')) as { inventory: { enrollmentId: number } | null };
    const newId = enrolled.inventory!.enrollmentId;
    await inventory.endRekey(rekeyId, 'finished');
    if (issued[0]) {
      // The card holds the new key now: its certificate takes the usual name (the first CA's, if several).
      await rename(issued[0].certificate.certificateFile, certificateFile(flags.out!, slot));
      report.certificates[0]!.file = certificateFile(flags.out!, slot);
    }
    for (const { caDir, certificate } of issued) {
      await inventory.recordCaCertificate(newId, { caDir, serial: String(certificate.serial), keyId: certificate.keyId, principals: certificate.principals, validBefore: certificate.validBefore });
    }
    await recordDeployResults(inventory, report.newFingerprint, 'add', report.hosts, newId);
    report.action = 'rekeyed';
    await environment.afterStep?.('card-rekeyed');

    // 4. The old key retires.
    const [replaced] = await inventory.enrollments({ fingerprint: current.fingerprint, status: 'all' });
    await retire(replaced ?? current, inventory, deploy, report, environment);
    output.result(render(report, flags));
    return 0;
  } finally {
    await inventory.close();
  }
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
  return lines.join('\n');
}

export const defaultRekeyEnvironment = (): RekeyEnvironment => ({ env: process.env, prompter: terminalPrompter });
