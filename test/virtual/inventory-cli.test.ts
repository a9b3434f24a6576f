/** Enrollments record themselves in the inventory; `inventory list|show|export` read it back. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, test } from 'vitest';
import { run, runOk } from '../support/run.js';

const CLI = new URL('../../bin/piv-enroll', import.meta.url).pathname;
const PASSPHRASE = 'correct horse battery';
const ENV = { PIV_NEW_PIN: '24681357', PIV_NEW_PUK: '97531864', PIV_CA_PASSPHRASE: PASSPHRASE };
const scratch = () => mkdtempSync(join(tmpdir(), 'piv-enroll-inventory-cli-'));

describe('inventory', () => {
  const dir = scratch();
  const inventory = join(dir, 'inventory.sqlite');
  const ca = join(dir, 'ca');
  let ana: { fingerprint: string; serial: number; inventory: { enrollmentId: number } };

  beforeAll(async () => {
    await runOk(process.execPath, [CLI, 'ca', 'init', '--dir', ca, '--algorithm', 'ed25519'], { env: { PIV_CA_PASSPHRASE: PASSPHRASE } });
    const enrolled = await runOk(process.execPath, [CLI, 'enroll', '--virtual', join(dir, 'ana.json'), '--serial', '4242', '--user', 'ana', '--algorithm', 'ECCP256', '--yes', '--json',
      '--ca', ca, '--out', join(dir, 'ana'), '--inventory', inventory], { env: ENV });
    ana = JSON.parse(enrolled.stdout);
    await runOk(process.execPath, [CLI, 'enroll', '--virtual', join(dir, 'bo.json'), '--user', 'bo', '--algorithm', 'ECCP256', '--valid-days', '400', '--yes', '--inventory', inventory], { env: ENV });
  });

  test('enroll records itself: list, show and export read it back', async () => {
    expect(ana.inventory.enrollmentId).toBeGreaterThan(0);
    const listed = JSON.parse((await runOk(process.execPath, [CLI, 'inventory', 'list', '--inventory', inventory, '--json'])).stdout);
    expect(listed.map((r: { person: string }) => r.person)).toEqual(['ana', 'bo']);
    expect(listed[0]).toMatchObject({ cardSerial: 4242, cardVirtual: true, slot: '9C', algorithm: 'ECCP256', fingerprint: ana.fingerprint, status: 'active', firmware: '5.7.2' });
    expect(listed[0].caCertificates).toEqual([expect.objectContaining({ serial: '1', principals: ['ana'], caDir: ca })]);
    expect(listed[0].options).toMatchObject({ algorithm: 'ECCP256', slot: '9C', keySource: 'host', subject: 'CN=ana', ca });

    const table = (await runOk(process.execPath, [CLI, 'inventory', 'list', '--inventory', inventory])).stdout;
    expect(table).toMatch(/^ID\s+PERSON\s+CARD\s+SLOT/m);
    expect(table).toMatch(new RegExp(`ana\\s+4242 \\(virtual\\)\\s+9C\\s+ECCP256\\s+${ana.fingerprint.replace(/[+/]/g, '\\$&')}`));

    const shown = (await runOk(process.execPath, [CLI, 'inventory', 'show', 'ana', '--inventory', inventory])).stdout;
    expect(shown).toMatch(/SSH certificate 1 from .* \(ana\) until/);
    expect(shown).toMatch(/enroll: ana: ECCP256 SHA256:/);
    expect(shown).toMatch(/ca-sign: serial 1/);
    expect((await runOk(process.execPath, [CLI, 'inventory', 'show', ana.fingerprint, '--inventory', inventory, '--json'])).stdout).toContain('"person": "ana"');

    const csv = parse((await runOk(process.execPath, [CLI, 'inventory', 'export', '--csv', '--inventory', inventory])).stdout, { columns: true }) as Array<Record<string, string>>;
    expect(csv.map((r) => r.person)).toEqual(['ana', 'bo']);
    expect(csv[0]!.card_serial).toBe('4242');
    expect(csv[0]!.card_virtual).toBe('yes');
    expect(shown).toContain('card 4242 (the embedded virtual card: test only)');
  });

  test('--expiring-within: the 30-day SSH certificate and the 365-day X.509 certificate count, the 400-day one not', async () => {
    const names = async (within: string) =>
      JSON.parse((await runOk(process.execPath, [CLI, 'inventory', 'list', '--inventory', inventory, '--json', '--expiring-within', within])).stdout).map((r: { person: string }) => r.person);
    expect(await names('7d')).toEqual([]);
    expect(await names('31d')).toEqual(['ana']);
    expect(await names('370d')).toEqual(['ana']);
    expect(await names('401d')).toEqual(['ana', 'bo']);
  });

  test('a new key in the same slot marks the old enrollment replaced', async () => {
    await runOk(process.execPath, [CLI, 'enroll', '--virtual', join(dir, 'bo.json'), '--user', 'bo', '--algorithm', 'ECCP256', '--force', '--yes', '--inventory', inventory], { env: { PIV_PIN: '24681357' } });
    const bo = JSON.parse((await runOk(process.execPath, [CLI, 'inventory', 'list', '--inventory', inventory, '--json', '--person', 'bo', '--status', 'all'])).stdout);
    expect(bo.map((r: { status: string }) => r.status)).toEqual(['replaced', 'active']);
    expect(bo[0].replacedBy).toBe(bo[1].id);
  });

  test('ca sign of an enrolled key and ca revoke record themselves with that enrollment', async () => {
    const pub = join(dir, 'ana', 'piv-9c.pub');
    await runOk(process.execPath, [CLI, 'ca', 'sign', '--dir', ca, '--public-key', pub, '--principals', 'ana,ops', '--key-id', 'ana-ops', '--out', join(dir, 'ana-ops-cert.pub'), '--inventory', inventory], { env: { PIV_CA_PASSPHRASE: PASSPHRASE } });
    const certificates = async () =>
      JSON.parse((await runOk(process.execPath, [CLI, 'inventory', 'list', '--inventory', inventory, '--json', '--person', 'ana'])).stdout)[0].caCertificates;
    expect((await certificates()).map((c: { serial: string; principals: string[] }) => [c.serial, c.principals.join(',')])).toEqual([['1', 'ana'], ['2', 'ana,ops']]);

    const revoked = await runOk(process.execPath, [CLI, 'ca', 'revoke', '--dir', ca, '--key-id', 'ana-ops', '--inventory', inventory]);
    expect(revoked.stderr).toMatch(/inventory: marked the certificates of enrollment \d+ revoked/);
    expect((await certificates()).map((c: { revokedAt?: string }) => c.revokedAt !== undefined)).toEqual([false, true]);
    await runOk(process.execPath, [CLI, 'ca', 'revoke', '--dir', ca, '--public-key', pub, '--inventory', inventory]);
    expect((await certificates()).map((c: { revokedAt?: string }) => c.revokedAt !== undefined)).toEqual([true, true]);
  });

  test('bad flags are refused with what is accepted', async () => {
    const bad = await run(process.execPath, [CLI, 'inventory', 'list', '--inventory', inventory, '--status', 'gone', '--expiring-within', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--status takes active, replaced, revoked, all, not "gone"/);
    expect(bad.stderr).toMatch(/--expiring-within takes a duration such as 30d/);
    const unknown = await run(process.execPath, [CLI, 'inventory', 'show', 'nobody', '--inventory', inventory]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/nothing in the inventory for "nobody"/);
  });

  test('without --inventory, enroll records into ~/.local/state/piv-enroll/inventory.sqlite (XDG_STATE_HOME)', async () => {
    const state = scratch();
    const env = { ...ENV, PIV_ENROLL_INVENTORY: '', XDG_STATE_HOME: state };
    await runOk(process.execPath, [CLI, 'enroll', '--virtual', join(state, 'card.json'), '--user', 'cy', '--algorithm', 'ECCP256', '--yes'], { env });
    const listed = JSON.parse((await runOk(process.execPath, [CLI, 'inventory', 'list', '--json'], { env })).stdout);
    expect(listed.map((r: { person: string }) => r.person)).toEqual(['cy']);
    expect((await runOk('stat', ['-c', '%a', join(state, 'piv-enroll', 'inventory.sqlite')])).stdout.trim()).toBe('600');
  });
});
