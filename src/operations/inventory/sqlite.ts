/**
 * The inventory's embedded database: one SQLite file (better-sqlite3), mode 0600 in a 0700 directory,
 * WAL so a reader (inventory list) never blocks an enrollment, and a busy timeout so two piv-enroll
 * processes on one station wait for each other instead of failing.
 */
import { chmod, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { InventoryError } from './errors.js';
import type { Row, SqlDatabase, SqlValue } from './database.js';

const BUSY_TIMEOUT_MS = 10_000;

export async function openSqlite(file: string): Promise<SqlDatabase> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  let Database: typeof BetterSqlite3;
  try {
    Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
  } catch (error) {
    // An optional dependency built from source at install: absent where python3, make or g++ were missing.
    throw new InventoryError(
      `the SQLite inventory needs the better-sqlite3 module, which is not installed or did not build (it needs python3, make and g++ at npm install): ` +
        'run npm install again, or record elsewhere with --inventory postgres://user@host/db or --inventory none',
      { cause: error },
    );
  }
  let db: BetterSqlite3.Database;
  try {
    db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
  } catch (error) {
    throw new InventoryError(`cannot open the inventory ${file}: ${(error as Error).message}`);
  }
  await chmod(file, 0o600);
  let depth = 0;
  const adapter: SqlDatabase = {
    dialect: 'sqlite',
    description: file,
    async query<T extends Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
      const statement = db.prepare(sql);
      if (statement.reader) return statement.all(...params) as T[];
      statement.run(...params);
      return [];
    },
    async transaction<T>(work: (inner: SqlDatabase) => Promise<T>): Promise<T> {
      // better-sqlite3's own transactions are synchronous; ours await, so BEGIN/COMMIT by hand (no nesting needed).
      if (depth > 0) return work(adapter);
      depth++;
      db.exec('BEGIN IMMEDIATE');
      try {
        const result = await work(adapter);
        db.exec('COMMIT');
        return result;
      } catch (error) {
        db.exec('ROLLBACK');
        throw error;
      } finally {
        depth--;
      }
    },
    async close() {
      db.close();
    },
  };
  return adapter;
}
