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
/** How many more keys of an algorithm a batch will still take (keys ahead are made only for those). */
const wanted = new Map<string, { remaining: number; ahead: number }>();

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
  if (!algorithm || algorithm.kind === 'x25519' || started.has(algorithm.name)) return;
  started.set(algorithm.name, [makeKey(algorithm)]);
}

/**
 * A batch that will take `count` host keys of `algorithm`: keeps up to `ahead` of them made ahead (one per reader), one
 * after the other, so a key is ready when its card is (the card waited ~0.13 s for it at the key step) and four readers'
 * key generations do not start at once: on the test bench that burst held pcscd and the cards' SELECTs ~0.3 s.
 */
export function keepHostKeysAhead(algorithm: KeyAlgorithmInfo, count: number, ahead: number): void {
  if (algorithm.kind === 'x25519' || count <= 0) return;
  wanted.set(algorithm.name, { remaining: count, ahead: Math.max(1, ahead) });
  void refill(algorithm);
}

/** Makes the next key ahead once the last one is done (never two at once), while the batch still wants keys. */
async function refill(algorithm: KeyAlgorithmInfo): Promise<void> {
  const want = wanted.get(algorithm.name);
  const pool = started.get(algorithm.name) ?? [];
  started.set(algorithm.name, pool);
  if (!want || pool.length >= Math.min(want.ahead, want.remaining)) return;
  const last = pool[pool.length - 1];
  const next = (last ?? Promise.resolve()).then(() => undefined, () => undefined).then(() => makeKey(algorithm));
  next.catch(() => undefined);
  pool.push(next);
  await next.catch(() => undefined);
  await refill(algorithm);
}

/** A key made ahead for this algorithm, taken once (the next enrollment gets another, or makes its own). */
export function takeEarlyHostKey(algorithmName: string): Promise<KeyPair> | undefined {
  const pool = started.get(algorithmName);
  const key = pool?.shift();
  if (pool && pool.length === 0) started.delete(algorithmName);
  const want = wanted.get(algorithmName);
  if (want && key) {
    want.remaining--;
    const algorithm = keyAlgorithmByName(algorithmName);
    if (algorithm) void refill(algorithm);
  }
  return key;
}
