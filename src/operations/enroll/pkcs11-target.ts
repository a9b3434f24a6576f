/**
 * The enrollment backend for sites that allow only the vendor's module: every step goes through PKCS#11
 * (ykcs11). C_Login as security officer with the management key, C_CreateObject for the private key
 * (RSA as CRT parts: ykcs11 refuses modulus/private exponent) and the certificate, C_GenerateKeyPair for
 * card keys, C_Sign for the certificate's signature, C_SetPIN for the PIN.
 *
 * What a module cannot do is refused when planning (plan.ts): the PUK, a PIN-protected management key,
 * PIN/touch policies, the CHUID, Ed25519. Seen with ykcs11 2.2 (Debian 12): C_Sign on a key whose slot
 * holds no certificate crashes the module, so a placeholder certificate (PLACEHOLDER_SUBJECT) is written
 * before the first signature and replaced by the real one; an interrupted run leaves it, and the next
 * run sees a half-done slot.
 */
import type { KeyObject } from 'node:crypto';
import { toHex } from '../../bytes/hex.js';
import { ecdsaP1363ToDer } from '../../crypto/ecdsa-encoding.js';
import { ecPrivateScalar, ecPublicKeyFromPoint, rsaPrivateComponents, rsaPublicKeyFromComponents, spkiDer } from '../../crypto/keys.js';
import { buildCertificate } from '../../crypto/x509.js';
import { NotSupportedError } from '../../piv/errors.js';
import type { KeyAlgorithmInfo } from '../../standards/algorithms.js';
import { DEFAULT_MANAGEMENT_KEY } from '../card-status.js';
import { pkcs11KeyId, Pkcs11Error } from '../pkcs11-modules.js';
import type { Pkcs11Handle, Pkcs11Token } from '../pkcs11-token.js';
import { certificateSignatureAlgorithm, type CardKey } from './card-signer.js';
import { PLACEHOLDER_SUBJECT, type CardInspection } from './inspect.js';
import type { EnrollmentTarget } from './target.js';

/** DER OIDs of the curves (CKA_EC_PARAMS). */
const CURVE_PARAMS: Record<'P-256' | 'P-384', Buffer> = {
  'P-256': Buffer.from('06082a8648ce3d030107', 'hex'),
  'P-384': Buffer.from('06052b81040022', 'hex'),
};

function unsupported(what: string): never {
  throw new NotSupportedError(`the PKCS#11 backend cannot ${what}: use the APDU backend (--backend apdu) for that step`);
}

/** CKA_EC_POINT is a DER OCTET STRING around the uncompressed point. */
function unwrapEcPoint(value: Buffer): Uint8Array {
  if (value[0] === 0x04 && value.length > 2 && value[1] === value.length - 2) return value.subarray(2);
  if (value[0] === 0x04 && value[1] === 0x81 && value[2] === value.length - 3) return value.subarray(3);
  return value; // some modules return the bare point
}

/** The public key the module shows for a slot (from its public key object). */
export async function publicKeyThroughPkcs11(token: Pkcs11Token, object: Pkcs11Handle, algorithm: KeyAlgorithmInfo): Promise<KeyObject | undefined> {
  const { lib } = token;
  if (algorithm.kind === 'rsa') {
    const modulus = await token.attribute(object, lib.CKA_MODULUS);
    const exponent = await token.attribute(object, lib.CKA_PUBLIC_EXPONENT);
    return modulus && exponent ? rsaPublicKeyFromComponents(modulus, exponent) : undefined;
  }
  if (algorithm.kind === 'ec') {
    const point = await token.attribute(object, lib.CKA_EC_POINT);
    return point ? ecPublicKeyFromPoint(algorithm.curve!, unwrapEcPoint(point)) : undefined;
  }
  return undefined;
}

export function pkcs11Target(token: Pkcs11Token): EnrollmentTarget {
  const { lib, pkcs11, session } = token;
  let managementKeyHex: string | undefined;
  const asOfficer = (): Promise<void> => token.login('so', managementKeyHex ?? unsupported('write to the card before authenticating'));
  const idFor = (slot: number): Buffer => Buffer.from([pkcs11KeyId(slot)]);

  const writeCertificate = async (slot: number, der: Uint8Array): Promise<void> => {
    await asOfficer();
    await token.call('write the certificate', () =>
      pkcs11.C_CreateObject(session, [
        { type: lib.CKA_CLASS, value: lib.CKO_CERTIFICATE },
        { type: lib.CKA_CERTIFICATE_TYPE, value: lib.CKC_X_509 },
        { type: lib.CKA_ID, value: idFor(slot) },
        { type: lib.CKA_VALUE, value: Buffer.from(der) },
      ]),
    );
  };

  return {
    backend: 'pkcs11',
    async changePin(current, next) {
      await token.logout();
      await token.call('change the PIN', () => pkcs11.C_SetPIN(session, current, next));
    },
    changePuk: async () => unsupported('change the PUK (a PKCS#11 module has no call for it)'),
    async authenticate(inspection: CardInspection, secrets, pin) {
      // The PIN first: a wrong one must stop the enrollment before anything is written.
      await token.login('user', pin);
      await token.logout();
      const key = inspection.managementKeyIsDefault === true ? DEFAULT_MANAGEMENT_KEY : secrets.managementKey;
      if (!key) unsupported('read a PIN-protected management key: give it with PIV_MANAGEMENT_KEY or --management-key-file');
      managementKeyHex = toHex(key).toLowerCase();
      await asOfficer();
    },
    replaceManagementKey: async () => unsupported('store a management key PIN-protected on the card'),
    async generateKey(slot, algorithm) {
      await asOfficer();
      const id = idFor(slot);
      // Bounded by the key generation's own time bound (pkcs11-host.ts), not the per-call one.
      const pair = await token.call('generate the key', () =>
        algorithm.kind === 'rsa'
          ? pkcs11.C_GenerateKeyPair(session, { mechanism: lib.CKM_RSA_PKCS_KEY_PAIR_GEN }, [{ type: lib.CKA_ID, value: id }, { type: lib.CKA_MODULUS_BITS, value: algorithm.bits }], [{ type: lib.CKA_ID, value: id }])
          : algorithm.kind === 'ec'
            ? pkcs11.C_GenerateKeyPair(session, { mechanism: lib.CKM_EC_KEY_PAIR_GEN }, [{ type: lib.CKA_ID, value: id }, { type: lib.CKA_EC_PARAMS, value: CURVE_PARAMS[algorithm.curve!] }], [{ type: lib.CKA_ID, value: id }])
            : unsupported(`generate ${algorithm.name} keys`),
      );
      const publicKey = await publicKeyThroughPkcs11(token, pair.publicKey, algorithm);
      if (!publicKey) throw new Pkcs11Error(`${token.module.name} generated the key but did not show its public key`);
      return { publicKey };
    },
    async importKey(slot, privateKey) {
      await asOfficer();
      const id = idFor(slot);
      const type = privateKey.asymmetricKeyType;
      let template;
      if (type === 'rsa') {
        const parts = rsaPrivateComponents(privateKey);
        template = [
          { type: lib.CKA_KEY_TYPE, value: lib.CKK_RSA },
          { type: lib.CKA_PUBLIC_EXPONENT, value: Buffer.from(parts.e) },
          { type: lib.CKA_PRIME_1, value: Buffer.from(parts.p) },
          { type: lib.CKA_PRIME_2, value: Buffer.from(parts.q) },
          { type: lib.CKA_EXPONENT_1, value: Buffer.from(parts.dp) },
          { type: lib.CKA_EXPONENT_2, value: Buffer.from(parts.dq) },
          { type: lib.CKA_COEFFICIENT, value: Buffer.from(parts.qi) },
        ];
      } else if (type === 'ec') {
        const curve = privateKey.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'P-384' : 'P-256';
        template = [
          { type: lib.CKA_KEY_TYPE, value: lib.CKK_EC },
          { type: lib.CKA_EC_PARAMS, value: CURVE_PARAMS[curve] },
          { type: lib.CKA_VALUE, value: Buffer.from(ecPrivateScalar(privateKey, curve)) },
        ];
      } else unsupported(`import ${type} keys`);
      await token.call('import the key', () => pkcs11.C_CreateObject(session, [{ type: lib.CKA_CLASS, value: lib.CKO_PRIVATE_KEY }, { type: lib.CKA_ID, value: id }, ...template]));
    },
    async signingKey(slot, algorithm, publicKey, _pinPolicy, pin): Promise<CardKey> {
      if (!(await token.findSlotObject(lib.CKO_CERTIFICATE, slot))) await writeCertificate(slot, await placeholderCertificate(publicKey, algorithm));
      return {
        algorithm,
        path: 'pkcs11',
        module: token.module.name,
        sign: async (message, hash) => {
          if (algorithm.kind !== 'rsa' && algorithm.kind !== 'ec') unsupported(`sign with ${algorithm.name} keys`);
          const signature = await token.sign(slot, algorithm, message, hash, pin);
          return algorithm.kind === 'ec' ? ecdsaP1363ToDer(signature) : signature; // the card's own encoding: DER
        },
      };
    },
    putCertificate: async (slot, der) => writeCertificate(slot, der),
    writeChuid: async () => false,
  };
}


/**
 * A certificate that only carries the public key, so ykcs11 will sign with the slot's key. Its signature is
 * not a signature (the card has not signed anything yet); the real certificate replaces it moments later.
 */
async function placeholderCertificate(publicKey: KeyObject, algorithm: KeyAlgorithmInfo): Promise<Uint8Array> {
  const now = new Date();
  const notSigned = algorithm.kind === 'rsa' ? new Uint8Array(algorithm.bits / 8) : Uint8Array.from([0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]);
  return buildCertificate(
    {
      serialNumber: Uint8Array.from([1]),
      subject: [{ type: 'CN', value: PLACEHOLDER_SUBJECT.slice(3) }],
      issuer: [{ type: 'CN', value: PLACEHOLDER_SUBJECT.slice(3) }],
      notBefore: now,
      notAfter: new Date(now.getTime() + 86_400_000),
      subjectPublicKeyInfo: spkiDer(publicKey),
      extensions: [],
      signatureAlgorithm: certificateSignatureAlgorithm(algorithm, 'sha256'),
    },
    async () => notSigned,
  );
}

