/**
 * The record of who has which card, which key is on it, where that key went and which certificates it got.
 * Enroll, deploy, ca sign and ca revoke write here; batch, rekey and offboard read it to know what to do.
 * Every change also appends an event (who did what when), so the history survives status changes.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import type { Row, SqlDatabase, SqlValue } from './database.js';
import { InventoryError } from './errors.js';
import { migrate } from './migrate.js';
import { POSTGRES_URL } from './postgres.js';

export type EnrollmentStatus = 'active' | 'replaced' | 'revoked';
export type DeploymentState = 'present' | 'removed' | 'failed';
/** active: in use; lost: retired (its keys taken off every host, its certificates revoked); reset: its keys are gone. */
export type CardStatus = 'active' | 'lost' | 'reset';

/** A card as the inventory knows it. */
export interface CardRecord {
  serial: number;
  firmware?: string;
  reader?: string;
  virtual: boolean;
  status: CardStatus;
  firstSeen: string;
  lastSeen: string;
}

/** The card an event is about: the row is made if the inventory does not know the card yet. */
export interface CardIdentity {
  serial: number;
  firmware?: string;
  reader?: string;
  virtual?: boolean;
}

export interface NewEnrollment {
  person: string;
  /** `virtual`: the embedded virtual card (named with --virtual; a stand-in card is never recorded). */
  card?: { serial: number; firmware?: string; reader?: string; virtual?: boolean };
  slot: string;
  algorithm: string;
  fingerprint: string;
  authorizedKey: string;
  certificateSerial?: string;
  certificateNotAfter?: string;
  /** The enrollment's options without secrets (algorithm, policies, subject…): what a re-key repeats. */
  options: Record<string, unknown>;
}

export interface CaCertificateRecord {
  caDir: string;
  serial: string;
  keyId: string;
  principals: string[];
  validBefore: string;
  revokedAt?: string;
}

export interface DeploymentRecord {
  host: string;
  state: DeploymentState;
  detail?: string;
  updatedAt: string;
}

export interface EnrollmentRecord {
  id: number;
  person: string;
  cardSerial?: number;
  /** The card is the embedded virtual card (test and demonstration only). */
  cardVirtual?: boolean;
  cardStatus?: CardStatus;
  firmware?: string;
  slot: string;
  algorithm: string;
  fingerprint: string;
  authorizedKey: string;
  certificateSerial?: string;
  certificateNotAfter?: string;
  options: Record<string, unknown>;
  status: EnrollmentStatus;
  replacedBy?: number;
  createdAt: string;
  updatedAt: string;
  caCertificates: CaCertificateRecord[];
  deployments: DeploymentRecord[];
}

export interface EnrollmentFilter {
  status?: EnrollmentStatus | 'all';
  person?: string;
  cardSerial?: number;
  fingerprint?: string;
  /** Only enrollments whose X.509 or (unrevoked) SSH certificate ends before this instant. */
  expiringBefore?: Date;
}

/** A re-key that did not finish: its new key went to `hosts` (and, staged on the card, to `stagingSlot`). */
export interface UnfinishedRekey {
  id: number;
  oldEnrollmentId: number;
  fingerprint: string;
  authorizedKey: string;
  hosts: string[];
  stagingSlot?: string;
}

/** The attestation evidence of an enrollment (migration 5): certificates as PEM, facts and verdicts as they were judged. */
export interface AttestationRecord {
  attestationPem?: string;
  deviceCertificatePem?: string;
  /** The attested facts (describeFacts: names as well as codes). */
  facts?: Record<string, unknown>;
  /** 'verified', or the refusal reason (malformed, broken-signature, wrong-chain, expired, other-key, other-serial, not-attested). */
  verdict: string;
  verdictMessage?: string;
  chain: string[];
  /** The roots it was judged against. */
  trust: string;
  policyVerdict?: Record<string, unknown>;
  createdAt?: string;
}

export interface InventoryEvent {
  at: string;
  kind: string;
  enrollmentId?: number;
  /** The card the event is about (card-level events: PIN change, unblock, reset, lost). */
  cardSerial?: number;
  detail?: string;
}

/** Where the inventory lives unless --inventory or PIV_ENROLL_INVENTORY says otherwise. */
export function defaultInventoryLocation(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PIV_ENROLL_INVENTORY) return env.PIV_ENROLL_INVENTORY;
  const stateHome = env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state');
  return join(stateHome, 'piv-enroll', 'inventory.sqlite');
}

const text = (value: unknown): string | undefined => (value === null || value === undefined ? undefined : String(value));

/** When the enrollment first needs attention: the earliest end of its X.509 certificate and unrevoked SSH certificates. */
export function firstExpiry(record: EnrollmentRecord): string | undefined {
  const ends = [record.certificateNotAfter, ...record.caCertificates.filter((c) => !c.revokedAt).map((c) => c.validBefore)];
  return ends.filter((d): d is string => d !== undefined).sort()[0];
}

/** The hosts the inventory shows the enrollment's key on. */
export function hostsWithKey(record: EnrollmentRecord): string[] {
  return record.deployments.filter((d) => d.state === 'present').map((d) => d.host);
}

/** An RFC 3986 scheme: a location starting with one is a URL, never a SQLite file name. */
const URL_SCHEME = /^[a-z][a-z0-9+.-]*:/i;

/**
 * `postgres:/typo`, `postgresql:host`, `sqlite:x`: refused rather than made into a local file of that name. Only the
 * scheme is shown, since the rest may hold a password.
 */
function refuseOtherUrl(location: string): void {
  const scheme = URL_SCHEME.exec(location)?.[0];
  if (scheme === undefined) return;
  if (/^postgres(ql)?:$/i.test(scheme)) {
    throw new UsageError(`--inventory: "${scheme}…" is not a valid PostgreSQL URL: write ${scheme}//[user@]host[:port]/database`);
  }
  throw new UsageError(`--inventory: "${scheme}" URLs are not supported: give a SQLite file path or a postgres:// URL (for a file whose name has a colon, write ./NAME)`);
}

export class Inventory {
  private constructor(
    readonly db: SqlDatabase,
    private readonly now: () => Date,
  ) {}

  /** Opens (and migrates) the inventory at `location`: a SQLite file path, or a postgres:// URL. */
  static async open(location: string, now: () => Date = () => new Date()): Promise<Inventory> {
    if (location.trim() === '') throw new UsageError('--inventory needs a file path or a postgres:// URL');
    const isPostgres = POSTGRES_URL.test(location);
    if (!isPostgres) refuseOtherUrl(location);
    const db = isPostgres ? await (await import('./postgres.js')).openPostgres(location) : await (await import('./sqlite.js')).openSqlite(location);
    try {
      await migrate(db, now());
    } catch (error) {
      await db.close();
      if (error instanceof InventoryError) throw error;
      throw new InventoryError(`cannot prepare the inventory ${db.description}: ${(error as Error).message}`);
    }
    return new Inventory(db, now);
  }

  get description(): string {
    return this.db.description;
  }

  close(): Promise<void> {
    return this.db.close();
  }

  private stamp(): string {
    return this.now().toISOString();
  }

  private async event(db: SqlDatabase, kind: string, enrollmentId: number | undefined, detail: string): Promise<void> {
    await db.query('INSERT INTO events (at, kind, enrollment_id, detail) VALUES (?, ?, ?, ?)', [this.stamp(), kind, enrollmentId ?? null, detail]);
  }

  /**
   * Records a finished enrollment. An active enrollment of the same card slot becomes `replaced` (pointing to
   * this one): the card holds only the newest key. Returns the new enrollment's id.
   */
  async recordEnrollment(input: NewEnrollment): Promise<number> {
    const at = this.stamp();
    return this.db.transaction(async (db) => {
      const [person] = await db.query<{ id: number }>(
        'INSERT INTO people (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id',
        [input.person, at],
      );
      let cardId: number | null = null;
      if (input.card) {
        const [card] = await db.query<{ id: number }>(
          `INSERT INTO cards (serial, firmware, reader, virtual, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (serial) DO UPDATE SET firmware = excluded.firmware, reader = excluded.reader, virtual = excluded.virtual, last_seen = excluded.last_seen, status = 'active' RETURNING id`,
          [String(input.card.serial), input.card.firmware ?? null, input.card.reader ?? null, input.card.virtual ? 1 : 0, at, at],
        );
        cardId = Number(card!.id);
      }
      const [row] = await db.query<{ id: number }>(
        `INSERT INTO enrollments (person_id, card_id, slot, algorithm, fingerprint, authorized_key, certificate_serial, certificate_not_after, options, status, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?) RETURNING id`,
        [Number(person!.id), cardId, input.slot, input.algorithm, input.fingerprint, input.authorizedKey, input.certificateSerial ?? null, input.certificateNotAfter ?? null, JSON.stringify(input.options), at, at],
      );
      const id = Number(row!.id);
      if (cardId !== null) {
        await db.query("UPDATE enrollments SET status = 'replaced', replaced_by = ?, updated_at = ? WHERE card_id = ? AND slot = ? AND status = 'active' AND id <> ?", [id, at, cardId, input.slot, id]);
      }
      await this.event(db, 'enroll', id, `${input.person}: ${input.algorithm} ${input.fingerprint} in slot ${input.slot}${input.card ? ` of card ${input.card.serial}` : ''}`);
      return id;
    });
  }

  async recordCaCertificate(enrollmentId: number, certificate: Omit<CaCertificateRecord, 'revokedAt'>): Promise<void> {
    await this.db.transaction(async (db) => {
      await db.query('INSERT INTO ca_certificates (enrollment_id, ca_dir, serial, key_id, principals, valid_before, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [
        enrollmentId, certificate.caDir, certificate.serial, certificate.keyId, certificate.principals.join(','), certificate.validBefore, this.stamp(),
      ]);
      await this.event(db, 'ca-sign', enrollmentId, `serial ${certificate.serial} from ${certificate.caDir}, principals ${certificate.principals.join(',')}`);
    });
  }

  /** Marks a CA certificate revoked; returns the enrollments it belonged to. */
  async recordCaRevocation(caDir: string, match: { serial?: string; serialFrom?: number; serialTo?: number; keyId?: string; fingerprint?: string }): Promise<number[]> {
    return this.db.transaction(async (db) => {
      const conditions: string[] = [];
      const params: SqlValue[] = [caDir];
      if (match.serial !== undefined) (conditions.push('c.serial = ?'), params.push(match.serial));
      if (match.serialFrom !== undefined) (conditions.push('CAST(c.serial AS BIGINT) BETWEEN ? AND ?'), params.push(match.serialFrom, match.serialTo ?? match.serialFrom));
      if (match.keyId !== undefined) (conditions.push('c.key_id = ?'), params.push(match.keyId));
      if (match.fingerprint !== undefined) (conditions.push('e.fingerprint = ?'), params.push(match.fingerprint));
      if (conditions.length === 0) return [];
      const rows = await db.query<{ id: number; enrollment_id: number }>(
        `SELECT c.id, c.enrollment_id FROM ca_certificates c JOIN enrollments e ON e.id = c.enrollment_id WHERE c.ca_dir = ? AND (${conditions.join(' OR ')}) AND c.revoked_at IS NULL`,
        params,
      );
      for (const row of rows) {
        await db.query('UPDATE ca_certificates SET revoked_at = ? WHERE id = ?', [this.stamp(), Number(row.id)]);
        await this.event(db, 'ca-revoke', Number(row.enrollment_id), `certificate from ${caDir} revoked`);
      }
      return [...new Set(rows.map((r) => Number(r.enrollment_id)))];
    });
  }

  async recordDeployment(enrollmentId: number, host: string, state: DeploymentState, detail?: string): Promise<void> {
    await this.db.transaction(async (db) => {
      await db.query(
        `INSERT INTO deployments (enrollment_id, host, state, detail, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (enrollment_id, host) DO UPDATE SET state = excluded.state, detail = excluded.detail, updated_at = excluded.updated_at`,
        [enrollmentId, host, state, detail ?? null, this.stamp()],
      );
      await this.event(db, state === 'removed' ? 'remove' : 'deploy', enrollmentId, `${host}: ${state}${detail ? ` (${detail})` : ''}`);
    });
  }

  async setStatus(enrollmentId: number, status: EnrollmentStatus, why: string): Promise<void> {
    await this.db.transaction(async (db) => {
      await db.query('UPDATE enrollments SET status = ?, updated_at = ? WHERE id = ?', [status, this.stamp(), enrollmentId]);
      await this.event(db, status, enrollmentId, why);
    });
  }

  async enrollments(filter: EnrollmentFilter = {}): Promise<EnrollmentRecord[]> {
    const conditions: string[] = [];
    const params: SqlValue[] = [];
    const status = filter.status ?? 'active';
    if (status !== 'all') (conditions.push('e.status = ?'), params.push(status));
    if (filter.person !== undefined) (conditions.push('p.name = ?'), params.push(filter.person));
    if (filter.cardSerial !== undefined) (conditions.push('c.serial = ?'), params.push(String(filter.cardSerial)));
    if (filter.fingerprint !== undefined) (conditions.push('e.fingerprint = ?'), params.push(filter.fingerprint));
    const rows = await this.db.query(
      `SELECT e.*, p.name AS person, c.serial AS card_serial, c.firmware AS firmware, c.virtual AS card_virtual, c.status AS card_status
       FROM enrollments e JOIN people p ON p.id = e.person_id LEFT JOIN cards c ON c.id = e.card_id
       ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''} ORDER BY e.id`,
      params,
    );
    const records: EnrollmentRecord[] = [];
    for (const row of rows) records.push(await this.complete(row));
    if (!filter.expiringBefore) return records;
    const limit = filter.expiringBefore.toISOString();
    return records.filter((r) => (firstExpiry(r) ?? limit) < limit);
  }

  private async complete(row: Row): Promise<EnrollmentRecord> {
    const id = Number(row.id);
    const certificates = await this.db.query('SELECT * FROM ca_certificates WHERE enrollment_id = ? ORDER BY id', [id]);
    const deployments = await this.db.query('SELECT * FROM deployments WHERE enrollment_id = ? ORDER BY host', [id]);
    let options: Record<string, unknown> = {};
    try {
      options = JSON.parse(String(row.options)) as Record<string, unknown>;
    } catch {
      // an unreadable options column: the record is still worth showing
    }
    return {
      id,
      person: String(row.person),
      cardSerial: row.card_serial === null || row.card_serial === undefined ? undefined : Number(row.card_serial),
      cardVirtual: row.card_virtual === null || row.card_virtual === undefined ? undefined : Number(row.card_virtual) === 1,
      cardStatus: text(row.card_status) as CardStatus | undefined,
      firmware: text(row.firmware),
      slot: String(row.slot),
      algorithm: String(row.algorithm),
      fingerprint: String(row.fingerprint),
      authorizedKey: String(row.authorized_key),
      certificateSerial: text(row.certificate_serial),
      certificateNotAfter: text(row.certificate_not_after),
      options,
      status: String(row.status) as EnrollmentStatus,
      replacedBy: row.replaced_by === null || row.replaced_by === undefined ? undefined : Number(row.replaced_by),
      createdAt: String(row.created_at),
      updatedAt: String(row.updated_at),
      caCertificates: certificates.map((c) => ({
        caDir: String(c.ca_dir),
        serial: String(c.serial),
        keyId: String(c.key_id),
        principals: String(c.principals).split(',').filter(Boolean),
        validBefore: String(c.valid_before),
        revokedAt: text(c.revoked_at),
      })),
      deployments: deployments.map((d) => ({ host: String(d.host), state: String(d.state) as DeploymentState, detail: text(d.detail), updatedAt: String(d.updated_at) })),
    };
  }

  /** Notes that a re-key is about to put `authorizedKey` on `hosts` (before the card gets the key). */
  async startRekey(oldEnrollmentId: number, fingerprint: string, authorizedKey: string, hosts: string[], stagingSlot?: string): Promise<number> {
    return this.db.transaction(async (db) => {
      const at = this.stamp();
      const [row] = await db.query<{ id: number }>(
        "INSERT INTO rekeys (old_enrollment_id, new_fingerprint, new_authorized_key, hosts, state, created_at, updated_at, staging_slot) VALUES (?, ?, ?, ?, 'deploying', ?, ?, ?) RETURNING id",
        [oldEnrollmentId, fingerprint, authorizedKey, hosts.join(' '), at, at, stagingSlot ?? null],
      );
      await this.event(db, 'rekey-start', oldEnrollmentId, `new key ${fingerprint} going to ${hosts.length} host(s)`);
      return Number(row!.id);
    });
  }

  async endRekey(rekeyId: number, state: 'finished' | 'abandoned'): Promise<void> {
    await this.db.query('UPDATE rekeys SET state = ?, updated_at = ? WHERE id = ?', [state, this.stamp(), rekeyId]);
  }

  /** Re-keys of this enrollment that did not finish: their new key may be on hosts (and on the card). */
  async unfinishedRekeys(oldEnrollmentId: number): Promise<UnfinishedRekey[]> {
    const rows = await this.db.query("SELECT * FROM rekeys WHERE old_enrollment_id = ? AND state = 'deploying' ORDER BY id", [oldEnrollmentId]);
    return rows.map((r) => ({
      id: Number(r.id), oldEnrollmentId, fingerprint: String(r.new_fingerprint), authorizedKey: String(r.new_authorized_key), hosts: String(r.hosts).split(' ').filter(Boolean),
      stagingSlot: text(r.staging_slot),
    }));
  }

  async recordAttestation(enrollmentId: number, record: AttestationRecord): Promise<void> {
    await this.db.transaction(async (db) => {
      await db.query(
        `INSERT INTO attestations (enrollment_id, attestation_pem, device_certificate_pem, facts, verdict, verdict_message, chain, trust, policy_verdict, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          enrollmentId, record.attestationPem ?? null, record.deviceCertificatePem ?? null, record.facts ? JSON.stringify(record.facts) : null, record.verdict,
          record.verdictMessage ?? null, JSON.stringify(record.chain), record.trust, record.policyVerdict ? JSON.stringify(record.policyVerdict) : null, this.stamp(),
        ],
      );
      await this.event(db, 'attest', enrollmentId, `${record.verdict}${record.verdictMessage ? ` (${record.verdictMessage})` : ''} against ${record.trust}`);
    });
  }

  /** The attestation evidence kept for an enrollment, oldest first. */
  async attestations(enrollmentId: number): Promise<AttestationRecord[]> {
    const rows = await this.db.query('SELECT * FROM attestations WHERE enrollment_id = ? ORDER BY id', [enrollmentId]);
    const json = (value: unknown): Record<string, unknown> | undefined => (value === null || value === undefined ? undefined : (JSON.parse(String(value)) as Record<string, unknown>));
    return rows.map((r) => ({
      attestationPem: text(r.attestation_pem),
      deviceCertificatePem: text(r.device_certificate_pem),
      facts: json(r.facts),
      verdict: String(r.verdict),
      verdictMessage: text(r.verdict_message),
      chain: JSON.parse(String(r.chain)) as string[],
      trust: String(r.trust),
      policyVerdict: json(r.policy_verdict),
      createdAt: String(r.created_at),
    }));
  }

  async events(enrollmentId?: number): Promise<InventoryEvent[]> {
    const rows = await this.db.query(
      `SELECT ev.*, c.serial AS card_serial FROM events ev LEFT JOIN cards c ON c.id = ev.card_id ${enrollmentId === undefined ? '' : 'WHERE ev.enrollment_id = ?'} ORDER BY ev.id`,
      enrollmentId === undefined ? [] : [enrollmentId],
    );
    return rows.map(eventFrom);
  }

  /** The card with this serial, or undefined when the inventory never saw it. */
  async card(serial: number): Promise<CardRecord | undefined> {
    const [row] = await this.db.query('SELECT * FROM cards WHERE serial = ?', [String(serial)]);
    if (!row) return undefined;
    return {
      serial: Number(row.serial), firmware: text(row.firmware), reader: text(row.reader), virtual: Number(row.virtual) === 1,
      status: String(row.status) as CardStatus, firstSeen: String(row.first_seen), lastSeen: String(row.last_seen),
    };
  }

  /**
   * Records something that happened to a card (not to one enrollment): a PIN change, an unblock, a reset, its loss.
   * The card's row is made if needed; `status` changes the card's status in the same transaction.
   */
  async recordCardEvent(card: CardIdentity, kind: string, detail: string, status?: CardStatus): Promise<void> {
    const at = this.stamp();
    await this.db.transaction(async (db) => {
      const [row] = await db.query<{ id: number }>(
        `INSERT INTO cards (serial, firmware, reader, virtual, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (serial) DO UPDATE SET firmware = COALESCE(excluded.firmware, cards.firmware), reader = COALESCE(excluded.reader, cards.reader), last_seen = excluded.last_seen RETURNING id`,
        [String(card.serial), card.firmware ?? null, card.reader ?? null, card.virtual ? 1 : 0, at, at],
      );
      const cardId = Number(row!.id);
      if (status !== undefined) await db.query('UPDATE cards SET status = ? WHERE id = ?', [status, cardId]);
      await db.query('INSERT INTO events (at, kind, enrollment_id, card_id, detail) VALUES (?, ?, NULL, ?, ?)', [at, kind, cardId, detail]);
    });
  }

  /** The card's own events (PIN change, unblock, reset, lost), oldest first. */
  async cardEvents(serial: number): Promise<InventoryEvent[]> {
    const rows = await this.db.query('SELECT ev.*, c.serial AS card_serial FROM events ev JOIN cards c ON c.id = ev.card_id WHERE c.serial = ? ORDER BY ev.id', [String(serial)]);
    return rows.map(eventFrom);
  }
}

function eventFrom(r: Row): InventoryEvent {
  return {
    at: String(r.at), kind: String(r.kind), enrollmentId: r.enrollment_id === null || r.enrollment_id === undefined ? undefined : Number(r.enrollment_id),
    cardSerial: r.card_serial === null || r.card_serial === undefined ? undefined : Number(r.card_serial), detail: text(r.detail),
  };
}
