/**
 * The SSH CA with keys on cards, through the real stack: `enroll --ca` certifies the card's key, and an sshd that
 * trusts only the CA (default CASignatureAlgorithms) lets `ssh -I opensc-pkcs11.so -o CertificateFile=…` in — for
 * each CA algorithm, and for a CA whose key is on a second card. After `ca revoke` and RevokedKeys the same login
 * is refused, and `ssh-keygen -Q` agrees with `ca check-revoked`.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { CLI, READER, SECOND_READER, run, runOk, scratchDir, serveCard, type ServedCard } from './bench.js';
import { loginWithCardCertificate, startSshd, stopAll, type TestSshd } from './sshd.js';

const PASSPHRASE = 'correct horse battery';
const NEW_PIN = '24681357';
const ENROLL_ENV = { PIV_NEW_PIN: NEW_PIN, PIV_NEW_PUK: '97531864', PIV_CA_PASSPHRASE: PASSPHRASE };

async function expectLogin(sshd: TestSshd, algorithm: string, certificate: string): Promise<void> {
  const login = await loginWithCardCertificate(sshd, algorithm, certificate, NEW_PIN, 'certified-card');
  expect(login.code, `${login.stderr}\n--- sshd ---\n${sshd.log()}`).toBe(0);
  expect(login.stdout).toContain('certified-card');
  expect(sshd.log()).toMatch(/Accepted publickey for \S+ from 127\.0\.0\.1 .*(RSA|ECDSA)-CERT/);
}

describe.skipIf(!inject('benchReady'))('enroll --ca through pcscd, then a certificate login into an sshd that trusts only the CA', () => {
  let card: ServedCard | undefined;
  let caCard: ServedCard | undefined;
  let sshd: TestSshd | undefined;
  afterEach(async () => {
    await stopAll(sshd, card);
    if (caCard) expect(await caCard.stop()).toBe(0);
    [card, caCard, sshd] = [undefined, undefined, undefined];
  });

  test.each([
    ['ed25519', 'ssh-ed25519'],
    ['rsa4096', 'rsa-sha2-512'],
    ['ecdsa-p256', 'ecdsa-sha2-nistp256'],
  ])('a %s CA certifies the card key (CA signature %s); revoked, the login is refused', async (caAlgorithm, caSignature) => {
    const dir = scratchDir();
    const ca = join(dir, 'ca');
    await runOk(process.execPath, [CLI, 'ca', 'init', '--dir', ca, '--algorithm', caAlgorithm], { env: { PIV_CA_PASSPHRASE: PASSPHRASE } });
    card = await serveCard();
    const enrolled = await runOk(process.execPath, [CLI, 'enroll', '--reader', READER, '--user', process.env.USER ?? 'root', '--principals', (await runOk('id', ['-un'])).stdout.trim(),
      '--pkcs11', 'none', '--yes', '--json', '--ca', ca, '--out', join(dir, 'out')], { env: ENROLL_ENV });
    const result = JSON.parse(enrolled.stdout);
    expect(result.caCertificate.signatureAlgorithm).toBe(caSignature);
    const certificate = result.caCertificate.file;
    expect((await runOk('ssh-keygen', ['-L', '-f', certificate])).stdout).toContain(`(using ${caSignature})`);

    sshd = await startSshd({ trustedUserCaKeys: join(ca, 'ca.pub'), revokedKeys: join(ca, 'revoked.krl') });
    for (const algorithm of ['rsa-sha2-256', 'rsa-sha2-512']) await expectLogin(sshd, algorithm, certificate);

    await runOk(process.execPath, [CLI, 'ca', 'revoke', '--dir', ca, '--serial', String(result.caCertificate.serial)]);
    const refused = await loginWithCardCertificate(sshd, 'rsa-sha2-512', certificate, NEW_PIN, 'certified-card');
    expect(refused.code).not.toBe(0);
    expect(sshd.log()).toMatch(/revoked by file/);
    const keygen = await run('ssh-keygen', ['-Q', '-f', join(ca, 'revoked.krl'), certificate]);
    const ours = await run(process.execPath, [CLI, 'ca', 'check-revoked', '--dir', ca, certificate]);
    expect(keygen.code).toBe(1);
    expect(ours.code).toBe(keygen.code);
    expect(ours.stdout.trim()).toBe(keygen.stdout.trim());
  });

  test('a CA whose key stays on a second card signs the first card\'s key', async () => {
    const dir = scratchDir();
    const ca = join(dir, 'ca');
    caCard = await serveCard({ port: 35966 });
    await runOk(process.execPath, [CLI, 'enroll', '--reader', SECOND_READER, '--slot', '9d', '--algorithm', 'ECCP256', '--user', 'Example SSH CA', '--keep-default-credentials', '--pkcs11', 'none', '--yes']);
    await runOk(process.execPath, [CLI, 'ca', 'init', '--dir', ca, '--on-card', '--slot', '9d', '--reader', SECOND_READER]);
    card = await serveCard();
    const user = (await runOk('id', ['-un'])).stdout.trim();
    const enrolled = await runOk(process.execPath, [CLI, 'enroll', '--reader', READER, '--user', user, '--algorithm', 'ECCP256', '--pkcs11', 'none', '--yes', '--json',
      '--ca', ca, '--ca-reader', SECOND_READER, '--out', join(dir, 'out')], { env: { ...ENROLL_ENV, PIV_CA_PIN: '123456' } });
    const result = JSON.parse(enrolled.stdout);
    expect(result.caCertificate.signatureAlgorithm).toBe('ecdsa-sha2-nistp256');
    sshd = await startSshd({ trustedUserCaKeys: join(ca, 'ca.pub') });
    await expectLogin(sshd, 'ecdsa-sha2-nistp256', result.caCertificate.file);
  });
});
