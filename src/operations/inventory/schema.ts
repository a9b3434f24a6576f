/**
 * The inventory's schema, as numbered migrations applied in order and recorded in schema_migrations. The
 * same SQL runs on SQLite and PostgreSQL except the identity column, which differs by dialect. Timestamps are
 * ISO 8601 UTC text: they sort as time on both, and read the same in a CSV export.
 * Never edit a migration that has shipped: add the next one.
 */
import type { Dialect } from './database.js';

export interface Migration {
  version: number;
  description: string;
  statements(dialect: Dialect): string[];
}

const id = (dialect: Dialect): string => (dialect === 'sqlite' ? 'id INTEGER PRIMARY KEY AUTOINCREMENT' : 'id BIGSERIAL PRIMARY KEY');
const reference = (dialect: Dialect): string => (dialect === 'sqlite' ? 'INTEGER' : 'BIGINT');

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'people, cards, enrollments, deployments, events',
    statements: (d) => [
      `CREATE TABLE people (${id(d)}, name TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL)`,
      `CREATE TABLE cards (${id(d)}, serial TEXT NOT NULL UNIQUE, firmware TEXT, reader TEXT, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL)`,
      `CREATE TABLE enrollments (
        ${id(d)},
        person_id ${reference(d)} NOT NULL REFERENCES people(id),
        card_id ${reference(d)} REFERENCES cards(id),
        slot TEXT NOT NULL,
        algorithm TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        authorized_key TEXT NOT NULL,
        certificate_serial TEXT,
        certificate_not_after TEXT,
        options TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active', 'replaced', 'revoked')),
        replaced_by ${reference(d)} REFERENCES enrollments(id),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL)`,
      'CREATE INDEX enrollments_by_person ON enrollments (person_id, status)',
      'CREATE INDEX enrollments_by_card ON enrollments (card_id, slot, status)',
      `CREATE TABLE ca_certificates (
        ${id(d)},
        enrollment_id ${reference(d)} NOT NULL REFERENCES enrollments(id),
        ca_dir TEXT NOT NULL,
        serial TEXT NOT NULL,
        key_id TEXT NOT NULL,
        principals TEXT NOT NULL,
        valid_before TEXT NOT NULL,
        revoked_at TEXT,
        created_at TEXT NOT NULL,
        UNIQUE (ca_dir, serial))`,
      `CREATE TABLE deployments (
        ${id(d)},
        enrollment_id ${reference(d)} NOT NULL REFERENCES enrollments(id),
        host TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('present', 'removed', 'failed')),
        detail TEXT,
        updated_at TEXT NOT NULL,
        UNIQUE (enrollment_id, host))`,
      `CREATE TABLE events (${id(d)}, at TEXT NOT NULL, kind TEXT NOT NULL, enrollment_id ${reference(d)} REFERENCES enrollments(id), detail TEXT)`,
    ],
  },
  {
    version: 2,
    description: 're-keys in progress',
    // A re-key puts the new key on the hosts before it replaces the old one on the card; if it stops in between,
    // the next run must find that key (its private half is gone) and take it off the hosts again.
    statements: (d) => [
      `CREATE TABLE rekeys (
        ${id(d)},
        old_enrollment_id ${reference(d)} NOT NULL REFERENCES enrollments(id),
        new_fingerprint TEXT NOT NULL,
        new_authorized_key TEXT NOT NULL,
        hosts TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('deploying', 'finished', 'abandoned')),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL)`,
    ],
  },
  {
    version: 3,
    description: 'virtual cards marked as such',
    // The embedded virtual card keeps its secrets in clear: whoever reads the inventory must see that a card is one.
    statements: () => ['ALTER TABLE cards ADD COLUMN virtual INTEGER NOT NULL DEFAULT 0'],
  },
  {
    version: 4,
    description: 're-keys staged in a retired slot',
    // A card-generated key is staged in a retired slot (82–95) and moved into place (MOVE KEY, 5.7): a re-key that
    // stops before the move leaves it there, and the next run must know which slot to clear.
    statements: () => ['ALTER TABLE rekeys ADD COLUMN staging_slot TEXT'],
  },
  {
    version: 6,
    description: 'escrowed PUKs and management keys',
    // Per card, the PUK and management key it was given, age-encrypted to the site's escrow recipient (ASCII armor, so
    // `age -d` reads the column as it is). Never in clear: only the holder of the escrow identity can open a row. A card
    // hardened again (after a reset) gets a new row; the newest is the card's.
    statements: (d) => [
      `CREATE TABLE escrow (
        ${id(d)},
        card_id ${reference(d)} NOT NULL REFERENCES cards(id),
        recipient TEXT NOT NULL,
        ciphertext TEXT NOT NULL,
        created_at TEXT NOT NULL)`,
      'CREATE INDEX escrow_by_card ON escrow (card_id, id)',
    ],
  },
  {
    version: 7,
    description: 'card status and card events',
    // A card's later life (PIN changed, unblocked, reset, lost) is about the card, not one enrollment: events name the
    // card, and a card is active, lost (retired: its keys off every host) or reset (its keys are gone).
    statements: (d) => [
      "ALTER TABLE cards ADD COLUMN status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'lost', 'reset'))",
      `ALTER TABLE events ADD COLUMN card_id ${reference(d)} REFERENCES cards(id)`,
      'CREATE INDEX events_by_card ON events (card_id)',
    ],
  },
];
