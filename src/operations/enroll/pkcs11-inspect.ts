/**
 * What the PKCS#11 backend can learn about a card before planning, through the module only: firmware and
 * serial from the token info, the slot's key and certificate from its objects, whether the management key
 * is the factory default by trying it (it has no retry counter). A module cannot tell whether the PIN or
 * PUK are the defaults, so those stay unknown, and the plan asks for the PIN.
 */
import { createPublicKey } from 'node:crypto';
import { summarizeCertificate } from '../../crypto/x509.js';
import { describeKey } from '../../crypto/keys.js';
import { toHex } from '../../bytes/hex.js';
import { keyAlgorithmByName, managementKeyAlgorithmByName, type KeyAlgorithmInfo } from '../../standards/algorithms.js';
import { DEFAULT_MANAGEMENT_KEY } from '../card-status.js';
import type { Pkcs11Token } from '../pkcs11-token.js';
import { certificateCertifiesKey, type CardInspection } from './inspect.js';
import { publicKeyThroughPkcs11 } from './pkcs11-target.js';

const P384_PARAMS = '06052b81040022';

/** Firmware assumed when the module does not report the YubiKey's own (OpenSC): the oldest with metadata. */
const UNKNOWN_FIRMWARE = { major: 0, minor: 0, patch: 0 };

export async function inspectThroughPkcs11(token: Pkcs11Token, slot: number): Promise<CardInspection> {
  const { lib } = token;
  const info = await token.info();
  const inspection: CardInspection = {
    cardName: info.reader,
    firmware: info.firmware ?? UNKNOWN_FIRMWARE,
    serial: info.serial,
    pinAttemptsRemaining: info.pinTriesRemaining,
    // ykcs11 before 2.3 speaks TDES only; an AES key shows up as "not the default" and fails to log in.
    managementKeyAlgorithm: managementKeyAlgorithmByName('TDES')!,
    managementKeyIsDefault: await token.trySoLogin(toHex(DEFAULT_MANAGEMENT_KEY).toLowerCase()),
    managementKeyProtected: false,
    slot: {},
  };
  const certificate = await token.findSlotObject(lib.CKO_CERTIFICATE, slot);
  const privateKey = await token.findSlotObject(lib.CKO_PRIVATE_KEY, slot);
  const publicObject = await token.findSlotObject(lib.CKO_PUBLIC_KEY, slot);
  // Private key objects stay hidden until a login: the public key object tells that a key is there.
  inspection.slot.hasKey = privateKey !== undefined || publicObject !== undefined;
  let summary: ReturnType<typeof summarizeCertificate> | undefined;
  const der = certificate ? await token.attribute(certificate, lib.CKA_VALUE) : undefined;
  if (der) {
    try {
      summary = summarizeCertificate(der);
      inspection.slot.certificateSubject = summary.subject;
    } catch {
      // an unreadable certificate: the slot is occupied all the same
    }
  }
  const certificateKey = summary ? createPublicKey({ key: Buffer.from(summary.subjectPublicKeyInfo), format: 'der', type: 'spki' }) : undefined;
  // The key's type decides how to read its public key object; the certificate's key tells it first.
  const keyType = certificateKey ? describeKey(certificateKey) : undefined;
  const fromObject = publicObject && keyType ? await publicKeyThroughPkcs11(token, publicObject, keyType) : publicObject ? await readAnyPublicKey(token, publicObject) : undefined;
  const publicKey = fromObject ?? certificateKey;
  if (publicKey) {
    inspection.slot.publicKey = publicKey;
    inspection.slot.keyAlgorithm = describeKey(publicKey);
  }
  if (summary && fromObject) inspection.slot.certificateMatchesKey = certificateCertifiesKey(summary.subject, summary.subjectPublicKeyInfo, fromObject);
  return inspection;
}

async function readAnyPublicKey(token: Pkcs11Token, object: Buffer): ReturnType<typeof publicKeyThroughPkcs11> {
  const keyType = (await token.attribute(object, token.lib.CKA_KEY_TYPE))?.readUInt32LE(0);
  let algorithm: KeyAlgorithmInfo | undefined;
  if (keyType === token.lib.CKK_RSA) algorithm = keyAlgorithmByName(`RSA${((await token.attribute(object, token.lib.CKA_MODULUS))?.length ?? 0) * 8}`);
  else if (keyType === token.lib.CKK_EC) algorithm = keyAlgorithmByName((await token.attribute(object, token.lib.CKA_EC_PARAMS))?.toString('hex') === P384_PARAMS ? 'ECCP384' : 'ECCP256');
  return algorithm ? publicKeyThroughPkcs11(token, object, algorithm) : undefined;
}
