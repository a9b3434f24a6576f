/** `piv-enroll batch` refuses a bad manifest before touching any reader, listing every problem with its line. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { run } from '../support/run.js';

const CLI = new URL('../../bin/piv-enroll', import.meta.url).pathname;

describe('batch --manifest with errors', () => {
  test('every problem is listed with its line, exit 2, nothing started', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'piv-enroll-batch-'));
    const manifest = join(dir, 'intake.csv');
    writeFileSync(manifest, 'user,card-serial,algorithm,hosts\nana,1001,RSA9999,web1\nbo,,ECCP256,-oProxyCommand=x\nana,1001,ECCP256,\n');
    const result = await run(process.execPath, [CLI, 'batch', '--manifest', manifest, '--yes', '--inventory', join(dir, 'inventory.sqlite')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`${manifest}:2: algorithm "RSA9999"`));
    expect(result.stderr).toMatch(new RegExp(`${manifest}:3: .*-oProxyCommand=x`));
    expect(result.stderr).toMatch(new RegExp(`${manifest}:4: user "ana" also on line 2`));
    expect(result.stderr).toMatch(/card-serial 1001 also on line 2/);
    expect(result.stdout).toBe('');
  });

  test('without a terminal, a person without card-serial cannot be matched to a card', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'piv-enroll-batch-'));
    const manifest = join(dir, 'intake.yaml');
    writeFileSync(manifest, '- user: ana\n  card-serial: 5\n- user: bo\n');
    const result = await run(process.execPath, [CLI, 'batch', '--manifest', manifest, '--yes', '--inventory', join(dir, 'inventory.sqlite')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${manifest}:3: bo has no card-serial: without a terminal, people are matched to cards by serial`);
  });

  test('random PINs per card with nowhere to hand them out are refused before any reader; --escrow-recipient typos too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'piv-enroll-batch-'));
    const manifest = join(dir, 'intake.yaml');
    writeFileSync(manifest, '- user: ana\n  card-serial: 5\n');
    const inventory = join(dir, 'inventory.sqlite');
    const bare = await run(process.execPath, [CLI, 'batch', '--manifest', manifest, '--yes', '--inventory', inventory], { env: {} });
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/batch gives every factory-fresh card its own random PIN and PUK: say where they go for each person \(--handout DIR for the PIN, --pin-out DIR; the PUK can go to --escrow-recipient instead\)/);
    // A PIN for everyone is still possible, said out loud; the PUK is then the one generated value without a destination.
    const shared = await run(process.execPath, [CLI, 'batch', '--manifest', manifest, '--yes', '--inventory', inventory], { env: { PIV_NEW_PIN: '24681357' } });
    expect(shared.code).toBe(2);
    expect(shared.stderr).toMatch(/warning: every factory-fresh card gets the same PIN/);
    expect(shared.stderr).toMatch(/its own random PUK: say where they go/);
    expect(shared.stderr).not.toContain('24681357');
    const typo = await run(process.execPath, [CLI, 'batch', '--manifest', manifest, '--yes', '--inventory', inventory, '--escrow-recipient', 'age1nope'], { env: {} });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/--escrow-recipient: "age1nope" is not an age recipient/);
  });

  test('--inventory none is refused: the inventory is what makes a batch resumable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'piv-enroll-batch-'));
    const manifest = join(dir, 'intake.yaml');
    writeFileSync(manifest, '- user: ana\n  card-serial: 5\n');
    const result = await run(process.execPath, [CLI, 'batch', '--manifest', manifest, '--yes', '--inventory', 'none']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--inventory none is not possible here/);
  });
});
