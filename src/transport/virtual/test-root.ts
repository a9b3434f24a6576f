/**
 * The "piv-enroll virtual card test root": the CA that issues every virtual card's f9 (device attestation)
 * certificate, as Yubico's PIV CA issues a real card's. Its private key is public on purpose — it is in this
 * file — so it proves nothing about a card in a reader: only tests and `--virtual` ever trust it.
 * Ed25519 signatures are deterministic, so the root certificate is the same bytes on every machine.
 */
import { createPrivateKey, sign as signMessage, type KeyObject } from 'node:crypto';
import { buildCertificate, basicConstraintsExtension, keyUsageExtension, type NameAttribute } from '../../crypto/x509.js';
import { spkiDer } from '../../crypto/keys.js';

const TEST_ROOT_KEY_PEM = `-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEID+RBO/lJhGAdZnjaej5Qnx+TXPJh7e0dhmpF1o2P0NX
-----END PRIVATE KEY-----`;

export const VIRTUAL_TEST_ROOT_NAME: NameAttribute[] = [{ type: 'CN', value: 'piv-enroll virtual card test root' }];

/** keyCertSign and cRLSign (RFC 5280 §4.2.1.3 bits 5 and 6). */
const CA_KEY_USAGE = [5, 6];

let rootKey: KeyObject | undefined;
let rootCertificate: Promise<Uint8Array> | undefined;

export function virtualTestRootKey(): KeyObject {
  rootKey ??= createPrivateKey(TEST_ROOT_KEY_PEM);
  return rootKey;
}

/** Signs a TBSCertificate with the test root key (Ed25519 signs the message itself). */
export async function signWithVirtualTestRoot(tbs: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(signMessage(null, tbs, virtualTestRootKey()));
}

/** The test root's self-signed certificate (DER), valid from 2000 to 9999 like Yubico's roots. */
export function virtualTestRootCertificate(): Promise<Uint8Array> {
  rootCertificate ??= buildCertificate(
    {
      serialNumber: Uint8Array.of(0x01),
      subject: VIRTUAL_TEST_ROOT_NAME,
      issuer: VIRTUAL_TEST_ROOT_NAME,
      notBefore: new Date(Date.UTC(2000, 0, 1)),
      notAfter: new Date(Date.UTC(9999, 11, 31, 23, 59, 59)),
      subjectPublicKeyInfo: spkiDer(virtualTestRootKey()),
      extensions: [basicConstraintsExtension(true), keyUsageExtension(CA_KEY_USAGE)],
      signatureAlgorithm: { kind: 'ed25519' },
    },
    signWithVirtualTestRoot,
  );
  return rootCertificate;
}
