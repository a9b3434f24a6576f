/**
 * The few things the inventory asks of a SQL database, so one schema and one set of queries serve both the
 * embedded SQLite file (one enrollment station) and PostgreSQL (several stations sharing one inventory).
 * Queries are written with `?` placeholders; the PostgreSQL adapter numbers them.
 */
export type Dialect = 'sqlite' | 'postgres';
export type SqlValue = string | number | null;
export type Row = Record<string, unknown>;

export interface SqlDatabase {
  readonly dialect: Dialect;
  /** Where it lives, for messages: a file path, or host/database (never a password). */
  readonly description: string;
  query<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** Runs `work` in one transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(work: (db: SqlDatabase) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
