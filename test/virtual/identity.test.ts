import { describe, expect, test } from 'vitest';
import { fromHex, toHex } from '../../src/bytes/hex.js';
import { ApplicationNotFoundError, NotSupportedError } from '../../src/piv/errors.js';
import { PivSession } from '../../src/piv/session.js';
import { OBJECT } from '../../src/standards/objects.js';
import { openTestCard, raw } from './helpers.js';

describe('identity: SELECT, version, serial, discovery', () => {
  test('SELECT answers the reference application template for short and long AIDs', async () => {
    const card = await openTestCard();
    const expected = { data: '61114F0600001000010079074F05A000000308', sw: '9000' };
    expect(await raw(card, '00A4040005A000000308')).toEqual(expected);
    expect(await raw(card, '00A404000BA000000308000010000100')).toEqual(expected);
    expect(await raw(card, '00A4040009A00000030800001000' + '00')).toEqual(expected); // 9-byte AID with Le
    expect((await raw(card, '00A4040005A000000309')).sw).toBe('6A82');
    expect((await raw(card, '00A4040105A000000308')).sw).toBe('6A86');
  });

  test('GET VERSION returns the firmware the card was created with', async () => {
    for (const firmware of ['4.3.7', '5.4.3', '5.7.2']) {
      const card = await openTestCard({ firmware });
      expect((await raw(card, '00FD0000')).data).toBe(toHex(Uint8Array.from(firmware.split('.').map(Number))));
      expect(card.session.version).toEqual({ major: +firmware.split('.')[0]!, minor: +firmware.split('.')[1]!, patch: +firmware.split('.')[2]! });
    }
  });

  test('GET SERIAL: 4 bytes big-endian on 5.x; refused before any APDU on 4.3', async () => {
    const card = await openTestCard({ serial: 11409355 });
    expect(await raw(card, '00F80000')).toEqual({ data: '00AE17CB', sw: '9000' });
    expect(await card.session.getSerial()).toBe(11409355);

    const old = await openTestCard({ firmware: '4.3.7' });
    const before = old.transport.sent.length;
    await expect(old.session.getSerial()).rejects.toBeInstanceOf(NotSupportedError);
    expect(old.transport.sent.length).toBe(before); // the capability check ran before any APDU
    expect((await raw(old, '00F80000')).sw).toBe('6D00'); // and the card itself refuses too
  });

  test('every new card gets a fresh serial and a fresh attestation key', async () => {
    const a = await openTestCard();
    const b = await openTestCard();
    expect(await a.session.getSerial()).not.toBe(await b.session.getSerial());
    const keyA = (await a.session.getSlotMetadata(0xf9)).publicKey.export({ format: 'der', type: 'spki' });
    const keyB = (await b.session.getSlotMetadata(0xf9)).publicKey.export({ format: 'der', type: 'spki' });
    expect(toHex(keyA)).not.toBe(toHex(keyB));
  });

  test('discovery object is returned unwrapped, byte for byte', async () => {
    const card = await openTestCard();
    expect(await raw(card, '00CB3FFF035C017E')).toEqual({ data: '7E124F0BA0000003080000100001005F2F024000', sw: '9000' });
    expect(toHex(await card.session.getObject(OBJECT.DISCOVERY))).toBe('7E124F0BA0000003080000100001005F2F024000');
  });

  test('factory-fresh card has no CHUID and no CCC (6A82)', async () => {
    const card = await openTestCard();
    expect((await raw(card, '00CB3FFF055C035FC102')).sw).toBe('6A82');
    expect((await raw(card, '00CB3FFF055C035FC107')).sw).toBe('6A82');
  });

  test('unknown instruction, bad CLA and malformed lengths get the card status words', async () => {
    const card = await openTestCard();
    expect((await raw(card, '00EE0000')).sw).toBe('6D00');
    expect((await raw(card, '80FD0000')).sw).toBe('6E00');
    expect((await raw(card, '00CB3FFF055C03')).sw).toBe('6700'); // Lc says 5, only 2 bytes follow
    expect((await raw(card, '00CB3FFF')).sw).toBe('6A80'); // GET DATA with no tag list
  });

  test('a transport whose card has no PIV application gives ApplicationNotFoundError', async () => {
    const noPiv = {
      name: 'test reader',
      supportsExtendedLength: false,
      transmit: async () => ({ data: new Uint8Array(0), sw: 0x6a82 }),
      transaction: <T>(work: () => Promise<T>) => work(),
      close: async () => undefined,
    };
    await expect(PivSession.open(noPiv)).rejects.toBeInstanceOf(ApplicationNotFoundError);
  });

  test('GET VERSION that is not 3 bytes is refused (as libykpiv and piv-go do)', async () => {
    let calls = 0;
    const odd = {
      name: 'odd card',
      supportsExtendedLength: false,
      transmit: async () => (calls++ === 0 ? { data: fromHex('61114F0600001000010079074F05A000000308'), sw: 0x9000 } : { data: fromHex('0507'), sw: 0x9000 }),
      transaction: <T>(work: () => Promise<T>) => work(),
      close: async () => undefined,
    };
    await expect(PivSession.open(odd)).rejects.toThrow(/GET VERSION/);
  });
});
