import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { run } from '../../src/cli/main.js';
import type { Output } from '../../src/cli/output.js';
import { readCardStatus } from '../../src/operations/card-status.js';
import { keyAlgorithmByName } from '../../src/standards/algorithms.js';
import { DEFAULT_MANAGEMENT_KEY, DEFAULT_PIN, openTestCard } from './helpers.js';

function captured(): Output & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, result: (t) => out.push(t), notice: (t) => err.push(t), error: (t) => err.push(t) };
}

describe('status', () => {
  test('a factory-fresh 5.7 card: defaults flagged, only the attestation slot filled', async () => {
    const card = await openTestCard({ serial: 12345678 });
    const report = await readCardStatus(card.session);
    expect(report).toMatchObject({
      firmware: '5.7.2',
      serial: 12345678,
      pin: { attemptsRemaining: 3, totalAttempts: 3, isDefault: true },
      puk: { attemptsRemaining: 3, totalAttempts: 3, isDefault: true },
      managementKey: { algorithm: 'AES192', isDefault: true, storedPinProtected: false },
      cccPresent: false,
    });
    expect(report.chuidGuid).toBeUndefined();
    expect(report.slots.map((s) => s.slot)).toEqual(['F9']);
  });

  test('after enrollment-like writes: key, policies, CHUID and a certificate that does not match the key', async () => {
    const card = await openTestCard();
    const { session } = card;
    await session.authenticate(DEFAULT_MANAGEMENT_KEY);
    await session.generateKey(0x9c, keyAlgorithmByName('ECCP256')!);
    // Put the F9 certificate (another key) into 9C: status must flag the mismatch.
    await session.putCertificate(0x9c, await session.getCertificate(0xf9));
    const guid = await session.setChuid();
    await session.verifyPin(DEFAULT_PIN);
    await session.changePin(DEFAULT_PIN, '86427531');
    const report = await readCardStatus(session);
    const slot = report.slots.find((s) => s.slot === '9C')!;
    expect(slot).toMatchObject({ algorithm: 'ECCP256', origin: 'generated', pinPolicy: 'ALWAYS', touchPolicy: 'NEVER' });
    expect(slot.certificate?.matchesKey).toBe(false);
    expect(report.chuidGuid).toBe(Buffer.from(guid).toString('hex').toUpperCase());
    expect(report.pin.isDefault).toBe(false);
  });

  test('a 4.3.7 card: serial only from the Management application, TDES management key detected as default by trying it, nothing left authenticated', async () => {
    const card = await openTestCard({ firmware: '4.3.7', serial: 4370000 });
    const report = await readCardStatus(card.session);
    expect(report.serial).toBe(4370000); // PIV has no GET SERIAL before 5.0; the Management application tells it
    expect(card.transport.sent).not.toContain('00F80000');
    expect(report.managementKey).toMatchObject({ algorithm: 'TDES', isDefault: true });
    expect(report.pin.attemptsRemaining).toBe(3);
    expect(report.slots.find((s) => s.slot === 'F9')?.algorithm).toBe('RSA2048'); // from the certificate
    await expect(card.session.putObject(0x5fc102, new Uint8Array([0x30, 0]))).rejects.toThrow(/management key/);
  });

  test('CLI: `status --virtual FILE --json` creates the card file (0600) and prints the report', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'piv-enroll-cli-')), 'card.json');
    const output = captured();
    expect(await run(['status', '--virtual', file, '--json', '--serial', '7777777'], output)).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(output.err.join('\n')).toMatch(/Created a new virtual card/);
    const report = JSON.parse(output.out.join('\n'));
    expect(report.serial).toBe(7777777);
    const text = captured();
    expect(await run(['status', '--virtual', file], text)).toBe(0);
    expect(text.out.join('\n')).toMatch(/Serial: 7777777/);
    expect(text.err).toEqual([]);
  });

  test('CLI: bad input gets a clear error and exit status 2', async () => {
    const output = captured();
    expect(await run(['status', '--virtual', '/tmp/x.json', '--firmware', 'five'], output)).toBe(2);
    expect(output.err.join('\n')).toMatch(/--firmware takes a version/);
    const serial = captured();
    expect(await run(['status', '--serial', 'abc'], serial)).toBe(2);
    expect(serial.err.join('\n')).toMatch(/serial/);
    const unknown = captured();
    expect(await run(['frobnicate'], unknown)).toBe(2);
    const fault = captured();
    expect(await run(['status', '--virtual', '/tmp/y.json', '--fault', 'melt'], fault)).toBe(2);
    expect(fault.err.join('\n')).toMatch(/unknown fault melt/);
  });

  test('CLI: --version and --help exit 0', async () => {
    const version = captured();
    expect(await run(['--version'], version)).toBe(0);
    expect(version.out.join('')).toMatch(/^\d+\.\d+\.\d+$/);
    const help = captured();
    expect(await run(['--help'], help)).toBe(0);
    expect(help.out.join('\n')).toMatch(/status/);
  });
});
