/** The inventory on a real PostgreSQL: the shared contract, the password kept out of argv, two stations at once. */
import { underCi } from '../bench/bench-state.mjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Inventory } from '../../src/operations/inventory/inventory.js';
import { inventoryContract } from '../support/inventory-contract.js';
import { postgresAvailable, startPostgres, type TestPostgres } from './postgres.js';

const mustRun = underCi();
const available = postgresAvailable();
if (!available && mustRun) throw new Error('PostgreSQL is required under CI (test/bench/testbench.sh installs it)');

describe.skipIf(!available)('PostgreSQL', () => {
  let server: TestPostgres;
  const saved = process.env.PGPASSWORD;
  beforeAll(async () => {
    server = await startPostgres();
    process.env.PGPASSWORD = server.password;
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.PGPASSWORD;
    else process.env.PGPASSWORD = saved;
    server?.stop();
  });

  inventoryContract('PostgreSQL', (now) => Inventory.open(server.url, now));

  test('a password in the URL is refused (argv is visible to every user)', async () => {
    const withPassword = server.url.replace('piv@', `piv:${server.password}@`);
    const error = await Inventory.open(withPassword).catch((e: Error) => e);
    expect(String(error)).toMatch(/keep the password out of the URL/);
    expect(String(error)).not.toContain(server.password);
  });

  test('a wrong password says the inventory cannot be reached, without echoing it', async () => {
    process.env.PGPASSWORD = 'wrong-password';
    try {
      const error = await Inventory.open(server.url).catch((e: Error) => e);
      expect(String(error)).toMatch(/cannot connect to the inventory at piv@127\.0\.0\.1:\d+\/postgres: password authentication failed/);
    } finally {
      process.env.PGPASSWORD = server.password;
    }
  });

  test('two stations enrolling at once into one inventory: both recorded, nothing lost', async () => {
    const [a, b] = await Promise.all([Inventory.open(server.url), Inventory.open(server.url)]);
    try {
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          (i % 2 ? a : b).recordEnrollment({ person: `station-${i}`, card: { serial: 9000 + i }, slot: '9C', algorithm: 'ECCP256', fingerprint: `SHA256:s${i}`, authorizedKey: 'k', options: {} }),
        ),
      );
      const recorded = (await a.enrollments()).filter((r) => r.person.startsWith('station-'));
      expect(recorded.map((r) => r.person).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `station-${i}`).sort());
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe.skipIf(!available)('two enrollment stations sharing one PostgreSQL inventory (the CLI)', () => {
  let server: TestPostgres;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(() => server?.stop());

  test('enrollments from two stations land in one inventory; the password never appears on a command line', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { run, runOk } = await import('../support/run.js');
    const CLI = new URL('../../bin/piv-enroll', import.meta.url).pathname;
    const dir = mkdtempSync(join(tmpdir(), 'piv-enroll-pg-cli-'));
    const env = { PGPASSWORD: server.password, PIV_NEW_PIN: '24681357', PIV_NEW_PUK: '97531864' };
    const stations = await Promise.all(
      ['ana', 'bo'].map((user) =>
        run(process.execPath, [CLI, 'enroll', '--virtual', join(dir, `${user}.json`), '--user', user, '--algorithm', 'ECCP256', '--yes', '--json', '--inventory', server.url], { env }),
      ),
    );
    for (const station of stations) expect(station.code, station.stderr).toBe(0);
    const listed = JSON.parse((await runOk(process.execPath, [CLI, 'inventory', 'list', '--inventory', server.url, '--json'], { env })).stdout);
    expect(listed.map((e: { person: string }) => e.person).sort()).toEqual(['ana', 'bo']);
    const refused = await run(process.execPath, [CLI, 'inventory', 'list', '--inventory', server.url.replace('piv@', `piv:${server.password}@`)], { env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).not.toContain(server.password);
  });
});
