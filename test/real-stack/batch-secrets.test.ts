/**
 * Issue 18, items 1 and 2, through the real stack: a batch of four cards over four readers behind pcscd gives four
 * different random PINs and PUKs, each verified against its own card through the PIN guard; the PUKs and management
 * keys escrowed in the inventory decrypt with the escrow identity (piv-enroll escrow show, and the Debian age CLI) and
 * unblock the right card; and no generated value is in clear anywhere the batch wrote (JSON, stderr, the inventory,
 * the exported files, the cards' APDU traces), but the handout files.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { fromHex } from '../../src/bytes/hex.js';
import { latestEscrow } from '../../src/operations/inventory/escrow-store.js';
import { Inventory } from '../../src/operations/inventory/inventory.js';
import { CLI, READER_ON_PORT, run, runOk, scratchDir, serveCard, withSession, type ServedCard } from './bench.js';

const PORTS = [35965, 35966, 35967, 35968];
const SERIALS = [7001, 7002, 7003, 7004];
const USERS = ['ana', 'bo', 'cy', 'dee'];

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe.skipIf(!inject('benchReady'))('batch: a random PIN and PUK per card, escrowed', () => {
  const cards: ServedCard[] = [];
  afterEach(async () => {
    for (const card of cards.splice(0)) expect(await card.stop()).toBe(0);
  });

  test('four cards, four readers: four different PINs and PUKs, each right for its card; escrow opens; no value in clear but the handout', async () => {
    const dir = scratchDir();
    const cardStates = scratchDir('piv-enroll-real-cards-'); // the virtual cards' own storage: the card holds its PIN, as a card does
    const keyFile = join(scratchDir('piv-enroll-real-escrow-'), 'escrow.txt');
    execFileSync('age-keygen', ['-o', keyFile], { stdio: 'pipe' });
    chmodSync(keyFile, 0o600);
    const recipient = execFileSync('age-keygen', ['-y', keyFile], { encoding: 'utf8' }).trim();
    const manifest = join(dir, 'intake.csv');
    writeFileSync(manifest, `user,card-serial,algorithm\n${USERS.map((u, i) => `${u},${SERIALS[i]},ECCP256`).join('\n')}\n`);
    const inventory = join(dir, 'inventory.sqlite');
    const handouts = join(dir, 'handouts');
    for (const [i, port] of PORTS.entries()) cards.push(await serveCard({ port, serial: SERIALS[i], state: join(cardStates, `card-${SERIALS[i]}.json`), verbose: true }));

    const started = Date.now();
    const batch = await run(process.execPath, [CLI, 'batch', '--manifest', manifest, '--inventory', inventory, '--yes', '--json', '--wait', '1m', '--pkcs11', 'none',
      '--out', join(dir, 'out'), '--pin-out', handouts, '--escrow-recipient', recipient], { env: { ...process.env, PIV_NEW_PIN: '', PIV_NEW_PUK: '' }, timeoutMs: 180_000 });
    const seconds = (Date.now() - started) / 1000;
    expect(batch.code, batch.stderr).toBe(0);
    const report = JSON.parse(batch.stdout);
    expect(report.people.map((p: { user: string; status: string; cardSerial: number }) => [p.user, p.status, p.cardSerial])).toEqual(USERS.map((u, i) => [u, 'enrolled', SERIALS[i]]));
    expect(new Set(report.people.map((p: { reader: string }) => p.reader))).toEqual(new Set(PORTS.map((p) => READER_ON_PORT[p])));

    // The handouts: one 0600 file per person with a PIN, no PUK (the escrow keeps it).
    const pins = USERS.map((user) => {
      const file = join(handouts, `${user}.txt`);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const sheet = readFileSync(file, 'utf8');
      expect(sheet).not.toMatch(/PUK=/);
      return /^PIN=(\d{6})$/m.exec(sheet)![1]!;
    });
    expect(new Set(pins).size).toBe(4);

    // The escrow, opened by the helpdesk: four different PUKs, an AES-192 management key each.
    const escrows: Array<{ serial: number; puk: string; managementKey: string; managementKeyAlgorithm: string }> = [];
    for (const serial of SERIALS) {
      const shown = await runOk(process.execPath, [CLI, 'escrow', 'show', '--card', String(serial), '--escrow-key', keyFile, '--inventory', inventory, '--json']);
      escrows.push(JSON.parse(shown.stdout));
    }
    expect(escrows.map((e) => e.serial)).toEqual(SERIALS);
    expect(new Set(escrows.map((e) => e.puk)).size).toBe(4);
    for (const e of escrows) expect(e).toMatchObject({ puk: expect.stringMatching(/^\d{8}$/), managementKeyAlgorithm: 'AES192' });
    // The Debian age CLI reads the inventory's rows as they are.
    const opened = await Inventory.open(inventory);
    try {
      for (const [i, serial] of SERIALS.entries()) {
        const row = (await latestEscrow(opened, serial))!;
        const clear = spawnSync('age', ['-d', '-i', keyFile], { input: row.ciphertext, encoding: 'utf8' });
        expect(clear.status, clear.stderr).toBe(0);
        expect(JSON.parse(clear.stdout)).toMatchObject({ serial, puk: escrows[i]!.puk, managementKey: escrows[i]!.managementKey });
      }
    } finally {
      await opened.close();
    }

    // Each value is right for its own card, and for no other: VERIFY through the PIN guard, then the PUK unblocks.
    for (const [i, port] of PORTS.entries()) {
      await withSession(async (session) => {
        expect(await session.getSerial()).toBe(SERIALS[i]);
        await expect(session.verifyPin(pins[(i + 1) % 4]!)).rejects.toThrow(/wrong PIN, 2 attempts left/);
        await session.verifyPin(pins[i]!);
        await session.authenticate(fromHex(escrows[i]!.managementKey));
        await session.unblockPin(escrows[i]!.puk, pins[i]!); // the PUK works (and the PIN's tries are back to 3)
        expect((await session.getPinMetadata()).attemptsRemaining).toBe(3);
      }, READER_ON_PORT[port]);
    }

    // No generated value in clear anywhere but the handouts: stdout, stderr, every file the batch wrote, the traces.
    const produced = [
      batch.stdout, batch.stderr, ...cards.map((c) => c.log()),
      ...filesUnder(dir).filter((f) => !f.startsWith(handouts)).map((f) => readFileSync(f).toString('latin1')),
    ].join('\n').toLowerCase();
    expect(produced).toContain('begin age encrypted file'); // the inventory was searched, and holds the sealed escrow
    expect(cards[0]!.log()).toMatch(/REDACTED|redacted/); // the traces were on, and redacted the PIN
    for (const secret of [...pins, ...escrows.map((e) => e.puk), ...escrows.map((e) => e.managementKey)]) expect(produced).not.toContain(secret.toLowerCase());
    console.log(`batch of 4 cards over 4 readers with random PINs/PUKs and escrow: ${seconds.toFixed(1)} s`);
  });
});
