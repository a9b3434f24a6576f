/**
 * The authorized_keys line and fingerprint enroll prints (src/operations/ssh-public-key.ts, on the SSH CA's blob
 * encoder) are what OpenSSH's own ssh-keygen makes of the same public key, for every key type a PIV slot holds, and
 * what sshpk (which wrote them before) makes of it; Debian's ssh-keygen 9.2 cannot import an Ed25519 SPKI, so for that
 * one sshpk alone is the reference.
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sshpk from 'sshpk';
import { describe, expect, test } from 'vitest';
import { authorizedKeysLine, sshFingerprint } from '../../src/operations/ssh-public-key.js';

const hasSshKeygen = spawnSync('ssh-keygen', ['-?']).error === undefined;

function sshKeygen(args: string[]): string {
  const result = spawnSync('ssh-keygen', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ssh-keygen ${args.join(' ')}: ${result.stderr}`);
  return result.stdout.trim();
}

const keys: Array<[string, () => KeyObject]> = [
  ['RSA-2048', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey],
  ['RSA-1024 with a modulus whose top bit needs a zero byte', () => generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey],
  ['P-256', () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey],
  ['P-384', () => generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey],
  ['Ed25519', () => generateKeyPairSync('ed25519').publicKey],
];

describe.skipIf(!hasSshKeygen)('SSH views of a public key, against ssh-keygen', () => {
  test.each(keys)('%s', (_name, make) => {
    const publicKey = make();
    const dir = mkdtempSync(join(tmpdir(), 'piv-enroll-ssh-key-'));
    const pem = join(dir, 'key.pem');
    writeFileSync(pem, publicKey.export({ type: 'spki', format: 'pem' }));
    const bySshpk = sshpk.parseKey(publicKey.export({ type: 'spki', format: 'pem' }), 'pem');
    const expected = bySshpk.toString('ssh').split(' ').slice(0, 2).join(' ');
    expect(sshFingerprint(publicKey)).toBe(bySshpk.fingerprint('sha256').toString());
    if (publicKey.asymmetricKeyType !== 'ed25519') expect(sshKeygen(['-i', '-m', 'PKCS8', '-f', pem])).toBe(expected);
    expect(authorizedKeysLine(publicKey)).toBe(expected);
    expect(authorizedKeysLine(publicKey, ' ana@piv-1\n9c ')).toBe(`${expected} ana@piv-1 9c`);
    const pub = join(dir, 'key.pub');
    writeFileSync(pub, `${expected}\n`);
    expect(sshKeygen(['-l', '-E', 'sha256', '-f', pub]).split(' ')[1]).toBe(sshFingerprint(publicKey));
  });
});
