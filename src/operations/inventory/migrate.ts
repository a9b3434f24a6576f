/** Brings an inventory database to the newest schema, once, even with several stations starting at once. */
import type { SqlDatabase } from './database.js';
import { InventoryError } from './errors.js';
import { MIGRATIONS } from './schema.js';

/** Any constant: PostgreSQL advisory locks are keyed by a number the cooperating programs agree on. */
const MIGRATION_LOCK = 0x70697665; // "pive"

export const SCHEMA_VERSION = Math.max(...MIGRATIONS.map((m) => m.version));

/** Applies the migrations the database lacks; returns their versions. */
export async function migrate(db: SqlDatabase, now: Date): Promise<number[]> {
  return db.transaction(async (tx) => {
    if (tx.dialect === 'postgres') await tx.query('SELECT pg_advisory_xact_lock(?::bigint)', [MIGRATION_LOCK]);
    await tx.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const applied = new Set((await tx.query<{ version: number | string }>('SELECT version FROM schema_migrations')).map((r) => Number(r.version)));
    const newest = Math.max(0, ...applied);
    if (newest > SCHEMA_VERSION) {
      throw new InventoryError(`the inventory ${db.description} has schema version ${newest}, newer than this piv-enroll knows (${SCHEMA_VERSION}): update piv-enroll`);
    }
    const done: number[] = [];
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      for (const statement of migration.statements(tx.dialect)) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)', [migration.version, migration.description, now.toISOString()]);
      done.push(migration.version);
    }
    return done;
  });
}
