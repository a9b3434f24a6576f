import { X509Certificate } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { toHex } from '../../src/bytes/hex.js';
import { InvalidDataError, NotSupportedError } from '../../src/piv/errors.js';
import { keyAlgorithmByName } from '../../src/standards/algorithms.js';
import { PIN_POLICY, TOUCH_POLICY } from '../../src/standards/policies.js';
import { DEFAULT_MANAGEMENT_KEY, openTestCard, raw, type TestCard } from './helpers.js';

const P256 = keyAlgorithmByName('ECCP256')!;

async function authenticated(firmware = '5.7.2'): Promise<TestCard> {
  const card = await openTestCard({ firmware });
  await card.session.authenticate(DEFAULT_MANAGEMENT_KEY);
  return card;
}

describe('MOVE KEY and DELETE KEY (INS F6, firmware 5.7)', () => {
  test('move 9C → 82 → 9C: the key keeps algorithm, policies and origin, and can still be attested; the certificate stays', async () => {
    const card = await authenticated();
    const publicKey = await card.session.generateKey(0x9c, P256, { pinPolicy: PIN_POLICY.ONCE, touchPolicy: TOUCH_POLICY.CACHED });
    expect((await raw(card, '00DB3FFF095C035FC10A5302AABB')).sw).toBe('9000'); // something in 9C's certificate object
    const before = await raw(card, '00F7009C');
    expect((await raw(card, '00F6829C')).sw).toBe('9000');
    expect(await raw(card, '00CB3FFF055C035FC10A')).toEqual({ data: '5302AABB', sw: '9000' }); // stays with 9C
    expect((await raw(card, '00CB3FFF055C035FC10D')).sw).toBe('6A82'); // 82's certificate object is not filled
    expect((await raw(card, '00F7009C')).sw).toBe('6A88');
    expect(await raw(card, '00F70082')).toEqual(before); // same metadata, TLV for TLV
    const attestation = new X509Certificate(await card.session.attest(0x82));
    expect(toHex(attestation.publicKey.export({ type: 'spki', format: 'der' }))).toBe(toHex(publicKey.export({ type: 'spki', format: 'der' })));
    expect((await raw(card, '00F69C82')).sw).toBe('9000');
    expect(await raw(card, '00F7009C')).toEqual(before);
    expect((await raw(card, '00F70082')).sw).toBe('6A88');
  });

  test('DELETE KEY (P1 FF) empties the slot; a second delete answers 6A88', async () => {
    const card = await authenticated();
    await card.session.generateKey(0x9a, P256);
    expect((await raw(card, '00F6FF9A')).sw).toBe('9000');
    expect((await raw(card, '00F7009A')).sw).toBe('6A88');
    expect((await raw(card, '00F99A00')).sw).toBe('6A80'); // nothing left to attest
    expect((await raw(card, '00F6FF9A')).sw).toBe('6A88');
  });

  test('status words: 6700 data, 6A86 slots, 6982 unauthenticated, 6A88 empty source, 6A80 occupied destination', async () => {
    const card = await openTestCard();
    expect((await raw(card, '00F6829C')).sw).toBe('6982'); // no management key yet
    await card.session.authenticate(DEFAULT_MANAGEMENT_KEY);
    expect((await raw(card, '00F6829C')).sw).toBe('6A88'); // nothing in 9C
    await card.session.generateKey(0x9c, P256);
    await card.session.generateKey(0x9d, P256);
    expect((await raw(card, '00F69D9C')).sw).toBe('6A80'); // 9D is not empty
    expect((await raw(card, '00F6829C0100')).sw).toBe('6700'); // command data
    expect((await raw(card, '00F69C9C')).sw).toBe('6A86'); // onto itself
    expect((await raw(card, '00F6F99C')).sw).toBe('6A86'); // into the attestation slot
    expect((await raw(card, '00F6829B')).sw).toBe('6A86'); // 9B is the management key, not a key slot
    expect((await raw(card, '00F69699')).sw).toBe('6A86');
    expect((await raw(card, '00F682F9')).sw).toBe('6A86'); // the attestation key does not move
    expect((await raw(card, '00F6829C')).sw).toBe('9000'); // and none of those changed anything
  });

  test('refused on 5.4.3 as an unknown instruction (6D00), and by the session before any APDU', async () => {
    const card = await authenticated('5.4.3');
    await card.session.generateKey(0x9c, P256);
    expect((await raw(card, '00F6829C')).sw).toBe('6D00');
    expect((await raw(card, '00F6FF9C')).sw).toBe('6D00');
    const sent = card.transport.sent.length;
    await expect(card.session.moveKey(0x9c, 0x82)).rejects.toBeInstanceOf(NotSupportedError);
    await expect(card.session.deleteKey(0x9c)).rejects.toBeInstanceOf(NotSupportedError);
    expect(card.transport.sent.length).toBe(sent);
  });

  test('PivSession.moveKey / deleteKey send F6 with P1 = destination (or FF) and P2 = source', async () => {
    const card = await authenticated();
    await card.session.generateKey(0x9c, P256);
    await card.session.moveKey(0x9c, 0x82);
    await card.session.deleteKey(0x82);
    expect(card.transport.sent.filter((apdu) => apdu.startsWith('00F6'))).toEqual(['00F6829C', '00F6FF82']);
    const sent = card.transport.sent.length;
    await expect(card.session.moveKey(0x9a, 0x9a)).rejects.toBeInstanceOf(InvalidDataError);
    await expect(card.session.moveKey(0x9a, 0xf9)).rejects.toBeInstanceOf(InvalidDataError);
    expect(card.transport.sent.length).toBe(sent);
  });
});
