/** Where --inventory points: a postgres:// URL without a password anywhere, a SQLite path, or a refused URL of any other kind. */
import { existsSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { Inventory } from '../../src/operations/inventory/inventory.js';
import { describePostgresUrl } from '../../src/operations/inventory/postgres.js';

const refusal = (location: string): unknown => {
  try {
    describePostgresUrl(location);
  } catch (error) {
    return error;
  }
  throw new Error(`${location} was accepted`);
};

describe('describePostgresUrl', () => {
  test('names user, host, port and database, nothing of the query', () => {
    expect(describePostgresUrl('postgres://piv@db.example:5433/inventory?sslmode=require')).toBe('piv@db.example:5433/inventory');
    expect(describePostgresUrl('postgresql://db.example/inventory')).toBe('db.example/inventory');
  });

  test.each([
    'postgres://piv:s3cret@db.example/inventory',
    'postgres://piv@db.example/inventory?password=s3cret',
    'postgres://piv@db.example/inventory?sslmode=require&PassWord=s3cret',
    'postgres://piv@db.example/inventory?PASSWORD=s3cret',
    'postgres://piv@db.example/inventory?pass%77ord=s3cret',
    'postgres://piv@db.example/inventory?sslpassword=s3cret',
  ])('a password anywhere in the URL is refused, without echoing it: %s', (location) => {
    const error = refusal(location);
    expect(error).toBeInstanceOf(UsageError);
    expect(String(error)).toMatch(/keep the password out of the URL/);
    expect(String(error)).not.toContain('s3cret');
  });

  test.each([
    ['postgres://piv:pa/ss@db.example/inventory', 'pa/ss'],
    ['postgres://piv:pa#ss@db.example/inventory', 'pa#ss'],
    ['postgres://piv:pa?ss@db.example/inventory', 'pa?ss'],
    ['postgres://piv:s3cret@db.example:99999/inventory', 's3cret'],
  ])('a URL that does not parse is named only up to "user:": %s', (location, secret) => {
    const error = refusal(location);
    expect(error).toBeInstanceOf(UsageError);
    expect(String(error)).toContain('"postgres://piv:…" is not a valid postgres:// URL');
    expect(String(error)).not.toContain(secret);
    expect(String(error)).not.toContain('db.example');
  });
});

describe('Inventory.open: anything that starts with a URL scheme is not a SQLite file', () => {
  test.each([
    ['postgres:/typo', /"postgres:…" is not a valid PostgreSQL URL: write postgres:\/\/\[user@\]host/],
    ['postgresql:db.example/inventory', /"postgresql:…" is not a valid PostgreSQL URL/],
    ['POSTGRES:piv:s3cret@db.example', /"POSTGRES:…" is not a valid PostgreSQL URL/],
    ['sqlite:inventory.db', /"sqlite:" URLs are not supported: give a SQLite file path or a postgres:\/\/ URL \(for a file whose name has a colon, write \.\/NAME\)/],
    ['file:///tmp/inventory.sqlite', /"file:" URLs are not supported/],
  ])('%s is refused and no file is made', async (location, message) => {
    const error = await Inventory.open(location).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect(String(error)).toMatch(message);
    expect(String(error)).not.toContain('s3cret');
    expect(existsSync(location.split('/')[0]!)).toBe(false);
  });
});
