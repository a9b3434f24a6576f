import { describe, expect, test } from 'vitest';
import { keepHostKeysAhead, startHostKeyEarly, takeEarlyHostKey } from '../../src/operations/enroll/early-host-key.js';
import { keyAlgorithmByName } from '../../src/standards/algorithms.js';

describe('the host key started before the enrollment loads', () => {
  test('started for a host-made key (RSA2048 by default), taken once, of the algorithm asked for', async () => {
    startHostKeyEarly({});
    startHostKeyEarly({ algorithm: 'eccp256', keySource: 'host' });
    const rsa = await takeEarlyHostKey('RSA2048');
    expect(rsa?.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect((await takeEarlyHostKey('ECCP256'))?.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(takeEarlyHostKey('RSA2048')).toBeUndefined(); // the next enrollment makes its own
  });

  test('nothing started for an imported key, a card-made one, or an algorithm the validator will refuse', () => {
    startHostKeyEarly({ import: 'key.pem' });
    startHostKeyEarly({ keySource: 'card', algorithm: 'ECCP384' });
    startHostKeyEarly({ algorithm: 'X25519' });
    startHostKeyEarly({ algorithm: 'RSA1234' });
    for (const name of ['RSA2048', 'ECCP384', 'X25519']) expect(takeEarlyHostKey(name)).toBeUndefined();
  });
});

describe('host keys made ahead for a batch', () => {
  test('at most `ahead` made, one after the other; each taken once and distinct; none beyond the count the batch takes', async () => {
    const p256 = keyAlgorithmByName('ECCP256')!;
    keepHostKeysAhead(p256, 3, 2);
    const fingerprints = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const key = takeEarlyHostKey('ECCP256');
      expect(key, `key ${i + 1} of 3`).toBeDefined();
      fingerprints.add((await key!).publicKey.export({ type: 'spki', format: 'der' }).toString('hex'));
    }
    expect(fingerprints.size).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(takeEarlyHostKey('ECCP256')).toBeUndefined(); // the batch wanted three: no fourth was made
  });
});
