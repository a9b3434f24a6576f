import { describe, expect, test } from 'vitest';
import { SecurityStatusError } from '../../src/piv/errors.js';
import { OBJECT } from '../../src/standards/objects.js';
import { DEFAULT_MANAGEMENT_KEY, DEFAULT_PIN, openTestCard, raw } from './helpers.js';

/** GET DATA of a 3-byte object id. */
const getData = (id: string) => `00CB3FFF055C03${id}`;

describe('access conditions come before existence, as on a YubiKey', () => {
  test.each(['5FC109', '5FC103', '5FC108', '5FC121'])('GET DATA %s without the PIN: 6982 whether or not the object exists', async (id) => {
    const card = await openTestCard();
    expect((await raw(card, getData(id))).sw).toBe('6982'); // absent
    await card.session.authenticate(DEFAULT_MANAGEMENT_KEY);
    expect((await raw(card, `00DB3FFF095C03${id}5302AABB`)).sw).toBe('9000');
    await card.session.reselect();
    expect((await raw(card, getData(id))).sw).toBe('6982'); // present
    await card.session.verifyPin(DEFAULT_PIN);
    expect(await raw(card, getData(id))).toEqual({ data: '5302AABB', sw: '9000' });
  });

  test('GET DATA of an absent PIN-protected object after VERIFY: 6A82', async () => {
    const card = await openTestCard();
    await card.session.verifyPin(DEFAULT_PIN);
    expect((await raw(card, getData('5FC109'))).sw).toBe('6A82');
  });

  test('the session reports an unverified read of PRINTED as a security status error, stored key or not', async () => {
    const card = await openTestCard();
    await expect(card.session.getObject(OBJECT.PRINTED)).rejects.toBeInstanceOf(SecurityStatusError);
  });

  test('objects without an access condition still answer 6A82 when absent', async () => {
    const card = await openTestCard();
    expect((await raw(card, getData('5FC10A'))).sw).toBe('6A82');
    expect((await raw(card, getData('5FFF00'))).sw).toBe('6A82');
  });

  test('PUT DATA without the management key: 6982 before the data or the object id is looked at', async () => {
    const card = await openTestCard();
    expect((await raw(card, '00DB3FFF095C035FC1095302AABB')).sw).toBe('6982');
    expect((await raw(card, '00DB3FFF095C035FC0015302AABB')).sw).toBe('6982'); // not a writable object
    expect((await raw(card, '00DB3FFF035C035F')).sw).toBe('6982'); // malformed
    expect((await raw(card, '00DB3FFE095C035FC1095302AABB')).sw).toBe('6A86'); // P1/P2 come first
    await card.session.authenticate(DEFAULT_MANAGEMENT_KEY);
    expect((await raw(card, '00DB3FFF095C035FC0015302AABB')).sw).toBe('6A80');
    expect((await raw(card, '00DB3FFF035C035F')).sw).toBe('6A80');
  });
});
