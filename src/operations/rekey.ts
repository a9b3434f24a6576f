/**
 * A re-key: the inserted card gets a new key and certificates, with the properties its enrollment had (algorithm,
 * PIN and touch policy, subject, validity, key origin), in the order that keeps its owner able to log in:
 *   1. the new key is made — on this computer, or for a key generated on the card, on the card itself in a free
 *      retired slot (82–95, firmware 5.7) — and put on every host the old key is on;
 *   2. each CA that certified the old key certifies the new one (beside the old files; software CAs and CAs on a card);
 *   3. the card's slot gets the new key (imported, or moved in with MOVE KEY) and certificate: enrollCard itself;
 *   4. the old key comes off the hosts, and its SSH certificates are revoked.
 * On firmware without MOVE KEY a card-generated key is re-keyed only by an explicit choice: a host-made key (weaker:
 * it existed off the card), or a key generated in the slot itself, which leaves a gap between the card's change and
 * the new key reaching the hosts.
 * Nothing is left behind: the new key is recorded (`rekeys`) before it goes anywhere; the next run reads the card's
 * actual slot key first — if it is the new key, the re-key is finished; if not, the new key is taken off the hosts,
 * revoked in the CAs and cleared from its staging slot. `offboard` reads unfinished re-keys too.
 */
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { generateKeyPairForAsync } from '../crypto/keys.js';
import { attestHeldCardSlot } from './attestation/attest-card.js';
import { enforceAttestation, trustForCard, type AttestationRequirement } from './attestation/evidence.js';
import { requirementUnderPolicy } from './policy/attested.js';
import { PivEnrollError, UsageError } from '../errors.js';
import { NotFoundError } from '../piv/errors.js';
import type { PivSession } from '../piv/session.js';
import { keyAlgorithmByName, type KeyAlgorithmInfo } from '../standards/algorithms.js';
import { hasFeature } from '../standards/firmware.js';
import { PIN_POLICY, TOUCH_POLICY } from '../standards/policies.js';
import { parseSlot, slotHex } from '../standards/references.js';
import { parseOpenSshLine } from './ca/key-blob.js';
import { readCaConfig } from './ca/ca-store.js';
import { revoke } from './ca/revocations.js';
import { signUserCertificate, unlockSoftwareCa, type CaCredentials, type IssuedCertificate } from './ca/sign.js';
import { DEFAULT_VALIDITY, parseValidity } from './ca/validity.js';
import { deployKey, type DeployOptions, type HostResult } from './deploy/deploy-key.js';
import { apduTarget } from './enroll/apdu-target.js';
import { currentPin } from './enroll/apply.js';
import { enrollCard, type EnrollCardHooks } from './enroll/enroll-card.js';
import { inspectCard, type CardInspection } from './enroll/inspect.js';
import type { EnrollOptions, KeySource } from './enroll/options.js';
import { effectivePinPolicy, type MissingInput } from './enroll/plan.js';
import { judgePlannedKey, policyNeedsDevice } from './policy/enforce.js';
import type { SitePolicy } from './policy/types.js';
import { firstExpiry, hostsWithKey, Inventory, type EnrollmentRecord, type UnfinishedRekey } from './inventory/inventory.js';
import { recordDeployResults } from './inventory/record-deploy.js';
import { openCard, openCardOrVirtual, type CardSelection } from './open-card.js';
import type { Pkcs11Module } from './pkcs11-modules.js';
import type { SignaturePolicy } from './enroll/verify.js';
import { authorizedKeysLine, sshFingerprint } from './ssh-public-key.js';
import { parseDistinguishedName } from './distinguished-name.js';

export type RekeyStep = 'new-key-deployed' | 'certificates-issued' | 'card-rekeyed' | 'old-key-removed' | 'old-certificates-revoked';

/** Where the new key is made: on this computer; on the card, staged in a retired slot; on the card, in the slot itself. */
export type RekeyOrigin = 'host' | 'card-staged' | 'card-in-place';

export interface RekeyRequest {
  card: CardSelection;
  slot: number;
  inventoryLocation: string;
  /** Re-key now, or only if a certificate ends within this many seconds. */
  due: 'now' | { withinSeconds: number };
  now: Date;
  /** Where the new public key, certificate and SSH certificates go. */
  outDir?: string;
  pkcs11Modules: Pkcs11Module[];
  moduleSignatures?: SignaturePolicy;
  secrets: { pin?: string; managementKey?: Uint8Array };
  /** Re-issuing SSH certificates: a software CA's passphrase; a CA on a card in another reader, and its PIN. */
  ca: { passphrase?: string; reader?: string; pin?: string };
  deploy: DeployOptions;
  /** The key's origin, overriding the recorded one (needed for a card-generated key on firmware without MOVE KEY). */
  keySource?: 'host' | 'card';
  /** The site policy the new key must meet: checked with the plan, before anything changes anywhere. */
  policy?: SitePolicy;
  /** A new card key is attested (staged: before it goes to any host) and, when required, refused unless it verifies. */
  attestation?: AttestationRequirement;
}

export interface RekeyPlan {
  card: number;
  slot: string;
  person: string;
  oldFingerprint: string;
  origin: RekeyOrigin;
  stagingSlot?: string;
  algorithm: string;
  pinPolicy: number;
  touchPolicy: number;
  subject: string;
  hosts: string[];
  caDirs: string[];
  notes: string[];
}

export interface RekeyReport {
  card?: number;
  slot: string;
  person?: string;
  action: 'rekeyed' | 'not-due' | 'finished-earlier-rekey' | 'planned' | 'declined';
  plan?: RekeyPlan;
  oldFingerprint?: string;
  newFingerprint?: string;
  hosts: HostResult[];
  removedFrom: HostResult[];
  certificates: Array<{ caDir: string; serial: number; file: string }>;
  revoked: string[];
  notes: string[];
}

export interface RekeyHooks {
  notice(text: string): void;
  /** The plan, before anything changes; false: stop (nothing changed). Without it the plan is only reported. */
  confirm?(plan: RekeyPlan): Promise<boolean>;
  /** Only plan (a dry run). */
  dryRun?: boolean;
  /** After each step (tests log in between steps to prove there is never a gap). */
  afterStep?(step: RekeyStep): Promise<void>;
  write?: EnrollCardHooks['write'];
  wordMissing?(missing: MissingInput): string;
}

export class RekeyError extends PivEnrollError {}

const RETIRED_SLOTS = Array.from({ length: 20 }, (_, i) => 0x82 + i);

function certificateFile(out: string, slot: string): string {
  return join(out, `piv-${slot.toLowerCase()}-cert.pub`);
}

/** What the card's slot holds now, read first: every later decision about hosts depends on it. */
interface CardSeen {
  serial: number;
  inspection: CardInspection;
  slotFingerprint?: string;
}

async function readCard(selection: CardSelection, slot: number, readDevice: boolean): Promise<CardSeen> {
  const card = await openCardOrVirtual(selection, { allowed: false, because: 'a re-key' });
  try {
    const inspection = await card.session.transaction(() => inspectCard(card.session, slot, readDevice));
    if (inspection.serial === undefined) throw new UsageError('this card reports no serial, so the inventory cannot tell whose it is');
    return { serial: inspection.serial, inspection, slotFingerprint: inspection.slot.publicKey ? sshFingerprint(inspection.slot.publicKey) : undefined };
  } finally {
    await card.close();
  }
}

/** Runs `work` on the card with the management key proven (the PIN first, through the PIN guard). */
async function withAuthenticatedCard<T>(request: RekeyRequest, work: (session: PivSession) => Promise<T>): Promise<T> {
  const card = await openCard(request.card);
  try {
    return await card.session.transaction(async () => {
      const inspection = await inspectCard(card.session, request.slot);
      if (request.secrets.pin === undefined && inspection.pinIsDefault !== true) throw new UsageError('missing: the PIN (PIV_PIN or --pin-file)');
      await apduTarget(card.session).authenticate(inspection, { managementKey: request.secrets.managementKey?.slice() }, currentPin(inspection, request.secrets));
      return work(card.session);
    });
  } finally {
    await card.close();
  }
}

/**
 * A required attestation is checked on the staged key, before it goes to any host; a refused key is deleted from the
 * staging slot again (the old key still works). The move re-attests it in its slot (enrollCard), and that is recorded.
 */
async function requireStagedAttestation(request: RekeyRequest, session: PivSession, staging: number, algorithm: string): Promise<void> {
  const requirement = await requirementUnderPolicy(request.attestation, request.policy, algorithm);
  if (!requirement?.required) return;
  const trust = await trustForCard(requirement.trust, request.card.virtual !== undefined);
  const { verdict, attestation, deviceCertificate } = await attestHeldCardSlot({ session, slot: staging, trust, now: request.now });
  try {
    enforceAttestation({ verdict, attestation, deviceCertificate, policyVerdict: verdict.verified ? requirement.evaluatePolicy?.(verdict.facts) : undefined }, true, `the new key staged in slot ${slotHex(staging)}`);
  } catch (error) {
    await session.deleteKey(staging);
    throw error;
  }
}

/** A retired slot with no key, for staging. */
async function freeRetiredSlot(session: PivSession): Promise<number> {
  for (const slot of RETIRED_SLOTS) {
    try {
      await session.getSlotMetadata(slot);
    } catch (error) {
      if (error instanceof NotFoundError) return slot;
      throw error;
    }
  }
  throw new RekeyError('every retired slot (82–95) holds a key: there is no room to stage the new key on the card');
}

/** Where the new key is made, from the recorded origin, the firmware and the user's choice. */
function chooseOrigin(current: EnrollmentRecord, inspection: CardInspection, choice: RekeyRequest['keySource']): RekeyOrigin {
  const recorded = String(current.options.keySource ?? 'host');
  const wanted = choice ?? (recorded === 'card' ? 'card' : 'host');
  if (wanted === 'host') return 'host';
  if (hasFeature(inspection.firmware, 'move-delete-key')) return 'card-staged';
  if (choice === 'card') return 'card-in-place';
  throw new UsageError(
    `the key was generated on the card, and this card (firmware ${inspection.firmware.major}.${inspection.firmware.minor}.${inspection.firmware.patch}) cannot stage a new one (MOVE KEY needs 5.7). Choose: ` +
      '--key-source card generates the new key in the slot itself (logins fail from the moment the card changes until the new key reaches the hosts, seconds to minutes), or ' +
      '--key-source host makes it on this computer and imports it (no gap, but the key existed off the card: no attestation)',
  );
}

export async function rekeyCard(request: RekeyRequest, hooks: RekeyHooks): Promise<RekeyReport> {
  const slot = slotHex(request.slot);
  const seen = await readCard(request.card, request.slot, policyNeedsDevice(request.policy));
  const inventory = await Inventory.open(request.inventoryLocation);
  const report: RekeyReport = { card: seen.serial, slot, action: 'not-due', hosts: [], removedFrom: [], certificates: [], revoked: [], notes: [] };
  try {
    const records = (await inventory.enrollments({ cardSerial: seen.serial, status: 'all' })).filter((r) => r.slot === slot);
    let current = records.find((r) => r.status === 'active');
    if (!current) throw new UsageError(`the inventory has no active enrollment of card ${seen.serial}, slot ${slot}: enroll it first (piv-enroll enroll)`);
    report.person = current.person;
    report.oldFingerprint = current.fingerprint;

    // A re-key that stopped: the card's own slot key says how far it got.
    for (const rekey of await inventory.unfinishedRekeys(current.id)) {
      if (rekey.fingerprint === seen.slotFingerprint) {
        report.notes.push(`the card already holds ${rekey.fingerprint} from an interrupted re-key: finishing it`);
        report.action = 'finished-earlier-rekey';
        return await finishOnCard(request, hooks, inventory, current, rekey, seen, report);
      }
      await abandon(request, inventory, current, rekey, report);
    }
    // A re-key that stopped after the card changed: the replaced key retires (never the key the card holds).
    for (const old of records.filter((r) => r.status === 'replaced' && r.fingerprint !== seen.slotFingerprint && (hostsWithKey(r).length > 0 || r.caCertificates.some((c) => !c.revokedAt)))) {
      report.notes.push(`finishing an earlier re-key: retiring ${old.fingerprint}`);
      report.action = 'finished-earlier-rekey';
      await retire(old, inventory, request.deploy, report, hooks);
    }
    if (current.fingerprint !== seen.slotFingerprint && seen.slotFingerprint !== undefined) {
      throw new RekeyError(`the card's slot ${slot} holds ${seen.slotFingerprint}, not the recorded ${current.fingerprint}: it was changed outside piv-enroll; enroll it again (piv-enroll enroll --force) instead`);
    }

    const expiry = firstExpiry(current);
    const due = request.due === 'now' || (expiry !== undefined && expiry < new Date(request.now.getTime() + request.due.withinSeconds * 1000).toISOString());
    if (!due) {
      report.notes.push(`not due: the first certificate ends ${expiry ?? 'never'}`);
      return report;
    }
    const plan = planRekey(current, seen, chooseOrigin(current, seen.inspection, request.keySource));
    report.plan = plan;
    // The new key against the site policy, before it exists: a refusal here leaves hosts, CAs and card as they were.
    const verdict = judgePlannedKey(request.policy, {
      keyOrigin: plan.origin === 'host' ? 'imported' : 'generated', algorithm: plan.algorithm,
      pinPolicy: effectivePinPolicy(request.slot, plan.pinPolicy), touchPolicy: plan.touchPolicy,
      firmware: seen.inspection.firmware, device: seen.inspection.device, validDays: Number(current.options.validDays ?? 365),
    });
    if (verdict.errors.length > 0) throw new RekeyError(`the card was not re-keyed, nothing changed:\n${verdict.errors.map((e) => `  - ${e}`).join('\n')}`);
    report.notes.push(...verdict.warnings);
    if (hooks.dryRun) {
      report.action = 'planned';
      return report;
    }
    if (hooks.confirm && !(await hooks.confirm(plan))) {
      report.action = 'declined';
      return report;
    }
    const certificates = current.caCertificates.filter((c) => !c.revokedAt);
    if (certificates.length > 0 && request.outDir === undefined) throw new UsageError('the key has SSH certificates: give --out DIR for the new ones');
    const credentials = await caCredentials(request, certificates.map((c) => c.caDir)); // a wrong passphrase shows before any change
    const algorithm = keyAlgorithmByName(plan.algorithm)!;
    const comment = current.authorizedKey.split(' ').slice(2).join(' ');

    if (plan.origin === 'card-in-place') {
      // The card changes first: logins fail until the new key reaches the hosts (the user chose this).
      const enrolled = await enrollOnCard(request, hooks, current, plan, { kind: 'card' }, algorithm, comment);
      report.newFingerprint = enrolled.fingerprint;
      await hooks.afterStep?.('card-rekeyed');
      report.hosts = await deployNew(enrolled.authorizedKey, plan.hosts, request, inventory, enrolled.fingerprint, enrolled.id);
      await hooks.afterStep?.('new-key-deployed');
      await issueAndRecord(request, inventory, current, credentials, enrolled.publicKey, comment, enrolled.id, report, false);
      await hooks.afterStep?.('certificates-issued');
    } else {
      // 1. The new key, on the hosts first (recorded before it goes anywhere).
      let keySource: KeySource;
      let publicKey: KeyObject;
      let dependencies = {};
      let stagingSlot: number | undefined;
      if (plan.origin === 'host') {
        const pair = await generateKeyPairForAsync(algorithm);
        publicKey = pair.publicKey;
        keySource = { kind: 'host' };
        dependencies = { generateKeyPair: async () => pair };
      } else {
        ({ publicKey, stagingSlot } = await withAuthenticatedCard(request, async (session) => {
          const staging = await freeRetiredSlot(session);
          const staged = await session.generateKey(staging, algorithm, { pinPolicy: plan.pinPolicy, touchPolicy: plan.touchPolicy });
          await requireStagedAttestation(request, session, staging, plan.algorithm);
          return { publicKey: staged, stagingSlot: staging };
        }));
        keySource = { kind: 'staged', from: stagingSlot, publicKey };
        plan.stagingSlot = slotHex(stagingSlot);
      }
      const newLine = authorizedKeysLine(publicKey, comment);
      report.newFingerprint = sshFingerprint(publicKey);
      const rekeyId = await inventory.startRekey(current.id, report.newFingerprint, newLine, plan.hosts, plan.stagingSlot);
      report.hosts = await deployNew(newLine, plan.hosts, request, undefined);
      await hooks.afterStep?.('new-key-deployed');
      // 2. New certificates, before the card changes (beside the current files: ssh keeps using the old pair until then).
      const issued = await issue(request, current, credentials, publicKey, comment, true);
      for (const { caDir, certificate } of issued) report.certificates.push({ caDir, serial: certificate.serial, file: certificate.certificateFile });
      await hooks.afterStep?.('certificates-issued');
      // 3. The card.
      const enrolled = await enrollOnCard(request, hooks, current, plan, keySource, algorithm, comment, dependencies);
      await inventory.endRekey(rekeyId, 'finished');
      await recordIssued(inventory, issued, enrolled.id, request, report);
      await recordDeployResults(inventory, report.newFingerprint, 'add', report.hosts, enrolled.id);
      await hooks.afterStep?.('card-rekeyed');
    }
    report.action = 'rekeyed';
    // 4. The old key retires.
    [current] = await inventory.enrollments({ fingerprint: current.fingerprint, status: 'all' });
    await retire(current!, inventory, request.deploy, report, hooks);
    return report;
  } finally {
    await inventory.close();
  }
}

function planRekey(current: EnrollmentRecord, seen: { serial: number; inspection: CardInspection }, origin: RekeyOrigin): RekeyPlan {
  const o = current.options;
  const notes: string[] = [];
  if (origin === 'host' && o.keySource === 'card') notes.push('the key was generated on the card; the new one is made on this computer (--key-source host): it existed off the card and has no attestation');
  if (origin === 'card-in-place') notes.push('the new key is generated in the slot itself: logins with this card fail from that moment until the new key reaches the hosts');
  if (origin === 'card-staged') notes.push('the new key is generated on the card in a free retired slot, deployed and certified, then moved into the slot (MOVE KEY)');
  return {
    card: seen.serial,
    slot: current.slot,
    person: current.person,
    oldFingerprint: current.fingerprint,
    origin,
    algorithm: String(o.algorithm ?? current.algorithm),
    pinPolicy: Number(o.pinPolicy ?? seen.inspection.slot.pinPolicy ?? PIN_POLICY.DEFAULT),
    touchPolicy: Number(o.touchPolicy ?? seen.inspection.slot.touchPolicy ?? TOUCH_POLICY.DEFAULT),
    subject: String(o.subject ?? `CN=${current.person}`),
    hosts: hostsWithKey(current),
    caDirs: [...new Set(current.caCertificates.filter((c) => !c.revokedAt).map((c) => c.caDir))],
    notes,
  };
}

/** Step 3: enrollCard with the recorded properties and the new key; returns the new enrollment. */
async function enrollOnCard(
  request: RekeyRequest, hooks: RekeyHooks, current: EnrollmentRecord, plan: RekeyPlan, keySource: KeySource, algorithm: KeyAlgorithmInfo, comment: string,
  dependencies: Record<string, unknown> = {},
): Promise<{ id: number; fingerprint: string; authorizedKey: string; publicKey: KeyObject }> {
  const o = current.options;
  const options: EnrollOptions = {
    card: request.card,
    backend: { kind: 'apdu' },
    slot: parseSlot(current.slot)!,
    algorithm,
    pinPolicy: plan.pinPolicy,
    touchPolicy: plan.touchPolicy,
    keySource,
    subject: parseDistinguishedName(plan.subject),
    validDays: Number(o.validDays ?? 365),
    hash: (String(o.hash ?? 'sha256') as EnrollOptions['hash']),
    comment,
    outDir: request.outDir,
    force: true,
    keepDefaultCredentials: true,
    secrets: { pin: request.secrets.pin, managementKey: request.secrets.managementKey?.slice() },
    policy: request.policy,
  };
  const outcome = await enrollCard(
    {
      options, pkcs11Modules: request.pkcs11Modules, moduleSignatures: request.moduleSignatures, person: current.person, inventory: { location: request.inventoryLocation, named: true },
      attestation: request.attestation, dependencies, recordOverrides: { keySource: keySource.kind === 'staged' || keySource.kind === 'card' ? 'card' : keySource.kind === 'existing' ? current.options.keySource : 'host', ...(o.ca ? { ca: o.ca, principals: o.principals, caValidity: o.caValidity } : {}) },
    },
    { notice: (t) => hooks.notice(t), write: hooks.write },
  );
  if (outcome.status === 'refused') {
    throw new RekeyError(`the card was not re-keyed (${[...outcome.missing.map((m) => `missing: ${hooks.wordMissing?.(m) ?? m}`), ...outcome.errors].join('; ')}); the old key still works. Run rekey again.`);
  }
  if (outcome.status !== 'enrolled') throw new RekeyError('the card was not re-keyed; the old key still works');
  if (outcome.failedChecks.length > 0) throw new RekeyError(`the card now holds the new key, but its signatures failed (${outcome.failedChecks.map((c) => `${c.algorithm} via ${c.module ?? c.path}`).join(', ')}): check the card, then run rekey again`);
  const { enrollment } = outcome;
  return { id: enrollment.inventory!.enrollmentId, fingerprint: enrollment.fingerprint, authorizedKey: enrollment.authorizedKey, publicKey: enrollment.publicKey };
}

/** The card already holds the new key of an interrupted re-key: certify it, record it, and retire the old key. */
async function finishOnCard(request: RekeyRequest, hooks: RekeyHooks, inventory: Inventory, current: EnrollmentRecord, rekey: UnfinishedRekey, seen: CardSeen, report: RekeyReport): Promise<RekeyReport> {
  const publicKey = seen.inspection.slot.publicKey!;
  const plan = planRekey(current, seen, 'host');
  const comment = current.authorizedKey.split(' ').slice(2).join(' ');
  const certificates = current.caCertificates.filter((c) => !c.revokedAt);
  const credentials = await caCredentials(request, certificates.map((c) => c.caDir));
  const enrolled = await enrollOnCard(request, hooks, current, plan, { kind: 'existing' }, keyAlgorithmByName(plan.algorithm)!, comment);
  report.newFingerprint = enrolled.fingerprint;
  await inventory.endRekey(rekey.id, 'finished');
  report.hosts = await deployNew(rekey.authorizedKey, rekey.hosts, request, inventory, enrolled.fingerprint, enrolled.id);
  if (certificates.length > 0 && request.outDir === undefined) throw new UsageError('the key has SSH certificates: give --out DIR for the new ones');
  await issueAndRecord(request, inventory, current, credentials, publicKey, comment, enrolled.id, report, false);
  const [old] = await inventory.enrollments({ fingerprint: current.fingerprint, status: 'all' });
  await retire(old ?? current, inventory, request.deploy, report, hooks);
  return report;
}

/** An interrupted re-key whose key never reached the card's slot: off the hosts, revoked, cleared from its staging slot. */
async function abandon(request: RekeyRequest, inventory: Inventory, current: EnrollmentRecord, rekey: UnfinishedRekey, report: RekeyReport): Promise<void> {
  if (rekey.hosts.length > 0) {
    const removed = await deployKey({ action: 'remove', keyLine: rekey.authorizedKey }, rekey.hosts, request.deploy);
    if (removed.some((r) => r.status === 'failed')) throw new RekeyError(`an earlier re-key left ${rekey.fingerprint} on ${rekey.hosts.join(', ')} and it cannot be removed now: fix the hosts and run rekey again`);
  }
  // Its certificates, if step 2 ran, came from the CAs of the old key: revoke the key itself there.
  for (const dir of new Set(current.caCertificates.map((c) => c.caDir))) await revoke(dir, { kind: 'key', blob: parseOpenSshLine(rekey.authorizedKey, 'the interrupted re-key').blob });
  if (rekey.stagingSlot !== undefined) {
    const staging = parseSlot(rekey.stagingSlot)!;
    await withAuthenticatedCard(request, async (session) => {
      const held = await session.getSlotMetadata(staging).catch((error: unknown) => (error instanceof NotFoundError ? undefined : Promise.reject(error)));
      if (held && sshFingerprint(held.publicKey) === rekey.fingerprint) await session.deleteKey(staging);
    });
  }
  await inventory.endRekey(rekey.id, 'abandoned');
  report.notes.push(`took ${rekey.fingerprint} (from an interrupted re-key) off ${rekey.hosts.length} host(s)${rekey.stagingSlot ? ` and out of slot ${rekey.stagingSlot}` : ''}, and revoked it`);
}

async function deployNew(line: string, hosts: string[], request: RekeyRequest, inventory: Inventory | undefined, fingerprint?: string, enrollmentId?: number): Promise<HostResult[]> {
  if (hosts.length === 0) return [];
  const results = await deployKey({ action: 'add', keyLine: line }, hosts, request.deploy);
  if (inventory && fingerprint) await recordDeployResults(inventory, fingerprint, 'add', results, enrollmentId);
  const failed = results.filter((r) => r.status === 'failed');
  if (failed.length > 0) throw new RekeyError(`the new key did not reach ${failed.map((r) => `${r.host} (${r.reason})`).join(', ')}; the old key still works where it is: fix that and run rekey again`);
  return results;
}

/** Every CA that certified the old key, unlocked (software) or reachable (a card in another reader), before any change. */
async function caCredentials(request: RekeyRequest, dirs: string[]): Promise<Map<string, CaCredentials>> {
  const credentials = new Map<string, CaCredentials>();
  for (const dir of new Set(dirs)) {
    const config = await readCaConfig(dir);
    if (config.key.kind === 'file') credentials.set(dir, { privateKey: await unlockSoftwareCa(dir, config, request.ca.passphrase) });
    else {
      if (request.ca.reader === undefined) throw new UsageError(`the CA ${dir} keeps its key on a card: put that card in a second reader and name it with --ca-reader TEXT (its PIN from PIV_CA_PIN or --ca-pin-file)`);
      credentials.set(dir, {});
    }
  }
  return credentials;
}

async function issue(request: RekeyRequest, current: EnrollmentRecord, credentials: Map<string, CaCredentials>, publicKey: KeyObject, comment: string, beside: boolean): Promise<Array<{ caDir: string; certificate: IssuedCertificate }>> {
  const certificates = current.caCertificates.filter((c) => !c.revokedAt);
  const validity = String(current.options.caValidity ?? DEFAULT_VALIDITY);
  const issued: Array<{ caDir: string; certificate: IssuedCertificate }> = [];
  for (const old of certificates) {
    const outFile = `${certificateFile(request.outDir!, slotHex(request.slot))}${beside ? '.next' : ''}`;
    const certificateRequest = { publicKey, keyId: old.keyId, principals: old.principals, validitySeconds: parseValidity(validity), comment, outFile, force: true };
    const software = credentials.get(old.caDir)!;
    let certificate: IssuedCertificate;
    if (software.privateKey) certificate = await signUserCertificate(old.caDir, certificateRequest, software);
    else {
      const caCard = await openCard({ reader: request.ca.reader });
      try {
        certificate = await caCard.session.transaction(() => signUserCertificate(old.caDir, certificateRequest, { card: { session: caCard.session, ...(request.ca.pin === undefined ? {} : { pin: request.ca.pin }) } }));
      } finally {
        await caCard.close();
      }
    }
    issued.push({ caDir: old.caDir, certificate });
  }
  return issued;
}

async function recordIssued(inventory: Inventory, issued: Array<{ caDir: string; certificate: IssuedCertificate }>, enrollmentId: number, request: RekeyRequest, report: RekeyReport): Promise<void> {
  if (issued[0]) {
    // The card holds the new key now: its certificate takes the usual name (the first CA's, if several).
    const file = certificateFile(request.outDir!, slotHex(request.slot));
    if (issued[0].certificate.certificateFile !== file) await rename(issued[0].certificate.certificateFile, file);
    const first = report.certificates.find((c) => c.file === issued[0]!.certificate.certificateFile);
    if (first) first.file = file;
  }
  for (const { caDir, certificate } of issued) {
    await inventory.recordCaCertificate(enrollmentId, { caDir, serial: String(certificate.serial), keyId: certificate.keyId, principals: certificate.principals, validBefore: certificate.validBefore });
  }
}

async function issueAndRecord(request: RekeyRequest, inventory: Inventory, current: EnrollmentRecord, credentials: Map<string, CaCredentials>, publicKey: KeyObject, comment: string, enrollmentId: number, report: RekeyReport, beside: boolean): Promise<void> {
  const issued = await issue(request, current, credentials, publicKey, comment, beside);
  for (const { caDir, certificate } of issued) report.certificates.push({ caDir, serial: certificate.serial, file: certificate.certificateFile });
  await recordIssued(inventory, issued, enrollmentId, request, report);
}

/** Step 4 for an enrollment the card no longer holds: its key off the hosts, its certificates revoked. */
async function retire(old: EnrollmentRecord, inventory: Inventory, deploy: DeployOptions, report: RekeyReport, hooks: RekeyHooks): Promise<void> {
  const hosts = hostsWithKey(old);
  if (hosts.length > 0) {
    const removed = await deployKey({ action: 'remove', keyLine: old.authorizedKey }, hosts, deploy);
    await recordDeployResults(inventory, old.fingerprint, 'remove', removed, old.id);
    for (const result of removed) report.removedFrom.push(result);
    const failed = removed.filter((r) => r.status === 'failed');
    if (failed.length > 0) throw new RekeyError(`the card has its new key, but the old key is still on ${failed.map((r) => `${r.host} (${r.reason})`).join(', ')}: run rekey again to finish`);
  }
  await hooks.afterStep?.('old-key-removed');
  for (const certificate of old.caCertificates.filter((c) => !c.revokedAt)) {
    await revoke(certificate.caDir, { kind: 'serial', from: Number(certificate.serial), to: Number(certificate.serial) });
    await inventory.recordCaRevocation(certificate.caDir, { serial: certificate.serial });
    report.revoked.push(`${certificate.caDir} serial ${certificate.serial}`);
  }
  await hooks.afterStep?.('old-certificates-revoked');
}
