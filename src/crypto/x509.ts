/**
 * X.509 certificates assembled with node-forge's ASN.1/DER encoder and signed by an injected signer,
 * so a key that never leaves a card (RSA, ECDSA or Ed25519) can sign its own certificate, and tests
 * can pin serial, dates and key to compare DER byte for byte. forge's own certificate object only takes
 * RSA keys, so the TBSCertificate is put together here from forge's building blocks.
 */
import type forge from 'node-forge';
import { MalformedDataError } from '../bytes/errors.js';
import { asn1, fromForgeBytes, oidNode, pki, toForgeBytes, util } from './forge.js';
import type { HashName } from './pkcs1.js';

export interface NameAttribute {
  /** Short name (CN, O, OU, C, L, ST, DC, UID, emailAddress, serialNumber) or a dotted OID. */
  type: string;
  value: string;
}

export interface CertificateExtension {
  oid: string;
  critical: boolean;
  /** The extnValue contents (DER of the extension's own structure, or raw bytes for Yubico's). */
  value: Uint8Array;
}

export type SignatureAlgorithm =
  | { kind: 'rsa'; hash: HashName }
  | { kind: 'ecdsa'; hash: Exclude<HashName, 'sha1'> }
  | { kind: 'ed25519' };

export interface CertificateTemplate {
  /** Positive serial, big-endian, at most 20 bytes (RFC 5280 §4.1.2.2). */
  serialNumber: Uint8Array;
  subject: NameAttribute[];
  /** The issuer as attributes, or as the DER Name taken from the issuer's certificate (kept byte for byte). */
  issuer: NameAttribute[] | Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** DER SubjectPublicKeyInfo of the certified key. */
  subjectPublicKeyInfo: Uint8Array;
  extensions: CertificateExtension[];
  signatureAlgorithm: SignatureAlgorithm;
}

/** Signs the DER TBSCertificate; returns the signature value (PKCS#1 v1.5 for RSA, DER Ecdsa-Sig-Value, raw Ed25519). */
export type TbsSigner = (tbs: Uint8Array) => Promise<Uint8Array>;

const SHORT_NAME_OID: Record<string, string> = {
  CN: '2.5.4.3',
  SN: '2.5.4.4',
  SERIALNUMBER: '2.5.4.5',
  C: '2.5.4.6',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  STREET: '2.5.4.9',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  TITLE: '2.5.4.12',
  GIVENNAME: '2.5.4.42',
  DC: '0.9.2342.19200300.100.1.25',
  UID: '0.9.2342.19200300.100.1.1',
  EMAILADDRESS: '1.2.840.113549.1.9.1',
  E: '1.2.840.113549.1.9.1',
};

export function attributeOid(type: string): string | undefined {
  if (/^\d+(\.\d+)+$/.test(type)) return type;
  return SHORT_NAME_OID[type.toUpperCase()];
}

const SIGNATURE_OID = {
  rsa: { sha1: '1.2.840.113549.1.1.5', sha256: '1.2.840.113549.1.1.11', sha384: '1.2.840.113549.1.1.12', sha512: '1.2.840.113549.1.1.13' },
  ecdsa: { sha256: '1.2.840.10045.4.3.2', sha384: '1.2.840.10045.4.3.3', sha512: '1.2.840.10045.4.3.4' },
  ed25519: '1.3.101.112',
} as const;

function algorithmIdentifier(alg: SignatureAlgorithm): forge.asn1.Asn1 {
  if (alg.kind === 'rsa') {
    // RSA algorithm identifiers carry an explicit NULL parameter (RFC 4055 §5); ECDSA and Ed25519 carry none.
    return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      oidNode(SIGNATURE_OID.rsa[alg.hash]),
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ''),
    ]);
  }
  const oid = alg.kind === 'ecdsa' ? SIGNATURE_OID.ecdsa[alg.hash] : SIGNATURE_OID.ed25519;
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [oidNode(oid)]);
}

export function nameNode(attributes: NameAttribute[]): forge.asn1.Asn1 {
  return pki.distinguishedNameToAsn1({
    attributes: attributes.map((a) => {
      const oid = attributeOid(a.type);
      if (!oid) throw new RangeError(`unknown name attribute type: ${a.type}`);
      // countryName is PrintableString by definition; DC and email are IA5String; the rest UTF8String.
      const valueTagClass =
        oid === '2.5.4.6' ? asn1.Type.PRINTABLESTRING : oid === SHORT_NAME_OID.DC || oid === SHORT_NAME_OID.EMAILADDRESS ? asn1.Type.IA5STRING : asn1.Type.UTF8;
      return { type: oid, value: a.value, valueTagClass };
    }),
  } as unknown as forge.pki.Certificate['subject']);
}

function timeNode(date: Date): forge.asn1.Asn1 {
  // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  return date.getUTCFullYear() < 2050
    ? asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(date))
    : asn1.create(asn1.Class.UNIVERSAL, asn1.Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date));
}

function integerNode(bytes: Uint8Array): forge.asn1.Asn1 {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  let value = bytes.subarray(start);
  if (value.length === 0) value = Uint8Array.of(0);
  // A set top bit would make the INTEGER negative: prefix a zero byte.
  const body = (value[0]! & 0x80) !== 0 ? Uint8Array.from([0, ...value]) : value;
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, toForgeBytes(body));
}

/** Extensions ::= SEQUENCE OF Extension (RFC 5280 §4.1), as certificates and PKCS#10 extensionRequest carry it. */
export function extensionSequence(extensions: CertificateExtension[]): forge.asn1.Asn1 {
  const list = extensions.map((ext) =>
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      oidNode(ext.oid),
      ...(ext.critical ? [asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BOOLEAN, false, String.fromCharCode(0xff))] : []),
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, toForgeBytes(ext.value)),
    ]),
  );
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, list);
}

function extensionsNode(extensions: CertificateExtension[]): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.CONTEXT_SPECIFIC, 3, true, [extensionSequence(extensions)]);
}

export function encodeTbsCertificate(t: CertificateTemplate): Uint8Array {
  if (t.serialNumber.length === 0 || t.serialNumber.length > 20) throw new RangeError('certificate serial must be 1 to 20 bytes');
  if (!(t.notBefore < t.notAfter)) throw new RangeError('certificate notBefore must be before notAfter');
  const spki = asn1.fromDer(util.createBuffer(toForgeBytes(t.subjectPublicKeyInfo)));
  const tbs = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [integerNode(Uint8Array.of(2))]), // v3
    integerNode(t.serialNumber),
    algorithmIdentifier(t.signatureAlgorithm),
    t.issuer instanceof Uint8Array ? asn1.fromDer(util.createBuffer(toForgeBytes(t.issuer))) : nameNode(t.issuer),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [timeNode(t.notBefore), timeNode(t.notAfter)]),
    nameNode(t.subject),
    spki,
    ...(t.extensions.length > 0 ? [extensionsNode(t.extensions)] : []),
  ]);
  return fromForgeBytes(asn1.toDer(tbs).getBytes());
}

/** SEQUENCE { signed DER, AlgorithmIdentifier, BIT STRING signature }: a certificate's and a PKCS#10 request's outer shape. */
export function signedEnvelope(signedDer: Uint8Array, signatureAlgorithm: SignatureAlgorithm, signature: Uint8Array): Uint8Array {
  const envelope = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.fromDer(util.createBuffer(toForgeBytes(signedDer))),
    algorithmIdentifier(signatureAlgorithm),
    // BIT STRING: a leading 0 = no unused bits.
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, String.fromCharCode(0) + toForgeBytes(signature)),
  ]);
  return fromForgeBytes(asn1.toDer(envelope).getBytes());
}

export async function buildCertificate(template: CertificateTemplate, sign: TbsSigner): Promise<Uint8Array> {
  const tbsDer = encodeTbsCertificate(template);
  return signedEnvelope(tbsDer, template.signatureAlgorithm, await sign(tbsDer));
}

// ---- common extensions ----

export function basicConstraintsExtension(ca: boolean): CertificateExtension {
  const seq = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, ca ? [asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BOOLEAN, false, String.fromCharCode(0xff))] : []);
  return { oid: '2.5.29.19', critical: true, value: fromForgeBytes(asn1.toDer(seq).getBytes()) };
}

/** keyUsage bits, numbered as in RFC 5280 §4.2.1.3. */
export function keyUsageExtension(bits: number[]): CertificateExtension {
  const highest = Math.max(...bits);
  const byteCount = Math.floor(highest / 8) + 1;
  const bytes = new Uint8Array(byteCount);
  for (const bit of bits) bytes[Math.floor(bit / 8)]! |= 0x80 >> bit % 8;
  const unused = byteCount * 8 - 1 - highest;
  const bitString = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, String.fromCharCode(unused) + toForgeBytes(bytes));
  return { oid: '2.5.29.15', critical: true, value: fromForgeBytes(asn1.toDer(bitString).getBytes()) };
}

/** Reads the parts of a DER certificate that PIV tooling reports, using forge's parser for names and dates. */
export interface CertificateSummary {
  subject: string;
  issuer: string;
  /** DER of the subject Name, to issue certificates under this one. */
  subjectDer: Uint8Array;
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  subjectPublicKeyInfo: Uint8Array;
}

function nameToString(asn1Name: forge.asn1.Asn1): string {
  // RFC 4514 order is most-specific first: reverse the RDN sequence.
  const rdns = (asn1Name.value as forge.asn1.Asn1[]).map((set) =>
    (set.value as forge.asn1.Asn1[])
      .map((atv) => {
        const [typeNode, valueNode] = atv.value as forge.asn1.Asn1[];
        const oid = asn1.derToOid(util.createBuffer(typeNode!.value as string));
        const shortName = Object.entries(SHORT_NAME_OID).find(([, o]) => o === oid)?.[0] ?? oid;
        const raw = valueNode!.value as string;
        const text = valueNode!.type === asn1.Type.UTF8 ? util.decodeUtf8(raw) : raw;
        return `${shortName === 'EMAILADDRESS' ? 'emailAddress' : shortName}=${text.replace(/([,+"\\<>;])/g, '\\$1')}`;
      })
      .join('+'),
  );
  return rdns.reverse().join(',');
}

function readTime(node: forge.asn1.Asn1): Date {
  return node.type === asn1.Type.UTCTIME ? asn1.utcTimeToDate(node.value as string) : asn1.generalizedTimeToDate(node.value as string);
}

export function summarizeCertificate(der: Uint8Array): CertificateSummary {
  try {
    return readSummary(der);
  } catch (error) {
    throw new MalformedDataError('not a readable X.509 certificate', { cause: error });
  }
}

function readSummary(der: Uint8Array): CertificateSummary {
  const root = asn1.fromDer(util.createBuffer(toForgeBytes(der)), true);
  const tbs = (root.value as forge.asn1.Asn1[])[0]!;
  const fields = tbs.value as forge.asn1.Asn1[];
  const offset = fields[0]!.tagClass === asn1.Class.CONTEXT_SPECIFIC ? 1 : 0;
  const serial = fields[offset]!.value as string;
  const validity = fields[offset + 3]!.value as forge.asn1.Asn1[];
  return {
    serialHex: util.bytesToHex(serial).toUpperCase(),
    issuer: nameToString(fields[offset + 2]!),
    notBefore: readTime(validity[0]!),
    notAfter: readTime(validity[1]!),
    subject: nameToString(fields[offset + 4]!),
    subjectDer: fromForgeBytes(asn1.toDer(fields[offset + 4]!).getBytes()),
    subjectPublicKeyInfo: fromForgeBytes(asn1.toDer(fields[offset + 5]!).getBytes()),
  };
}
