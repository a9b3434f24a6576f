/**
 * A PKCS#10 request signed by the key in a card slot (the enrollment's card signer), with, for a key generated on the
 * card, the attestation extensions Yubico's yubico-piv-tool writes: its request_certificate (tool/yubico-piv-tool.c,
 * `-a request-certificate --attestation`) adds, in the extensionRequest attribute, two non-critical extensions under
 * YKPIV_ATTESTATION_OID 1.3.6.1.4.1.41482.3: `.1` whose value is the DER of the slot's attestation certificate and `.2`
 * whose value is the DER of the card's f9 (attestation intermediate) certificate. CAs with an attestation policy
 * (AD CS with TameMyCerts, step-ca, EJBCA plugins) look for exactly these.
 */
import type { KeyObject } from 'node:crypto';
import { spkiDer } from '../../crypto/keys.js';
import { buildCertificationRequest, certificationRequestPem } from '../../crypto/pkcs10.js';
import type { HashName } from '../../crypto/pkcs1.js';
import { verifySignature } from '../../crypto/verify-signature.js';
import type { CertificateExtension, NameAttribute } from '../../crypto/x509.js';
import { PivEnrollError } from '../../errors.js';
import type { KeyAlgorithmInfo } from '../../standards/algorithms.js';
import { cardTbsSigner, certificateSignatureAlgorithm, type CardKey } from '../enroll/card-signer.js';

/** Yubico's PIV attestation arc, as yubico-piv-tool names it (YKPIV_ATTESTATION_OID). */
export const YUBICO_ATTESTATION_ARC = '1.3.6.1.4.1.41482.3';
/** The slot's attestation certificate, in a request (yubico-piv-tool request_certificate). */
export const OID_REQUEST_ATTESTATION = `${YUBICO_ATTESTATION_ARC}.1`;
/** The card's f9 attestation certificate that signed it. */
export const OID_REQUEST_ATTESTATION_INTERMEDIATE = `${YUBICO_ATTESTATION_ARC}.2`;

/** The hashes a request may be signed with: SHA-1 is refused (CAs reject it; it is not collision resistant). */
export const REQUEST_HASHES: readonly HashName[] = ['sha256', 'sha384', 'sha512'];

export class CardRequestError extends PivEnrollError {}

export interface CardRequestInput {
  key: CardKey;
  algorithm: KeyAlgorithmInfo;
  publicKey: KeyObject;
  subject: NameAttribute[];
  hash: HashName;
  /** DER of the slot's attestation and of the f9 certificate: put into the request as yubico-piv-tool does. */
  attestation?: { attestation: Uint8Array; intermediate: Uint8Array };
}

export interface CardRequest {
  der: Uint8Array;
  pem: string;
}

export function attestationExtensions(attestation: Uint8Array, intermediate: Uint8Array): CertificateExtension[] {
  return [
    { oid: OID_REQUEST_ATTESTATION, critical: false, value: attestation },
    { oid: OID_REQUEST_ATTESTATION_INTERMEDIATE, critical: false, value: intermediate },
  ];
}

/** Signs the request on the card and checks the card's signature against the slot's key before handing it out. */
export async function buildCardRequest(input: CardRequestInput): Promise<CardRequest> {
  if (!REQUEST_HASHES.includes(input.hash)) throw new CardRequestError(`a certificate request is signed with SHA-256, SHA-384 or SHA-512, not ${input.hash.toUpperCase()}`);
  const request = await buildCertificationRequest(
    {
      subject: input.subject,
      subjectPublicKeyInfo: spkiDer(input.publicKey),
      extensions: input.attestation ? attestationExtensions(input.attestation.attestation, input.attestation.intermediate) : [],
      signatureAlgorithm: certificateSignatureAlgorithm(input.algorithm, input.hash),
    },
    cardTbsSigner(input.key, input.hash),
  );
  if (!verifySignature(input.algorithm, input.publicKey, request.infoDer, request.signature, input.algorithm.kind === 'ed25519' ? undefined : input.hash)) {
    throw new CardRequestError('the card returned an invalid signature on the certificate request: do not use this card for the request; try again, and replace the card if it happens again');
  }
  return { der: request.der, pem: certificationRequestPem(request.der) };
}
