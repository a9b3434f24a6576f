import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../src/bytes/hex.js';
import { MalformedDataError } from '../../src/bytes/errors.js';
import { spkiDer } from '../../src/crypto/keys.js';
import { buildCertificate, type CertificateExtension } from '../../src/crypto/x509.js';
import { describeFacts, parseAttestationFacts, readDerUint32, YUBICO_ATTESTATION_OID } from '../../src/operations/attestation/extensions.js';

const key = generateKeyPairSync('ed25519').privateKey;

function certificateWith(extensions: CertificateExtension[]): Promise<Uint8Array> {
  return buildCertificate(
    {
      serialNumber: Uint8Array.of(1),
      subject: [{ type: 'CN', value: 'YubiKey PIV Attestation 9c' }],
      issuer: [{ type: 'CN', value: 'Yubico PIV Attestation' }],
      notBefore: new Date(Date.UTC(2025, 0, 1)),
      notAfter: new Date(Date.UTC(2071, 0, 1)),
      subjectPublicKeyInfo: spkiDer(key),
      extensions,
      signatureAlgorithm: { kind: 'ed25519' },
    },
    async (tbs) => new Uint8Array(sign(null, tbs, key)),
  );
}

const ext = (oid: string, hex: string): CertificateExtension => ({ oid, critical: false, value: fromHex(hex) });

describe('Yubico attestation extensions', () => {
  it('reads firmware, serial, policies and form factor from their known bytes', async () => {
    const der = await certificateWith([
      ext(YUBICO_ATTESTATION_OID.FIRMWARE, '050704'),
      ext(YUBICO_ATTESTATION_OID.SERIAL, '020400bc614e'),
      ext(YUBICO_ATTESTATION_OID.POLICY, '0302'),
      ext(YUBICO_ATTESTATION_OID.FORM_FACTOR, '83'),
    ]);
    const facts = parseAttestationFacts(der);
    expect(facts).toEqual({ firmware: { major: 5, minor: 7, patch: 4 }, serial: 12345678, pinPolicy: 3, touchPolicy: 2, formFactor: 0x83, fips: false, cspn: false });
    expect(describeFacts(facts)).toEqual({ firmware: '5.7.4', serial: 12345678, pinPolicy: 'ALWAYS', touchPolicy: 'ALWAYS', formFactor: 'Keychain (USB-C)', fips: true, cspn: false });
  });

  it('takes the FIPS and CSPN marks from the device certificate', async () => {
    const attestation = await certificateWith([ext(YUBICO_ATTESTATION_OID.SERIAL, '020101')]);
    const device = await certificateWith([ext(YUBICO_ATTESTATION_OID.FIPS, ''), ext(YUBICO_ATTESTATION_OID.CSPN, '')]);
    expect(parseAttestationFacts(attestation, device)).toMatchObject({ serial: 1, fips: true, cspn: true });
    expect(parseAttestationFacts(attestation)).toMatchObject({ fips: false, cspn: false });
  });

  it('refuses malformed values instead of guessing', async () => {
    await expect(certificateWith([ext(YUBICO_ATTESTATION_OID.FIRMWARE, '0507')]).then((der) => parseAttestationFacts(der))).rejects.toThrow(/firmware extension has 2 bytes/);
    expect(() => readDerUint32(fromHex('0201ff'))).toThrow(MalformedDataError);
    expect(() => readDerUint32(fromHex('020500ffffffff'))).not.toThrow();
    expect(readDerUint32(fromHex('020500ffffffff'))).toBe(0xffffffff);
    expect(() => readDerUint32(fromHex('02060100000000'.padEnd(16, '0')))).toThrow(MalformedDataError);
    expect(() => readDerUint32(fromHex('0202007f'))).toThrow(/minimally/);
    expect(() => readDerUint32(fromHex('040101'))).toThrow(/not a DER INTEGER/);
  });
});
