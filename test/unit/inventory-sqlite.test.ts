import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { Inventory } from '../../src/operations/inventory/inventory.js';
import { SCHEMA_VERSION } from '../../src/operations/inventory/migrate.js';
import { inventoryContract } from '../support/inventory-contract.js';

const file = join(mkdtempSync(join(tmpdir(), 'piv-enroll-inventory-')), 'state', 'inventory.sqlite');
inventoryContract('SQLite', (now) => Inventory.open(file, now));

test('the SQLite file is private (0600) in a directory made private (0700)', async () => {
  const inventory = await Inventory.open(file);
  await inventory.close();
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(statSync(join(file, '..')).mode & 0o777).toBe(0o700);
});

test('an inventory written by a newer piv-enroll is refused, not damaged', async () => {
  const newer = join(mkdtempSync(join(tmpdir(), 'piv-enroll-inventory-')), 'inventory.sqlite');
  const inventory = await Inventory.open(newer);
  await inventory.db.query("INSERT INTO schema_migrations (version, description, applied_at) VALUES (99, 'future', 'x')");
  await inventory.close();
  await expect(Inventory.open(newer)).rejects.toThrow(new RegExp(`schema version 99, newer than this piv-enroll knows \\(${SCHEMA_VERSION}\\)`));
});

test('a file that is not a database gives a clear error', async () => {
  const junk = join(mkdtempSync(join(tmpdir(), 'piv-enroll-inventory-')), 'inventory.sqlite');
  writeFileSync(junk, 'this is not SQLite '.repeat(100));
  await expect(Inventory.open(junk)).rejects.toThrow(/inventory.*not a database/);
});

test('an inventory made by the first schema is migrated to the current one, its data kept', async () => {
  const { MIGRATIONS } = await import('../../src/operations/inventory/schema.js');
  const Database = (await import('better-sqlite3')).default;
  const old = join(mkdtempSync(join(tmpdir(), 'piv-enroll-inventory-')), 'inventory.sqlite');
  const db = new Database(old);
  db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)');
  for (const statement of MIGRATIONS[0]!.statements('sqlite')) db.exec(statement);
  db.prepare("INSERT INTO schema_migrations VALUES (1, 'v1', 'then')").run();
  db.prepare("INSERT INTO people (name, created_at) VALUES ('ana', 'then')").run();
  db.prepare("INSERT INTO enrollments (person_id, slot, algorithm, fingerprint, authorized_key, options, status, created_at, updated_at) VALUES (1, '9C', 'ECCP256', 'SHA256:x', 'k', '{}', 'active', 'then', 'then')").run();
  db.close();
  const inventory = await Inventory.open(old);
  try {
    expect((await inventory.enrollments()).map((e) => e.person)).toEqual(['ana']);
    const rekey = await inventory.startRekey(1, 'SHA256:new', 'ssh-ed25519 AAAA new', ['h1', 'h2']);
    expect(await inventory.unfinishedRekeys(1)).toEqual([{ id: rekey, oldEnrollmentId: 1, fingerprint: 'SHA256:new', authorizedKey: 'ssh-ed25519 AAAA new', hosts: ['h1', 'h2'], stagingSlot: undefined }]);
    await inventory.endRekey(rekey, 'abandoned');
    expect(await inventory.unfinishedRekeys(1)).toEqual([]);
  } finally {
    await inventory.close();
  }
});
