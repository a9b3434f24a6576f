/**
 * enroll --random-pin / --random-puk / --escrow-recipient / --pin-out and escrow show, on the virtual card through the
 * built CLI: the generated values work on the card, reach only the --pin-out file and the escrow, and a bad input
 * leaves the card byte for byte as it was.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runEnroll } from '../../src/cli/commands/enroll.js';
import type { Output } from '../../src/cli/output.js';
import { terminalPrompter } from '../../src/cli/prompter.js';
import { fromHex } from '../../src/bytes/hex.js';
import { escrowEvents } from '../../src/operations/inventory/escrow-store.js';
import { Inventory } from '../../src/operations/inventory/inventory.js';
import { PivSession } from '../../src/piv/session.js';
import { openVirtualCard } from '../../src/transport/virtual/virtual-transport.js';
import { run } from '../support/run.js';

const CLI = new URL('../../bin/piv-enroll', import.meta.url).pathname;
const scratch = () => mkdtempSync(join(tmpdir(), 'piv-enroll-escrow-cli-'));

function escrowKey(dir: string, name = 'escrow-key.txt'): { file: string; recipient: string } {
  const file = join(dir, name);
  execFileSync('age-keygen', ['-o', file], { stdio: 'pipe' });
  chmodSync(file, 0o600);
  return { file, recipient: execFileSync('age-keygen', ['-y', file], { encoding: 'utf8' }).trim() };
}

async function session(file: string): Promise<PivSession> {
  return PivSession.open((await openVirtualCard({ file })).transport);
}

/** Every file under `dir`, as text, but the --pin-out sheet (the handout) and the card itself (the virtual card's state). */
function everythingBut(dir: string, ...skip: string[]): string {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !skip.includes(join(e.parentPath, e.name)))
    .map((e) => readFileSync(join(e.parentPath, e.name)).toString('latin1'))
    .join('\n');
}

describe('per-card secrets and escrow (enroll, escrow show)', () => {
  test('random PIN and PUK, escrowed: the PIN in the 0600 --pin-out file only, the PUK and management key in the escrow only; escrow show opens it and records it', async () => {
    const dir = scratch();
    const card = join(dir, 'card.json');
    const inventory = join(dir, 'inventory.sqlite');
    const pinOut = join(dir, 'ana.pin');
    const key = escrowKey(dir);
    const enrolled = await run(process.execPath, [CLI, 'enroll', '--virtual', card, '--user', 'ana', '--algorithm', 'ECCP256', '--yes', '--json', '--pkcs11', 'none',
      '--random-pin', '--random-puk', '--escrow-recipient', key.recipient, '--pin-out', pinOut, '--inventory', inventory], { env: {} });
    expect(enrolled.code, enrolled.stderr).toBe(0);
    expect(statSync(pinOut).mode & 0o777).toBe(0o600);
    const pin = /^PIN=(\d{6})$/m.exec(readFileSync(pinOut, 'utf8'))![1]!;
    expect(readFileSync(pinOut, 'utf8')).not.toMatch(/PUK=/); // the escrow keeps the PUK
    const json = JSON.parse(enrolled.stdout);
    expect(json.hardened).toEqual({ pin: true, puk: true, managementKey: 'AES192' });

    const shown = await run(process.execPath, [CLI, 'escrow', 'show', '--card', String(json.serial), '--escrow-key', key.file, '--inventory', inventory, '--json'], { env: {} });
    expect(shown.code, shown.stderr).toBe(0);
    const escrow = JSON.parse(shown.stdout);
    expect(escrow).toMatchObject({ serial: json.serial, managementKeyAlgorithm: 'AES192', managementKeyProtected: true });
    expect(escrow.puk).toMatch(/^\d{8}$/);

    // Each works on the card: the PIN verifies, the management key authenticates, the PUK unblocks (and sets a PIN).
    const piv = await session(card);
    await piv.verifyPin(pin);
    await piv.authenticate(fromHex(escrow.managementKey));
    await piv.unblockPin(escrow.puk, '86420135');
    await piv.verifyPin('86420135');

    // Nothing but the handout holds them in clear: not the JSON, stderr, the inventory file or the card's other files.
    const produced = [enrolled.stdout, enrolled.stderr, shown.stderr, everythingBut(dir, pinOut, card)].join('\n').toLowerCase();
    expect(produced).toContain('begin age encrypted file'); // the inventory was read: the escrow is in it, sealed
    for (const secret of [pin, escrow.puk, escrow.managementKey]) expect(produced).not.toContain(secret.toLowerCase());
    const opened = await Inventory.open(inventory);
    try {
      const events = await escrowEvents(opened, json.serial);
      expect(events.map((e) => e.kind)).toEqual(['escrow', 'escrow-show']);
      expect(events[1]!.detail).toMatch(new RegExp(`^card ${json.serial}: escrow opened by .+@.+ \\(escrow show\\)$`));
    } finally {
      await opened.close();
    }
  });

  test('escrow show: another key is refused with the recipient named, and no event; a key file others can read is refused', async () => {
    const dir = scratch();
    const card = join(dir, 'card.json');
    const inventory = join(dir, 'inventory.sqlite');
    const key = escrowKey(dir);
    const other = escrowKey(dir, 'other.txt');
    const enrolled = await run(process.execPath, [CLI, 'enroll', '--virtual', card, '--user', 'bo', '--algorithm', 'ECCP256', '--yes', '--json', '--pkcs11', 'none',
      '--random-puk', '--escrow-recipient', key.recipient, '--inventory', inventory], { env: { PIV_NEW_PIN: '24681357' } });
    expect(enrolled.code, enrolled.stderr).toBe(0);
    const serial = String(JSON.parse(enrolled.stdout).serial);
    const wrong = await run(process.execPath, [CLI, 'escrow', 'show', '--card', serial, '--escrow-key', other.file, '--inventory', inventory], { env: {} });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`this escrow key does not open card ${serial}'s escrow: it was encrypted to ${key.recipient}`);
    expect(wrong.stdout).toBe('');
    chmodSync(key.file, 0o644);
    const loose = await run(process.execPath, [CLI, 'escrow', 'show', '--card', serial, '--escrow-key', key.file, '--inventory', inventory], { env: {} });
    expect(loose.code).toBe(2);
    expect(loose.stderr).toMatch(/can be read by other users: chmod 600/);
    const none = await run(process.execPath, [CLI, 'escrow', 'show', '--card', '999', '--escrow-key', other.file, '--inventory', inventory], { env: {} });
    expect(none.stderr).toMatch(/holds no escrow for card 999/);
    const opened = await Inventory.open(inventory);
    try {
      expect((await escrowEvents(opened, Number(serial))).map((e) => e.kind)).toEqual(['escrow']);
    } finally {
      await opened.close();
    }
  });

  test('bad inputs are refused before the card is touched (its file byte for byte)', async () => {
    const dir = scratch();
    const card = join(dir, 'card.json');
    await openVirtualCard({ file: card });
    const before = readFileSync(card);
    const key = escrowKey(dir);
    const refused = async (args: string[], message: RegExp, env: NodeJS.ProcessEnv = {}): Promise<void> => {
      const result = await run(process.execPath, [CLI, 'enroll', '--virtual', card, '--user', 'cy', '--algorithm', 'ECCP256', '--yes', '--pkcs11', 'none', ...args], { env });
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(readFileSync(card).equals(before)).toBe(true);
    };
    // No terminal (the test's stderr is a pipe) and no --pin-out: the PIN would have nowhere to go.
    await refused(['--random-pin', '--inventory', 'none'], /--random-pin: the generated value must reach its owner: give --pin-out FILE/, { PIV_NEW_PUK: '97531864' });
    await refused(['--random-pin', '--pin-out', join(dir, 'p'), '--inventory', 'none'], /--random-pin and a new PIN \(PIV_NEW_PIN or --new-pin-file\) each choose the new PIN/, { PIV_NEW_PIN: '24681357', PIV_NEW_PUK: '97531864' });
    expect(existsSync(join(dir, 'p'))).toBe(false); // the --pin-out file made ready for it is gone again
    await refused(['--escrow-recipient', `${key.recipient.slice(0, -2)}qq`, '--inventory', 'none'], /--escrow-recipient: "age1.*" is not an age recipient/, { PIV_NEW_PIN: '24681357', PIV_NEW_PUK: '97531864' });
    await refused(['--escrow-recipient', key.recipient, '--inventory', 'none'], /--escrow-recipient keeps the escrow in the inventory: it cannot go with --inventory none/, { PIV_NEW_PIN: '24681357', PIV_NEW_PUK: '97531864' });
    writeFileSync(join(dir, 'exists'), '');
    await refused(['--random-pin', '--pin-out', join(dir, 'exists'), '--inventory', 'none'], /--pin-out: cannot create .*exists \(EEXIST\); it must not exist yet/, { PIV_NEW_PUK: '97531864' });
  });

  test('in process, without --pin-out: the terminal shows the generated PIN and PUK once, the JSON never', async () => {
    const dir = scratch();
    const card = join(dir, 'card.json');
    const shown: string[] = [];
    const out: string[] = [];
    const output: Output = { result: (t) => out.push(t), notice: () => undefined, error: () => undefined };
    const code = await runEnroll({ virtual: card, user: 'dee', algorithm: 'ECCP256', yes: true, json: true, pkcs11: 'none', randomPin: true, randomPuk: true, inventory: 'none' }, output, {
      env: {}, interactive: false, prompter: terminalPrompter, secretTerminal: { show: (t) => shown.push(t) },
    });
    expect(code).toBe(0);
    expect(shown).toHaveLength(1);
    const [, pin, puk] = /PIN: (\d{6})\s+PUK: (\d{8})/.exec(shown[0]!)!;
    expect(out.join('\n')).not.toContain(pin!);
    expect(out.join('\n')).not.toContain(puk!);
    const piv = await session(card);
    await piv.verifyPin(pin!);
    await piv.changePuk(puk!, puk!);
  });
});

describe('the wizard: own PIN or a generated one', () => {
  test('on a terminal it offers both; a generated PIN is shown once, after the card write; a weak own PIN is refused', async () => {
    const card = join(scratch(), 'card.json');
    const shown: string[] = [];
    const asked: string[] = [];
    const answers: Array<string | boolean> = [false];
    const prompter = {
      input: async (m: string) => (asked.push(m), String(answers.shift())),
      password: async (m: string) => (asked.push(m), String(answers.shift())),
      confirm: async (m: string) => (asked.push(m), Boolean(answers.shift() ?? true)),
      say: (t: string) => void asked.push(`(said) ${t}`),
    };
    const output: Output = { result: () => undefined, notice: () => undefined, error: () => undefined };
    const code = await runEnroll({ virtual: card, user: 'fay', algorithm: 'ECCP256', pkcs11: 'none', inventory: 'none' }, output, {
      env: { PIV_NEW_PUK: '97531864' }, interactive: true, prompter, secretTerminal: { show: (t) => shown.push(t) },
    });
    expect(code).toBe(0);
    expect(asked).toContain('Let the owner type their own PIN?');
    expect(asked).not.toContain('New PIN:');
    expect(shown).toHaveLength(1);
    const pin = /PIN: (\d{6})/.exec(shown[0]!)![1]!;
    expect(shown[0]).not.toContain('PUK'); // typed by the operator: not generated, not shown
    await (await session(card)).verifyPin(pin);

    // Typing their own: 123456 and 000000 are refused, a real one taken.
    const second = join(scratch(), 'card.json');
    answers.push(true, '654321', '000000', '20461397', '20461397');
    asked.length = 0;
    expect(await runEnroll({ virtual: second, user: 'gil', algorithm: 'ECCP256', pkcs11: 'none', inventory: 'none' }, output, {
      env: { PIV_NEW_PUK: '97531864' }, interactive: true, prompter, secretTerminal: { show: (t) => shown.push(t) },
    })).toBe(0);
    expect(asked.filter((a) => a.includes('among the first an attacker would try'))).toHaveLength(2);
    expect(shown).toHaveLength(1); // nothing generated, nothing shown
    await (await session(second)).verifyPin('20461397');
  });
});

describe('enrollCard with generated secrets (the operation the handout builds on)', () => {
  test('initialSecrets carries the generated PIN (and the PUK without escrow) in memory; the --json rendering never does; a non-default PIN is kept, with a warning', async () => {
    const { buildEnrollOptions } = await import('../../src/operations/enroll/enroll-inputs.js');
    const { enrollCard } = await import('../../src/operations/enroll/enroll-card.js');
    const { enrollmentJson } = await import('../../src/cli/enroll/report.js');
    const card = join(scratch(), 'card.json');
    // Bytes 1..: digits 1 2 3 4 5 6 is a run and drawn again; the PIN then is 9 0 4 8 7 2.
    const bytes = [1, 2, 3, 4, 5, 6, 251, 251, 9, 10, 4, 8, 7, 2, 251, 251, 3, 1, 4, 1, 5, 9, 2, 6, 251, 251];
    let at = 0;
    const random = (n: number) => Uint8Array.from(bytes.slice(at, (at += n)));
    const built = await buildEnrollOptions({ card: { virtual: card }, user: 'eve', algorithm: 'ECCP256', randomPin: true, randomPuk: true, random, secrets: {} });
    const handedOut: Array<Record<string, string | undefined>> = [];
    const outcome = await enrollCard({ options: built.options!, pkcs11Modules: [], inventory: 'none' }, { notice: () => undefined, handOut: async (s) => void handedOut.push({ ...s }) });
    expect(outcome.status).toBe('enrolled');
    if (outcome.status !== 'enrolled') return;
    expect(outcome.enrollment.initialSecrets).toEqual({ pin: '904872', puk: '31415926' });
    expect(handedOut).toEqual([{ pin: '904872', puk: '31415926' }]);
    const json = JSON.stringify(enrollmentJson(outcome.enrollment));
    expect(json).not.toContain('904872');
    expect(json).not.toContain('31415926');
    const piv = await session(card);
    await piv.verifyPin('904872');

    // The card is hardened now: asked again for a random PIN, it keeps its PIN, says so, and hands nothing out.
    const again = await buildEnrollOptions({ card: { virtual: card }, user: 'eve', algorithm: 'ECCP256', slot: '9a', randomPin: true, secrets: { pin: '904872' } });
    const notes: string[] = [];
    const second = await enrollCard({ options: again.options!, pkcs11Modules: [], inventory: 'none' }, {
      notice: () => undefined, confirm: async (plan) => (notes.push(...plan.warnings), true), handOut: async () => void notes.push('handed out'),
    });
    expect(second.status).toBe('enrolled');
    expect(notes).toContain('the card\'s PIN is not the factory default: it keeps its PIN, and no random PIN is set');
    expect(notes).not.toContain('handed out');
  });
});
