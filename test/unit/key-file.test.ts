import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { rsaPrivateComponents } from '../../src/crypto/keys.js';
import { KeyFileError, PassphraseRequiredError, readPrivateKeyFile } from '../../src/operations/key-file.js';
import { runOk } from '../support/run.js';

const dir = mkdtempSync(join(tmpdir(), 'piv-enroll-keys-'));

/** The key signs and its public half (from the .pub ssh-keygen wrote, or from node) verifies: the key is whole. */
function works(key: import('node:crypto').KeyObject, hash: string | null = 'sha256'): boolean {
  const data = Buffer.from('check');
  return verify(hash, data, createPublicKey(key), sign(hash, data, key));
}

describe('reading private key files for --import', () => {
  test.each([
    ['rsa', ['-t', 'rsa', '-b', '2048']],
    ['ecdsa', ['-t', 'ecdsa', '-b', '256']],
    ['ed25519', ['-t', 'ed25519']],
  ])('OpenSSH format (%s), plain and passphrase-protected', async (name, args) => {
    const plain = join(dir, `${name}-plain`);
    const locked = join(dir, `${name}-locked`);
    await runOk('ssh-keygen', ['-q', ...args, '-N', '', '-f', plain]);
    await runOk('ssh-keygen', ['-q', ...args, '-N', 'open sesame', '-f', locked]);
    const key = await readPrivateKeyFile(plain);
    expect(works(key, name === 'ed25519' ? null : 'sha256')).toBe(true);
    await expect(readPrivateKeyFile(locked)).rejects.toBeInstanceOf(PassphraseRequiredError);
    await expect(readPrivateKeyFile(locked, 'wrong')).rejects.toThrow(/wrong passphrase/);
    expect(works(await readPrivateKeyFile(locked, 'open sesame'), name === 'ed25519' ? null : 'sha256')).toBe(true);
  });

  test('OpenSSH RSA keys come back with every CRT part (OpenSSH stores no dP/dQ; a card needs them)', async () => {
    const file = join(dir, 'rsa-crt');
    await runOk('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', file]);
    const parts = rsaPrivateComponents(await readPrivateKeyFile(file));
    for (const part of [parts.p, parts.q, parts.dp, parts.dq, parts.qi]) expect(part.length).toBeGreaterThan(100);
  });

  test('PKCS#1, SEC1 and encrypted PKCS#8 PEM', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    writeFileSync(join(dir, 'pkcs1.pem'), rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }));
    writeFileSync(join(dir, 'sec1.pem'), ec.privateKey.export({ type: 'sec1', format: 'pem' }));
    writeFileSync(join(dir, 'enc.pem'), ec.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'open sesame' }));
    expect(works(await readPrivateKeyFile(join(dir, 'pkcs1.pem')))).toBe(true);
    expect(works(await readPrivateKeyFile(join(dir, 'sec1.pem')))).toBe(true);
    await expect(readPrivateKeyFile(join(dir, 'enc.pem'))).rejects.toBeInstanceOf(PassphraseRequiredError);
    await expect(readPrivateKeyFile(join(dir, 'enc.pem'), 'nope')).rejects.toThrow(/wrong passphrase/);
    expect(works(await readPrivateKeyFile(join(dir, 'enc.pem'), 'open sesame'))).toBe(true);
  });

  test('not a key, or no file: clear errors', async () => {
    writeFileSync(join(dir, 'notes.txt'), 'hello');
    await expect(readPrivateKeyFile(join(dir, 'notes.txt'))).rejects.toBeInstanceOf(KeyFileError);
    await expect(readPrivateKeyFile(join(dir, 'missing'))).rejects.toThrow(/cannot read the key file .*ENOENT/);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('hello');
  });
});
