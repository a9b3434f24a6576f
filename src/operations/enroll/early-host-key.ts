/**
 * A host key started before the enrollment's modules are loaded. RSA key generation takes the host ~0.1–1 s of CPU
 * (a random prime search) on a libuv thread; started from the command line's first moment, it runs while node loads
 * and compiles the enrollment's module graph (~0.3 s) and while the card is found and inspected, instead of keeping
 * the card idle at the key step. Measured under `--timing yubikey5`: the card waited ~0.35–1 s for the key there.
 * A key nobody takes (the plan keeps the slot's key, the enrollment is refused) is dropped unused, like any other.
 */
import type { KeyObject } from 'node:crypto';
import { generateKeyPairForAsync } from '../../crypto/keys.js';
import { keyAlgorithmByName, type KeyAlgorithmInfo } from '../../standards/algorithms.js';

type KeyPair = { privateKey: KeyObject; publicKey: KeyObject };
/** Keys made ahead, per algorithm name, each taken once. */
const started = new Map<string, Array<Promise<KeyPair>>>();
/** A batch's wish per algorithm name: how many more keys it will take, and how many to keep made ahead. */
const wanted = new Map<string, { algorithm: KeyAlgorithmInfo; remaining: number; ahead: number }>();

function poolOf(name: string): Array<Promise<KeyPair>> {
  let pool = started.get(name);
  if (!pool) started.set(name, (pool = []));
  return pool;
}

function makeKey(algorithm: KeyAlgorithmInfo): Promise<KeyPair> {
  const key = generateKeyPairForAsync(algorithm);
  key.catch(() => undefined); // a failure surfaces where the key is taken
  return key;
}

/**
 * Starts making a key of `algorithm` (a name as --algorithm takes it; RSA2048 when not given) when the enrollment will
 * want a host-made one: no --import, and --key-source host or not given. Anything unparsable starts nothing: the
 * validator reports it later.
 */
export function startHostKeyEarly(flags: { algorithm?: string; keySource?: string; import?: string; backend?: string }): void {
  if (flags.import !== undefined || (flags.keySource !== undefined && flags.keySource !== 'host')) return;
  const algorithm = keyAlgorithmByName(flags.algorithm ?? 'RSA2048');
  if (!algorithm || algorithm.kind === 'x25519' || poolOf(algorithm.name).length > 0) return;
  poolOf(algorithm.name).push(makeKey(algorithm));
}

/**
 * A batch that will take `count` host keys of `algorithm`: keeps up to `ahead` of them made ahead (one per reader), one
 * after the other, so a key is ready when its card is (the card waited ~0.13 s for it at the key step) and four readers'
 * key generations do not start at once: on the test bench that burst held pcscd and the cards' SELECTs ~0.3 s.
 */
export function keepHostKeysAhead(algorithm: KeyAlgorithmInfo, count: number, ahead: number): void {
  if (algorithm.kind === 'x25519' || count <= 0) return;
  wanted.set(algorithm.name, { algorithm, remaining: count, ahead: Math.max(1, ahead) });
  void refill(algorithm.name);
}

/** Makes the next key ahead once the last one is done (never two at once), while the batch still wants keys. */
async function refill(name: string): Promise<void> {
  const want = wanted.get(name);
  const pool = poolOf(name);
  while (want && pool.length < Math.min(want.ahead, want.remaining)) {
    const last = pool[pool.length - 1];
    const next = (last ?? Promise.resolve()).then(() => undefined, () => undefined).then(() => makeKey(want.algorithm));
    next.catch(() => undefined);
    pool.push(next);
    await next.catch(() => undefined);
  }
}

/** A key made ahead for this algorithm, taken once (the next enrollment gets another, or makes its own). */
export function takeEarlyHostKey(algorithmName: string): Promise<KeyPair> | undefined {
  const key = started.get(algorithmName)?.shift();
  const want = wanted.get(algorithmName);
  if (want && key) {
    want.remaining--;
    void refill(algorithmName);
  }
  return key;
}
