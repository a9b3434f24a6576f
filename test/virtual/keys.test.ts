import { createPublicKey, generateKeyPairSync, verify, X509Certificate, diffieHellman, type KeyObject } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { toHex } from '../../src/bytes/hex.js';
import { InvalidDataError, NotFoundError, NotSupportedError, SecurityStatusError } from '../../src/piv/errors.js';
import { keyAlgorithmByName, type KeyAlgorithmInfo } from '../../src/standards/algorithms.js';
import { PIN_POLICY, TOUCH_POLICY } from '../../src/standards/policies.js';
import { DEFAULT_MANAGEMENT_KEY, DEFAULT_PIN, openTestCard, raw, type TestCard } from './helpers.js';

const alg = (name: string): KeyAlgorithmInfo => keyAlgorithmByName(name)!;
const message = new TextEncoder().encode('piv-enroll signs this');

function verifies(algorithm: KeyAlgorithmInfo, publicKey: KeyObject, signature: Uint8Array, hash = 'sha256'): boolean {
  if (algorithm.kind === 'ed25519') return verify(null, message, publicKey, signature);
  if (algorithm.kind === 'ec') return verify(hash, message, { key: publicKey, dsaEncoding: 'der' }, signature);
  return verify(hash, message, publicKey, signature);
}

async function authenticated(firmware = '5.7.2'): Promise<TestCard> {
  const card = await openTestCard({ firmware });
  await card.session.authenticate(DEFAULT_MANAGEMENT_KEY);
  return card;
}

function spkiHex(key: KeyObject): string {
  return toHex(new Uint8Array((key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' })));
}

describe('keys on the virtual card', () => {
  test.each(['RSA1024', 'RSA2048', 'ECCP256', 'ECCP384', 'ED25519'])('generate %s in 9A, sign, verify with the returned and the metadata key', async (name) => {
    const { session } = await authenticated();
    const algorithm = alg(name);
    const publicKey = await session.generateKey(0x9a, algorithm);
    const metadata = await session.getSlotMetadata(0x9a);
    expect(spkiHex(metadata.publicKey)).toBe(spkiHex(publicKey));
    expect(metadata).toMatchObject({ algorithm, origin: 'generated', pinPolicy: PIN_POLICY.ONCE, touchPolicy: TOUCH_POLICY.NEVER });
    await session.verifyPin(DEFAULT_PIN);
    const signature = await session.sign(0x9a, algorithm, message, 'sha256');
    expect(verifies(algorithm, publicKey, signature)).toBe(true);
  });

  test('RSA signatures for SHA-1/256/384/512 all verify (the block is built by the host)', async () => {
    const { session } = await authenticated();
    const rsa = alg('RSA2048');
    const publicKey = await session.generateKey(0x9a, rsa);
    await session.verifyPin(DEFAULT_PIN);
    for (const hash of ['sha1', 'sha256', 'sha384', 'sha512'] as const) {
      const signature = await session.sign(0x9a, rsa, message, hash);
      expect(signature.length).toBe(256);
      expect(verifies(rsa, publicKey, signature, hash)).toBe(true);
      expect(verifies(rsa, publicKey, signature, hash === 'sha1' ? 'sha256' : 'sha1')).toBe(false);
    }
  });

  test('ECDSA P-256 with a SHA-384 digest is truncated to the curve size (FIPS 186-4), and verifies', async () => {
    const { session } = await authenticated();
    const p256 = alg('ECCP256');
    const publicKey = await session.generateKey(0x9a, p256);
    await session.verifyPin(DEFAULT_PIN);
    expect(verifies(p256, publicKey, await session.sign(0x9a, p256, message, 'sha384'), 'sha384')).toBe(true);
  });

  test('RSA3072 and Ed25519/X25519 only on 5.7: refused before any APDU on 5.4.3', async () => {
    const card = await authenticated('5.4.3');
    for (const name of ['RSA3072', 'RSA4096', 'ED25519', 'X25519']) {
      const before = card.transport.sent.length;
      await expect(card.session.generateKey(0x9a, alg(name))).rejects.toBeInstanceOf(NotSupportedError);
      expect(card.transport.sent.length).toBe(before);
    }
    // The card itself refuses as well: AC{80 E0}.
    expect((await raw(card, '004700 9A 05AC0380 01E0'.replace(/ /g, ''))).sw).toBe('6A80');
  });

  test('RSA3072 generated on 5.7 signs', async () => {
    const { session } = await authenticated();
    const rsa3072 = alg('RSA3072');
    const publicKey = await session.generateKey(0x9d, rsa3072);
    expect(publicKey.asymmetricKeyDetails?.modulusLength).toBe(3072);
    await session.verifyPin(DEFAULT_PIN);
    expect(verifies(rsa3072, publicKey, await session.sign(0x9d, rsa3072, message))).toBe(true);
  });

  test('generate without the management key: SecurityStatusError', async () => {
    const { session } = await openTestCard();
    await expect(session.generateKey(0x9a, alg('ECCP256'))).rejects.toBeInstanceOf(SecurityStatusError);
  });

  test('RSA generation is refused on ROCA firmware 4.3.4, allowed on 4.3.7', async () => {
    const roca = await authenticated('4.3.4');
    await expect(roca.session.generateKey(0x9a, alg('RSA2048'))).rejects.toThrow(/ROCA/);
    expect((await raw(roca, '0047009A05AC03800107')).sw).toBe('6A80');
    const fixed = await authenticated('4.3.7');
    await fixed.session.generateKey(0x9a, alg('RSA2048'));
  });

  test.each([
    ['RSA1024', () => generateKeyPairSync('rsa', { modulusLength: 1024 })],
    ['RSA4096', () => generateKeyPairSync('rsa', { modulusLength: 4096 })],
    ['ECCP256', () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' })],
    ['ECCP384', () => generateKeyPairSync('ec', { namedCurve: 'secp384r1' })],
    ['ED25519', () => generateKeyPairSync('ed25519')],
  ])('import %s into 9C; PIN policy ALWAYS refuses a second signature without a new VERIFY', async (name, make) => {
    const { session } = await authenticated();
    const { privateKey, publicKey } = make();
    const algorithm = await session.importKey(0x9c, privateKey);
    expect(algorithm.name).toBe(name);
    const metadata = await session.getSlotMetadata(0x9c);
    expect(metadata).toMatchObject({ origin: 'imported', pinPolicy: PIN_POLICY.ALWAYS, touchPolicy: TOUCH_POLICY.NEVER });
    expect(spkiHex(metadata.publicKey)).toBe(spkiHex(publicKey));
    await expect(session.sign(0x9c, algorithm, message)).rejects.toBeInstanceOf(SecurityStatusError);
    await session.verifyPin(DEFAULT_PIN);
    expect(verifies(algorithm, publicKey, await session.sign(0x9c, algorithm, message))).toBe(true);
    await expect(session.sign(0x9c, algorithm, message)).rejects.toBeInstanceOf(SecurityStatusError);
    await session.verifyPin(DEFAULT_PIN);
    expect(verifies(algorithm, publicKey, await session.sign(0x9c, algorithm, message))).toBe(true);
  });

  test('PIN policy ONCE allows several signatures; NEVER (9E default) needs no PIN', async () => {
    const { session } = await authenticated();
    const p256 = alg('ECCP256');
    await session.generateKey(0x9d, p256);
    const cardAuth = await session.generateKey(0x9e, p256);
    await expect(session.sign(0x9d, p256, message)).rejects.toBeInstanceOf(SecurityStatusError);
    expect(verifies(p256, cardAuth, await session.sign(0x9e, p256, message))).toBe(true);
    await session.verifyPin(DEFAULT_PIN);
    await session.sign(0x9d, p256, message);
    await session.sign(0x9d, p256, message);
  });

  test('touch ALWAYS counts a touch per signature; CACHED only once within 15 seconds', async () => {
    const card = await authenticated();
    const { session } = card;
    const p256 = alg('ECCP256');
    await session.generateKey(0x9a, p256, { touchPolicy: TOUCH_POLICY.ALWAYS });
    await session.generateKey(0x9d, p256, { touchPolicy: TOUCH_POLICY.CACHED, pinPolicy: PIN_POLICY.NEVER });
    await session.verifyPin(DEFAULT_PIN);
    const touches = () => card.virtual.card.state.touchCount;
    const start = touches();
    await session.sign(0x9a, p256, message);
    await session.sign(0x9a, p256, message);
    expect(touches()).toBe(start + 2);
    card.clock.now += 20_000; // the cache counts any touch: let the last one expire
    await session.sign(0x9d, p256, message);
    card.clock.now += 10_000;
    await session.sign(0x9d, p256, message);
    expect(touches()).toBe(start + 3);
    card.clock.now += 16_000;
    await session.sign(0x9d, p256, message);
    expect(touches()).toBe(start + 4);
    expect((await session.getSlotMetadata(0x9d)).touchPolicy).toBe(TOUCH_POLICY.CACHED);
  });

  test('X25519 and P-256 key agreement give the same secret as node:crypto', async () => {
    const { session } = await authenticated();
    await session.verifyPin(DEFAULT_PIN);
    for (const [slot, name, peer] of [
      [0x9d, 'ECCP256', generateKeyPairSync('ec', { namedCurve: 'prime256v1' })],
      [0x82, 'X25519', generateKeyPairSync('x25519')],
    ] as const) {
      const algorithm = alg(name);
      const cardPublic = await session.generateKey(slot, algorithm);
      const secret = await session.calculateSecret(slot, algorithm, peer.publicKey);
      expect(toHex(secret)).toBe(toHex(new Uint8Array(diffieHellman({ privateKey: peer.privateKey, publicKey: cardPublic }))));
    }
  });

  test('an imported X25519 key agrees on the same secret as node:crypto; it cannot sign', async () => {
    const { session } = await authenticated();
    const x25519 = alg('X25519');
    const mine = generateKeyPairSync('x25519');
    const peer = generateKeyPairSync('x25519');
    expect((await session.importKey(0x9d, mine.privateKey)).name).toBe('X25519');
    await session.verifyPin(DEFAULT_PIN);
    const secret = await session.calculateSecret(0x9d, x25519, peer.publicKey);
    expect(toHex(secret)).toBe(toHex(new Uint8Array(diffieHellman({ privateKey: peer.privateKey, publicKey: mine.publicKey }))));
    await expect(session.privateKeyOperation(0x9d, x25519, new Uint8Array(32))).rejects.toBeInstanceOf(InvalidDataError);
  });

  test('attestation: certificate for the generated key, signed by F9, with Yubico extensions', async () => {
    const card = await openTestCard({ serial: 11409355 });
    const { session } = card;
    await session.authenticate(DEFAULT_MANAGEMENT_KEY);
    const publicKey = await session.generateKey(0x9c, alg('ECCP256'), { touchPolicy: TOUCH_POLICY.CACHED });
    const attestation = new X509Certificate(await session.attest(0x9c));
    const issuer = new X509Certificate(await session.getCertificate(0xf9));
    expect(attestation.verify(issuer.publicKey)).toBe(true);
    expect(attestation.issuer).toBe(issuer.subject);
    expect(attestation.subject).toBe('CN=YubiKey PIV Attestation 9c');
    expect(spkiHex(attestation.publicKey)).toBe(spkiHex(publicKey));
    const der = toHex(new Uint8Array(attestation.raw));
    expect(der).toContain('060A2B0601040182C40A0303' + '0403050702'); // firmware 5.7.2
    expect(der).toContain('060A2B0601040182C40A0307' + '0406020400AE17CB'); // serial as a DER INTEGER
    expect(der).toContain('060A2B0601040182C40A0308' + '04020303'); // PIN always, touch cached
    expect(der).toContain('060A2B0601040182C40A0309' + '040101'); // form factor
  });

  test('attesting an imported key or an empty slot is refused', async () => {
    const { session } = await authenticated();
    await session.importKey(0x9a, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
    await expect(session.attest(0x9a)).rejects.toBeInstanceOf(NotFoundError);
    await expect(session.attest(0x9d)).rejects.toBeInstanceOf(NotFoundError);
  });

  test('move and delete on 5.7: the key and its metadata move; refused on 5.4.3', async () => {
    const { session } = await authenticated();
    const p256 = alg('ECCP256');
    const publicKey = await session.generateKey(0x9a, p256);
    await session.moveKey(0x9a, 0x85);
    await expect(session.getSlotMetadata(0x9a)).rejects.toBeInstanceOf(NotFoundError);
    expect(spkiHex((await session.getSlotMetadata(0x85)).publicKey)).toBe(spkiHex(publicKey));
    await session.generateKey(0x9a, p256);
    await expect(session.moveKey(0x85, 0x9a)).rejects.toBeInstanceOf(InvalidDataError); // destination occupied
    await session.deleteKey(0x85);
    await expect(session.getSlotMetadata(0x85)).rejects.toBeInstanceOf(NotFoundError);
    await expect(session.deleteKey(0x85)).rejects.toBeInstanceOf(NotFoundError);
    const old = await authenticated('5.4.3');
    await expect(old.session.deleteKey(0x9a)).rejects.toBeInstanceOf(NotSupportedError);
  });

  test('signing with an empty slot, or the wrong algorithm in P1, is refused with 6A80', async () => {
    const card = await authenticated();
    await card.session.verifyPin(DEFAULT_PIN);
    await expect(card.session.sign(0x9a, alg('ECCP256'), message)).rejects.toBeInstanceOf(InvalidDataError);
    await card.session.generateKey(0x9a, alg('ECCP256'));
    await expect(card.session.sign(0x9a, alg('RSA2048'), message)).rejects.toBeInstanceOf(InvalidDataError);
  });

  test('the card refuses RSA input that is not exactly the modulus length', async () => {
    const { session } = await authenticated();
    const rsa = alg('RSA2048');
    await session.generateKey(0x9a, rsa);
    await session.verifyPin(DEFAULT_PIN);
    await expect(session.privateKeyOperation(0x9a, rsa, new Uint8Array(255).fill(1))).rejects.toBeInstanceOf(InvalidDataError);
  });

  test('metadata of an empty slot is NotFoundError (6A88); metadata is refused before any APDU on 4.3.7', async () => {
    const card = await openTestCard();
    expect((await raw(card, '00F7009A')).sw).toBe('6A88');
    expect((await raw(card, '00F70096')).sw).toBe('6A88'); // bio metadata on a non-bio key, as ykman expects
    const old = await openTestCard({ firmware: '4.3.7' });
    await expect(old.session.getSlotMetadata(0x9a)).rejects.toBeInstanceOf(NotSupportedError);
  });

  test('the corrupt-signature fault makes signatures that parse but do not verify', async () => {
    const card = await openTestCard({ faults: ['corrupt-signature'] });
    await card.session.authenticate(DEFAULT_MANAGEMENT_KEY);
    await card.session.verifyPin(DEFAULT_PIN);
    for (const name of ['RSA2048', 'ECCP256', 'ED25519']) {
      const algorithm = alg(name);
      const publicKey = await card.session.generateKey(0x9a, algorithm);
      expect(verifies(algorithm, publicKey, await card.session.sign(0x9a, algorithm, message))).toBe(false);
    }
  });
});
