import { X509Certificate, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { READER, readState, runOk, run, scratchDir, serveCard, DEFAULT_MANAGEMENT_KEY_HEX, type ServedCard } from './bench.js';

const ykman = (args: string[], input?: string) => runOk('ykman', ['--reader', READER, 'piv', ...args], { input });

describe.skipIf(!inject('benchReady'))('ykman against the virtual card behind pcscd', () => {
  let card: ServedCard | undefined;
  afterEach(async () => {
    expect(await card?.stop()).toBe(0);
    card = undefined;
  });

  test('piv info shows firmware and defaults', async () => {
    card = await serveCard();
    const { stdout } = await ykman(['info']);
    expect(stdout).toMatch(/PIV version: 5\.7\.2/);
    expect(stdout).toMatch(/Using default PIN/);
    expect(stdout).toMatch(/Management key algorithm: AES192/);
    expect(stdout).toMatch(/PIN tries remaining: 3\/3/);
  });

  test('change PIN and PUK; a wrong PIN is counted', async () => {
    card = await serveCard();
    await ykman(['access', 'change-pin'], '123456\n24681357\n24681357\n');
    await ykman(['access', 'change-puk'], '12345678\n97531864\n97531864\n');
    const wrong = await run('ykman', ['--reader', READER, 'piv', 'access', 'change-pin'], { input: '123456\n11112222\n11112222\n' });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr + wrong.stdout).toMatch(/2 attempts? left|tries left: 2|PIN.*2/i);
    const { stdout } = await ykman(['info']);
    expect(stdout).not.toMatch(/Using default PIN/);
    expect(stdout).toMatch(/PIN tries remaining: 2\/3/);
  });

  test('change the management key: TDES on 5.4.3, then AES-192 PIN-protected (--protect)', async () => {
    card = await serveCard({ firmware: '5.4.3' });
    const tdes = '0102030405060708A1A2A3A4A5A6A7A8B1B2B3B4B5B6B7B8';
    await ykman(['access', 'change-management-key', '-a', 'TDES'], `${DEFAULT_MANAGEMENT_KEY_HEX}\n${tdes}\n${tdes}\n`);
    // ykman 4 writes an empty admin data object (80 00): no flags, so no key stored.
    expect(readState(card.state).objects['5FFF00'] ?? '8000').toBe('8000');
    await ykman(['access', 'change-management-key', '-a', 'AES192', '--protect'], `${tdes}\n123456\n`);
    const state = readState(card.state) as unknown as { managementKey: { algorithm: number; keyHex: string }; objects: Record<string, string> };
    expect(state.managementKey.algorithm).toBe(0x0a);
    expect(state.objects['5FFF00']).toMatch(/^80..810102/); // flags: key stored
    expect(state.objects['5FC109']).toBe('881A8918' + state.managementKey.keyHex);
    const { stdout } = await ykman(['info']);
    expect(stdout).toMatch(/Management key is stored on the YubiKey, protected by PIN/);
  });

  test('keys generate 9a, keys import 9c, certificates generate 9c, certificates export', async () => {
    card = await serveCard();
    const dir = scratchDir();
    const mk = `${DEFAULT_MANAGEMENT_KEY_HEX}\n`;
    await ykman(['keys', 'generate', '-a', 'ECCP256', '9a', join(dir, '9a.pub')], mk);
    expect(readFileSync(join(dir, '9a.pub'), 'utf8')).toMatch(/BEGIN PUBLIC KEY/);
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    await ykman(['keys', 'import', '9c', join(dir, 'key.pem')], mk);
    writeFileSync(join(dir, 'key.pub.pem'), createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }));
    await ykman(['certificates', 'generate', '-s', 'CN=gofish543', '9c', join(dir, 'key.pub.pem')], `${mk}123456\n`);
    await ykman(['certificates', 'export', '9c', join(dir, 'cert.pem')]);
    const certificate = new X509Certificate(readFileSync(join(dir, 'cert.pem')));
    expect(certificate.subject).toBe('CN=gofish543');
    expect(certificate.verify(certificate.publicKey)).toBe(true); // signed by the card with the imported key
    const { stdout } = await ykman(['info']);
    expect(stdout).toMatch(/Slot 9[Cc].*\n(.*\n)*.*Subject DN:\s*CN=gofish543/);
  });
});
