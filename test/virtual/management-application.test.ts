import { describe, expect, test } from 'vitest';
import { fromHex, toHex } from '../../src/bytes/hex.js';
import { FORM_FACTOR } from '../../src/standards/management.js';
import { defaultCardDependencies } from '../../src/transport/virtual/create-card.js';
import { openVirtualCard } from '../../src/transport/virtual/virtual-transport.js';
import { DEFAULT_PIN, openTestCard, raw } from './helpers.js';

const SELECT_MANAGEMENT = '00A4040008A000000527471117';
const GET_DEVICE_INFO = '001D0000';

describe('the Management application (what ykman identifies a YubiKey by)', () => {
  test('SELECT answers the firmware version as ASCII, as yubikit Version.from_string parses it', async () => {
    const card = await openTestCard({ firmware: '5.7.2' });
    expect(await raw(card, SELECT_MANAGEMENT)).toEqual({ data: toHex(new TextEncoder().encode('5.7.2')), sw: '9000' });
    const old = await openTestCard({ firmware: '5.4.3' });
    expect(await raw(old, SELECT_MANAGEMENT + '00')).toEqual({ data: '352E342E33', sw: '9000' }); // with Le
    expect((await raw(card, '00A4040108A000000527471117')).sw).toBe('6A86');
    expect((await raw(card, '00A4040007A0000005274711')).sw).toBe('6A82'); // a partial Management AID is no AID
    expect((await raw(card, '00A4040007A0000005272001')).sw).toBe('6A82'); // no OTP application on this card
  });

  test('GET DEVICE INFO on 5.7.2: length byte, then USB supported/enabled PIV, serial, form factor, version, flags, lock', async () => {
    const card = await openTestCard({ firmware: '5.7.2', serial: 12345678 });
    await raw(card, SELECT_MANAGEMENT);
    const expected = '1C' + '01020010' + '020400BC614E' + '03020010' + '040101' + '0503050702' + '080100' + '0A0100';
    expect(await raw(card, GET_DEVICE_INFO)).toEqual({ data: expected, sw: '9000' });
    expect(await raw(card, GET_DEVICE_INFO + '00')).toEqual({ data: expected, sw: '9000' }); // Le 00 (ykman sends it)
  });

  test('GET DEVICE INFO on 4.3.7 has no enabled field, device flags or config lock (as a YubiKey 4)', async () => {
    const card = await openTestCard({ firmware: '4.3.7', serial: 1234567 });
    await raw(card, SELECT_MANAGEMENT);
    expect(await raw(card, GET_DEVICE_INFO)).toEqual({ data: '12' + '01020010' + '02040012D687' + '040101' + '0503040307', sw: '9000' });
  });

  test('GET DEVICE INFO is strict: page ≠ 0 or P2 ≠ 0 → 6A86, data → 6700, before 4.1 → 6D00', async () => {
    const card = await openTestCard();
    await raw(card, SELECT_MANAGEMENT);
    expect((await raw(card, '001D0100')).sw).toBe('6A86'); // no page 1: page 0 announces no more data
    expect((await raw(card, '001D0001')).sw).toBe('6A86');
    expect((await raw(card, '001D00000100')).sw).toBe('6700');
    expect((await raw(card, '001C000000')).sw).toBe('6D00'); // SET DEVICE CONFIG is not implemented
    expect((await raw(card, '00160000')).sw).toBe('6D00'); // nor SET MODE
    const ancient = await openTestCard({ firmware: '4.0.0' });
    await raw(ancient, SELECT_MANAGEMENT);
    expect((await raw(ancient, GET_DEVICE_INFO)).sw).toBe('6D00');
  });

  test('GET DEVICE INFO is unknown to PIV, and PIV instructions are unknown to Management (6D00)', async () => {
    const card = await openTestCard();
    expect((await raw(card, GET_DEVICE_INFO)).sw).toBe('6D00'); // PIV selected
    await raw(card, SELECT_MANAGEMENT);
    expect((await raw(card, '00FD0000')).sw).toBe('6D00'); // GET VERSION goes to Management now
    expect((await raw(card, '00CB3FFF035C017E')).sw).toBe('6D00');
    expect((await raw(card, '00A4040005A000000308')).sw).toBe('9000'); // back to PIV
    expect((await raw(card, '00FD0000')).data).toBe('050702');
  });

  test('selecting Management logs out of PIV (libykpiv 2.3+ deauthenticates that way); an unknown AID does not', async () => {
    const card = await openTestCard();
    await card.session.verifyPin(DEFAULT_PIN);
    expect((await raw(card, '0020008000')).sw).toBe('9000');
    expect((await raw(card, '00A4040007A0000005272001')).sw).toBe('6A82');
    expect((await raw(card, '0020008000')).sw).toBe('9000'); // a failed SELECT changes nothing
    await raw(card, SELECT_MANAGEMENT);
    await raw(card, '00A4040005A000000308');
    expect((await raw(card, '0020008000')).sw).toBe('63C3'); // PIN no longer verified
  });

  test('the form factor is fixed when the card is created, reported in device info and kept in the state file', async () => {
    const deps = { ...defaultCardDependencies, now: () => Date.UTC(2026, 0, 1) };
    const { transport } = await openVirtualCard({ firmware: '5.7.2', serial: 22222222, formFactor: FORM_FACTOR.USB_C_NANO, deps });
    expect(transport.card.state.formFactor).toBe(4);
    await transport.transmit(fromHex(SELECT_MANAGEMENT));
    const info = await transport.transmit(fromHex(GET_DEVICE_INFO));
    expect(toHex(info.data)).toContain('040104');
    const { transport: usbA } = await openVirtualCard({ deps });
    expect(usbA.card.state.formFactor).toBe(FORM_FACTOR.USB_A_KEYCHAIN); // the default
    await expect(openVirtualCard({ formFactor: 0x09, deps })).rejects.toThrow(/not a form factor/);
  });
});
