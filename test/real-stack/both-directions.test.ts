import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { fromHex } from '../../src/bytes/hex.js';
import { storeProtectedManagementKey } from '../../src/piv/protected-management-key.js';
import { managementKeyAlgorithmByName } from '../../src/standards/algorithms.js';
import { testCertificate } from '../support/test-certificate.js';
import { CLI, DEFAULT_MANAGEMENT_KEY_HEX, READER, runOk, scratchDir, serveCard, withSession, type ServedCard } from './bench.js';

const MK = `${DEFAULT_MANAGEMENT_KEY_HEX}\n`;

describe.skipIf(!inject('benchReady'))('piv-enroll and the Yubico tools read what the other wrote', () => {
  let card: ServedCard | undefined;
  afterEach(async () => {
    expect(await card?.stop()).toBe(0);
    card = undefined;
  });

  test('piv-enroll status --reader "Yubico YubiKey" reads what ykman wrote', async () => {
    card = await serveCard();
    const dir = scratchDir();
    await runOk('ykman', ['--reader', READER, 'piv', 'keys', 'generate', '-a', 'ECCP384', '--touch-policy', 'CACHED', '9a', join(dir, '9a.pub')], { input: MK });
    await runOk('ykman', ['--reader', READER, 'piv', 'certificates', 'generate', '-s', 'CN=Ana Example', '9a', join(dir, '9a.pub')], { input: `${MK}123456\n` });
    await runOk('ykman', ['--reader', READER, 'piv', 'access', 'change-pin'], { input: '123456\n55667788\n55667788\n' });
    const { stdout } = await runOk(process.execPath, [CLI, 'status', '--reader', 'Yubico YubiKey', '--json']);
    const report = JSON.parse(stdout);
    expect(report.card).toBe(READER);
    expect(report.pin).toMatchObject({ isDefault: false, attemptsRemaining: 3 });
    const slot = report.slots.find((s: { slot: string }) => s.slot === '9A');
    expect(slot).toMatchObject({ algorithm: 'ECCP384', origin: 'generated', pinPolicy: 'ONCE', touchPolicy: 'CACHED' });
    expect(slot.certificate).toMatchObject({ subject: 'CN=Ana Example', matchesKey: true });
  });

  test('ykman and yubico-piv-tool read what the piv-enroll session wrote: key, certificate, CHUID, PIN-protected management key', async () => {
    card = await serveCard();
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const certificate = await testCertificate({ keys: { privateKey, publicKey }, commonName: 'gofish543', serialHex: '7F01' });
    const guid = await withSession(async (session) => {
      await session.authenticate(fromHex(DEFAULT_MANAGEMENT_KEY_HEX));
      await session.importKey(0x9c, privateKey);
      await session.putCertificate(0x9c, certificate);
      const written = await session.setChuid();
      await session.verifyPin('123456');
      await storeProtectedManagementKey(session, managementKeyAlgorithmByName('AES192')!, fromHex('00112233445566778899AABBCCDDEEFF0011223344556677'), new Date());
      return written;
    });

    const info = await runOk('ykman', ['--reader', READER, 'piv', 'info']);
    expect(info.stdout).toMatch(/Management key is stored on the YubiKey, protected by PIN/);
    expect(info.stdout).toMatch(/CHUID:\s+3019D4E739DA739CED39CE739D836858210842108421C84210C3EB3410/i);
    expect(info.stdout.toUpperCase()).toContain(Buffer.from(guid).toString('hex').toUpperCase());
    expect(info.stdout).toMatch(/Slot 9[cC][\s\S]*Subject DN:\s+CN=gofish543/);
    // ykman uses the PIN-protected key by itself: only the PIN is asked for.
    const dir = scratchDir();
    await runOk('ykman', ['--reader', READER, 'piv', 'keys', 'generate', '-a', 'ECCP256', '9d', join(dir, '9d.pub')], { input: '123456\n' });
    expect(readFileSync(join(dir, '9d.pub'), 'utf8')).toMatch(/BEGIN PUBLIC KEY/);

    await runOk('ykman', ['--reader', READER, 'piv', 'certificates', 'export', '9c', join(dir, 'cert.pem')]);
    expect(new X509Certificate(readFileSync(join(dir, 'cert.pem'))).raw.equals(Buffer.from(certificate))).toBe(true);
    const read = await runOk('yubico-piv-tool', ['-r', 'Yubico YubiKey', '-a', 'read-certificate', '-s', '9c']);
    expect(new X509Certificate(read.stdout).raw.equals(Buffer.from(certificate))).toBe(true);
    const status = await runOk('yubico-piv-tool', ['-r', 'Yubico YubiKey', '-a', 'status']);
    expect(status.stdout).toMatch(/CHUID:\s+3019d4e739da739ced39ce739d836858210842108421c84210c3eb3410/i);
  });
});
