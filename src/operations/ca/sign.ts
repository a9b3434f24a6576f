/**
 * `ca sign` and `enroll --ca`: an OpenSSH user certificate for a public key, signed by the CA in a directory.
 * Order matters: the CA key is unlocked (or the card checked) and the output file checked first, so a wrong
 * passphrase or card burns no serial; then a serial is taken, the certificate encoded, signed, its signature
 * verified against the CA public key (a bad card signature is caught here, not at login), written, and logged.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { readPrivateKeyFile } from '../key-file.js';
import { UsageError } from '../../errors.js';
import { bytesEqual } from '../../bytes/hex.js';
import { parseSlot } from '../../standards/references.js';
import { softwareCertificateSigner, verifySshSignature } from './ca-signature.js';
import { allocateSerial, appendIssued, type CaConfig, caPath, type IssuedRecord, pathExists, readCaConfig } from './ca-store.js';
import { cardCertificateSigner, type CardCaKey } from './card-ca.js';
import { encodeCertificate, type CertificateOption, type CertificateSigner } from './certificate.js';
import { DEFAULT_EXTENSIONS } from './certificate-options.js';
import { CaError, CaSignatureError } from './errors.js';
import { blobFingerprint, blobKeyType, CERTIFICATE_TYPE_SUFFIX, formatOpenSshLine, parseOpenSshLine, publicKeyBlob, publicKeyFromBlob } from './key-blob.js';
import { certificateTime, validityWindow } from './validity.js';

const NONCE_LENGTH = 32;

export interface UserCertificateRequest {
  /** The key to certify: a node:crypto key, or its SSH public key blob. */
  publicKey: KeyObject | Uint8Array;
  keyId: string;
  principals: string[];
  /** Seconds from now (parseValidity; DEFAULT_VALIDITY is 30d). */
  validitySeconds: number;
  /** Default: the five permit-* extensions, as ssh-keygen. */
  extensions?: CertificateOption[];
  criticalOptions?: CertificateOption[];
  /** Comment after the certificate line (default: the key id). */
  comment?: string;
  /** Where to write the `…-cert.pub` line. */
  outFile: string;
  /** Replace an existing outFile. */
  force?: boolean;
}

/** What unlocks the CA: its passphrase (software CA), or an open session with the CA card and its PIN. */
export interface CaCredentials {
  passphrase?: string;
  /** A software CA's key already unlocked (unlockSoftwareCa). */
  privateKey?: KeyObject;
  card?: Omit<CardCaKey, 'slot'>;
}

export interface SignDeps {
  now?: () => Date;
  random?: (length: number) => Uint8Array;
}

export interface IssuedCertificate {
  serial: number;
  keyId: string;
  principals: string[];
  validAfter: string;
  validBefore: string;
  signatureAlgorithm: string;
  caFingerprint: string;
  publicKeyFingerprint: string;
  extensions: string[];
  criticalOptions: CertificateOption[];
  certificateFile: string;
  /** The certificate line written to certificateFile. */
  certificate: string;
}

/** `x.pub` → `x-cert.pub` next to it, as ssh-keygen -s names it. */
export function defaultCertificateFile(publicKeyFile: string): string {
  return publicKeyFile.endsWith('.pub') ? `${publicKeyFile.slice(0, -4)}-cert.pub` : `${publicKeyFile}-cert.pub`;
}


/**
 * The software CA's private key, decrypted with the passphrase and checked against ca.pub. Callers that
 * must know early that signing will work (enroll --ca, before it writes to the card) unlock it first.
 */
export async function unlockSoftwareCa(dir: string, config: CaConfig, passphrase: string | undefined): Promise<KeyObject> {
  if (config.key.kind !== 'file') throw new CaError('this CA keeps its key on a card, not in a file');
  if (passphrase === undefined) throw new UsageError('the CA passphrase is required to sign (PIV_CA_PASSPHRASE or --passphrase-file)');
  const privateKey = await readPrivateKeyFile(resolve(dir, config.key.file), passphrase);
  const caBlob = parseOpenSshLine(config.publicKey, 'ca.json publicKey').blob;
  if (!bytesEqual(publicKeyBlob(privateKey), caBlob)) throw new CaError(`${caPath(dir, 'privateKey')} does not match ${caPath(dir, 'publicKey')}: the CA directory was altered`);
  return privateKey;
}

/** The signer for the CA in `config`: the decrypted key file, or the card after checking it is the CA's. */
async function caSigner(dir: string, config: CaConfig, credentials: CaCredentials): Promise<CertificateSigner> {
  const caBlob = parseOpenSshLine(config.publicKey, 'ca.json publicKey').blob;
  if (config.key.kind === 'file') return softwareCertificateSigner(credentials.privateKey ?? (await unlockSoftwareCa(dir, config, credentials.passphrase)));
  if (!credentials.card) throw new UsageError(`this CA's key is on a card (serial ${config.key.cardSerial ?? 'unknown'}, slot ${config.key.slot}): insert it and select it (--reader or --virtual)`);
  const slot = parseSlot(config.key.slot);
  if (slot === undefined) throw new CaError(`ca.json names slot ${config.key.slot}, which is not a PIV key slot`);
  return cardCertificateSigner({ ...credentials.card, slot }, { publicKeyBlob: caBlob, cardSerial: config.key.cardSerial });
}

export async function signUserCertificate(dir: string, request: UserCertificateRequest, credentials: CaCredentials, deps: SignDeps = {}): Promise<IssuedCertificate> {
  const now = (deps.now ?? (() => new Date()))();
  const random = deps.random ?? ((n) => new Uint8Array(randomBytes(n)));
  const subjectBlob = request.publicKey instanceof Uint8Array ? request.publicKey : publicKeyBlob(request.publicKey);
  if (blobKeyType(subjectBlob).endsWith(CERTIFICATE_TYPE_SUFFIX)) throw new UsageError('that is a certificate: give the public key it certifies');
  if (request.keyId.trim() === '') throw new UsageError('--key-id is required: a name for the certificate (it appears in sshd logs and can be revoked)');
  if (request.principals.length === 0) throw new UsageError('--principals is required');
  if (!request.force && (await pathExists(request.outFile))) throw new UsageError(`${request.outFile} exists: give --force to replace it, or --out FILE`);

  const config = await readCaConfig(dir);
  const signer = await caSigner(dir, config, credentials);
  const caBlob = parseOpenSshLine(config.publicKey, 'ca.json publicKey').blob;
  const serial = await allocateSerial(dir);
  const window = validityWindow(now, request.validitySeconds);
  const extensions: CertificateOption[] = request.extensions ?? DEFAULT_EXTENSIONS.map((name) => ({ name }));
  const criticalOptions = request.criticalOptions ?? [];
  const fields = {
    nonce: random(NONCE_LENGTH),
    publicKeyBlob: subjectBlob,
    serial: BigInt(serial),
    kind: 'user' as const,
    keyId: request.keyId,
    principals: request.principals,
    ...window,
    criticalOptions,
    extensions,
  };
  let signatureAlgorithm = '';
  let signedData: Uint8Array = new Uint8Array(0);
  let signatureBytes: Uint8Array = new Uint8Array(0);
  const certificate = await encodeCertificate(fields, caBlob, async (data) => {
    const result = await signer(data);
    [signatureAlgorithm, signedData, signatureBytes] = [result.algorithm, data, result.signature];
    return result;
  });
  if (!verifySshSignature(publicKeyFromBlob(caBlob), signedData, signatureAlgorithm, signatureBytes)) {
    throw new CaSignatureError(`the CA's ${signatureAlgorithm} signature does not verify with ca.pub: no certificate written (serial ${serial} is not reused)`);
  }
  const line = `${formatOpenSshLine(certificate, request.comment ?? request.keyId)}\n`;
  const handle = await open(request.outFile, request.force ? 'w' : 'wx', 0o644);
  try {
    await handle.writeFile(line);
  } finally {
    await handle.close();
  }

  const issued: IssuedCertificate = {
    serial,
    keyId: request.keyId,
    principals: request.principals,
    validAfter: certificateTime(window.validAfter),
    validBefore: certificateTime(window.validBefore),
    signatureAlgorithm,
    caFingerprint: config.fingerprint,
    publicKeyFingerprint: blobFingerprint(subjectBlob),
    extensions: extensions.map((e) => (e.value === undefined ? e.name : `${e.name}=${e.value}`)),
    criticalOptions,
    certificateFile: request.outFile,
    certificate: line.trimEnd(),
  };
  const record: IssuedRecord = {
    serial,
    keyId: issued.keyId,
    principals: issued.principals,
    validAfter: issued.validAfter,
    validBefore: issued.validBefore,
    publicKeyFingerprint: issued.publicKeyFingerprint,
    certificateFile: resolve(request.outFile),
    signatureAlgorithm,
    issuedAt: now.toISOString(),
  };
  await appendIssued(dir, record);
  return issued;
}
