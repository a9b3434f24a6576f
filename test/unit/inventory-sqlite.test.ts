import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { Inventory } from '../../src/operations/inventory/inventory.js';
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
  await expect(Inventory.open(newer)).rejects.toThrow(/schema version 99, newer than this piv-enroll knows \(1\)/);
});

test('a file that is not a database gives a clear error', async () => {
  const junk = join(mkdtempSync(join(tmpdir(), 'piv-enroll-inventory-')), 'inventory.sqlite');
  writeFileSync(junk, 'this is not SQLite '.repeat(100));
  await expect(Inventory.open(junk)).rejects.toThrow(/inventory.*not a database/);
});
