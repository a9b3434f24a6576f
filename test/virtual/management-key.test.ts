import { createCipheriv } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { fromHex, toHex } from '../../src/bytes/hex.js';
import { ManagementKeyError, NotFoundError, NotSupportedError, SecurityStatusError } from '../../src/piv/errors.js';
import {
  hasProtectedManagementKey,
  readProtectedManagementKey,
  storeProtectedManagementKey,
  parseAdminData,
} from '../../src/piv/protected-management-key.js';
import { managementKeyAlgorithmByName } from '../../src/standards/algorithms.js';
import { OBJECT } from '../../src/standards/objects.js';
import { DEFAULT_MANAGEMENT_KEY, DEFAULT_PIN, openTestCard, raw } from './helpers.js';

const TDES = managementKeyAlgorithmByName('TDES')!;
const AES128 = managementKeyAlgorithmByName('AES128')!;
const AES192 = managementKeyAlgorithmByName('AES192')!;
const AES256 = managementKeyAlgorithmByName('AES256')!;

function ecb(cipher: string, key: Uint8Array, block: Uint8Array): string {
  const c = createCipheriv(cipher, key, null).setAutoPadding(false);
  return Buffer.concat([c.update(block), c.final()]).toString('hex').toUpperCase();
}

describe('management key', () => {
  test('known answer: mutual authentication with a fixed witness and challenge, byte for byte (TDES, 5.4.3)', async () => {
    const witness = fromHex('1111111111111111');
    const challenge = fromHex('2222222222222222');
    const card = await openTestCard({ firmware: '5.4.3', session: { apduFormat: 'short', random: () => challenge.slice() } });
    // Make the card's randomness fixed only now: creating the card needed real randomness.
    (card.virtual.card as unknown as { ctx: { deps: { random: (n: number) => Uint8Array } } }).ctx.deps.random = () => witness.slice();
    const sentBefore = card.transport.sent.length;
    await card.session.authenticate(DEFAULT_MANAGEMENT_KEY);
    const sent = card.transport.sent.slice(sentBefore);
    const received = card.transport.received.slice(sentBefore);
    expect(sent[0]).toBe('00F7009B'); // key type from metadata (5.3+)
    expect(sent[1]).toBe('0087039B047C028000');
    expect(received[1]).toBe('7C0A8008' + ecb('des-ede3-ecb', DEFAULT_MANAGEMENT_KEY, witness) + '9000');
    expect(sent[2]).toBe('0087039B167C1480081111111111111111' + '81082222222222222222');
    expect(received[2]).toBe('7C0A8208' + ecb('des-ede3-ecb', DEFAULT_MANAGEMENT_KEY, challenge) + '9000');
  });

  test('default key type is TDES before 5.7 and AES-192 from 5.7; 4.3 uses TDES without asking', async () => {
    const modern = await openTestCard({ firmware: '5.7.2' });
    expect((await modern.session.getManagementKeyMetadata()).algorithm.name).toBe('AES192');
    await modern.session.authenticate(DEFAULT_MANAGEMENT_KEY);
    const mid = await openTestCard({ firmware: '5.4.3' });
    expect((await mid.session.getManagementKeyMetadata()).algorithm.name).toBe('TDES');
    const old = await openTestCard({ firmware: '4.3.7', session: { apduFormat: 'short' } });
    const before = old.transport.sent.length;
    await old.session.authenticate(DEFAULT_MANAGEMENT_KEY);
    expect(old.transport.sent[before]).toBe('0087039B047C028000'); // no metadata request first
  });

  test('a wrong key fails, and leaves the card unauthenticated', async () => {
    const card = await openTestCard();
    const wrong = fromHex('0102030405060708010203040506070801020304050607FF');
    await expect(card.session.authenticate(wrong)).rejects.toBeInstanceOf(ManagementKeyError);
    await expect(card.session.putObject(OBJECT.CHUID, fromHex('3000'))).rejects.toBeInstanceOf(SecurityStatusError);
  });

  test('algorithm mismatch: the card answers 6A80, the session says which algorithm was wrong', async () => {
    const card = await openTestCard({ firmware: '5.7.2' }); // AES-192 key
    expect(await raw(card, '0087039B047C028000')).toEqual({ data: '', sw: '6A80' });
    await expect(card.session.authenticate(DEFAULT_MANAGEMENT_KEY, TDES)).rejects.toThrow(/not TDES/);
  });

  test('step 2 without step 1, and a wrong witness, are refused with the card status', async () => {
    const card = await openTestCard({ firmware: '5.4.3' });
    expect((await raw(card, '0087039B167C1480081111111111111111' + '81082222222222222222')).sw).toBe('6985');
    expect((await raw(card, '0087039B047C028000')).sw).toBe('9000');
    expect((await raw(card, '0087039B167C1480080000000000000000' + '81082222222222222222')).sw).toBe('6982');
  });

  test('external authentication (card challenge, host response) works and checks the key', async () => {
    const card = await openTestCard({ firmware: '5.4.3' });
    await expect(card.session.authenticateExternal(fromHex('FF'.repeat(24)))).rejects.toBeInstanceOf(ManagementKeyError);
    await card.session.authenticateExternal(DEFAULT_MANAGEMENT_KEY);
    await card.session.putObject(OBJECT.CHUID, fromHex('3000'));
  });

  test('set management key: AES-128/256 on 5.4.3, touch flag reported and counted', async () => {
    const card = await openTestCard({ firmware: '5.4.3' });
    await card.session.authenticate(DEFAULT_MANAGEMENT_KEY);
    const aesKey = fromHex('00112233445566778899AABBCCDDEEFF');
    await card.session.setManagementKey(AES128, aesKey, true);
    const metadata = await card.session.getManagementKeyMetadata();
    expect(metadata).toEqual({ algorithm: AES128, isDefault: false, touchPolicy: 2 });
    const touches = card.virtual.card.state.touchCount;
    await card.session.authenticate(aesKey);
    expect(card.virtual.card.state.touchCount).toBe(touches + 1);
    const key256 = fromHex('00'.repeat(31) + '01');
    await card.session.setManagementKey(AES256, key256);
    await card.session.reselect();
    await card.session.authenticate(key256);
    await expect(card.session.setManagementKey(AES192, fromHex('00'))).rejects.toThrow(/24 bytes/);
  });

  test('AES management keys are refused on 4.3.7 before any APDU; the card refuses them too', async () => {
    const card = await openTestCard({ firmware: '4.3.7' });
    await card.session.authenticate(DEFAULT_MANAGEMENT_KEY);
    const before = card.transport.sent.length;
    await expect(card.session.setManagementKey(AES192, DEFAULT_MANAGEMENT_KEY)).rejects.toBeInstanceOf(NotSupportedError);
    expect(card.transport.sent.length).toBe(before);
    expect((await raw(card, '00FFFFFF1B0A9B18' + toHex(DEFAULT_MANAGEMENT_KEY))).sw).toBe('6A80');
  });

  test('SET MANAGEMENT KEY without authentication: 6982', async () => {
    const card = await openTestCard();
    await expect(card.session.setManagementKey(AES192, DEFAULT_MANAGEMENT_KEY)).rejects.toBeInstanceOf(SecurityStatusError);
  });

  test('PIN-protected management key in the ykman/yubico-piv-tool layout', async () => {
    const card = await openTestCard();
    const { session } = card;
    expect(await hasProtectedManagementKey(session)).toBe(false);
    await session.authenticate(DEFAULT_MANAGEMENT_KEY);
    await session.verifyPin(DEFAULT_PIN);
    const newKey = fromHex('A1A2A3A4A5A6A7A8B1B2B3B4B5B6B7B8C1C2C3C4C5C6C7C8');
    const now = new Date(Date.UTC(2026, 10, 24));
    await storeProtectedManagementKey(session, AES192, newKey, now);
    // Byte layout of both objects, as stored on the card.
    const objects = card.virtual.card.state.objects;
    expect(objects['5FFF00']).toBe('80098101028304' + (Math.floor(now.getTime() / 1000)).toString(16).toUpperCase().padStart(8, '0'));
    expect(objects['5FC109']).toBe('881A8918' + toHex(newKey));
    expect(parseAdminData(fromHex(objects['5FFF00']!)).flags).toBe(2);
    expect(await hasProtectedManagementKey(session)).toBe(true);

    await session.reselect();
    await expect(readProtectedManagementKey(session)).rejects.toBeInstanceOf(SecurityStatusError); // PIN first
    await session.verifyPin(DEFAULT_PIN);
    const stored = await readProtectedManagementKey(session);
    expect(toHex(stored)).toBe(toHex(newKey));
    await session.authenticate(stored);
  });

  test('reading a protected key from a card that has none: NotFoundError', async () => {
    const { session } = await openTestCard();
    await session.verifyPin(DEFAULT_PIN);
    await expect(readProtectedManagementKey(session)).rejects.toBeInstanceOf(NotFoundError);
  });

  test('authenticating twice in a row works (ykman device test)', async () => {
    const { session } = await openTestCard();
    await session.authenticate(DEFAULT_MANAGEMENT_KEY);
    await session.authenticate(DEFAULT_MANAGEMENT_KEY);
  });
});
