/** Public keys as a PIV card returns them (GENERATE's 7F49 template, metadata tag 04). */
import type { KeyObject } from 'node:crypto';
import { MalformedDataError } from '../bytes/errors.js';
import { parseTlvMap, requireTag } from '../bytes/tlv.js';
import { ecPublicKeyFromPoint, okpPublicKeyFromRaw, rsaPublicKeyFromComponents } from '../crypto/keys.js';
import type { KeyAlgorithmInfo } from '../standards/algorithms.js';

/** Parses the content of 7F49 (or metadata tag 04): RSA `81 n 82 e`, EC/Ed25519/X25519 `86 point`. */
export function parseCardPublicKey(algorithm: KeyAlgorithmInfo, content: Uint8Array): KeyObject {
  const fields = parseTlvMap(content);
  try {
    switch (algorithm.kind) {
      case 'rsa': {
        const modulus = requireTag(fields, 0x81, 'RSA public key');
        const exponent = requireTag(fields, 0x82, 'RSA public key');
        const key = rsaPublicKeyFromComponents(modulus, exponent);
        if (key.asymmetricKeyDetails?.modulusLength !== algorithm.bits) {
          throw new MalformedDataError(`card returned a ${key.asymmetricKeyDetails?.modulusLength}-bit modulus for ${algorithm.name}`);
        }
        return key;
      }
      case 'ec':
        return ecPublicKeyFromPoint(algorithm.curve!, requireTag(fields, 0x86, 'EC public key'));
      case 'ed25519':
      case 'x25519':
        return okpPublicKeyFromRaw(algorithm.kind, requireTag(fields, 0x86, `${algorithm.name} public key`));
    }
  } catch (error) {
    if (error instanceof MalformedDataError) throw error;
    throw new MalformedDataError(`card returned an invalid ${algorithm.name} public key`, { cause: error });
  }
}
