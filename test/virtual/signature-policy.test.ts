import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { pivCardKey } from '../../src/operations/enroll/card-signer.js';
import { verifyCardSignatures } from '../../src/operations/enroll/verify.js';
import { keyAlgorithmByName } from '../../src/standards/algorithms.js';
import { PIN_POLICY } from '../../src/standards/policies.js';
import { SLOT } from '../../src/standards/references.js';
import { DEFAULT_MANAGEMENT_KEY, DEFAULT_PIN, openTestCard } from './helpers.js';

const RSA2048 = keyAlgorithmByName('RSA2048')!;
const random = (n: number): Uint8Array => new Uint8Array(n).fill(7);

async function rsaCard(faults: Array<'corrupt-signature'> = []) {
  const card = await openTestCard({ faults });
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await card.session.authenticate(DEFAULT_MANAGEMENT_KEY);
  await card.session.importKey(SLOT.SIGNATURE, privateKey, { pinPolicy: PIN_POLICY.ALWAYS });
  const key = pivCardKey({ session: card.session, slot: SLOT.SIGNATURE, algorithm: RSA2048, pinPolicy: PIN_POLICY.ALWAYS, pin: DEFAULT_PIN });
  const signatures = () => card.transport.sent.filter((apdu) => /^[01]087/.test(apdu)).length;
  return { key, publicKey, signatures };
}

describe('signature checks: how many signatures a path makes', () => {
  test('every algorithm: the certificate signature stands for rsa-sha2-256 only; two signatures for the rest', async () => {
    const { key, publicKey, signatures } = await rsaCard();
    const before = signatures();
    const checks = await verifyCardSignatures(key, publicKey, random, { hash: 'sha256' });
    expect(checks.map((c) => [c.algorithm, c.valid])).toEqual([['rsa-sha2-256', true], ['rsa-sha2-512', true], ['ssh-rsa', true]]);
    expect(signatures() - before).toBeGreaterThanOrEqual(2); // 2 signatures (a chained command is 2 APDUs each)
    expect(checks.every((c) => c.sharedWith === undefined)).toBe(true);
  });

  test('one per path: one rsa-sha2-512 signature stands for all three, and says so', async () => {
    const { key, publicKey, signatures } = await rsaCard();
    const before = signatures();
    const checks = await verifyCardSignatures(key, publicKey, random, undefined, 'one-per-path');
    expect(checks.map((c) => [c.algorithm, c.valid, c.sharedWith])).toEqual([['rsa-sha2-256', true, 'rsa-sha2-512'], ['rsa-sha2-512', true, undefined], ['ssh-rsa', true, 'rsa-sha2-512']]);
    expect(checks.find((c) => c.algorithm === 'ssh-rsa')!.legacy).toBe(true);
    const once = signatures() - before;
    const all = await verifyCardSignatures(key, publicKey, random);
    expect(signatures() - before - once).toBe(3 * once);
    expect(all).toHaveLength(3);
  });

  test('one per path with a bad card: every algorithm fails, none is reported valid', async () => {
    const { key, publicKey } = await rsaCard(['corrupt-signature']);
    const checks = await verifyCardSignatures(key, publicKey, random, undefined, 'one-per-path');
    expect(checks.map((c) => c.valid)).toEqual([false, false, false]);
  });
});
