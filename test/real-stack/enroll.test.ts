/**
 * `piv-enroll enroll` through the real stack, for each key source: afterwards OpenSC exports the same key,
 * ykman reads the certificate and the PIN-protected management key, and sshd lets the card log in with
 * rsa-sha2-256 and rsa-sha2-512 (or the key's own algorithm).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { CLI, OPENSC_PKCS11, READER, run, runOk, scratchDir, serveCard, type ServedCard } from './bench.js';
import { loginWithCard, startSshd, stopAll, type TestSshd } from './sshd.js';

const NEW_PIN = '24681357';
const ENV = { PIV_NEW_PIN: NEW_PIN, PIV_NEW_PUK: '97531864' };

async function sshLogin(sshd: TestSshd, algorithm: string): Promise<void> {
  const login = await loginWithCard(sshd, algorithm, NEW_PIN, 'enrolled-card-login');
  expect(login.code, `${login.stderr}\n--- sshd ---\n${sshd.log()}`).toBe(0);
  expect(login.stdout).toContain('enrolled-card-login');
}

describe.skipIf(!inject('benchReady'))('piv-enroll enroll through pcscd, then OpenSC, ykman and sshd', () => {
  let card: ServedCard | undefined;
  let sshd: TestSshd | undefined;
  afterEach(async () => {
    await stopAll(sshd, card);
    [card, sshd] = [undefined, undefined];
  });

  test('a card that returns bad signatures is stopped before it leaves the desk', async () => {
    card = await serveCard({ faults: ['corrupt-signature'] });
    const enrolled = await run(process.execPath, [CLI, 'enroll', '--reader', 'Yubico YubiKey', '--user', 'gofish543', '--yes'], { env: ENV });
    expect(enrolled.code).toBe(1);
    expect(enrolled.stderr).toMatch(/invalid signature[\s\S]*Server refused public-key signature despite accepting key/);
  });

  test.each([
    ['host', ['--key-source', 'host'], ['rsa-sha2-256', 'rsa-sha2-512']],
    ['card', ['--key-source', 'card', '--algorithm', 'ECCP256'], ['ecdsa-sha2-nistp256']],
    ['file', ['--import', 'KEY'], ['rsa-sha2-256', 'rsa-sha2-512']],
  ])('key source %s', async (_source, sourceArgs, algorithms) => {
    card = await serveCard();
    const dir = scratchDir();
    const args = sourceArgs.map((a) => (a === 'KEY' ? join(dir, 'gofish') : a));
    if (args.includes(join(dir, 'gofish'))) await runOk('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', join(dir, 'gofish')]);

    const enrolled = await run(process.execPath, [CLI, 'enroll', '--reader', 'Yubico YubiKey', '--user', 'gofish543', ...args, '--out', join(dir, 'out'), '--yes', '--json'], { env: ENV });
    expect(enrolled.code, enrolled.stderr).toBe(0);
    const result = JSON.parse(enrolled.stdout);
    expect(result.card).toBe(READER);
    expect(result.verification.filter((c: { legacy: boolean }) => !c.legacy).every((c: { valid: boolean }) => c.valid)).toBe(true);
    // The card's signatures were checked through raw APDUs and through both PKCS#11 modules.
    const paths = result.verification.map((c: { path: string; module?: string; valid: boolean; legacy: boolean }) => `${c.module ?? c.path}:${c.valid || c.legacy}`);
    expect(new Set(paths)).toEqual(new Set(['apdu:true', 'opensc:true', 'ykcs11:true']));
    const keyPart = result.authorizedKey.split(' ').slice(0, 2).join(' ');

    // OpenSC sees the same key that piv-enroll exported (the `ssh-keygen -D` step), and so does `piv-enroll export`.
    const opensc = await runOk('ssh-keygen', ['-D', OPENSC_PKCS11, '-e']);
    expect(opensc.stdout).toContain(keyPart);
    const exported = await runOk(process.execPath, [CLI, 'export', '--reader', 'Yubico YubiKey']);
    expect(exported.stdout.trim()).toBe(keyPart);
    for (const module of ['opensc', 'ykcs11']) {
      const viaPkcs11 = await runOk(process.execPath, [CLI, 'export', '--reader', 'Yubico YubiKey', '--via', 'pkcs11', '--module', module]);
      expect(viaPkcs11.stdout.trim()).toBe(keyPart);
    }

    // ykman reads the certificate and knows the management key is stored PIN-protected.
    const info = await runOk('ykman', ['--reader', READER, 'piv', 'info']);
    expect(info.stdout).toMatch(/Management key is stored on the YubiKey, protected by PIN/);
    expect(info.stdout).toMatch(/Slot 9[cC][\s\S]*Subject DN:\s+CN=gofish543/);
    expect(info.stdout).not.toMatch(/Using default PIN/);

    for (const algorithm of algorithms) {
      sshd = await startSshd({ pubkeyAcceptedAlgorithms: algorithm });
      writeFileSync(sshd.authorizedKeys, `${result.authorizedKey}\n`, { mode: 0o600 });
      await sshLogin(sshd, algorithm);
      expect(sshd.log()).toMatch(new RegExp(`userauth_pubkey: .*pkalg ${algorithm}`));
      await sshd.stop();
      sshd = undefined;
    }
  });
});
