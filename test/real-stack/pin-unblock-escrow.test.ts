/**
 * The helpdesk's unblock, through pcscd: two cards enrolled with a random PUK escrowed to the site's age key, one card's
 * PIN blocked (by wrong PINs through piv-enroll itself, the last one allowed explicitly), `pin unblock --from-escrow`
 * finds that card's escrow by the serial the card reports and sets a new PIN, which then VERIFYs; the other card is
 * untouched, and the inventory records the escrow opening and the unblock for the right card only.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { CLI, READER, SECOND_READER, run, runOk, scratchDir, serveCard, withSession, type ServedCard } from './bench.js';

const PIN = '24681357';
const NEW_PIN = '86421357';
const WRONG = '11110000';

describe.skipIf(!inject('benchReady'))('pin unblock --from-escrow (real stack)', () => {
  const cards: ServedCard[] = [];
  afterEach(async () => {
    for (const card of cards.splice(0)) expect(await card.stop()).toBe(0);
  });

  test('the escrowed PUK unblocks the right card; the new PIN verifies', async () => {
    const dir = scratchDir();
    const inventory = join(dir, 'inventory.sqlite');
    const identity = await generateX25519Identity();
    const key = join(dir, 'escrow-key.txt');
    writeFileSync(key, `${identity}\n`, { mode: 0o600 });
    chmodSync(key, 0o600);
    const recipient = await identityToRecipient(identity);
    cards.push(await serveCard({ state: join(dir, 'a.json'), serial: 6101 }), await serveCard({ state: join(dir, 'b.json'), port: 35966, serial: 6102 }));
    for (const [reader, user] of [[READER, 'ana'], [SECOND_READER, 'bo']] as const) {
      await runOk(process.execPath, [CLI, 'enroll', '--reader', reader, '--user', user, '--algorithm', 'ECCP256', '--random-puk', '--escrow-recipient', recipient, '--yes', '--pkcs11', 'none', '--inventory', inventory], {
        env: { PIV_NEW_PIN: PIN }, timeoutMs: 120_000,
      });
    }

    // Block card 6101's PIN with piv-enroll's own PIN guard: two wrong PINs, then the last try only when allowed.
    const change = (extra: string[] = []) => run(process.execPath, [CLI, 'pin', 'change', '--reader', READER, '--inventory', inventory, ...extra], { env: { PIV_PIN: WRONG, PIV_NEW_PIN: NEW_PIN } });
    expect((await change()).stderr).toMatch(/wrong PIN, 2 attempts left/);
    expect((await change()).stderr).toMatch(/wrong PIN, 1 attempt left/);
    expect((await change()).stderr).toMatch(/only one PIN try is left/);
    expect((await change(['--allow-last-pin-try'])).stderr).toMatch(/the PIN is now blocked/);
    expect(await withSession((s) => s.getPinAttempts(), READER)).toBe(0);

    // Another site's key opens nothing: refused before the card is changed (PUK tries untouched).
    const otherKey = join(dir, 'other-key.txt');
    writeFileSync(otherKey, `${await generateX25519Identity()}\n`, { mode: 0o600 });
    const refused = await run(process.execPath, [CLI, 'pin', 'unblock', '--reader', READER, '--from-escrow', '--escrow-key', otherKey, '--inventory', inventory], { env: { PIV_NEW_PIN: NEW_PIN } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/this escrow key does not open card 6101's escrow/);
    expect(await withSession(async (s) => [await s.getPinAttempts(), (await s.getPukMetadata()).attemptsRemaining], READER)).toEqual([0, 3]);

    const unblocked = await run(process.execPath, [CLI, 'pin', 'unblock', '--reader', READER, '--from-escrow', '--escrow-key', key, '--inventory', inventory, '--json'], { env: { PIV_NEW_PIN: NEW_PIN } });
    expect(unblocked.code, unblocked.stderr).toBe(0);
    expect(JSON.parse(unblocked.stdout)).toMatchObject({ action: 'done', card: { serial: 6101, pinTriesLeft: 0, pukTriesLeft: 3 }, recorded: true });
    // The new PIN verifies on card 6101; card 6102 still has its own PIN and every PUK try.
    await withSession(async (s) => {
      await s.verifyPin(NEW_PIN);
      expect(await s.getPinAttempts()).toBe(3);
    }, READER);
    await withSession(async (s) => {
      await s.verifyPin(PIN);
      expect((await s.getPukMetadata()).attemptsRemaining).toBe(3);
    }, SECOND_READER);

    const shown = JSON.parse((await runOk(process.execPath, [CLI, 'inventory', 'show', '6101', '--json', '--inventory', inventory])).stdout);
    expect(shown[0].cardEvents.map((e: { kind: string }) => e.kind)).toEqual(['pin-unblock']);
    const events = shown[0].events.map((e: { kind: string; detail: string }) => `${e.kind}: ${e.detail}`).join('\n');
    expect(events).toMatch(/escrow-show: card 6101: escrow opened by .* \(pin-unblock\)/);
    const other = JSON.parse((await runOk(process.execPath, [CLI, 'inventory', 'show', '6102', '--json', '--inventory', inventory])).stdout);
    expect(other[0].events.map((e: { kind: string }) => e.kind)).not.toContain('escrow-show');
    expect(unblocked.stdout + unblocked.stderr).not.toMatch(/AGE-SECRET-KEY/);
    // A reset's plan says the escrow will no longer apply.
    const plan = await run(process.execPath, [CLI, 'reset', '--reader', READER, '--force', '--dry-run', '--inventory', inventory]);
    expect(plan.stdout).toMatch(/the escrowed PUK and management key of this card no longer apply once it is reset/);
  });

  test('a card without an escrow: refused before the card is changed', async () => {
    const dir = scratchDir();
    const inventory = join(dir, 'inventory.sqlite');
    const other = join(dir, 'other-key.txt');
    writeFileSync(other, `${await generateX25519Identity()}\n`, { mode: 0o600 });
    cards.push(await serveCard({ state: join(dir, 'c.json'), serial: 6103 }));
    const unknown = await run(process.execPath, [CLI, 'pin', 'unblock', '--reader', READER, '--from-escrow', '--escrow-key', other, '--inventory', inventory], { env: { PIV_NEW_PIN: NEW_PIN } });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/holds no escrow for card 6103/);
    expect(await withSession(async (s) => [await s.getPinAttempts(), (await s.getPukMetadata()).attemptsRemaining], READER)).toEqual([3, 3]);
  });
});
