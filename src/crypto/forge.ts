/**
 * The parts of node-forge piv-enroll uses: ASN.1/DER (lib/asn1.js), its byte buffers (lib/util.js) and X.509 names
 * (lib/x509.js, for distinguishedNameToAsn1). Each lib file exports its namespace of the one shared forge object, typed
 * here with @types/node-forge's declarations of that namespace.
 */
import { createRequire } from 'node:module';
import type forge from 'node-forge';

// Required one by one for start-up time: `import forge from 'node-forge'` loads all of forge, TLS included (~45 ms;
// these three ~30 ms, 23 of its 42 files); forge's lib files imported as ES modules cost more than the whole package.
const require = createRequire(import.meta.url);
export const asn1 = require('node-forge/lib/asn1.js') as typeof forge.asn1;
export const util = require('node-forge/lib/util.js') as typeof forge.util;
export const pki = require('node-forge/lib/x509.js') as Pick<typeof forge.pki, 'distinguishedNameToAsn1'>;

/** forge's byte strings (one char per byte) from and to bytes: what its ASN.1 reader and writer take and give. */
export const toForgeBytes = (bytes: Uint8Array): string => util.binary.raw.encode(bytes);
export const fromForgeBytes = (text: string): Uint8Array => util.binary.raw.decode(text);

/** An OBJECT IDENTIFIER node. */
export function oidNode(oid: string): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(oid).getBytes());
}
