/**
 * Yubico's PIV attestation extensions (https://developers.yubico.com/PIV/Introduction/PIV_attestation.html;
 * the same encodings as yubikey-manager's and piv-go's parsers): each extnValue holds the raw bytes, not a DER
 * structure, except the serial, which is a DER INTEGER.
 *   .3.3  firmware      3 bytes: major, minor, patch
 *   .3.7  serial        DER INTEGER
 *   .3.8  policy        2 bytes: PIN policy, touch policy (the values GENERATE ASYMMETRIC takes)
 *   .3.9  form factor   1 byte: low nibble the form factor, 0x80 FIPS, 0x40 Security Key
 *   .3.10 FIPS, .3.11 CSPN: present on certified keys' device certificates; only their presence is read.
 */
import type forge from 'node-forge';
import { MalformedDataError } from '../../bytes/errors.js';
import { asn1, fromForgeBytes, util } from '../../crypto/forge.js';
import { formatFirmwareVersion, type FirmwareVersion } from '../../standards/firmware.js';
import { describeFormFactor } from '../../standards/management.js';
import { pinPolicyName, touchPolicyName } from '../../standards/policies.js';

export const YUBICO_ATTESTATION_OID = {
  FIRMWARE: '1.3.6.1.4.1.41482.3.3',
  SERIAL: '1.3.6.1.4.1.41482.3.7',
  POLICY: '1.3.6.1.4.1.41482.3.8',
  FORM_FACTOR: '1.3.6.1.4.1.41482.3.9',
  FIPS: '1.3.6.1.4.1.41482.3.10',
  CSPN: '1.3.6.1.4.1.41482.3.11',
} as const;

export interface AttestationFacts {
  firmware?: FirmwareVersion;
  serial?: number;
  pinPolicy?: number;
  touchPolicy?: number;
  /** The whole byte (form factor and flags). */
  formFactor?: number;
  fips: boolean;
  cspn: boolean;
}

/** Facts as --json prints them: names as well as codes. */
export function describeFacts(facts: AttestationFacts): Record<string, unknown> {
  return {
    firmware: facts.firmware ? formatFirmwareVersion(facts.firmware) : undefined,
    serial: facts.serial,
    pinPolicy: facts.pinPolicy === undefined ? undefined : pinPolicyName(facts.pinPolicy),
    touchPolicy: facts.touchPolicy === undefined ? undefined : touchPolicyName(facts.touchPolicy),
    formFactor: facts.formFactor === undefined ? undefined : describeFormFactor(facts.formFactor),
    fips: facts.fips || (facts.formFactor !== undefined && (facts.formFactor & 0x80) !== 0),
    cspn: facts.cspn,
  };
}

/** Every extension of a DER certificate: OID → extnValue contents. */
export function certificateExtensions(der: Uint8Array): Map<string, Uint8Array> {
  try {
    const certificate = asn1.fromDer(util.createBuffer(util.binary.raw.encode(der)), true);
    const tbs = (certificate.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[];
    const explicit = tbs.find((node) => node.tagClass === asn1.Class.CONTEXT_SPECIFIC && node.type === 3);
    const found = new Map<string, Uint8Array>();
    for (const extension of ((explicit?.value as forge.asn1.Asn1[] | undefined)?.[0]?.value as forge.asn1.Asn1[] | undefined) ?? []) {
      const parts = extension.value as forge.asn1.Asn1[];
      const oid = asn1.derToOid(util.createBuffer(parts[0]!.value as string));
      found.set(oid, fromForgeBytes(parts[parts.length - 1]!.value as string));
    }
    return found;
  } catch (error) {
    throw new MalformedDataError('not a readable X.509 certificate', { cause: error });
  }
}

/** A non-negative DER INTEGER below 2^32 (YubiKey serials): tag 02, short length, big-endian two's complement. */
export function readDerUint32(bytes: Uint8Array): number {
  if (bytes.length < 3 || bytes[0] !== 0x02 || bytes[1] !== bytes.length - 2) throw new MalformedDataError('the serial extension is not a DER INTEGER');
  const content = bytes.subarray(2);
  if ((content[0]! & 0x80) !== 0) throw new MalformedDataError('the attested serial is negative');
  if (content.length > 1 && content[0] === 0 && (content[1]! & 0x80) === 0) throw new MalformedDataError('the serial INTEGER is not minimally encoded');
  const significant = content[0] === 0 ? content.subarray(1) : content;
  if (significant.length > 4) throw new MalformedDataError('the attested serial is larger than 32 bits');
  return significant.reduce((value, byte) => value * 256 + byte, 0);
}

function exactly(bytes: Uint8Array, length: number, what: string): Uint8Array {
  if (bytes.length !== length) throw new MalformedDataError(`the ${what} extension has ${bytes.length} bytes, not ${length}`);
  return bytes;
}

/** The facts of an attestation certificate; FIPS/CSPN are looked for on the device certificate too. */
export function parseAttestationFacts(attestationDer: Uint8Array, deviceDer?: Uint8Array): AttestationFacts {
  const extensions = certificateExtensions(attestationDer);
  const device = deviceDer ? certificateExtensions(deviceDer) : new Map<string, Uint8Array>();
  const facts: AttestationFacts = {
    fips: extensions.has(YUBICO_ATTESTATION_OID.FIPS) || device.has(YUBICO_ATTESTATION_OID.FIPS),
    cspn: extensions.has(YUBICO_ATTESTATION_OID.CSPN) || device.has(YUBICO_ATTESTATION_OID.CSPN),
  };
  const firmware = extensions.get(YUBICO_ATTESTATION_OID.FIRMWARE);
  if (firmware) {
    const [major, minor, patch] = exactly(firmware, 3, 'firmware');
    facts.firmware = { major: major!, minor: minor!, patch: patch! };
  }
  const serial = extensions.get(YUBICO_ATTESTATION_OID.SERIAL);
  if (serial) facts.serial = readDerUint32(serial);
  const policy = extensions.get(YUBICO_ATTESTATION_OID.POLICY);
  if (policy) [facts.pinPolicy, facts.touchPolicy] = exactly(policy, 2, 'policy');
  const formFactor = extensions.get(YUBICO_ATTESTATION_OID.FORM_FACTOR);
  if (formFactor) facts.formFactor = exactly(formFactor, 1, 'form factor')[0];
  return facts;
}
