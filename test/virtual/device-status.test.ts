import { describe, expect, test } from 'vitest';
import { fromHex } from '../../src/bytes/hex.js';
import { MalformedDataError } from '../../src/bytes/errors.js';
import { formatStatus } from '../../src/cli/format-status.js';
import { readCardStatus } from '../../src/operations/card-status.js';
import { deviceInfoFromTlvs, parseSelectVersion, readDeviceInfo } from '../../src/piv/management.js';
import { PivSession } from '../../src/piv/session.js';
import { parseTlvMap } from '../../src/bytes/tlv.js';
import { FORM_FACTOR } from '../../src/standards/management.js';
import type { CardTransport } from '../../src/transport/transport.js';
import { defaultCardDependencies } from '../../src/transport/virtual/create-card.js';
import { openVirtualCard } from '../../src/transport/virtual/virtual-transport.js';
import { DEFAULT_PIN, openTestCard, RecordingTransport } from './helpers.js';

/** A transport whose card answers SELECT of the Management AID with `sw` and passes everything else on. */
function withoutManagement(inner: CardTransport, sw: number): CardTransport {
  return {
    name: inner.name,
    supportsExtendedLength: inner.supportsExtendedLength,
    transmit: async (apdu) => (Buffer.from(apdu).toString('hex').toUpperCase().startsWith('00A4040008A000000527471117') ? { data: new Uint8Array(0), sw } : inner.transmit(apdu)),
    transaction: (work) => inner.transaction(work),
    close: () => inner.close(),
  };
}

describe('reading the Management application (src/piv/management.ts) and status', () => {
  test('readDeviceInfo: firmware, serial, form factor, USB capabilities of the virtual card', async () => {
    const card = await openTestCard({ serial: 12345678 });
    expect(await readDeviceInfo(card.transport)).toEqual({
      firmware: { major: 5, minor: 7, patch: 2 },
      serial: 12345678,
      formFactor: FORM_FACTOR.USB_A_KEYCHAIN,
      isFips: false,
      isSecurityKey: false,
      usbSupported: 0x10,
      usbEnabled: 0x10,
      nfcSupported: undefined,
      nfcEnabled: undefined,
      deviceFlags: 0,
      configLocked: false,
    });
    expect(card.transport.sent.slice(-2)).toEqual(['00A4040008A000000527471117', '001D0000']);
  });

  test('a card without a Management application: undefined, for each way a card says so', async () => {
    const card = await openTestCard();
    for (const sw of [0x6a82, 0x6d00, 0x6b00, 0x6a86]) expect(await readDeviceInfo(withoutManagement(card.transport, sw))).toBeUndefined();
    const ancient = await openTestCard({ firmware: '4.0.0' });
    expect(await readDeviceInfo(ancient.transport)).toBeUndefined(); // SELECT works, GET DEVICE INFO is 6D00
  });

  test('parsing: version string as ykman reads it, YubiKey Edge trailer, TLV length byte, FIPS bit, pages', () => {
    expect(parseSelectVersion(new TextEncoder().encode('5.7.1'))).toEqual({ major: 5, minor: 7, patch: 1 });
    expect(parseSelectVersion(new TextEncoder().encode('Virtual mgr - FW version 3.4.6\x90\x00'))).toEqual({ major: 3, minor: 4, patch: 6 });
    expect(parseSelectVersion(new Uint8Array(0))).toBeUndefined();
    const info = deviceInfoFromTlvs(parseTlvMap(fromHex('0102023F' + '040183' + '0D02023F' + '0E02023B')), { major: 5, minor: 4, patch: 3 });
    expect(info).toMatchObject({ firmware: { major: 5, minor: 4, patch: 3 }, serial: undefined, formFactor: FORM_FACTOR.USB_C_KEYCHAIN, isFips: true, nfcSupported: 0x23f, nfcEnabled: 0x23b });
    expect(() => deviceInfoFromTlvs(parseTlvMap(fromHex('040101')), { major: 5, minor: 4, patch: 3 })).toThrow(MalformedDataError);
  });

  test('a page whose length byte does not match is refused; announced pages are read (P1 = page)', async () => {
    const card = await openTestCard();
    const pages: Record<string, string> = { '001D0000': '07' + '01020010' + '100101', '001D0100': '06' + '020400BC614E' };
    const paged: CardTransport = { ...card.transport, name: 'paged', supportsExtendedLength: true, transmit: async (apdu) => {
      const hex = Buffer.from(apdu).toString('hex').toUpperCase();
      if (hex.startsWith('00A40400')) return { data: new TextEncoder().encode('5.7.2'), sw: 0x9000 };
      return { data: fromHex(pages[hex] ?? ''), sw: pages[hex] ? 0x9000 : 0x6a86 };
    }, transaction: (w) => w(), close: async () => undefined };
    expect(await readDeviceInfo(paged)).toMatchObject({ serial: 12345678, usbSupported: 0x10 });
    pages['001D0000'] = '09' + '01020010';
    await expect(readDeviceInfo(paged)).rejects.toBeInstanceOf(MalformedDataError);
  });

  test('status reports form factor and applications, and PIV still works afterwards (PIN state is lost, as on a YubiKey)', async () => {
    const deps = { ...defaultCardDependencies, now: () => Date.UTC(2026, 0, 1) };
    const { transport } = await openVirtualCard({ serial: 12345678, formFactor: FORM_FACTOR.USB_C_NANO, deps });
    const recording = new RecordingTransport(transport);
    const session = await PivSession.open(recording);
    await session.verifyPin(DEFAULT_PIN);
    const report = await readCardStatus(session);
    expect(report.device).toEqual({ formFactor: 'Nano (USB-C)', formFactorName: 'usb-c-nano', usbSupported: ['PIV'], usbEnabled: ['PIV'], nfcSupported: undefined, nfcEnabled: undefined, configLocked: false, fips: false });
    expect(report.serial).toBe(12345678);
    const text = formatStatus(report);
    expect(text).toMatch(/^Form factor: Nano \(USB-C\)$/m);
    expect(text).toMatch(/^Applications over USB: PIV \(enabled: PIV\)$/m);
    expect(text).toMatch(/^Applications over NFC: no NFC$/m);
    const deviceInfoAt = recording.sent.indexOf('001D0000');
    expect(deviceInfoAt).toBeGreaterThan(0);
    expect(recording.sent[deviceInfoAt + 1]).toMatch(/^00A40400(00)?0005A000000308$/); // PIV selected again at once
    expect(await session.getPinAttempts()).toBe(3);
  });

  test('a YubiKey 4 (4.3.7): the serial comes from the Management application', async () => {
    const card = await openTestCard({ firmware: '4.3.7', serial: 7654321 });
    const report = await readCardStatus(card.session);
    expect(report.serial).toBe(7654321);
    expect(report.device?.usbEnabled).toBeUndefined();
    expect(formatStatus(report)).toMatch(/^Applications over USB: PIV$/m);
  });

  test('a card without the Management application: form factor and applications unknown', async () => {
    const card = await openTestCard();
    const session = await PivSession.open(withoutManagement(card.virtual, 0x6a82));
    const report = await readCardStatus(session);
    expect(report.device).toBeUndefined();
    expect(report.slots.map((s) => s.slot)).toEqual(['F9']);
    const text = formatStatus(report);
    expect(text).toMatch(/^Form factor: unknown/m);
    expect(text).toMatch(/^Applications: unknown$/m);
  });
});
