/**
 * pin change and reset through pcscd, checked with ykman (another program reading the same card): the PIN piv-enroll
 * set is the one ykman accepts; a reset is refused while the tries are left (ykman still sees the key and 3/3 tries),
 * and `reset --force --yes` leaves a factory-fresh PIV application, as ykman reports it.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { CLI, READER, readState, run, runOk, scratchDir, serveCard, type ServedCard } from './bench.js';

const PIN = '24681357';
const NEW_PIN = '86421357';
const ykman = (args: string[], input?: string) => run('ykman', ['--reader', READER, 'piv', ...args], { input });

describe.skipIf(!inject('benchReady'))('pin change and reset, checked with ykman (real stack)', () => {
  let card: ServedCard | undefined;
  afterEach(async () => {
    expect(await card?.stop()).toBe(0);
    card = undefined;
  });

  test('the changed PIN is the one ykman accepts; reset refused with tries left, then forced', async () => {
    const dir = scratchDir();
    const inventory = join(dir, 'inventory.sqlite');
    card = await serveCard({ state: join(dir, 'card.json'), serial: 6201 });
    await runOk(process.execPath, [CLI, 'enroll', '--reader', READER, '--user', 'ana', '--algorithm', 'ECCP256', '--yes', '--pkcs11', 'none', '--inventory', inventory], {
      env: { PIV_NEW_PIN: PIN, PIV_NEW_PUK: '97531864' }, timeoutMs: 120_000,
    });
    await runOk(process.execPath, [CLI, 'pin', 'change', '--reader', READER, '--inventory', inventory], { env: { PIV_PIN: PIN, PIV_NEW_PIN: NEW_PIN } });
    // ykman verifies the new PIN (it changes it to itself: the old value would be refused with a try counted).
    const changed = await ykman(['access', 'change-pin'], `${NEW_PIN}\n${PIN}\n${PIN}\n`);
    expect(changed.code, changed.stderr).toBe(0);

    const refused = await run(process.execPath, [CLI, 'reset', '--reader', READER, '--inventory', inventory, '--yes']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/not reset: the PIN has 3 tries left and the PUK 3 tries/);
    const info = await ykman(['info']);
    expect(info.stdout).toMatch(/PIN tries remaining: 3\/3/);
    expect(info.stdout).toMatch(/Slot 9C/i);
    expect(Object.keys(readState(card.state).keys).map((k) => k.toUpperCase())).toContain('9C');

    const forced = await run(process.execPath, [CLI, 'reset', '--reader', READER, '--inventory', inventory, '--force', '--yes']);
    expect(forced.code, forced.stderr).toBe(0);
    const after = await ykman(['info']);
    expect(after.stdout).toMatch(/Using default PIN/);
    expect(after.stdout).toMatch(/PIN tries remaining: 3\/3/);
    expect(after.stdout).not.toMatch(/Slot 9C/i);
    const shown = JSON.parse((await runOk(process.execPath, [CLI, 'inventory', 'show', '6201', '--json', '--inventory', inventory])).stdout);
    expect(shown[0]).toMatchObject({ status: 'revoked', cardStatus: 'reset' });
    expect(shown[0].cardEvents.map((e: { kind: string }) => e.kind)).toEqual(['pin-change', 'reset']);
  });
});
