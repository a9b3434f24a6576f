/**
 * The inventory on PostgreSQL (node-postgres), for several enrollment stations sharing one inventory.
 * The location is a postgres:// URL without a password: the password comes from PGPASSWORD or ~/.pgpass
 * (node-postgres reads both), never from the command line.
 */
import { createRequire } from 'node:module';
import type pg from 'pg';
import { UsageError } from '../../errors.js';
import { InventoryError } from './errors.js';
import type { Row, SqlDatabase, SqlValue } from './database.js';

/** `?` → `$1, $2…` (our queries hold no `?` inside string literals). */
export function numberPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/**
 * What a URL that did not parse may show in a message: the scheme and what follows up to the first `:`, `?` or `#`
 * (a password can only come after one of them), never the rest.
 */
function redactUnparsedUrl(location: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:(\/\/)?/i.exec(location)?.[0] ?? '';
  const rest = location.slice(scheme.length);
  const cut = rest.search(/[:?#]/);
  return cut === -1 ? location : `${scheme}${rest.slice(0, cut + 1)}…`;
}

export const POSTGRES_URL = /^postgres(ql)?:\/\//i;

/** Query parameters that carry a secret to node-postgres or libpq (password, sslpassword), in any case. */
const SECRET_PARAMETER = /password/i;

/**
 * Checks a postgres:// URL and returns how messages name it: `user@host:port/database`, never the password or
 * the query. A password anywhere in the URL is refused: argv is visible to every user of the machine.
 */
export function describePostgresUrl(location: string): string {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw new UsageError(`--inventory: "${redactUnparsedUrl(location)}" is not a valid postgres:// URL (postgres://[user@]host[:port]/database)`);
  }
  if (!POSTGRES_URL.test(location)) {
    throw new UsageError(`--inventory: "${redactUnparsedUrl(location)}" is not a postgres:// URL (postgres://[user@]host[:port]/database)`);
  }
  const secretParameter = [...url.searchParams.keys()].some((key) => SECRET_PARAMETER.test(key));
  if (url.password || secretParameter) {
    throw new UsageError('--inventory: keep the password out of the URL (it would be visible in the process list): set PGPASSWORD or use ~/.pgpass');
  }
  return `${url.username ? `${url.username}@` : ''}${url.host}${url.pathname}`;
}

export async function openPostgres(location: string): Promise<SqlDatabase> {
  const description = describePostgresUrl(location);
  const { Pool } = createRequire(import.meta.url)('pg') as typeof pg;
  const pool = new Pool({ connectionString: location, max: 2, connectionTimeoutMillis: 10_000 });
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new InventoryError(`cannot connect to the inventory at ${description}: ${(error as Error).message}`);
  }
  let depth = 0;
  const adapter: SqlDatabase = {
    dialect: 'postgres',
    description,
    async query<T extends Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
      const result = await client.query(numberPlaceholders(sql), params as SqlValue[]);
      return result.rows as T[];
    },
    async transaction<T>(work: (inner: SqlDatabase) => Promise<T>): Promise<T> {
      if (depth > 0) return work(adapter);
      depth++;
      await client.query('BEGIN');
      try {
        const result = await work(adapter);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        depth--;
      }
    },
    async close() {
      client.release();
      await pool.end();
    },
  };
  return adapter;
}
