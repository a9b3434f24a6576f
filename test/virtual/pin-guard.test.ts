/** The one PIN guard (src/piv/pin-guard.ts), through the PIV session against the in-process virtual card. */
import { describe, expect, test } from 'vitest';
import { LastTryError, PinBlockedError, RefusedAgainError, WrongPinError } from '../../src/piv/errors.js';
import { PivSession } from '../../src/piv/session.js';
import { DEFAULT_PIN, DEFAULT_PUK, openTestCard, type TestCard } from './helpers.js';

/** VERIFY / CHANGE REFERENCE / RESET RETRY commands that carry a PIN or PUK (an empty VERIFY only reads the tries). */
const triesSent = (card: TestCard): string[] => card.transport.sent.filter((apdu) => /^00(20|24|2C)00(80|81)08/i.test(apdu));

/** A second session on the same card, as another command would open it. */
const sessionOn = (card: TestCard, allowLastPinTry: boolean): Promise<PivSession> => PivSession.open(card.transport, { allowLastPinTry });

describe('the PIN guard', () => {
  test('at one try left nothing is sent without allowLastPinTry, whatever the PIN; with it, one try', async () => {
    for (const firmware of ['5.7.2', '4.3.7']) {
      const card = await openTestCard({ firmware, session: { allowLastPinTry: false } });
      // Two wrong PINs through a session that may spend tries, on this card's transport.
      const spender = await sessionOn(card, true);
      await expect(spender.verifyPin('000000')).rejects.toBeInstanceOf(WrongPinError);
      await expect(spender.verifyPin('000001')).rejects.toBeInstanceOf(WrongPinError);
      const before = triesSent(card).length;
      await expect(card.session.verifyPin('000002')).rejects.toBeInstanceOf(LastTryError);
      await expect(card.session.verifyPin(DEFAULT_PIN)).rejects.toBeInstanceOf(LastTryError);
      await expect(card.session.changePin('000002', '24681357')).rejects.toBeInstanceOf(LastTryError);
      expect(triesSent(card).length, firmware).toBe(before);
      expect(await card.session.getPinAttempts()).toBe(1);
      await spender.verifyPin(DEFAULT_PIN); // allowed: the last try, and the right PIN restores the counter
      expect(await card.session.getPinAttempts()).toBe(firmware === '5.7.2' ? 3 : undefined); // 4.3.7: verified, so the empty VERIFY says 9000
    }
  });

  test('a PIN the card refused is never sent again in the same session; a blocked PIN is not tried', async () => {
    const card = await openTestCard({ session: { allowLastPinTry: true } });
    await expect(card.session.verifyPin('000000')).rejects.toBeInstanceOf(WrongPinError);
    const before = triesSent(card).length;
    await expect(card.session.verifyPin('000000')).rejects.toBeInstanceOf(RefusedAgainError);
    await expect(card.session.changePin('000000', '24681357')).rejects.toBeInstanceOf(RefusedAgainError);
    expect(triesSent(card).length).toBe(before);
    expect((await card.session.getPinMetadata()).attemptsRemaining).toBe(2);
    await expect(card.session.verifyPin('000001')).rejects.toBeInstanceOf(WrongPinError);
    await expect(card.session.verifyPin('000002')).rejects.toBeInstanceOf(WrongPinError);
    const blocked = triesSent(card).length;
    await expect(card.session.verifyPin(DEFAULT_PIN)).rejects.toBeInstanceOf(PinBlockedError);
    expect(triesSent(card).length).toBe(blocked);
  });

  test('a PIN the card accepted is sent again without reading the tries; after a change only the new one is known', async () => {
    const card = await openTestCard();
    await card.session.verifyPin(DEFAULT_PIN);
    const reads = () => card.transport.sent.filter((apdu) => /^00F70080/i.test(apdu)).length; // GET METADATA of the PIN
    const before = reads();
    await card.session.verifyPin(DEFAULT_PIN);
    expect(reads()).toBe(before);
    await card.session.changePin(DEFAULT_PIN, '24681357');
    await card.session.verifyPin('24681357');
    expect(reads()).toBe(before); // the current PIN was known good, and the new one is after the change
    await expect(card.session.verifyPin(DEFAULT_PIN)).rejects.toBeInstanceOf(WrongPinError); // the old one is no longer known good
    expect(reads()).toBe(before + 1);
  });

  test('the PUK: unblocking at one PUK try left is refused without allowLastPinTry; a wrong PUK says what is left and what a blocked PUK means', async () => {
    const card = await openTestCard({ session: { allowLastPinTry: true } });
    await expect(card.session.unblockPin('00000000', '24681357')).rejects.toThrow(/wrong PUK, 2 attempts left \(a blocked PUK cannot be unblocked/);
    await expect(card.session.unblockPin('00000001', '24681357')).rejects.toBeInstanceOf(WrongPinError);
    const guarded = await sessionOn(card, false);
    const before = triesSent(card).length;
    await expect(guarded.unblockPin(DEFAULT_PUK, '24681357')).rejects.toThrow(/only one PUK try is left/);
    expect(triesSent(card).length).toBe(before);
    expect((await card.session.getPukMetadata()).attemptsRemaining).toBe(1);
  });

  test('a wrong PIN error says how many tries are left and how to unblock', async () => {
    const card = await openTestCard();
    await expect(card.session.verifyPin('000000')).rejects.toThrow('wrong PIN, 2 attempts left (a blocked PIN is unblocked with the PUK');
  });
});

