/**
 * `piv-enroll batch --handout DIR` through the real stack (pcscd, two vpcd readers): one PDF per person named by
 * user and card serial, listed in the JSON report and on stderr; a rerun with --force is refused before any card is
 * touched when a handout is already there (the cards' state files byte-identical); a random PIN that only the handout
 * would carry survives an enrollment that fails after the card took it.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { CLI, run, runOk, scratchDir, serveCard, withSession, type ServedCard } from './bench.js';

const ENV = { ...process.env, PIV_NEW_PIN: '24681357', PIV_NEW_PUK: '97531864' };

describe.skipIf(!inject('benchReady'))('piv-enroll batch --handout', () => {
  const cards: ServedCard[] = [];
  afterEach(async () => {
    for (const card of cards.splice(0)) expect(await card.stop()).toBe(0);
  });

  test('one handout per person; a second run that would replace one refuses before any card', async () => {
    const dir = scratchDir();
    const manifest = join(dir, 'intake.csv');
    writeFileSync(manifest, 'user,card-serial,algorithm\nana,3001,ECCP256\nbo,3002,ECCP256\n');
    const inventory = join(dir, 'inventory.sqlite');
    const handouts = join(dir, 'handouts');
    const ana = await serveCard({ serial: 3001 });
    const bo = await serveCard({ serial: 3002, port: 35966 });
    cards.push(ana, bo);
    const batch = (...extra: string[]) =>
      run(process.execPath, [CLI, 'batch', '--manifest', manifest, '--inventory', inventory, '--yes', '--json', '--wait', '1m', '--pkcs11', 'none', '--handout', handouts, '--helpdesk', 'room 101', ...extra], { env: ENV, timeoutMs: 120_000 });

    const first = await batch();
    expect(first.code, first.stderr).toBe(0);
    const people = JSON.parse(first.stdout).people as Array<{ user: string; handout?: string; fingerprint: string; timings?: Record<string, { ms: number }> }>;
    expect(people.map((p) => p.handout)).toEqual([join(handouts, 'ana-3001.pdf'), join(handouts, 'bo-3002.pdf')]);
    // Each person's step timings, as enroll --json has them.
    for (const person of people) expect(['connect', 'certificate', 'handout'].map((step) => typeof person.timings?.[step]?.ms)).toEqual(['number', 'number', 'number']);
    for (const person of people) {
      expect(first.stderr).toContain(`Handout for ${person.user}: ${person.handout}`);
      expect(statSync(person.handout!).mode & 0o777).toBe(0o644); // no PIN on it: the batch's new PIN is the operator's
      const text = (await runOk('pdftotext', [person.handout!, '-'])).stdout.replace(/\s+/g, ' ');
      for (const expected of [person.user, person.handout!.match(/-(\d+)\.pdf$/)![1]!, person.fingerprint, 'room 101', 'PKCS11Provider']) expect(text, expected).toContain(expected);
      expect(text).not.toContain('VIRTUAL TEST CARD'); // in a reader, through pcscd: printed like a real card
      expect(text).not.toContain('24681357');
    }
    expect(first.stdout + first.stderr).not.toContain('24681357');

    // Everyone is enrolled: a plain rerun has nobody to enroll and writes nothing.
    const rerun = await batch();
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(JSON.parse(rerun.stdout).people.map((p: { status: string }) => p.status)).toEqual(['already-enrolled', 'already-enrolled']);

    // --force would enroll both again: their handouts exist, so nothing starts.
    const before = [readFileSync(ana.state), readFileSync(bo.state), readFileSync(people[0]!.handout!)];
    const forced = await batch('--force');
    expect(forced.code).toBe(1);
    expect(forced.stderr).toContain('cannot start the batch');
    expect(forced.stderr).toMatch(/line 2: the handout .*ana-3001\.pdf exists already/);
    expect(forced.stderr).toMatch(/line 3: the handout .*bo-3002\.pdf exists already/);
    expect([readFileSync(ana.state), readFileSync(bo.state), readFileSync(people[0]!.handout!)].map((b, i) => b.equals(before[i]!))).toEqual([true, true, true]);
  });

  test('a random PIN only the handout would carry: when the enrollment fails after the card took it, the PIN is kept in a 0600 file', async () => {
    const dir = scratchDir();
    const manifest = join(dir, 'intake.csv');
    writeFileSync(manifest, 'user,card-serial,algorithm\nana,3011,ECCP256\n');
    const handouts = join(dir, 'handouts');
    // no-space: the certificate does not fit, after the new PIN is set: the enrollment stops, no handout is written.
    const card = await serveCard({ serial: 3011, faults: ['no-space'] });
    cards.push(card);
    const failed = await run(process.execPath, [CLI, 'batch', '--manifest', manifest, '--inventory', join(dir, 'inventory.sqlite'), '--yes', '--json', '--wait', '1m', '--pkcs11', 'none', '--handout', handouts], {
      env: { ...process.env, PIV_NEW_PUK: '97531864' }, timeoutMs: 120_000,
    });
    expect(failed.code).toBe(1);
    const [person] = JSON.parse(failed.stdout).people as Array<{ status: string; error: string }>;
    expect(person!.status).toBe('failed');
    const path = /its new PIN is in (\S+)/.exec(person!.error)?.[1];
    expect(path, person!.error).toBeDefined();
    expect(failed.stderr).toContain(`it is in ${path} (mode 0600)`);
    expect(statSync(path!).mode & 0o777).toBe(0o600);
    const pin = /PIN=(\d{6})/.exec(readFileSync(path!, 'utf8'))![1]!;
    expect(failed.stdout + failed.stderr).not.toContain(pin);
    await withSession((session) => session.verifyPin(pin)); // the card's PIN now
  });
});
