/**
 * `enroll --backend pkcs11`: the same enrollment, every card operation through ykcs11 (Debian's 2.2, which
 * authenticates with TDES management keys only, hence 5.4.3 cards). Afterwards ssh-keygen -D with both
 * modules exports the enrolled key, ykman reads the certificate, and sshd accepts the card's signatures.
 */
import { afterEach, describe, expect, inject, test } from 'vitest';
import { CLI, OPENSC_PKCS11, YKCS11, run, runOk, serveCard, type ServedCard } from './bench.js';
import { loginWithCard, startSshd, stopAll, type TestSshd } from './sshd.js';
import { writeFileSync } from 'node:fs';

const PIN = '123456';
const BACKEND = ['enroll', '--backend', 'pkcs11', '--reader', 'Yubico YubiKey', '--yes'];

describe.skipIf(!inject('benchReady'))('piv-enroll enroll --backend pkcs11 (ykcs11)', () => {
  let card: ServedCard | undefined;
  let sshd: TestSshd | undefined;
  afterEach(async () => {
    await stopAll(sshd, card);
    [card, sshd] = [undefined, undefined];
  });

  test('a factory-fresh card is refused with the reason, and nothing is written', async () => {
    card = await serveCard({ firmware: '5.4.3' });
    const refused = await run(process.execPath, [CLI, ...BACKEND, '--user', 'ana'], { env: { PIV_PIN: PIN } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/cannot harden a factory-fresh card[\s\S]*--keep-default-credentials/);
    const status = await runOk(process.execPath, [CLI, 'status', '--reader', 'Yubico YubiKey', '--json']);
    expect(JSON.parse(status.stdout).slots.find((s: { slot: string }) => s.slot === '9C')).toBeUndefined();
  });

  test.each([
    ['host RSA-2048', ['--key-source', 'host'], ['rsa-sha2-256', 'rsa-sha2-512']],
    ['card P-256', ['--key-source', 'card', '--algorithm', 'ECCP256'], ['ecdsa-sha2-nistp256']],
  ])('%s: enrolled through ykcs11 only, then ssh logs in', async (_name, args, algorithms) => {
    card = await serveCard({ firmware: '5.4.3', verbose: true });
    const enrolled = await run(process.execPath, [CLI, ...BACKEND, '--keep-default-credentials', '--user', 'ana', ...args, '--json'], { env: { PIV_PIN: PIN } });
    expect(enrolled.code, enrolled.stderr).toBe(0);
    const result = JSON.parse(enrolled.stdout);
    expect(result.chuidGuid).toBeNull();
    // Every signature of the enrollment went through ykcs11; OpenSC then checked the result independently.
    const paths = new Set(result.verification.map((c: { module?: string; path: string; valid: boolean; legacy: boolean }) => `${c.path}:${c.module}:${c.valid || c.legacy}`));
    expect(paths).toEqual(new Set(['pkcs11:ykcs11:true', 'pkcs11:opensc:true']));
    // The module wrote the 9C certificate (PUT DATA 5FC10A) but no CHUID (5FC102), which only the APDU backend writes.
    expect(card.log()).toMatch(/> [01]0DB3FFF[0-9A-F]{2,6}5C035FC10A/i);
    expect(card.log()).not.toMatch(/> [01]0DB3FFF[0-9A-F]{2,6}5C035FC102/i);

    const keyPart = result.authorizedKey.split(' ').slice(0, 2).join(' ');
    for (const module of [OPENSC_PKCS11, YKCS11]) expect((await runOk('ssh-keygen', ['-D', module, '-e'])).stdout).toContain(keyPart);
    const ykman = await runOk('ykman', ['--reader', 'Yubico YubiKey OTP+FIDO+CCID 00 00', 'piv', 'info']);
    expect(ykman.stdout).toMatch(/Subject DN:\s+CN=ana/);

    sshd = await startSshd();
    writeFileSync(sshd.authorizedKeys, `${result.authorizedKey}\n`);
    for (const algorithm of algorithms) {
      const login = await loginWithCard(sshd, algorithm, PIN, 'pkcs11-enrolled');
      expect(login.code, `${login.stderr}\n--- sshd ---\n${sshd.log()}`).toBe(0);
    }
  });

  test('a certificate write that fails leaves a half-done slot that the next run finishes', async () => {
    card = await serveCard({ firmware: '5.4.3', faults: ['no-space'] });
    const failed = await run(process.execPath, [CLI, ...BACKEND, '--keep-default-credentials', '--user', 'ana', '--algorithm', 'ECCP256'], { env: { PIV_PIN: PIN } });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/ykcs11 could not write the certificate/);
    const state = card.state;
    expect(await card.stop()).toBe(0);

    card = await serveCard({ state });
    const finished = await run(process.execPath, [CLI, ...BACKEND, '--keep-default-credentials', '--user', 'ana', '--algorithm', 'ECCP256', '--json'], { env: { PIV_PIN: PIN } });
    expect(finished.code, finished.stderr).toBe(0);
    expect(finished.stderr).toMatch(/unfinished enrollment: it will be certified and finished/);
    expect(JSON.parse(finished.stdout).keySource).toBe('keep-existing');
  });

  test('a card that returns bad signatures is stopped through the module too', async () => {
    card = await serveCard({ firmware: '5.4.3', faults: ['corrupt-signature'] });
    const enrolled = await run(process.execPath, [CLI, ...BACKEND, '--keep-default-credentials', '--user', 'ana'], { env: { PIV_PIN: PIN } });
    expect(enrolled.code).toBe(1);
    expect(enrolled.stderr).toMatch(/invalid signature/);
  });

  test('a wrong PIN through the module says so, before anything is written', async () => {
    card = await serveCard({ firmware: '5.4.3' });
    const enrolled = await run(process.execPath, [CLI, ...BACKEND, '--keep-default-credentials', '--user', 'ana'], { env: { PIV_PIN: '999999' } });
    expect(enrolled.code).toBe(1);
    expect(enrolled.stderr).toMatch(/wrong PIN/);
    expect(enrolled.stderr).not.toContain('999999');
  });
});
