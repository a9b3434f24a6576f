/**
 * Revocation checked against OpenSSH: `ca check-revoked` answers exactly as `ssh-keygen -Q` (same lines, same exit
 * status) for certificates revoked by serial, by key id, by public key, and not revoked; sshd with RevokedKeys refuses
 * exactly the revoked ones. And the reader side: KRLs written by ssh-keygen -k (bitmaps, ranges, hashes) are judged alike.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { run, runOk } from '../support/run.js';
import { caScratch, certificateLogin, piv, pivOk, removeCaScratch, secretFile, startCaSshd, userKey, type CaSshd } from './support/ca-sshd.js';

let sshd: CaSshd | undefined;
afterEach(async () => {
  await sshd?.stop();
  sshd = undefined;
  removeCaScratch();
});

/** Both answers for the same files: ssh-keygen -Q -f KRL and piv-enroll ca check-revoked --krl KRL. */
async function bothAnswers(krl: string, files: string[]): Promise<{ keygen: { code: number | null; stdout: string }; ours: { code: number | null; stdout: string } }> {
  const keygen = await run('ssh-keygen', ['-Q', '-f', krl, ...files]);
  const ours = await piv(['ca', 'check-revoked', '--krl', krl, ...files]);
  return { keygen: { code: keygen.code, stdout: keygen.stdout }, ours: { code: ours.code, stdout: ours.stdout } };
}

describe('ca revoke and check-revoked against ssh-keygen -Q and sshd', () => {
  test('revoked by serial, by key id, by public key; and one not revoked', async () => {
    const work = caScratch();
    const caDir = join(work, 'ca');
    const passphrase = ['--passphrase-file', secretFile(work, 'passphrase', 'a long CA passphrase')];
    await pivOk(['ca', 'init', '--dir', caDir, '--algorithm', 'ecdsa-p256', ...passphrase]);
    sshd = await startCaSshd({ trustedUserCaKeys: join(caDir, 'ca.pub'), revokedKeys: join(caDir, 'revoked.krl') });
    const names = ['by-serial', 'by-key-id', 'by-key', 'kept'] as const;
    const keys: Record<string, string> = {};
    const serials: Record<string, number> = {};
    for (const [index, name] of names.entries()) {
      keys[name] = await userKey(work, name, (['ed25519', 'ecdsa', 'rsa', 'ed25519'] as const)[index]!);
      const signed = await pivOk(['ca', 'sign', '--dir', caDir, ...passphrase, '--public-key', `${keys[name]}.pub`, '--principals', sshd.user, '--key-id', `id-${name}`, '--json']);
      serials[name] = (JSON.parse(signed.stdout) as { serial: number }).serial;
    }
    expect(Object.values(serials)).toEqual([1, 2, 3, 4]); // unique, from 1, in order
    const krl = join(caDir, 'revoked.krl');
    const files = [...names.map((n) => `${keys[n]}-cert.pub`), `${keys['by-key']}.pub`, `${keys.kept}.pub`];

    const before = await bothAnswers(krl, files);
    expect(before.keygen.code).toBe(0);
    expect(before.ours).toEqual(before.keygen);
    for (const name of names) expect((await certificateLogin(sshd, keys[name]!, `${keys[name]}-cert.pub`)).code).toBe(0);

    await pivOk(['ca', 'revoke', '--dir', caDir, '--serial', String(serials['by-serial'])]);
    await pivOk(['ca', 'revoke', '--dir', caDir, '--key-id', 'id-by-key-id']);
    const byKey = await pivOk(['ca', 'revoke', '--dir', caDir, '--public-key', `${keys['by-key']}-cert.pub`, '--json']);
    expect(JSON.parse(byKey.stdout)).toMatchObject({ added: true, krlVersion: 4, revocation: { kind: 'key' } });
    const repeat = await pivOk(['ca', 'revoke', '--dir', caDir, '--key-id', 'id-by-key-id', '--json']);
    expect(JSON.parse(repeat.stdout)).toMatchObject({ added: false, krlVersion: 4 });
    expect((await runOk('ssh-keygen', ['-Ql', '-f', krl])).stdout).toContain('# KRL version 4');

    // Each file alone, then all at once: the same lines and the same exit status as ssh-keygen -Q.
    for (const file of files) {
      const answers = await bothAnswers(krl, [file]);
      expect(answers.ours, file).toEqual(answers.keygen);
    }
    const after = await bothAnswers(krl, files);
    expect(after.keygen.code).toBe(1);
    expect(after.ours).toEqual(after.keygen);
    expect(after.ours.stdout.split('\n').filter((l) => l.endsWith(': REVOKED')).length).toBe(4);
    expect((await piv(['ca', 'check-revoked', '--dir', caDir, `${keys.kept}-cert.pub`])).code).toBe(0);

    for (const name of names) {
      const login = await certificateLogin(sshd, keys[name]!, `${keys[name]}-cert.pub`);
      expect(login.code, name).toBe(name === 'kept' ? 0 : 255);
    }
  });

  test('KRLs written by ssh-keygen -k (serial bitmaps and ranges, key ids, SHA-256 hashes) read alike', async () => {
    const work = caScratch();
    const caDir = join(work, 'ca');
    const passphrase = ['--passphrase-file', secretFile(work, 'passphrase', 'a long CA passphrase')];
    await pivOk(['ca', 'init', '--dir', caDir, ...passphrase]);
    const files: string[] = [];
    for (let i = 1; i <= 12; i++) {
      const key = await userKey(work, `u${i}`, 'ed25519');
      await pivOk(['ca', 'sign', '--dir', caDir, ...passphrase, '--public-key', `${key}.pub`, '--principals', 'u', '--key-id', `id-${i}`]);
      files.push(`${key}-cert.pub`);
    }
    const fingerprint = (await runOk('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(work, 'u11.pub')])).stdout.split(' ')[1]!;
    // Odd serials up to 7 make ssh-keygen choose a bitmap; 9-10 a range or list; u11 by SHA-256 hash (ssh-keygen 9.2 spells it "hash:"); id-12 by key id.
    const spec = join(work, 'spec');
    writeFileSync(spec, ['serial: 1', 'serial: 3', 'serial: 5', 'serial: 7', 'serial: 9-10', 'id: id-12', `hash: ${fingerprint}`, ''].join('\n'));
    const krl = join(work, 'keygen.krl');
    await runOk('ssh-keygen', ['-k', '-f', krl, '-s', join(caDir, 'ca.pub'), '-z', '7', spec]);
    const answers = await bothAnswers(krl, [...files, join(work, 'u11.pub'), join(work, 'u2.pub')]);
    expect(answers.keygen.code).toBe(1);
    expect(answers.ours).toEqual(answers.keygen);
    expect(answers.ours.stdout.split('\n').filter((l) => l.endsWith(': REVOKED')).length).toBe(9); // serials 1,3,5,7,9,10; id-12; u11's certificate and key
    expect(readFileSync(krl).subarray(0, 6).toString()).toBe('SSHKRL');
  });
});
