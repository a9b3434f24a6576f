/**
 * The card's later life through the CLI, on the virtual card: pin change, pin unblock and reset, each under the PIN
 * guard (tries read first, one try spent per wrong value, the last try only with --allow-last-pin-try), each bad input
 * refused with the card's state file byte-identical, each change recorded in the inventory's card events.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { run, runOk, type RunResult } from '../support/run.js';

const CLI = new URL('../../bin/piv-enroll', import.meta.url).pathname;
const PIN = '24681357';
const PUK = '97531864';
const NEW_PIN = '11223344';
const WRONG = '99990000';

interface CardFile {
  pin: { paddedHex: string; retriesLeft: number; retriesTotal: number };
  puk: { paddedHex: string; retriesLeft: number; retriesTotal: number };
  keys: Record<string, unknown>;
  serial: number;
}

const padded = (value: string): string => Buffer.concat([Buffer.from(value), Buffer.alloc(8 - value.length, 0xff)]).toString('hex').toUpperCase();
const state = (card: string): CardFile => JSON.parse(readFileSync(card, 'utf8')) as CardFile;
function setTries(card: string, pin: number | undefined, puk: number | undefined): void {
  const s = JSON.parse(readFileSync(card, 'utf8')) as CardFile;
  if (pin !== undefined) s.pin.retriesLeft = pin;
  if (puk !== undefined) s.puk.retriesLeft = puk;
  writeFileSync(card, JSON.stringify(s), { mode: 0o600 });
}

describe('pin change, pin unblock, reset', () => {
  const base = mkdtempSync(join(tmpdir(), 'piv-enroll-card-life-'));
  let counter = 0;
  const scene = (): { dir: string; card: string; inventory: string } => {
    const dir = join(base, `case-${counter++}`);
    cpSync(join(base, 'prepared'), dir, { recursive: true });
    return { dir, card: join(dir, 'card.json'), inventory: join(dir, 'inventory.sqlite') };
  };
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> => run(process.execPath, [CLI, ...args], { env: { PIV_PIN: '', PIV_PUK: '', PIV_NEW_PIN: '', ...env } });
  const showCard = async (inventory: string, serial: number): Promise<Array<{ status: string; cardStatus: string; cardEvents: Array<{ kind: string; detail: string }> }>> =>
    JSON.parse((await runOk(process.execPath, [CLI, 'inventory', 'show', String(serial), '--json', '--inventory', inventory])).stdout);

  beforeAll(async () => {
    const dir = join(base, 'prepared');
    mkdirSync(dir);
    await runOk(process.execPath, [CLI, 'enroll', '--virtual', join(dir, 'card.json'), '--user', 'ana', '--algorithm', 'ECCP256', '--yes', '--pkcs11', 'none', '--inventory', join(dir, 'inventory.sqlite')], {
      env: { PIV_NEW_PIN: PIN, PIV_NEW_PUK: PUK },
    });
  }, 120_000);

  describe('pin change', () => {
    test('the PIN is changed (the new one is on the card, the tries full) and recorded as a card event', async () => {
      const s = scene();
      const result = await cli(['pin', 'change', '--virtual', s.card, '--inventory', s.inventory], { PIV_PIN: PIN, PIV_NEW_PIN: NEW_PIN });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/PIN changed\. \(recorded in the inventory\)/);
      expect(state(s.card).pin).toMatchObject({ paddedHex: padded(NEW_PIN), retriesLeft: 3 });
      const [record] = await showCard(s.inventory, state(s.card).serial);
      expect(record!.cardEvents.map((e) => e.kind)).toEqual(['pin-change']);
      expect(result.stdout + result.stderr).not.toContain(PIN);
      expect(result.stdout + result.stderr).not.toContain(NEW_PIN);
    });

    test('a wrong current PIN costs exactly one try, says how many are left, and is not recorded', async () => {
      const s = scene();
      const result = await cli(['pin', 'change', '--virtual', s.card, '--inventory', s.inventory], { PIV_PIN: WRONG, PIV_NEW_PIN: NEW_PIN });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/wrong PIN, 2 attempts left \(a blocked PIN is unblocked with the PUK: piv-enroll pin unblock\)/);
      expect(state(s.card).pin).toMatchObject({ paddedHex: padded(PIN), retriesLeft: 2 });
      expect(result.stdout + result.stderr).not.toContain(WRONG);
      expect((await showCard(s.inventory, state(s.card).serial))[0]!.cardEvents).toEqual([]);
    });

    test('at one try left nothing is sent without --allow-last-pin-try, whatever the PIN; with it, the right PIN works', async () => {
      for (const pin of [WRONG, PIN]) {
        const s = scene();
        setTries(s.card, 1, undefined);
        const before = readFileSync(s.card);
        const result = await cli(['pin', 'change', '--virtual', s.card, '--inventory', s.inventory], { PIV_PIN: pin, PIV_NEW_PIN: NEW_PIN });
        expect(result.code).toBe(1);
        expect(result.stderr).toMatch(/only one PIN try is left.*--allow-last-pin-try/s);
        expect(readFileSync(s.card).equals(before)).toBe(true);
      }
      const s = scene();
      setTries(s.card, 1, undefined);
      const allowed = await cli(['pin', 'change', '--virtual', s.card, '--inventory', s.inventory, '--allow-last-pin-try'], { PIV_PIN: PIN, PIV_NEW_PIN: NEW_PIN });
      expect(allowed.code, allowed.stderr).toBe(0);
      expect(state(s.card).pin).toMatchObject({ paddedHex: padded(NEW_PIN), retriesLeft: 3 });
    });

    test.each([
      ['too short', PIN, '12345', /the new PIN: a PIN or PUK is 6 to 8 characters/],
      ['too long', PIN, '123456789', /the new PIN: a PIN or PUK is 6 to 8 characters/],
      ['the factory default', PIN, '123456', /the new PIN: that is the factory default/],
      ['the current PIN', PIN, PIN, /the new PIN is the current PIN/],
      ['a current PIN that cannot be right', '1234', NEW_PIN, /the current PIN is 6 to 8 characters/],
    ])('a new PIN that is %s is refused before the card is touched (state byte-identical, no try spent)', async (_name, current, next, message) => {
      const s = scene();
      const before = readFileSync(s.card);
      const result = await cli(['pin', 'change', '--virtual', s.card, '--inventory', s.inventory], { PIV_PIN: current, PIV_NEW_PIN: next });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(readFileSync(s.card).equals(before)).toBe(true);
    });

    test('without a terminal, missing secrets are listed (never asked, never taken from argv); --dry-run changes nothing', async () => {
      const s = scene();
      const before = readFileSync(s.card);
      const missing = await cli(['pin', 'change', '--virtual', s.card, '--inventory', s.inventory]);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/missing \(no terminal to ask on\): the current PIN \(--pin-file FILE or PIV_PIN\); the new PIN/);
      const dry = await cli(['pin', 'change', '--virtual', s.card, '--inventory', s.inventory, '--dry-run', '--json'], { PIV_PIN: PIN, PIV_NEW_PIN: NEW_PIN });
      expect(dry.code, dry.stderr).toBe(0);
      expect(JSON.parse(dry.stdout)).toMatchObject({ action: 'planned', card: { pinTriesLeft: 3, pukTriesLeft: 3, virtual: true }, recorded: false });
      expect(readFileSync(s.card).equals(before)).toBe(true);
    });
  });

  describe('pin unblock', () => {
    test('a blocked PIN gets a new value and its tries back with the PUK, recorded', async () => {
      const s = scene();
      setTries(s.card, 0, undefined);
      const result = await cli(['pin', 'unblock', '--virtual', s.card, '--inventory', s.inventory, '--json'], { PIV_PUK: PUK, PIV_NEW_PIN: NEW_PIN });
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ action: 'done', card: { pinTriesLeft: 0, pukTriesLeft: 3 }, recorded: true });
      expect(state(s.card).pin).toMatchObject({ paddedHex: padded(NEW_PIN), retriesLeft: 3 });
      const [record] = await showCard(s.inventory, state(s.card).serial);
      expect(record!.cardEvents).toMatchObject([{ kind: 'pin-unblock', detail: 'PIN set with the PUK (given)' }]);
      // The new PIN works: a PIN change with it succeeds.
      const change = await cli(['pin', 'change', '--virtual', s.card, '--inventory', 'none'], { PIV_PIN: NEW_PIN, PIV_NEW_PIN: PIN });
      expect(change.code, change.stderr).toBe(0);
    });

    test('a wrong PUK costs one PUK try and says how many are left; the PIN is unchanged', async () => {
      const s = scene();
      setTries(s.card, 0, undefined);
      const result = await cli(['pin', 'unblock', '--virtual', s.card, '--inventory', s.inventory], { PIV_PUK: WRONG, PIV_NEW_PIN: NEW_PIN });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/wrong PUK, 2 attempts left/);
      expect(state(s.card).puk.retriesLeft).toBe(2);
      expect(state(s.card).pin).toMatchObject({ paddedHex: padded(PIN), retriesLeft: 0 });
      expect(result.stdout + result.stderr).not.toContain(WRONG);
    });

    test('a blocked PUK is reported with what is left (a reset), nothing sent; one PUK try left needs --allow-last-pin-try', async () => {
      const blocked = scene();
      setTries(blocked.card, 0, 0);
      const before = readFileSync(blocked.card);
      const result = await cli(['pin', 'unblock', '--virtual', blocked.card, '--inventory', blocked.inventory, '--allow-last-pin-try'], { PIV_PUK: PUK, PIV_NEW_PIN: NEW_PIN });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/the PUK is blocked: once the PIN is blocked too, only a reset of the PIV application helps/);
      expect(readFileSync(blocked.card).equals(before)).toBe(true);

      const last = scene();
      setTries(last.card, 0, 1);
      const lastBefore = readFileSync(last.card);
      const refused = await cli(['pin', 'unblock', '--virtual', last.card, '--inventory', last.inventory], { PIV_PUK: PUK, PIV_NEW_PIN: NEW_PIN });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/only one PUK try is left/);
      expect(readFileSync(last.card).equals(lastBefore)).toBe(true);
      const allowed = await cli(['pin', 'unblock', '--virtual', last.card, '--inventory', last.inventory, '--allow-last-pin-try'], { PIV_PUK: PUK, PIV_NEW_PIN: NEW_PIN });
      expect(allowed.code, allowed.stderr).toBe(0);
      expect(state(last.card).puk.retriesLeft).toBe(3);
    });
  });

  describe('reset', () => {
    test.each([
      ['PIN and PUK have all their tries', 3, 3],
      ['the PUK has tries left', 0, 2],
      ['the PIN has one try left', 1, 0],
    ])('refused while %s: the card state byte-identical, nothing recorded', async (_name, pin, puk) => {
      const s = scene();
      setTries(s.card, pin, puk);
      const before = readFileSync(s.card);
      const result = await cli(['reset', '--virtual', s.card, '--inventory', s.inventory, '--yes']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/not reset: the PIN has .* left and the PUK .*--force/s);
      expect(readFileSync(s.card).equals(before)).toBe(true);
      const [record] = await showCard(s.inventory, state(s.card).serial);
      expect(record).toMatchObject({ status: 'active', cardStatus: 'active', cardEvents: [] });
    });

    test('with PIN and PUK blocked the card is reset, the reset recorded, the card\'s enrollments revoked', async () => {
      const s = scene();
      setTries(s.card, 0, 0);
      const serial = state(s.card).serial;
      const dry = await cli(['reset', '--virtual', s.card, '--inventory', s.inventory, '--dry-run']);
      expect(dry.stdout).toMatch(/Reset card \d+[\s\S]*enrollment 1 \(ana, slot 9C[\s\S]*becomes revoked[\s\S]*\(dry run: nothing changed\)/);
      const result = await cli(['reset', '--virtual', s.card, '--inventory', s.inventory, '--yes', '--json']);
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ action: 'done', mode: 'reset', revokedEnrollments: [1], recorded: true });
      const after = state(s.card);
      expect(after.pin).toMatchObject({ paddedHex: padded('123456'), retriesLeft: 3 });
      expect(after.puk).toMatchObject({ paddedHex: padded('12345678'), retriesLeft: 3 });
      expect(Object.keys(after.keys).filter((k) => !/f9/i.test(k))).toEqual([]);
      const [record] = await showCard(s.inventory, serial);
      expect(record).toMatchObject({ status: 'revoked', cardStatus: 'reset' });
      expect(record!.cardEvents).toMatchObject([{ kind: 'reset', detail: 'PIV application reset (PIN and PUK were blocked)' }]);
      const text = await runOk(process.execPath, [CLI, 'inventory', 'list', '--status', 'all', '--inventory', s.inventory]);
      expect(text.stdout).toMatch(new RegExp(`${serial} \\(virtual, reset\\)`));
    });

    test('--force blocks PIN and PUK on purpose only when confirmed (--yes without a terminal), then resets', async () => {
      const s = scene();
      const before = readFileSync(s.card);
      const unconfirmed = await cli(['reset', '--virtual', s.card, '--inventory', s.inventory, '--force']);
      expect(unconfirmed.code).toBe(2);
      expect(unconfirmed.stderr).toMatch(/no terminal to confirm on: give --yes/);
      expect(readFileSync(s.card).equals(before)).toBe(true);
      const forced = await cli(['reset', '--virtual', s.card, '--inventory', s.inventory, '--force', '--yes', '--json']);
      expect(forced.code, forced.stderr).toBe(0);
      expect(JSON.parse(forced.stdout)).toMatchObject({ action: 'done', mode: 'block-then-reset', card: { pinTriesLeft: 3, pukTriesLeft: 3 } });
      expect(state(s.card).pin).toMatchObject({ paddedHex: padded('123456'), retriesLeft: 3 });
      expect((await showCard(s.inventory, state(s.card).serial))[0]!.cardEvents).toMatchObject([{ kind: 'reset', detail: expect.stringMatching(/blocked on purpose \(--force\)/) }]);
    });

    test('firmware before 5.3 (PUK tries unknown): with the PIN blocked the card itself refuses while the PUK has tries', async () => {
      const dir = mkdtempSync(join(base, 'old-'));
      const card = join(dir, 'card.json');
      await runOk(process.execPath, [CLI, 'status', '--virtual', card, '--firmware', '5.2.7']);
      setTries(card, 0, undefined);
      const before = readFileSync(card);
      const refused = await cli(['reset', '--virtual', card, '--inventory', 'none', '--yes']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/the card refused, so its PUK still has tries/);
      expect(readFileSync(card).equals(before)).toBe(true);
      setTries(card, 0, 0);
      const reset = await cli(['reset', '--virtual', card, '--inventory', 'none', '--yes']);
      expect(reset.code, reset.stderr).toBe(0);
      expect(state(card).pin.retriesLeft).toBe(3);
    });
  });
});
