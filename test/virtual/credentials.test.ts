import { describe, expect, test } from 'vitest';
import {
  ConditionsNotSatisfiedError,
  InvalidDataError,
  NotSupportedError,
  PinBlockedError,
  SecurityStatusError,
  WrongPinError,
} from '../../src/piv/errors.js';
import { DEFAULT_MANAGEMENT_KEY, DEFAULT_PIN, DEFAULT_PUK, openTestCard, raw } from './helpers.js';

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('PIN and PUK', () => {
  test('a wrong PIN counts down, then blocks; the right PIN then no longer works', async () => {
    // The card's own counting: a session that may use the last try, and a new wrong PIN each time (the PIN guard
    // never sends one the card refused).
    const card = await openTestCard({ session: { allowLastPinTry: true } });
    const { session } = card;
    for (const [index, left] of [2, 1, 0].entries()) {
      const error = await rejection(session.verifyPin(`65432${index}`));
      expect(error).toBeInstanceOf(WrongPinError);
      expect((error as WrongPinError).attemptsRemaining).toBe(left);
      expect((error as WrongPinError).credential).toBe('PIN');
    }
    expect((await raw(card, '0020008008313233343536FFFF')).sw).toBe('6983'); // the right PIN, sent raw: blocked
    await expect(session.verifyPin(DEFAULT_PIN)).rejects.toBeInstanceOf(PinBlockedError);
    expect(await session.getPinAttempts()).toBe(0);
  });

  test('a right PIN restores the counter', async () => {
    const { session } = await openTestCard();
    await expect(session.verifyPin('000000')).rejects.toBeInstanceOf(WrongPinError);
    expect((await session.getPinMetadata()).attemptsRemaining).toBe(2);
    await session.verifyPin(DEFAULT_PIN);
    expect((await session.getPinMetadata()).attemptsRemaining).toBe(3);
    expect(await session.isPinVerified()).toBe(true);
  });

  test('empty VERIFY reports tries without using one (4.3 firmware path, no metadata)', async () => {
    const card = await openTestCard({ firmware: '4.3.7' });
    expect(await card.session.getPinAttempts()).toBe(3);
    expect((await raw(card, '0020008000')).sw).toBe('63C3');
    await card.session.verifyPin(DEFAULT_PIN);
    expect(await card.session.getPinAttempts()).toBeUndefined(); // verified: the card answers 9000
  });

  test('8 bytes of FF padding is a wrong PIN (63Cx), as ykman uses it to block the PIN', async () => {
    const card = await openTestCard();
    expect((await raw(card, '0020008008FFFFFFFFFFFFFFFF')).sw).toBe('63C2');
    expect((await raw(card, '002000800431323334')).sw).toBe('6A80'); // not 8 bytes
  });

  test('unblock with the PUK; a wrong PUK counts down the PUK', async () => {
    const { session } = await openTestCard();
    for (let i = 0; i < 3; i++) await session.verifyPin('999999').catch(() => undefined);
    const error = await rejection(session.unblockPin('87654321', '246810'));
    expect(error).toBeInstanceOf(WrongPinError);
    expect((error as WrongPinError).credential).toBe('PUK');
    expect((error as WrongPinError).attemptsRemaining).toBe(2);
    await session.unblockPin(DEFAULT_PUK, '246810');
    await session.verifyPin('246810');
    expect((await session.getPinMetadata()).attemptsRemaining).toBe(3);
    expect((await session.getPukMetadata()).attemptsRemaining).toBe(3);
  });

  test('change PIN and PUK; metadata stops calling them default', async () => {
    const { session } = await openTestCard();
    expect((await session.getPinMetadata()).isDefault).toBe(true);
    await session.changePin(DEFAULT_PIN, '13572468');
    await session.changePuk(DEFAULT_PUK, '97531864');
    expect((await session.getPinMetadata()).isDefault).toBe(false);
    expect((await session.getPukMetadata()).isDefault).toBe(false);
    await expect(session.verifyPin(DEFAULT_PIN)).rejects.toBeInstanceOf(WrongPinError);
    await session.verifyPin('13572468');
    const wrongPuk = await rejection(session.changePuk('12345678', '11111111'));
    expect((wrongPuk as WrongPinError).credential).toBe('PUK');
  });

  test('new PIN length is checked by the host, and by the card (6985) for hosts that do not', async () => {
    const card = await openTestCard();
    await expect(card.session.changePin(DEFAULT_PIN, '12345')).rejects.toBeInstanceOf(InvalidDataError);
    await expect(card.session.changePin(DEFAULT_PIN, '123456789')).rejects.toBeInstanceOf(InvalidDataError);
    // old = 123456, new = "12345" + FF padding
    expect((await raw(card, '0024008010313233343536FFFF3132333435FFFFFF')).sw).toBe('6985');
    expect((await raw(card, '0024008008313233343536FFFF')).sw).toBe('6A80');
  });

  test('set PIN retries needs management key and PIN, and resets PIN and PUK to defaults', async () => {
    const { session } = await openTestCard();
    await session.changePin(DEFAULT_PIN, '11223344');
    await expect(session.setPinRetries(5, 6)).rejects.toBeInstanceOf(SecurityStatusError);
    await session.authenticate(DEFAULT_MANAGEMENT_KEY);
    await expect(session.setPinRetries(5, 6)).rejects.toBeInstanceOf(SecurityStatusError); // PIN missing
    await session.verifyPin('11223344');
    await session.setPinRetries(5, 6);
    const pin = await session.getPinMetadata();
    expect(pin).toEqual({ isDefault: true, totalAttempts: 5, attemptsRemaining: 5 });
    expect((await session.getPukMetadata()).totalAttempts).toBe(6);
    await expect(session.setPinRetries(0, 3)).rejects.toBeInstanceOf(InvalidDataError);
  });

  test('reset is refused while PIN or PUK have tries; blocking both then resetting restores the factory state', async () => {
    const { session } = await openTestCard();
    await session.changePin(DEFAULT_PIN, '55556666');
    await session.authenticate(DEFAULT_MANAGEMENT_KEY);
    await session.generateKey(0x9a, (await import('../../src/standards/algorithms.js')).keyAlgorithmByName('ECCP256')!);
    await expect(session.reset()).rejects.toBeInstanceOf(ConditionsNotSatisfiedError);
    for (let i = 0; i < 3; i++) await session.verifyPin('000000').catch(() => undefined);
    await expect(session.reset()).rejects.toBeInstanceOf(ConditionsNotSatisfiedError); // PUK still has tries
    await session.blockAndReset();
    expect(await session.getPinMetadata()).toEqual({ isDefault: true, totalAttempts: 3, attemptsRemaining: 3 });
    await session.verifyPin(DEFAULT_PIN);
    await expect(session.getSlotMetadata(0x9a)).rejects.toThrow(/not found/);
    expect((await session.getSlotMetadata(0xf9)).algorithm.name).toBe('RSA2048'); // attestation key survives
    expect((await session.getManagementKeyMetadata()).isDefault).toBe(true);
  });

  test('PIN log-out on 5.4.3+, refused before any APDU on 4.3.7', async () => {
    const card = await openTestCard({ firmware: '5.4.3' });
    await card.session.verifyPin(DEFAULT_PIN);
    await card.session.logoutPin();
    expect(await card.session.isPinVerified()).toBe(false);
    const old = await openTestCard({ firmware: '4.3.7' });
    await expect(old.session.logoutPin()).rejects.toBeInstanceOf(NotSupportedError);
    expect((await raw(old, '0020FF80')).sw).toBe('6D00');
  });

  test('SELECT forgets the PIN', async () => {
    const { session } = await openTestCard();
    await session.verifyPin(DEFAULT_PIN);
    await session.reselect();
    expect(await session.isPinVerified()).toBe(false);
  });
});
