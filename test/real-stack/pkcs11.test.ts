import { generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { fromHex } from '../../src/bytes/hex.js';
import { testCertificate } from '../support/test-certificate.js';
import { DEFAULT_MANAGEMENT_KEY_HEX, OPENSC_PKCS11, YKCS11, runOk, runOnTerminal, scratchDir, serveCard, withSession, type ServedCard } from './bench.js';

const DEFAULT_MANAGEMENT_KEY = fromHex(DEFAULT_MANAGEMENT_KEY_HEX);

/** Puts an RSA key and a certificate for it into 9A with piv-enroll's own session, through pcscd. */
async function provision(privateKey: KeyObject, publicKey: KeyObject): Promise<void> {
  const certificate = await testCertificate({ keys: { privateKey, publicKey }, commonName: 'pkcs11 test', serialHex: '0A' });
  await withSession(async (session) => {
    await session.authenticate(DEFAULT_MANAGEMENT_KEY);
    await session.importKey(0x9a, privateKey);
    await session.putCertificate(0x9a, certificate);
  });
}

describe.skipIf(!inject('benchReady'))('PKCS#11 modules (OpenSC, ykcs11) against the virtual card behind pcscd', () => {
  let card: ServedCard | undefined;
  afterEach(async () => {
    expect(await card?.stop()).toBe(0);
    card = undefined;
  });

  test.each([
    ['opensc-pkcs11.so', OPENSC_PKCS11],
    ['libykcs11.so', YKCS11],
  ])('%s lists the objects and signs SHA256-RSA-PKCS; the signature verifies', async (_name, module) => {
    card = await serveCard();
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await provision(privateKey, publicKey);
    const listing = await runOk('pkcs11-tool', ['--module', module, '--list-objects']);
    expect(listing.stdout).toMatch(/Certificate Object[\s\S]*pkcs11 test|label:.*(Certificate|X\.509)/i);
    expect(listing.stdout).toMatch(/Public Key Object; RSA 2048 bits/);

    const dir = scratchDir();
    const data = join(dir, 'data');
    writeFileSync(data, 'the original failure was a bad signature');
    const signature = join(dir, 'sig');
    const signed = await runOnTerminal(
      'pkcs11-tool',
      ['--module', module, '--login', '--sign', '--id', '01', '--mechanism', 'SHA256-RSA-PKCS', '--input-file', data, '--output-file', signature],
      [{ prompt: /PIN:/, answer: '123456' }],
    );
    expect(signed.code, signed.stdout).toBe(0);
    expect(verify('sha256', readFileSync(data), publicKey, readFileSync(signature))).toBe(true);
  });
});
