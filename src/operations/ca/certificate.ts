/**
 * OpenSSH certificates (PROTOCOL.certkeys), encoded and decoded here rather than by a library: the CA signature
 * algorithm, extensions, key id and serial are ours to choose (see shared/reference/ssh.md §2 and §4).
 *
 *   string  "<key type>-cert-v01@openssh.com"
 *   string  nonce
 *   ...     the key's own public fields (its blob without the leading type name)
 *   uint64  serial            uint32 type (1 user, 2 host)     string key id
 *   string  principals (packed strings)                         uint64 valid after, uint64 valid before
 *   string  critical options  string extensions (name, data pairs sorted by name; a value is a nested string)
 *   string  reserved          string CA public key blob          string signature over everything before it
 */
import { MalformedDataError } from '../../bytes/errors.js';
import { SshReader, SshWriter } from '../../crypto/ssh-wire.js';
import { blobKeyType, CERTIFICATE_TYPE_SUFFIX } from './key-blob.js';

export const CERTIFICATE_TYPE = { user: 1, host: 2 } as const;
export type CertificateKind = keyof typeof CERTIFICATE_TYPE;

/** A critical option or extension: a flag when `value` is undefined. */
export interface CertificateOption {
  name: string;
  value?: string;
}

/** What a CA puts into a certificate before signing it. */
export interface CertificateFields {
  /** Random bytes (OpenSSH uses 32) that make the signed data unpredictable. */
  nonce: Uint8Array;
  /** The certified key, as a plain SSH public key blob. */
  publicKeyBlob: Uint8Array;
  serial: bigint;
  kind: CertificateKind;
  keyId: string;
  principals: string[];
  /** Seconds since the epoch. */
  validAfter: bigint;
  validBefore: bigint;
  criticalOptions: CertificateOption[];
  extensions: CertificateOption[];
}

/** The CA's signature over the to-be-signed bytes: the SSH algorithm name and the signature field's content. */
export interface SshSignature {
  algorithm: string;
  signature: Uint8Array;
}
export type CertificateSigner = (data: Uint8Array) => Promise<SshSignature>;

export interface ParsedCertificate extends CertificateFields {
  /** `ssh-ed25519-cert-v01@openssh.com`… */
  certificateType: string;
  caPublicKeyBlob: Uint8Array;
  signatureAlgorithm: string;
  signature: Uint8Array;
  /** The bytes the CA signed. */
  signedData: Uint8Array;
}

/** Byte order (strcmp), which is what OpenSSH sorts by: `permit-X11-forwarding` comes before `permit-agent-forwarding`. */
function byName(a: CertificateOption, b: CertificateOption): number {
  const [x, y] = [Buffer.from(a.name), Buffer.from(b.name)];
  return Buffer.compare(x, y);
}

function encodeOptions(options: readonly CertificateOption[], what: string): Uint8Array {
  const sorted = [...options].sort(byName);
  for (let i = 1; i < sorted.length; i++) if (sorted[i]!.name === sorted[i - 1]!.name) throw new RangeError(`${what} "${sorted[i]!.name}" given twice`);
  const writer = new SshWriter();
  for (const option of sorted) {
    writer.string(option.name);
    writer.string(option.value === undefined ? new Uint8Array(0) : new SshWriter().string(option.value).bytes());
  }
  return writer.bytes();
}

function decodeOptions(data: Uint8Array, what: string): CertificateOption[] {
  const reader = new SshReader(data, what);
  const options: CertificateOption[] = [];
  while (!reader.atEnd()) {
    const name = reader.text();
    const body = reader.string();
    if (body.length === 0) options.push({ name });
    else {
      const inner = new SshReader(body, `${what} ${name}`);
      options.push({ name, value: inner.text() });
      inner.end();
    }
  }
  return options;
}

/** The bytes a CA signs: every field up to and including the CA key. */
export function certificateToBeSigned(fields: CertificateFields, caPublicKeyBlob: Uint8Array): Uint8Array {
  if (fields.serial === 0n) throw new RangeError('serial 0 cannot be revoked by serial: serials start at 1');
  if (fields.principals.length === 0) throw new RangeError('a certificate without principals is refused by TrustedUserCAKeys');
  if (fields.validBefore <= fields.validAfter) throw new RangeError('valid-before must be later than valid-after');
  const keyReader = new SshReader(fields.publicKeyBlob, 'certified public key');
  const keyType = keyReader.text();
  if (keyType.endsWith(CERTIFICATE_TYPE_SUFFIX)) throw new RangeError('a certificate cannot certify another certificate');
  const principals = new SshWriter();
  for (const principal of fields.principals) principals.string(principal);
  return new SshWriter()
    .string(keyType + CERTIFICATE_TYPE_SUFFIX)
    .string(fields.nonce)
    .raw(keyReader.raw(keyReader.remaining))
    .uint64(fields.serial)
    .uint32(CERTIFICATE_TYPE[fields.kind])
    .string(fields.keyId)
    .string(principals.bytes())
    .uint64(fields.validAfter)
    .uint64(fields.validBefore)
    .string(encodeOptions(fields.criticalOptions, 'critical option'))
    .string(encodeOptions(fields.extensions, 'extension'))
    .string(new Uint8Array(0))
    .string(caPublicKeyBlob)
    .bytes();
}

/** The whole certificate blob: fields, CA key and the signature the injected signer returns. */
export async function encodeCertificate(fields: CertificateFields, caPublicKeyBlob: Uint8Array, signer: CertificateSigner): Promise<Uint8Array> {
  const toBeSigned = certificateToBeSigned(fields, caPublicKeyBlob);
  const { algorithm, signature } = await signer(toBeSigned);
  const signatureBlob = new SshWriter().string(algorithm).string(signature).bytes();
  return new SshWriter().raw(toBeSigned).string(signatureBlob).bytes();
}

/** Splits a certificate blob into its fields (the signature is not checked here). */
export function parseCertificate(blob: Uint8Array): ParsedCertificate {
  const reader = new SshReader(blob, 'OpenSSH certificate');
  const certificateType = reader.text();
  if (!certificateType.endsWith(CERTIFICATE_TYPE_SUFFIX)) throw new MalformedDataError(`${certificateType} is not an OpenSSH certificate type`);
  const keyType = certificateType.slice(0, -CERTIFICATE_TYPE_SUFFIX.length);
  const nonce = reader.string();
  const keyStart = reader.position;
  skipKeyFields(reader, keyType);
  const keyFields = blob.slice(keyStart, reader.position);
  const serial = reader.uint64();
  const typeCode = reader.uint32();
  const kind = (Object.keys(CERTIFICATE_TYPE) as CertificateKind[]).find((k) => CERTIFICATE_TYPE[k] === typeCode);
  if (!kind) throw new MalformedDataError(`OpenSSH certificate: unknown certificate type ${typeCode}`);
  const keyId = reader.text();
  const principalReader = new SshReader(reader.string(), 'certificate principals');
  const principals: string[] = [];
  while (!principalReader.atEnd()) principals.push(principalReader.text());
  const validAfter = reader.uint64();
  const validBefore = reader.uint64();
  const criticalOptions = decodeOptions(reader.string(), 'critical options');
  const extensions = decodeOptions(reader.string(), 'extensions');
  reader.string(); // reserved
  const caPublicKeyBlob = reader.string();
  const signedData = blob.slice(0, reader.position);
  const signatureReader = new SshReader(reader.string(), 'certificate signature');
  const signatureAlgorithm = signatureReader.text();
  const signature = signatureReader.string();
  signatureReader.end();
  reader.end();
  const publicKeyBlob = new SshWriter().string(keyType).raw(keyFields).bytes();
  return {
    certificateType, nonce, publicKeyBlob, serial, kind, keyId, principals, validAfter, validBefore, criticalOptions, extensions,
    caPublicKeyBlob, signatureAlgorithm, signature, signedData,
  };
}

/** Reads past a key's public fields, whose layout depends on its type (PROTOCOL.certkeys). */
function skipKeyFields(reader: SshReader, keyType: string): void {
  if (keyType === 'ssh-rsa') {
    reader.mpint();
    reader.mpint();
  } else if (keyType === 'ssh-ed25519') {
    reader.string();
  } else if (keyType.startsWith('ecdsa-sha2-')) {
    reader.string();
    reader.string();
  } else if (keyType === 'sk-ssh-ed25519@openssh.com') {
    reader.string();
    reader.string();
  } else if (keyType === 'sk-ecdsa-sha2-nistp256@openssh.com') {
    reader.string();
    reader.string();
    reader.string();
  } else {
    throw new MalformedDataError(`certificates of ${keyType} keys are not supported here`);
  }
}

/** The key a certificate certifies, or the key itself: what a KRL's explicit-key section matches. */
export function plainKeyBlob(blob: Uint8Array): Uint8Array {
  return blobKeyType(blob).endsWith(CERTIFICATE_TYPE_SUFFIX) ? parseCertificate(blob).publicKeyBlob : blob;
}
