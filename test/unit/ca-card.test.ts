/** The CA key on the in-process virtual card: the card in hand must be the CA's, and a bad card signature writes nothing. */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { run } from '../../src/cli/main.js';
import { parseCertificate } from '../../src/operations/ca/certificate.js';
import { formatOpenSshLine, parseOpenSshLine, publicKeyBlob } from '../../src/operations/ca/key-blob.js';

async function piv(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(args, { result: (t) => out.push(t), notice: (t) => err.push(t), error: (t) => err.push(t) });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'piv-enroll-ca-card-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

const enroll = (card: string, extra: string[] = []) =>
  piv(['enroll', '--virtual', card, '--slot', '9d', '--algorithm', 'ECCP256', '--user', 'ssh-ca', '--yes', '--keep-default-credentials', '--pkcs11', 'none', '--json', ...extra]);

async function cardCa(): Promise<{ card: string; caDir: string; pinFile: string; userPub: string }> {
  const card = join(work, 'card.json');
  const caDir = join(work, 'ca');
  expect((await enroll(card)).code).toBe(0);
  expect((await piv(['ca', 'init', '--dir', caDir, '--on-card', '--virtual', card])).code).toBe(0);
  const pinFile = join(work, 'pin');
  writeFileSync(pinFile, '123456\n', { mode: 0o600 });
  const userPub = join(work, 'user.pub');
  writeFileSync(userPub, `${formatOpenSshLine(publicKeyBlob(generateKeyPairSync('ed25519').publicKey), 'user@test')}\n`);
  return { card, caDir, pinFile, userPub };
}

const signArgs = (caDir: string, userPub: string, card: string, extra: string[] = []) => [
  'ca', 'sign', '--dir', caDir, '--virtual', card, '--public-key', userPub, '--principals', 'u', '--key-id', 'k', '--yes', ...extra,
];

describe('card CA', () => {
  test('signs with the recorded card; another card is refused before anything is signed', async () => {
    const { card, caDir, pinFile, userPub } = await cardCa();
    const other = join(work, 'other.json');
    expect((await enroll(other)).code).toBe(0);
    const wrong = await piv(signArgs(caDir, userPub, other, ['--pin-file', pinFile]));
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/this card \(serial \d+\) is not the CA's card \(serial \d+\)/);
    expect(readFileSync(join(caDir, 'serial'), 'utf8').trim()).toBe('1');
    const right = await piv(signArgs(caDir, userPub, card, ['--pin-file', pinFile]));
    expect(right.code, right.stderr).toBe(0);
    expect(right.stdout).toContain('certificate serial 1');
    expect(right.stdout).toContain('signed with ecdsa-sha2-nistp256');
  });

  test('a re-keyed CA slot is refused; a missing PIN is a usage error listing where it may come from', async () => {
    const { card, caDir, pinFile, userPub } = await cardCa();
    const noPin = await piv(signArgs(caDir, userPub, card));
    expect(noPin.code).toBe(2);
    expect(noPin.stderr).toContain('missing: the PIN of the CA card (PIV_PIN or --pin-file)');
    expect((await enroll(card, ['--force'])).code).toBe(0);
    const rekeyed = await piv(signArgs(caDir, userPub, card, ['--pin-file', pinFile]));
    expect(rekeyed.code).toBe(1);
    expect(rekeyed.stderr).toContain('holds a different key than the CA');
  });

  test('a card signature that does not verify writes no certificate, and its serial is not reused', async () => {
    const { card, caDir, pinFile, userPub } = await cardCa();
    const broken = await piv(signArgs(caDir, userPub, card, ['--pin-file', pinFile, '--fault', 'corrupt-signature']));
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/signature does not verify with ca\.pub: no certificate written \(serial 1 is not reused\)/);
    expect(existsSync(join(work, 'user-cert.pub'))).toBe(false);
    const next = await piv(signArgs(caDir, userPub, card, ['--pin-file', pinFile]));
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toContain('certificate serial 2');
    expect(readFileSync(join(caDir, 'issued.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).serial)).toEqual([2]);
  });
});

test('ca sign --slot 9c certifies the key in a card slot (software CA)', async () => {
  const card = join(work, 'card.json');
  const caDir = join(work, 'ca');
  const passphraseFile = join(work, 'passphrase');
  writeFileSync(passphraseFile, 'a long CA passphrase\n', { mode: 0o600 });
  expect((await piv(['ca', 'init', '--dir', caDir, '--passphrase-file', passphraseFile])).code).toBe(0);
  expect((await piv(['enroll', '--virtual', card, '--algorithm', 'ECCP256', '--user', 'alice', '--yes', '--keep-default-credentials', '--pkcs11', 'none', '--json'])).code).toBe(0);
  const out = join(work, 'alice-cert.pub');
  const signed = await piv(['ca', 'sign', '--dir', caDir, '--passphrase-file', passphraseFile, '--virtual', card, '--slot', '9c', '--principals', 'alice', '--key-id', 'alice', '--out', out, '--json']);
  expect(signed.code, signed.stderr).toBe(0);
  const exported = await piv(['export', '--virtual', card, '--slot', '9c']);
  const certified = parseCertificate(parseOpenSshLine(readFileSync(out, 'utf8'), out).blob).publicKeyBlob;
  expect(certified).toEqual(parseOpenSshLine(exported.stdout, 'export').blob);
  expect(JSON.parse(signed.stdout)).toMatchObject({ serial: 1, keyId: 'alice', principals: ['alice'], certificateFile: out });
  const noPassphrase = await piv(['ca', 'sign', '--dir', caDir, '--virtual', card, '--slot', '9c', '--principals', 'alice', '--key-id', 'alice', '--out', join(work, 'x.pub'), '--yes']);
  expect(noPassphrase.code).toBe(2);
  expect(noPassphrase.stderr).toContain('missing: the CA passphrase (PIV_CA_PASSPHRASE or --passphrase-file)');
});
