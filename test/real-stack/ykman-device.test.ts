/**
 * The virtual card as a whole YubiKey behind pcscd: ykman identifies it through the Management application
 * (firmware, serial, form factor; --device SERIAL finds it), PIN-protected objects answer 6982 unverified
 * whether or not they exist, and MOVE/DELETE KEY work as on 5.7 and are refused on 5.4.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { NotSupportedError, SecurityStatusError } from '../../src/piv/errors.js';
import { OBJECT } from '../../src/standards/objects.js';
import { CLI, DEFAULT_MANAGEMENT_KEY_HEX, READER, readState, run, runOk, scratchDir, serveCard, withSession, type ServedCard } from './bench.js';

const SERIAL = 12345678;
const ykman = (args: string[], input?: string) => runOk('ykman', ['--reader', READER, ...args], { input });
const managementKey = () => Uint8Array.from(Buffer.from(DEFAULT_MANAGEMENT_KEY_HEX, 'hex'));

describe.skipIf(!inject('benchReady'))('ykman sees the virtual card as a YubiKey 5 (Management application)', () => {
  let card: ServedCard | undefined;
  afterEach(async () => {
    expect(await card?.stop()).toBe(0);
    card = undefined;
  });

  test('ykman info: device type, serial, firmware and form factor; only PIV enabled', async () => {
    card = await serveCard({ serial: SERIAL });
    const { stdout } = await ykman(['info']);
    expect(stdout).toMatch(/^Device type: YubiKey 5A$/m);
    expect(stdout).toMatch(/^Serial number: 12345678$/m);
    expect(stdout).toMatch(/^Firmware version: 5\.7\.2$/m);
    expect(stdout).toMatch(/^Form factor: Keychain \(USB-A\)$/m);
    expect(stdout).toMatch(/^PIV\s+Enabled/m);
    expect(stdout).toMatch(/^OATH\s+Not available/m);
  });

  test('--form-factor usb-c-nano on 5.4.3: ykman names it a YubiKey 5C Nano', async () => {
    card = await serveCard({ serial: SERIAL, firmware: '5.4.3', formFactor: 'usb-c-nano' });
    const { stdout } = await ykman(['info']);
    expect(stdout).toMatch(/^Device type: YubiKey 5C Nano$/m);
    expect(stdout).toMatch(/^Firmware version: 5\.4\.3$/m);
    expect(stdout).toMatch(/^Form factor: Nano \(USB-C\)$/m);
  });

  test('piv-enroll status through pcscd reads form factor and applications from the Management application', async () => {
    card = await serveCard({ serial: SERIAL, formFactor: 'usb-c-keychain' });
    const { stdout } = await runOk(process.execPath, [CLI, 'status', '--reader', 'Yubico YubiKey OTP+FIDO+CCID 00 00']);
    expect(stdout).toMatch(/^Serial: 12345678$/m);
    expect(stdout).toMatch(/^Form factor: Keychain \(USB-C\)$/m);
    expect(stdout).toMatch(/^Applications over USB: PIV \(enabled: PIV\)$/m);
    const json = JSON.parse((await runOk(process.execPath, [CLI, 'status', '--reader', 'Yubico YubiKey OTP+FIDO+CCID 00 00', '--json'])).stdout);
    expect(json.device).toMatchObject({ formFactorName: 'usb-c-keychain', usbSupported: ['PIV'], configLocked: false });
  });

  test('ykman list --serials lists it; ykman --device SERIAL piv info finds it', async () => {
    card = await serveCard({ serial: SERIAL });
    const listed = await runOk('ykman', ['list', '--serials']);
    expect(listed.stdout.split('\n')).toContain(String(SERIAL));
    const list = await runOk('ykman', ['list']);
    expect(list.stdout).toMatch(/YubiKey 5A \(5\.7\.2\) \[OTP\+FIDO\+CCID\] Serial: 12345678/);
    const { stdout } = await runOk('ykman', ['--device', String(SERIAL), 'piv', 'info']);
    expect(stdout).toMatch(/PIV version: 5\.7\.2/);
    expect(stdout).toMatch(/PIN tries remaining: 3\/3/);
  });

  test('an unverified read of 5FC109 is a security status error, with and without the object present', async () => {
    card = await serveCard({ serial: SERIAL, verbose: true });
    await withSession(async (session) => {
      await expect(session.getObject(OBJECT.PRINTED)).rejects.toBeInstanceOf(SecurityStatusError); // absent
    });
    // ykman stores the management key PIN-protected in 5FC109 (and flags it in 5FFF00).
    await ykman(['piv', 'access', 'change-management-key', '-a', 'AES192', '--protect'], `${DEFAULT_MANAGEMENT_KEY_HEX}\n123456\n`);
    expect(readState(card.state).objects['5FC109']).toMatch(/^881A8918/);
    await withSession(async (session) => {
      await expect(session.getObject(OBJECT.PRINTED)).rejects.toBeInstanceOf(SecurityStatusError); // present
    });
    // ykman's `objects export` asks for the PIN on 6982 and reads again: the card saw 6982 first, then the read after VERIFY.
    const dir = scratchDir();
    await ykman(['piv', 'objects', 'export', '0x5fc109', join(dir, 'printed.bin')], '123456\n');
    expect(readFileSync(join(dir, 'printed.bin')).subarray(0, 4).toString('hex').toUpperCase()).toBe('881A8918');
    // (ykman sends extended APDUs: Lc 00 00 05.)
    expect(card.log()).toMatch(/> 00CB3FFF(?:0000)?055C035FC109\n< 6982\n> 00200080 <redacted>\n< 9000\n> 00CB3FFF(?:0000)?055C035FC109\n< <redacted> 9000/);
  });

  test('MOVE KEY 9C → 82 → 9C and DELETE KEY on 5.7 through pcscd; the moved key can still be attested by ykman', async () => {
    card = await serveCard({ serial: SERIAL });
    const dir = scratchDir();
    await ykman(['piv', 'keys', 'generate', '-a', 'ECCP256', '9c', join(dir, '9c.pub')], `${DEFAULT_MANAGEMENT_KEY_HEX}\n`);
    await withSession(async (session) => {
      const before = await session.getSlotMetadata(0x9c);
      await session.authenticate(managementKey());
      await session.moveKey(0x9c, 0x82);
      const moved = await session.getSlotMetadata(0x82);
      expect({ ...moved, publicKey: undefined }).toEqual({ ...before, publicKey: undefined });
      expect(moved.publicKey.export({ type: 'spki', format: 'der' }).equals(before.publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
      await expect(session.getSlotMetadata(0x9c)).rejects.toThrow(/not found/);
    });
    await ykman(['piv', 'keys', 'attest', '82', join(dir, '82-attestation.pem')]);
    const attestation = new X509Certificate(readFileSync(join(dir, '82-attestation.pem')));
    expect(attestation.publicKey.export({ type: 'spki', format: 'pem' })).toBe(readFileSync(join(dir, '9c.pub'), 'utf8'));
    await withSession(async (session) => {
      await session.authenticate(managementKey());
      await session.moveKey(0x82, 0x9c);
      expect((await session.getSlotMetadata(0x9c)).origin).toBe('generated');
      await session.deleteKey(0x9c);
      await expect(session.getSlotMetadata(0x9c)).rejects.toThrow(/not found/);
    });
    expect(Object.keys(readState(card.state).keys)).toEqual(['F9']);
  });

  test('MOVE / DELETE KEY are refused on 5.4.3: the session before any APDU, the card with 6D00', async () => {
    card = await serveCard({ serial: SERIAL, firmware: '5.4.3' });
    const dir = scratchDir();
    await ykman(['piv', 'keys', 'generate', '-a', 'ECCP256', '9c', join(dir, '9c.pub')], `${DEFAULT_MANAGEMENT_KEY_HEX}\n`);
    await withSession(async (session) => {
      await session.authenticate(managementKey());
      await expect(session.moveKey(0x9c, 0x82)).rejects.toBeInstanceOf(NotSupportedError);
      await expect(session.deleteKey(0x9c)).rejects.toBeInstanceOf(NotSupportedError);
      expect((await session.transport.transmit(Uint8Array.of(0x00, 0xf6, 0x82, 0x9c))).sw).toBe(0x6d00);
      expect((await session.transport.transmit(Uint8Array.of(0x00, 0xf6, 0xff, 0x9c))).sw).toBe(0x6d00);
    });
    expect(Object.keys(readState(card.state).keys).sort()).toEqual(['9C', 'F9']);
    const info = await run('ykman', ['--reader', READER, 'piv', 'info']);
    expect(info.code).toBe(0);
  });
});
