/**
 * A host key started before the enrollment's modules are loaded. RSA key generation takes the host ~0.1–1 s of CPU
 * (a random prime search) on a libuv thread; started from the command line's first moment, it runs while node loads
 * and compiles the enrollment's module graph (~0.3 s) and while the card is found and inspected, instead of keeping
 * the card idle at the key step. Measured under `--timing yubikey5`: the card waited ~0.35–1 s for the key there.
 * A key nobody takes (the plan keeps the slot's key, the enrollment is refused) is dropped unused, like any other.
 */
import type { KeyObject } from 'node:crypto';
import { generateKeyPairForAsync } from '../../crypto/keys.js';
import { keyAlgorithmByName } from '../../standards/algorithms.js';

type KeyPair = { privateKey: KeyObject; publicKey: KeyObject };
const started = new Map<string, Promise<KeyPair>>();

/**
 * Starts making a key of `algorithm` (a name as --algorithm takes it; RSA2048 when not given) when the enrollment will
 * want a host-made one: no --import, and --key-source host or not given. Anything unparsable starts nothing: the
 * validator reports it later.
 */
export function startHostKeyEarly(flags: { algorithm?: string; keySource?: string; import?: string; backend?: string }): void {
  if (flags.import !== undefined || (flags.keySource !== undefined && flags.keySource !== 'host')) return;
  const algorithm = keyAlgorithmByName(flags.algorithm ?? 'RSA2048');
  if (!algorithm || algorithm.kind === 'x25519' || started.has(algorithm.name)) return;
  const key = generateKeyPairForAsync(algorithm);
  key.catch(() => undefined); // a failure surfaces where the key is taken
  started.set(algorithm.name, key);
}

/** The key started early for this algorithm, once (the next enrollment makes its own). */
export function takeEarlyHostKey(algorithmName: string): Promise<KeyPair> | undefined {
  const key = started.get(algorithmName);
  started.delete(algorithmName);
  return key;
}
