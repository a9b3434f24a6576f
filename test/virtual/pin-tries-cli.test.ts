/**
 * Standing rule 1, through the CLI: every command that uses the PIN (enroll, doctor, a CA on a card, rekey) reads the
 * tries first, refuses the last try without --allow-last-pin-try, and spends at most one try per wrong PIN. The tries
 * left are read from the card's state afterwards.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { run, runOk } from '../support/run.js';

const CLI = new URL('../../bin/piv-enroll', import.meta.url).pathname;
const PIN = '24681357';
const WRONG = '11112222';
const HARDENING = { PIV_NEW_PIN: PIN, PIV_NEW_PUK: '97531864' };

interface Scene {
  card: string;
  inventory: string;
  ca: string;
  dir: string;
}

/** The command × the scene's files → argv (the PIN comes from PIV_PIN). */
const COMMANDS: Record<string, (s: Scene) => string[]> = {
  enroll: (s) => ['enroll', '--virtual', s.card, '--slot', '9a', '--user', 'ana', '--algorithm', 'ECCP256', '--yes', '--inventory', 'none'],
  doctor: (s) => ['doctor', '--virtual', s.card, '--slot', '9c', '--module', '/nonexistent.so', '--json'],
  'ca sign (CA on the card)': (s) => ['ca', 'sign', '--dir', s.ca, '--virtual', s.card, '--public-key', join(s.dir, 'user.pub'), '--principals', 'ana', '--key-id', 'ana', '--yes', '--inventory', 'none'],
  rekey: (s) => ['rekey', '--virtual', s.card, '--force', '--inventory', s.inventory, '--out', join(s.dir, 'rekeyed'), '--pkcs11', 'none'],
};

const triesLeft = (card: string): number => (JSON.parse(readFileSync(card, 'utf8')) as { pin: { retriesLeft: number } }).pin.retriesLeft;
function setTriesLeft(card: string, left: number): void {
  const state = JSON.parse(readFileSync(card, 'utf8')) as { pin: { retriesLeft: number } };
  state.pin.retriesLeft = left;
  writeFileSync(card, JSON.stringify(state), { mode: 0o600 });
}

describe('PIN tries through every command that uses the PIN', () => {
  const base = mkdtempSync(join(tmpdir(), 'piv-enroll-pin-tries-'));
  let counter = 0;
  /** A copy of the prepared card, CA and inventory, so each case starts from the same state. */
  const scene = (): Scene => {
    const dir = join(base, `case-${counter++}`);
    cpSync(join(base, 'prepared'), dir, { recursive: true });
    return { dir, card: join(dir, 'card.json'), inventory: join(dir, 'inventory.sqlite'), ca: join(dir, 'ca') };
  };

  beforeAll(async () => {
    const dir = join(base, 'prepared');
    mkdirSync(dir);
    const card = join(dir, 'card.json');
    const inventory = join(dir, 'inventory.sqlite');
    await runOk(process.execPath, [CLI, 'enroll', '--virtual', card, '--user', 'ana', '--algorithm', 'ECCP256', '--yes', '--pkcs11', 'none', '--inventory', inventory, '--out', join(dir, 'out')], { env: HARDENING });
    await runOk(process.execPath, [CLI, 'enroll', '--virtual', card, '--slot', '9d', '--user', 'ca', '--algorithm', 'ECCP256', '--yes', '--pkcs11', 'none', '--inventory', 'none'], { env: { PIV_PIN: PIN } });
    await runOk(process.execPath, [CLI, 'ca', 'init', '--dir', join(dir, 'ca'), '--on-card', '--slot', '9d', '--algorithm', 'ecdsa-p256', '--virtual', card], { env: { PIV_PIN: PIN } });
    cpSync(join(dir, 'out', 'piv-9c.pub'), join(dir, 'user.pub'));
    expect(triesLeft(card)).toBe(3);
  }, 120_000);

  const names = Object.keys(COMMANDS);

  test.each(names)('%s: a wrong PIN with 3 tries left costs exactly one, and says 2 are left and how to unblock', async (name) => {
    const s = scene();
    const result = await run(process.execPath, [CLI, ...COMMANDS[name]!(s)], { env: { PIV_PIN: WRONG, PIV_CA_PIN: WRONG } });
    expect(result.code, result.stderr).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/wrong PIN, 2 attempts left \(a blocked PIN is unblocked with the PUK/);
    expect(triesLeft(s.card)).toBe(2);
    expect(result.stdout + result.stderr).not.toContain(WRONG);
  });

  test.each(names)('%s: at one try left nothing is tried without --allow-last-pin-try, whatever the PIN', async (name) => {
    for (const pin of [WRONG, PIN]) {
      const s = scene();
      setTriesLeft(s.card, 1);
      const result = await run(process.execPath, [CLI, ...COMMANDS[name]!(s)], { env: { PIV_PIN: pin } });
      expect(result.code, result.stderr).not.toBe(0);
      expect(result.stdout + result.stderr).toMatch(/only one PIN try is left.*--allow-last-pin-try/s);
      expect(triesLeft(s.card)).toBe(1);
    }
  });

  test.each(names)('%s: --allow-last-pin-try with the right PIN at one try left works (and restores the tries)', async (name) => {
    const s = scene();
    setTriesLeft(s.card, 1);
    const result = await run(process.execPath, [CLI, ...COMMANDS[name]!(s), '--allow-last-pin-try'], { env: { PIV_PIN: PIN } });
    expect(triesLeft(s.card), result.stderr).toBe(3);
  });

  test.each(names)('%s: a blocked PIN is reported, and nothing is tried', async (name) => {
    const s = scene();
    setTriesLeft(s.card, 0);
    const before = readFileSync(s.card);
    const result = await run(process.execPath, [CLI, ...COMMANDS[name]!(s), '--allow-last-pin-try'], { env: { PIV_PIN: PIN } });
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/the PIN is blocked/);
    expect(readFileSync(s.card).equals(before)).toBe(true);
  });
});
