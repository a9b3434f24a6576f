import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runEnroll, type EnrollEnvironment } from '../../src/cli/commands/enroll.js';
import { PivSession } from '../../src/piv/session.js';
import { openVirtualCard } from '../../src/transport/virtual/virtual-transport.js';
import { parseManifest } from '../../src/operations/batch/manifest.js';
import { run, runOk } from '../support/run.js';
import { captured, scriptedPrompter } from '../support/terminal.js';

const CLI = new URL('../../bin/piv-enroll', import.meta.url).pathname;
const scratch = () => mkdtempSync(join(tmpdir(), 'piv-enroll-cli-'));



async function pinIsDefault(file: string): Promise<boolean> {
  const session = await PivSession.open((await openVirtualCard({ file })).transport);
  return (await session.getPinMetadata()).isDefault;
}

describe('piv-enroll enroll (command line)', () => {
  test('--yes with secrets in the environment: exit 0, one JSON object on stdout, files written', async () => {
    const dir = scratch();
    const result = await run(process.execPath, [CLI, 'enroll', '--virtual', join(dir, 'card.json'), '--user', 'gofish543', '--algorithm', 'ECCP256', '--out', join(dir, 'out'), '--yes', '--json'], {
      env: { PIV_NEW_PIN: '24681357', PIV_NEW_PUK: '97531864' },
    });
    expect(result.code, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json).toMatchObject({ slot: '9C', algorithm: 'ECCP256', keySource: 'import-host-key', hardened: { pin: true, puk: true, managementKey: 'AES192' } });
    expect(json.verification).toEqual([{ algorithm: 'ecdsa-sha2-nistp256', path: 'apdu', legacy: false, valid: true }]);
    expect(new X509Certificate(readFileSync(join(dir, 'out', 'piv-9c-cert.pem'))).subject).toBe('CN=gofish543');
    expect(readFileSync(join(dir, 'out', 'piv-9c.pub'), 'utf8').trim()).toBe(json.authorizedKey);
    expect(result.stdout + result.stderr).not.toContain('24681357'); // the PIN never shows
  });

  test('--verbose: where the time went on stderr, per step, with the APDUs of each (the same figures as --json timings)', async () => {
    const dir = scratch();
    const result = await run(process.execPath, [CLI, 'enroll', '--virtual', join(dir, 'card.json'), '--user', 'gofish543', '--keep-default-credentials', '--inventory', 'none', '--yes', '--json', '--verbose'], { env: {} });
    expect(result.code, result.stderr).toBe(0);
    const { timings, verification } = JSON.parse(result.stdout); // stdout stays the one JSON object
    expect(verification.map((c: { algorithm: string; sharedWith?: string; valid: boolean }) => [c.algorithm, c.sharedWith, c.valid])).toEqual([
      ['rsa-sha2-256', 'certificate', true], ['rsa-sha2-512', 'certificate', true], ['ssh-rsa', 'certificate', true],
    ]);
    expect(Object.keys(timings)).toEqual(['connect', 'inspect', 'authenticate', 'key', 'certificate', 'export', 'verify', 'pkcs11', 'inventory']);
    // Opening the card: SELECT and GET VERSION at least. The certificate of a PIN-always key: VERIFY, GENERAL
    // AUTHENTICATE, PUT DATA of the certificate and of the CHUID. Over APDUs its signature stands for every RSA SSH
    // algorithm (apply.ts says why), so the verify step sends nothing.
    expect(timings.connect.apdus).toBeGreaterThanOrEqual(2);
    expect(timings.certificate.apdus).toBe(4);
    expect(timings.verify.apdus).toBe(0);
    // Once the card is let go, APDUs are not ours to count: no figure rather than a wrong 0.
    expect(timings.pkcs11.apdus).toBeUndefined();
    expect(timings.inventory.apdus).toBeUndefined();
    const table = result.stderr.slice(result.stderr.indexOf('Where the time went:'));
    expect(table).toMatch(/^ {2}certificate +\d+ ms +4 APDUs$/m);
    const total = (Object.values(timings) as Array<{ apdus?: number }>).reduce((sum, t) => sum + (t.apdus ?? 0), 0);
    expect(table).toMatch(new RegExp(`^  total +\\d+ ms +${total} APDUs$`, 'm'));
  });

  test('--yes with nothing given: every missing input listed at once, exit 2, the card untouched', async () => {
    const file = join(scratch(), 'card.json');
    const result = await run(process.execPath, [CLI, 'enroll', '--virtual', file, '--yes'], { env: { PIV_NEW_PIN: '', PIV_NEW_PUK: '' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('missing: the certificate subject (--user NAME or --subject "CN=…")');
    expect(result.stderr).toContain('missing: a new PIN (PIV_NEW_PIN or --new-pin-file)');
    expect(result.stderr).toContain('missing: a new PUK (PIV_NEW_PUK or --new-puk-file)');
    expect(await pinIsDefault(file)).toBe(true);
  });

  test('bad flags are all reported at once, before any card is touched', async () => {
    const result = await run(process.execPath, [CLI, 'enroll', '--virtual', '/nonexistent/dir/card.json', '--slot', '9f', '--algorithm', 'DSA', '--hash', 'MD5', '--valid-days', '0', '--subject', 'CN=a,XX=b', '--yes']);
    expect(result.code).toBe(2);
    for (const problem of ['slot "9f" is not one of', 'algorithm "DSA" is not one of', 'hash "MD5" is not one of', 'valid-days "0" is not a whole number', 'unknown attribute type "XX"']) expect(result.stderr).toContain(problem);
  });

  test('the flags and a batch manifest share one validator: the same bad values get the same messages', async () => {
    const bad = { slot: '9f', algorithm: 'X25519', 'pin-policy': 'sometimes', 'touch-policy': 'maybe', 'key-source': 'cloud', 'valid-days': '36501' };
    const flags = Object.entries(bad).flatMap(([field, value]) => [`--${field}`, value]);
    const result = await run(process.execPath, [CLI, 'enroll', '--virtual', '/nonexistent/dir/card.json', '--user', 'ana', '--yes', ...flags]);
    expect(result.code).toBe(2);
    const fromFlags = result.stderr.replace(/^piv-enroll: /, '').trim().split('\n').sort();
    const manifest = parseManifest(`- user: ana\n${Object.entries(bad).map(([field, value]) => `  ${field}: "${value}"`).join('\n')}\n`, 'people.yaml');
    const fromManifest = manifest.errors.map((e) => e.replace(/^people\.yaml:\d+: /, '')).sort();
    expect(fromManifest).toHaveLength(6);
    expect(fromFlags).toEqual(fromManifest);
  });

  test('a secret file that others can read is refused', async () => {
    const dir = scratch();
    const pinFile = join(dir, 'pin');
    writeFileSync(pinFile, '24681357\n');
    chmodSync(pinFile, 0o644);
    const result = await run(process.execPath, [CLI, 'enroll', '--virtual', join(dir, 'card.json'), '--user', 'x', '--new-pin-file', pinFile, '--yes']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/can be read by other users: chmod 600/);
    expect(result.stderr).not.toContain('24681357');
  });

  test('a wrong PIN shows the tries left and leaves the card usable', async () => {
    const dir = scratch();
    const file = join(dir, 'card.json');
    const env = { PIV_NEW_PIN: '24681357', PIV_NEW_PUK: '97531864' };
    expect((await run(process.execPath, [CLI, 'enroll', '--virtual', file, '--user', 'ana', '--algorithm', 'ECCP256', '--yes'], { env })).code).toBe(0);
    const wrong = await run(process.execPath, [CLI, 'enroll', '--virtual', file, '--user', 'ana', '--algorithm', 'ECCP256', '--slot', '9a', '--yes'], { env: { PIV_PIN: '11111111' } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/wrong PIN, 2 attempts left/);
    // The PIN is checked before anything is written: slot 9A is still empty.
    const status = JSON.parse((await runOk(process.execPath, [CLI, 'status', '--virtual', file, '--json'])).stdout);
    expect(status.slots.map((s: { slot: string }) => s.slot)).not.toContain('9A');
    const right = await run(process.execPath, [CLI, 'enroll', '--virtual', file, '--user', 'ana', '--algorithm', 'ECCP256', '--slot', '9a', '--yes'], { env: { PIV_PIN: '24681357' } });
    expect(right.code, right.stderr).toBe(0);
  });

  test('wizard: asks only for what is missing, new PIN typed twice (a mismatch is caught), plan confirmed', async () => {
    const file = join(scratch(), 'card.json');
    const prompter = scriptedPrompter(['gofish543', '24681357', '24681358', '24681357', '24681357', '97531864', '97531864', true]);
    const environment: EnrollEnvironment = { env: { PIV_ENROLL_INVENTORY: 'none' }, interactive: true, prompter };
    const output = captured();
    expect(await runEnroll({ virtual: file, algorithm: 'ECCP256' }, output, environment)).toBe(0);
    expect(prompter.asked.filter((q) => !q.startsWith('(said)'))).toEqual([
      'Who is this card for (user name, goes into the certificate as CN)?',
      'New PIN:',
      'New PIN again:',
      'New PIN:',
      'New PIN again:',
      'New PUK:',
      'New PUK again:',
      'Enroll the card as planned?',
    ]);
    expect(prompter.asked).toContain('(said) The two PINs differ; try again.');
    expect(output.out.join('\n')).toMatch(/Enrolled virtual card .* slot 9C: ECCP256/);
    expect(await pinIsDefault(file)).toBe(false);
  });

  test('wizard: an occupied slot is shown and replaced only when the user says so', async () => {
    const file = join(scratch(), 'card.json');
    const env = { PIV_NEW_PIN: '24681357', PIV_NEW_PUK: '97531864' };
    expect((await run(process.execPath, [CLI, 'enroll', '--virtual', file, '--user', 'ana', '--algorithm', 'ECCP256', '--yes'], { env })).code).toBe(0);
    const keep = scriptedPrompter([false, '24681357']);
    await expect(runEnroll({ virtual: file, user: 'ana', algorithm: 'ECCP256' }, captured(), { env: { PIV_ENROLL_INVENTORY: 'none' }, interactive: true, prompter: keep })).rejects.toThrow(/give --force to replace it/);
    expect(keep.asked).toContain('(said) Slot 9C already holds an ECCP256 key with certificate CN=ana. Replacing it makes that key unusable everywhere it was deployed.');
    const replace = scriptedPrompter([true, '24681357', true]);
    expect(await runEnroll({ virtual: file, user: 'ana', algorithm: 'ED25519' }, captured(), { env: { PIV_ENROLL_INVENTORY: 'none' }, interactive: true, prompter: replace })).toBe(0);
  });

  test('wizard: declining the plan changes nothing', async () => {
    const file = join(scratch(), 'card.json');
    const prompter = scriptedPrompter(['ana', '24681357', '24681357', '97531864', '97531864', false]);
    const output = captured();
    expect(await runEnroll({ virtual: file }, output, { env: { PIV_ENROLL_INVENTORY: 'none' }, interactive: true, prompter })).toBe(1);
    expect(output.err.join('\n')).toMatch(/Nothing was changed/);
    expect(await pinIsDefault(file)).toBe(true);
  });

  test('a bare piv-enroll without a terminal explains itself instead of waiting for answers', async () => {
    const result = await run(process.execPath, [CLI]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Usage: piv-enroll[\s\S]*enroll/);
  });
});

describe('enroll, interrupted after the key went in', () => {
  test('a failed certificate write (no-space fault) leaves a half-done slot; the next run finishes it with the same key', async () => {
    const file = join(scratch(), 'card.json');
    const env = { PIV_NEW_PIN: '24681357', PIV_NEW_PUK: '97531864' };
    const failed = await run(process.execPath, [CLI, 'enroll', '--virtual', file, '--fault', 'no-space', '--user', 'ana', '--algorithm', 'ECCP256', '--yes'], { env });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/writing object 5FC10A: the card has no room for it/);
    const resumed = await run(process.execPath, [CLI, 'enroll', '--virtual', file, '--user', 'ana', '--algorithm', 'ECCP256', '--yes', '--json'], { env: { PIV_PIN: '24681357' } });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/from an unfinished enrollment: it will be certified and finished/);
    const json = JSON.parse(resumed.stdout);
    expect(json.keySource).toBe('keep-existing');
    const exported = await run(process.execPath, [CLI, 'export', '--virtual', file]);
    expect(exported.stdout.trim()).toBe(json.authorizedKey.split(' ').slice(0, 2).join(' '));
  });

  test('a certificate that does not hold the slot key (wrong-certificate fault) is reported by status', async () => {
    const file = join(scratch(), 'card.json');
    const env = { PIV_NEW_PIN: '24681357', PIV_NEW_PUK: '97531864' };
    expect((await run(process.execPath, [CLI, 'enroll', '--virtual', file, '--user', 'ana', '--algorithm', 'ECCP256', '--yes'], { env })).code).toBe(0);
    const status = await run(process.execPath, [CLI, 'status', '--virtual', file, '--fault', 'wrong-certificate']);
    expect(status.stdout).toMatch(/Slot 9C:[\s\S]*WARNING: the certificate does not hold the key in this slot/);
  });
});
