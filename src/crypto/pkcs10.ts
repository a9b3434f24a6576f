/**
 * PKCS#10 certification requests (RFC 2986) assembled with node-forge's ASN.1 encoder and signed by an injected
 * signer, like the certificates of x509.ts: the key stays on the card, and the request is what an X.509 CA (AD CS,
 * step-ca, EJBCA, `openssl x509 -req`) turns into a certificate. forge's own CSR object only takes RSA keys.
 */
import type forge from 'node-forge';
import { MalformedDataError } from '../bytes/errors.js';
import { asn1, fromForgeBytes, oidNode, toForgeBytes, util } from './forge.js';
import { extensionSequence, signedEnvelope, nameNode, type CertificateExtension, type NameAttribute, type SignatureAlgorithm, type TbsSigner } from './x509.js';

/** PKCS#9 extensionRequest (RFC 2985 §5.4.2): the extensions the requester asks the CA to put in the certificate. */
export const EXTENSION_REQUEST_OID = '1.2.840.113549.1.9.14';

export interface CertificationRequestTemplate {
  subject: NameAttribute[];
  /** DER SubjectPublicKeyInfo of the key that signs the request. */
  subjectPublicKeyInfo: Uint8Array;
  /** Carried in one extensionRequest attribute; none: the attribute set stays empty. */
  extensions: CertificateExtension[];
  /** Never SHA-1 here: CAs refuse it and it is not collision resistant. */
  signatureAlgorithm: SignatureAlgorithm;
}

export interface CertificationRequest {
  der: Uint8Array;
  /** The signed part (CertificationRequestInfo), to check the signature against the key. */
  infoDer: Uint8Array;
  signature: Uint8Array;
}


export function encodeCertificationRequestInfo(t: CertificationRequestTemplate): Uint8Array {
  if (t.signatureAlgorithm.kind !== 'ed25519' && (t.signatureAlgorithm.hash as string) === 'sha1') {
    throw new RangeError('a certification request is signed with SHA-256, SHA-384 or SHA-512, never SHA-1');
  }
  const attributes =
    t.extensions.length === 0
      ? []
      : [
          asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
            oidNode(EXTENSION_REQUEST_OID),
            asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, [extensionSequence(t.extensions)]),
          ]),
        ];
  const info = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, String.fromCharCode(0)), // version 1 (0)
    nameNode(t.subject),
    asn1.fromDer(util.createBuffer(toForgeBytes(t.subjectPublicKeyInfo))),
    // attributes [0] IMPLICIT SET OF Attribute: present even when empty (RFC 2986 §4.1).
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, attributes),
  ]);
  return fromForgeBytes(asn1.toDer(info).getBytes());
}

export async function buildCertificationRequest(template: CertificationRequestTemplate, sign: TbsSigner): Promise<CertificationRequest> {
  const infoDer = encodeCertificationRequestInfo(template);
  const signature = await sign(infoDer);
  return { der: signedEnvelope(infoDer, template.signatureAlgorithm, signature), infoDer, signature };
}

export function certificationRequestPem(der: Uint8Array): string {
  const body = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE REQUEST-----\n${body}\n-----END CERTIFICATE REQUEST-----\n`;
}

/** The parts of a DER request a reader checks: the signed info, its key, its requested extensions. */
export interface CertificationRequestSummary {
  infoDer: Uint8Array;
  subjectPublicKeyInfo: Uint8Array;
  signatureAlgorithmOid: string;
  signature: Uint8Array;
  /** extnID → extnValue contents. */
  extensions: Map<string, Uint8Array>;
}

/** forge's fromDer takes an options object too (node-forge lib/asn1.js); its type declarations only know the boolean. */
const fromDerWithOptions = asn1.fromDer as unknown as (bytes: forge.util.ByteBuffer, options: { strict: boolean; decodeBitStrings: boolean }) => forge.asn1.Asn1;

export function readCertificationRequest(der: Uint8Array): CertificationRequestSummary {
  try {
    // decodeBitStrings off: an ECDSA signature is itself DER, and must stay the signature's bytes.
    const root = fromDerWithOptions(util.createBuffer(toForgeBytes(der)), { strict: true, decodeBitStrings: false });
    const [info, algorithm, signature] = root.value as forge.asn1.Asn1[];
    const fields = info!.value as forge.asn1.Asn1[];
    const extensions = new Map<string, Uint8Array>();
    for (const attribute of (fields[3]?.value as forge.asn1.Asn1[] | undefined) ?? []) {
      const [type, values] = attribute.value as forge.asn1.Asn1[];
      if (asn1.derToOid(util.createBuffer(type!.value as string)) !== EXTENSION_REQUEST_OID) continue;
      for (const extension of ((values!.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[])) {
        const parts = extension.value as forge.asn1.Asn1[];
        extensions.set(asn1.derToOid(util.createBuffer(parts[0]!.value as string)), fromForgeBytes(parts[parts.length - 1]!.value as string));
      }
    }
    return {
      infoDer: fromForgeBytes(asn1.toDer(info!).getBytes()),
      subjectPublicKeyInfo: fromForgeBytes(asn1.toDer(fields[2]!).getBytes()),
      signatureAlgorithmOid: asn1.derToOid(util.createBuffer((algorithm!.value as forge.asn1.Asn1[])[0]!.value as string)),
      signature: fromForgeBytes((signature!.value as string).slice(1)),
      extensions,
    };
  } catch (error) {
    throw new MalformedDataError('not a readable PKCS#10 certification request', { cause: error });
  }
}
