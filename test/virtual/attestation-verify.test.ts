/** `piv-enroll attest`'s verification against the in-process virtual card: its test root, Yubico's roots, tampering. */
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { decodeCertificateObject } from '../../src/bytes/certificate-object.js';
import { attestCardSlot } from '../../src/operations/attestation/attest-card.js';
import { virtualCardTrust, yubicoAttestationTrust } from '../../src/operations/attestation/roots.js';
import { verifyAttestation, type AttestationInput } from '../../src/operations/attestation/verify.js';
import { keyAlgorithmByName } from '../../src/standards/algorithms.js';
import { OBJECT } from '../../src/standards/objects.js';
import { PIN_POLICY, TOUCH_POLICY } from '../../src/standards/policies.js';
import { DEFAULT_MANAGEMENT_KEY, openTestCard } from './helpers.js';

const SERIAL = 11409355;
const NOW = new Date(Date.UTC(2026, 10, 24, 12, 0, 0));

async function attestedCard(serial = SERIAL) {
  const card = await openTestCard({ serial });
  await card.session.authenticate(DEFAULT_MANAGEMENT_KEY);
  const publicKey = await card.session.generateKey(0x9c, keyAlgorithmByName('ECCP256')!, { pinPolicy: PIN_POLICY.ALWAYS, touchPolicy: TOUCH_POLICY.CACHED });
  const attestation = await card.session.attest(0x9c);
  const deviceCertificate = decodeCertificateObject(await card.session.getObject(OBJECT.ATTESTATION_CERTIFICATE)).der;
  return { card, publicKey, attestation, deviceCertificate };
}

async function input(overrides: Partial<AttestationInput> = {}): Promise<AttestationInput> {
  const { publicKey, attestation, deviceCertificate } = await attestedCard();
  return { attestation, deviceCertificate, slotPublicKey: publicKey, cardSerial: SERIAL, trust: await virtualCardTrust(), now: NOW, ...overrides };
}

describe('attestation verification on the virtual card', () => {
  test('a card-generated key verifies against the virtual card test root, with the facts it attests', async () => {
    const { card } = await attestedCard();
    const result = await attestCardSlot({ session: card.session, slot: 0x9c, trust: await virtualCardTrust(), now: NOW });
    expect(result.verdict).toMatchObject({
      verified: true,
      chain: ['CN=YubiKey PIV Attestation 9c', `CN=Yubico PIV Attestation (piv-enroll virtual card)\nserialNumber=${SERIAL}`, 'CN=piv-enroll virtual card test root'],
      facts: { firmware: { major: 5, minor: 7, patch: 2 }, serial: SERIAL, pinPolicy: PIN_POLICY.ALWAYS, touchPolicy: TOUCH_POLICY.CACHED, formFactor: 1 },
    });
    expect(result.slotKeySource).toBe('metadata');
    expect(result.cardSerial).toBe(SERIAL);
  });

  test('the same attestation is refused against Yubico\'s roots: wrong chain', async () => {
    const verdict = verifyAttestation(await input({ trust: await yubicoAttestationTrust() }));
    expect(verdict).toMatchObject({ verified: false, reason: 'wrong-chain' });
    if (!verdict.verified) expect(verdict.message).toMatch(/not among the roots of Yubico/);
  });

  test('another key than the slot\'s is refused', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;
    expect(verifyAttestation(await input({ slotPublicKey: other }))).toMatchObject({ verified: false, reason: 'other-key' });
  });

  test('another card\'s serial is refused', async () => {
    const verdict = verifyAttestation(await input({ cardSerial: SERIAL + 1 }));
    expect(verdict).toMatchObject({ verified: false, reason: 'other-serial', message: `the attestation is for serial ${SERIAL}, but the card is ${SERIAL + 1}` });
  });

  test('a broken signature on the attestation is refused', async () => {
    const base = await input();
    const tampered = Uint8Array.from(base.attestation);
    tampered[tampered.length - 5]! ^= 0x01; // inside the signature value
    expect(verifyAttestation({ ...base, attestation: tampered })).toMatchObject({ verified: false, reason: 'broken-signature' });
  });

  test('an attestation under another card\'s f9 certificate is refused (its f9 did not sign it)', async () => {
    const base = await input();
    const { deviceCertificate: otherDevice } = await attestedCard(SERIAL + 7);
    expect(verifyAttestation({ ...base, deviceCertificate: otherDevice })).toMatchObject({ verified: false, reason: 'wrong-chain' });
  });

  test('a clock outside the validity of the chain is refused: expired', async () => {
    expect(verifyAttestation(await input({ now: new Date(Date.UTC(2072, 0, 1)) }))).toMatchObject({ verified: false, reason: 'expired' });
    expect(verifyAttestation(await input({ now: new Date(Date.UTC(2020, 0, 1)) }))).toMatchObject({ verified: false, reason: 'expired' });
  });

  test('the virtual card test root is fixed and self-signed', async () => {
    const [root] = (await virtualCardTrust()).roots;
    expect(root!.subject).toBe('CN=piv-enroll virtual card test root');
    expect(root!.verify(root!.publicKey)).toBe(true);
    const again = new X509Certificate((await virtualCardTrust()).roots[0]!.raw);
    expect(again.fingerprint256).toBe(root!.fingerprint256);
  });
});
