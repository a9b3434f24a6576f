/**
 * The failure this project exists for, reproduced end to end: a card whose signatures are corrupt behind pcscd,
 * its key in the test sshd's authorized_keys, `ssh -I opensc-pkcs11.so` refused by the real sshd — and the doctor
 * naming it. Then the same card, healthy: logins work, and a client limited to ssh-rsa is flagged.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { CLI, run, runOk, scratchDir, serveCard, type ServedCard } from './bench.js';
import { loginWithCard, startSshd, stopAll, type TestSshd } from './sshd.js';

const PIN = '24681357';

describe.skipIf(!inject('benchReady'))('piv-enroll doctor against pcscd and a real sshd', () => {
  let card: ServedCard | undefined;
  let sshd: TestSshd | undefined;
  afterEach(async () => {
    await stopAll(sshd, card);
    [card, sshd] = [undefined, undefined];
  });

  async function enrolledState(): Promise<{ state: string; authorizedKey: string }> {
    card = await serveCard({ state: join(scratchDir(), 'card.json') });
    const enrolled = await run(process.execPath, [CLI, 'enroll', '--reader', 'Yubico YubiKey', '--user', 'gofish543', '--pkcs11', 'none', '--yes', '--json'], {
      env: { PIV_NEW_PIN: PIN, PIV_NEW_PUK: '97531864' },
    });
    expect(enrolled.code, enrolled.stderr).toBe(0);
    expect(await card.stop()).toBe(0);
    const state = card.state;
    card = undefined;
    return { state, authorizedKey: JSON.parse(enrolled.stdout).authorizedKey };
  }

  const doctorArgs = (port: number, user: string) => [
    CLI, 'doctor', '--reader', 'Yubico YubiKey', '--module', 'opensc', '--host', `${user}@127.0.0.1:${port}`,
    '--known-hosts', '/dev/null', '--accept-new-host-keys', // each test's sshd has a fresh host key
  ];

  test('the original failure: key accepted, signature refused, because the card returns invalid signatures', async () => {
    const { state, authorizedKey } = await enrolledState();
    card = await serveCard({ state, faults: ['corrupt-signature'] });
    sshd = await startSshd();
    writeFileSync(sshd.authorizedKeys, `${authorizedKey}\n`, { mode: 0o600 });

    const login = await loginWithCard(sshd, 'rsa-sha2-256', PIN, 'should-not-happen');
    expect(login.code).not.toBe(0);
    expect(login.stdout).not.toContain('should-not-happen');

    const json = await run(process.execPath, [...doctorArgs(sshd.port, sshd.user), '--json'], { env: { PIV_PIN: PIN } });
    expect(json.code, json.stderr).toBe(1);
    const report = JSON.parse(json.stdout);
    const problems = report.findings.filter((f: { severity: string }) => f.severity === 'problem').map((f: { id: string }) => f.id);
    expect(problems).toContain('card-invalid-signatures');
    expect(problems).toContain('key-accepted-signature-refused');
    expect(report.hosts.find((h: { algorithm: string }) => h.algorithm === 'rsa-sha2-256')).toMatchObject({ outcome: 'signature-refused', serverVersion: expect.stringMatching(/^OpenSSH_/) });

    const text = await run(process.execPath, doctorArgs(sshd.port, sshd.user), { env: { PIV_PIN: PIN } });
    expect(text.stdout).toMatch(/key accepted, signature refused/);
    expect(text.stdout).toMatch(/the card returns invalid signatures/);
  });

  test('a healthy card: logins work; a client limited to ssh-rsa finds no common algorithm on this sshd (a warning)', async () => {
    const { state, authorizedKey } = await enrolledState();
    card = await serveCard({ state });
    sshd = await startSshd();
    writeFileSync(sshd.authorizedKeys, `${authorizedKey}\n`, { mode: 0o600 });
    const result = await run(process.execPath, [...doctorArgs(sshd.port, sshd.user), '--json'], { env: { PIV_PIN: PIN } });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.hosts.map((h: { algorithm: string; outcome: string }) => `${h.algorithm}:${h.outcome}`)).toEqual([
      'rsa-sha2-256:ok',
      'rsa-sha2-512:ok',
      'ssh-rsa:no-common-algorithm',
    ]);
    expect(report.status).toBe('warning');
    expect(report.findings.filter((f: { severity: string }) => f.severity === 'problem')).toEqual([]);
  });

  test('an RSA-CA certificate signed with SHA-1 (ssh-keygen -t ssh-rsa) is refused, and the doctor says why; rsa-sha2-512 works', async () => {
    const { state, authorizedKey } = await enrolledState();
    card = await serveCard({ state });
    const dir = scratchDir();
    await runOk('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', join(dir, 'ca')]);
    writeFileSync(join(dir, 'card.pub'), `${authorizedKey}\n`);
    sshd = await startSshd({ trustedUserCaKeys: join(dir, 'ca.pub') }); // and no authorized_keys: only the CA opens the door
    const user = sshd.user;
    for (const algorithm of ['ssh-rsa', 'rsa-sha2-512']) {
      await runOk('ssh-keygen', ['-q', '-s', join(dir, 'ca'), '-t', algorithm, '-I', `test-${algorithm}`, '-n', user, '-V', '+1d', join(dir, 'card.pub')]);
      const result = await run(process.execPath, [...doctorArgs(sshd.port, user), '--certificate', join(dir, 'card-cert.pub'), '--json'], { env: { PIV_PIN: PIN } });
      const report = JSON.parse(result.stdout);
      const byId = (id: string) => report.findings.find((f: { id: string }) => f.id === id);
      if (algorithm === 'ssh-rsa') {
        expect(result.code).toBe(1);
        expect(byId('certificate-ca-sha1')).toBeDefined();
        expect(byId('certificate-refused').summary).toMatch(/because of its CA's signature algorithm \(ssh-rsa, SHA-1\)/);
        expect(sshd.log()).toMatch(/signature algorithm ssh-rsa not in CASignatureAlgorithms|certificate signature algorithm ssh-rsa: signature algorithm not supported/);
      } else {
        expect(byId('certificate-login-ok'), JSON.stringify(report.hosts, null, 1)).toBeDefined();
        expect(byId('certificate-ca-sha1')).toBeUndefined();
      }
    }
  });

  test('a key the host does not know: "key not authorized"', async () => {
    const { state } = await enrolledState();
    card = await serveCard({ state });
    sshd = await startSshd();
    const result = await run(process.execPath, [...doctorArgs(sshd.port, sshd.user), '--json'], { env: { PIV_PIN: PIN } });
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout).hosts[0].outcome).toBe('key-not-authorized');
  });
});
