import { X509Certificate, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { DEFAULT_MANAGEMENT_KEY_HEX, run, runOk, scratchDir, serveCard, type ServedCard } from './bench.js';

// yubico-piv-tool 2.2 (Debian 12) authenticates with TDES only, as it would against a real 5.7 YubiKey
// (AES-192 by default): so these tests use a 5.4.3 card, whose default management key is TDES.
const tool = (args: string[], input?: string) => runOk('yubico-piv-tool', ['-r', 'Yubico YubiKey', ...args], { input });
const MK = `${DEFAULT_MANAGEMENT_KEY_HEX}\n`;

describe.skipIf(!inject('benchReady'))('yubico-piv-tool against the virtual card behind pcscd', () => {
  let card: ServedCard | undefined;
  afterEach(async () => {
    expect(await card?.stop()).toBe(0);
    card = undefined;
  });

  test('-a status and -a verify-pin', async () => {
    card = await serveCard({ firmware: '5.4.3' });
    const status = await tool(['-a', 'status']);
    expect(status.stdout).toMatch(/Version:\s+5\.4\.3/);
    expect(status.stdout).toMatch(/PIN tries left:\s+3/);
    const verified = await tool(['-a', 'verify-pin'], '123456\n');
    expect(verified.stdout + verified.stderr).toMatch(/Successfully verified PIN/);
    const wrong = await run('yubico-piv-tool', ['-r', 'Yubico YubiKey', '-a', 'verify-pin'], { input: '000000\n' });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr + wrong.stdout).toMatch(/2 tries left/);
  });

  test('-a import-key, -a import-certificate, -a read-certificate, -a test-signature (the card signs)', async () => {
    card = await serveCard({ firmware: '5.4.3' });
    const dir = scratchDir();
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'key.pem'), privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
    await tool(['-k', '-a', 'import-key', '-s', '9c', '-i', join(dir, 'key.pem')], MK);
    await runOk('openssl', ['req', '-x509', '-new', '-key', join(dir, 'key.pem'), '-subj', '/CN=gofish543', '-days', '30', '-out', join(dir, 'cert.pem')]);
    await tool(['-k', '-a', 'import-certificate', '-s', '9c', '-i', join(dir, 'cert.pem')], MK);
    const read = await tool(['-a', 'read-certificate', '-s', '9c']);
    expect(new X509Certificate(read.stdout).fingerprint256).toBe(new X509Certificate(readFileSync(join(dir, 'cert.pem'))).fingerprint256);
    const status = await tool(['-a', 'status']);
    expect(status.stdout).toMatch(/Slot 9c:[\s\S]*Subject DN:\s+CN=gofish543/);
    // test-signature has the card sign random data with 9C and checks it against the certificate.
    const signed = await tool(['-a', 'verify-pin', '-a', 'test-signature', '-s', '9c', '-i', join(dir, 'cert.pem')], '123456\n');
    expect(signed.stdout + signed.stderr).toMatch(/Successful RSA verification/);
  });

  test('-a selfsign-certificate fails inside yubico-piv-tool 2.2 itself (OpenSSL 3, Yubico issue #388), before any signing APDU', async () => {
    card = await serveCard({ firmware: '5.4.3', verbose: true });
    const dir = scratchDir();
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'key.pem'), privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
    writeFileSync(join(dir, 'pub.pem'), createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }));
    await tool(['-k', '-a', 'import-key', '-s', '9c', '-i', join(dir, 'key.pem')], MK);
    const args = ['-r', 'Yubico YubiKey', '-a', 'verify-pin', '-a', 'selfsign-certificate', '-s', '9c', '-S', '/CN=gofish543/', '-i', join(dir, 'pub.pem'), '-o', join(dir, 'cert.pem')];
    const result = await run('yubico-piv-tool', args, { input: '123456\n' });
    if (result.code === 0) {
      // A fixed yubico-piv-tool: then the card must have signed a valid certificate.
      expect(new X509Certificate(readFileSync(join(dir, 'cert.pem'))).verify(createPublicKey(privateKey))).toBe(true);
      return;
    }
    expect(result.stderr + result.stdout).toMatch(/Successfully verified PIN[\s\S]*Failed signing certificate/);
    expect(card.log()).toMatch(/> 00200080 <redacted>\n< 9000/); // the PIN reached the card, redacted in the trace
    expect(card.log()).not.toMatch(/> ..87..9C/); // no signature was ever asked of the card
  });

  test('-a generate: an ECCP256 key generated on the card', async () => {
    card = await serveCard({ firmware: '5.4.3' });
    const dir = scratchDir();
    await tool(['-k', '-a', 'generate', '-s', '9a', '-A', 'ECCP256', '-o', join(dir, '9a.pem')], MK);
    const key = createPublicKey(readFileSync(join(dir, '9a.pem')));
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });
});
