/**
 * The CA end to end against OpenSSH 9.2: certificates that ssh-keygen -L parses, an sshd trusting only the CA
 * (default CASignatureAlgorithms) letting them in, principals enforced, and `ca revoke` locking them out through
 * RevokedKeys — for each software CA algorithm and for a CA key on the (in-process) virtual card.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { runOk } from '../support/run.js';
import { askpass, caScratch, certificateLogin, piv, pivOk, removeCaScratch, secretFile, startCaSshd, userKey, type CaSshd } from './support/ca-sshd.js';

const PASSPHRASE = 'correct horse battery staple';
const DEFAULT_EXTENSIONS = ['permit-X11-forwarding', 'permit-agent-forwarding', 'permit-port-forwarding', 'permit-pty', 'permit-user-rc'];

let sshd: CaSshd | undefined;
afterEach(async () => {
  await sshd?.stop();
  sshd = undefined;
  removeCaScratch();
});

/** Signs `key.pub` for `principal` and returns the certificate path and the JSON the CLI printed. */
async function sign(caDir: string, secretFlags: string[], key: string, principal: string, keyId: string, out?: string): Promise<{ certificate: string; issued: Record<string, unknown> }> {
  const result = await pivOk(['ca', 'sign', '--dir', caDir, ...secretFlags, '--public-key', `${key}.pub`, '--principals', principal, '--key-id', keyId, '--validity', '1h', '--json', ...(out ? ['--out', out] : [])]);
  return { certificate: out ?? `${key}-cert.pub`, issued: JSON.parse(result.stdout) as Record<string, unknown> };
}

/** The whole story with one CA: ssh-keygen -L, login, wrong principal refused, revoke, login refused. */
async function certificateStory(caDir: string, secretFlags: string[], work: string, userKeyType: 'ed25519' | 'rsa' | 'ecdsa', expectedAlgorithm: string): Promise<void> {
  // The servers' configuration is the snippet ca init wrote (its --server-dir pointed at the CA directory itself).
  sshd = await startCaSshd({ snippet: readFileSync(join(caDir, 'sshd_config'), 'utf8') });
  const key = await userKey(work, `user-${userKeyType}`, userKeyType);
  const { certificate, issued } = await sign(caDir, secretFlags, key, sshd.user, 'story@example');
  expect(issued).toMatchObject({ keyId: 'story@example', principals: [sshd.user], signatureAlgorithm: expectedAlgorithm, extensions: DEFAULT_EXTENSIONS });

  const listed = (await runOk('ssh-keygen', ['-L', '-f', certificate])).stdout;
  expect(listed).toContain(`(using ${expectedAlgorithm})`);
  expect(listed).toContain('Key ID: "story@example"');
  expect(listed).toContain(`Serial: ${issued.serial as number}`);
  expect(listed).toMatch(/Critical Options: \(none\)/);
  for (const extension of DEFAULT_EXTENSIONS) expect(listed).toMatch(new RegExp(`^\\s+${extension}$`, 'm'));

  const login = await certificateLogin(sshd, key, certificate);
  expect(login.code, login.stderr + sshd.log()).toBe(0);
  expect(login.stdout.trim()).toBe('logged-in');
  expect(sshd.log()).toMatch(/Accepted publickey for \S+ from 127\.0\.0\.1 .*-CERT.*ID story@example \(serial \d+\)/);

  const stranger = await sign(caDir, secretFlags, key, 'someone-else', 'stranger@example', join(work, 'stranger-cert.pub'));
  const refused = await certificateLogin(sshd, key, stranger.certificate);
  expect(refused.code).not.toBe(0);
  expect(sshd.log()).toContain('Certificate invalid: name is not a listed principal');

  await pivOk(['ca', 'revoke', '--dir', caDir, '--serial', String(issued.serial)]);
  const revoked = await certificateLogin(sshd, key, certificate);
  expect(revoked.code).not.toBe(0);
  expect(sshd.log()).toMatch(/Authentication key \S+-CERT SHA256:\S+ revoked by file .*revoked\.krl/);
}

describe('software CA', () => {
  test.each([
    ['ed25519', 'ssh-ed25519', 'rsa'],
    ['rsa4096', 'rsa-sha2-512', 'ed25519'],
    ['ecdsa-p256', 'ecdsa-sha2-nistp256', 'ecdsa'],
  ] as const)('%s CA: ssh-keygen -L, login, wrong principal refused, revoked after ca revoke', async (algorithm, signatureAlgorithm, userKeyType) => {
    const work = caScratch();
    const caDir = join(work, 'ca');
    const passphraseFile = secretFile(work, 'passphrase', PASSPHRASE);
    const init = await pivOk(['ca', 'init', '--dir', caDir, '--algorithm', algorithm, '--passphrase-file', passphraseFile, '--server-dir', caDir, '--json']);
    expect(JSON.parse(init.stdout)).toMatchObject({ signatureAlgorithm: signatureAlgorithm, key: { kind: 'file', file: 'ca-key' } });
    expect(statSync(join(caDir, 'ca-key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(caDir, 'ca-key'), 'utf8')).not.toContain(PASSPHRASE);
    // The emergency path: OpenSSH itself reads the encrypted CA key (passphrase through askpass, not argv).
    const fromKeyFile = await runOk('ssh-keygen', ['-y', '-f', join(caDir, 'ca-key')], { env: askpass(work, PASSPHRASE) });
    expect(fromKeyFile.stdout.trim().split(' ').slice(0, 2)).toEqual(readFileSync(join(caDir, 'ca.pub'), 'utf8').trim().split(' ').slice(0, 2));
    const snippet = readFileSync(join(caDir, 'sshd_config'), 'utf8');
    expect(snippet).toContain(`\nTrustedUserCAKeys ${join(caDir, 'ca.pub')}\n`);
    expect(snippet).toContain(`\nRevokedKeys ${join(caDir, 'revoked.krl')}\n`);

    await certificateStory(caDir, ['--passphrase-file', passphraseFile], work, userKeyType, signatureAlgorithm);
  });

  test('a wrong passphrase signs nothing and burns no serial; ca init never replaces a CA', async () => {
    const work = caScratch();
    const caDir = join(work, 'ca');
    await pivOk(['ca', 'init', '--dir', caDir, '--passphrase-file', secretFile(work, 'passphrase', PASSPHRASE)]);
    const key = await userKey(work, 'user', 'ed25519');
    const wrong = await piv(['ca', 'sign', '--dir', caDir, '--passphrase-file', secretFile(work, 'wrong', 'not the passphrase'), '--public-key', `${key}.pub`, '--principals', 'u', '--key-id', 'k']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/wrong passphrase/);
    expect(wrong.stderr).not.toContain('not the passphrase');
    expect(readFileSync(join(caDir, 'serial'), 'utf8').trim()).toBe('1');
    const again = await piv(['ca', 'init', '--dir', caDir, '--passphrase-file', secretFile(work, 'passphrase2', PASSPHRASE)]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already holds a CA/);
    const missing = await piv(['ca', 'sign', '--dir', caDir, '--public-key', `${key}.pub`, '--yes']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--principals is required');
    expect(missing.stderr).toContain('--key-id is required');
  });
});

describe('CA key on the virtual card', () => {
  test.each([
    ['ECCP256', 'ecdsa-sha2-nistp256', 'ed25519'],
    ['RSA4096', 'rsa-sha2-512', 'ecdsa'],
    ['ED25519', 'ssh-ed25519', 'rsa'],
  ] as const)('%s in slot 9d: the card signs (%s); login, wrong principal refused, revoked after ca revoke', async (cardAlgorithm, signatureAlgorithm, userKeyType) => {
    const work = caScratch();
    const card = join(work, 'card.json');
    const caDir = join(work, 'ca');
    const empty = await piv(['ca', 'init', '--dir', caDir, '--on-card', '--virtual', card, '--slot', '9d']);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain(`piv-enroll enroll --virtual ${card} --slot 9d --algorithm ECCP256`);
    await pivOk(['enroll', '--virtual', card, '--slot', '9d', '--algorithm', cardAlgorithm, '--user', 'ssh-ca', '--yes', '--keep-default-credentials', '--pkcs11', 'none', '--json']);
    const init = await pivOk(['ca', 'init', '--dir', caDir, '--on-card', '--virtual', card, '--slot', '9d', '--server-dir', caDir, '--json']);
    expect(JSON.parse(init.stdout)).toMatchObject({ signatureAlgorithm, key: { kind: 'card', slot: '9D', cardSerial: expect.any(Number) } });
    const cardKey = await pivOk(['export', '--virtual', card, '--slot', '9d']);
    expect(readFileSync(join(caDir, 'ca.pub'), 'utf8').split(' ').slice(0, 2)).toEqual(cardKey.stdout.trim().split(' ').slice(0, 2));

    await certificateStory(caDir, ['--virtual', card, '--pin-file', secretFile(work, 'pin', '123456')], work, userKeyType, signatureAlgorithm);
  });
});
