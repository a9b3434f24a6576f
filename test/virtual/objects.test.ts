import { X509Certificate } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { fromHex, toHex } from '../../src/bytes/hex.js';
import { testCertificate } from '../support/test-certificate.js';
import { chuidGuid } from '../../src/piv/chuid.js';
import { NotFoundError, ObjectTooLargeError, SecurityStatusError } from '../../src/piv/errors.js';
import { OBJECT } from '../../src/standards/objects.js';
import { DEFAULT_MANAGEMENT_KEY, openTestCard } from './helpers.js';

/** A real certificate of about `size` bytes more than a minimal one (padding in an extension). */
function certificate(size = 0): Promise<Uint8Array> {
  return testCertificate({ commonName: 'gofish543', extensions: size > 0 ? [{ oid: '1.3.6.1.4.1.99999.1', critical: false, value: new Uint8Array(size).fill(0x41) }] : [] });
}

describe('data objects and certificates', () => {
  test('certificate object layout: 53{70 DER, 71 01 00, FE 00}, read back identical', async () => {
    const card = await openTestCard();
    await card.session.authenticate(DEFAULT_MANAGEMENT_KEY);
    const der = await certificate();
    await card.session.putCertificate(0x9c, der);
    const stored = card.virtual.card.state.objects['5FC10A']!;
    const lengthHex = der.length < 0x80 ? der.length.toString(16) : der.length < 0x100 ? '81' + der.length.toString(16) : '82' + der.length.toString(16).padStart(4, '0');
    expect(stored).toBe(('70' + lengthHex).toUpperCase() + toHex(der) + '710100FE00');
    expect(toHex(await card.session.getCertificate(0x9c))).toBe(toHex(der));
    expect(new X509Certificate(await card.session.getCertificate(0x9c)).subject).toBe('CN=gofish543');
  });

  test('gzip-compressed certificates (CertInfo 01) are read back decompressed', async () => {
    const card = await openTestCard();
    await card.session.authenticate(DEFAULT_MANAGEMENT_KEY);
    const der = await certificate(2000);
    await card.session.putCertificate(0x9a, der, true);
    expect(card.virtual.card.state.objects['5FC105']).toMatch(/710101FE00$/);
    expect(card.virtual.card.state.objects['5FC105']!.length / 2).toBeLessThan(der.length);
    expect(toHex(await card.session.getCertificate(0x9a))).toBe(toHex(der));
  });

  test('deleting a certificate makes it NotFoundError', async () => {
    const card = await openTestCard();
    await card.session.authenticate(DEFAULT_MANAGEMENT_KEY);
    await card.session.putCertificate(0x9d, await certificate());
    await card.session.deleteCertificate(0x9d);
    await expect(card.session.getCertificate(0x9d)).rejects.toBeInstanceOf(NotFoundError);
  });

  test('an object over the card limit (3063 bytes) is refused with ObjectTooLargeError; 3063 fits', async () => {
    const card = await openTestCard();
    await card.session.authenticate(DEFAULT_MANAGEMENT_KEY);
    await card.session.putObject(0x5fc10d, new Uint8Array(3063).fill(7));
    await expect(card.session.putObject(0x5fc10e, new Uint8Array(3064).fill(7))).rejects.toBeInstanceOf(ObjectTooLargeError);
    expect((await card.session.getObject(0x5fc10d)).length).toBe(3063);
  });

  test('PUT DATA without the management key: SecurityStatusError', async () => {
    const card = await openTestCard();
    await expect(card.session.putCertificate(0x9c, await certificate())).rejects.toBeInstanceOf(SecurityStatusError);
  });

  test('CHUID: reference layout with a fresh GUID each time; CCC layout', async () => {
    const guid = fromHex('00112233445566778899AABBCCDDEEFF');
    const card = await openTestCard({ session: { random: (n) => (n === 16 ? guid.slice() : new Uint8Array(n).fill(0xab)) } });
    await card.session.authenticate(DEFAULT_MANAGEMENT_KEY);
    await card.session.setChuid();
    expect(card.virtual.card.state.objects['5FC102']).toBe(
      '3019D4E739DA739CED39CE739D836858210842108421C84210C3EB' + '3410' + toHex(guid) + '3508' + toHex(new TextEncoder().encode('20300101')) + '3E00FE00',
    );
    expect(toHex(chuidGuid(await card.session.getObject(OBJECT.CHUID)))).toBe(toHex(guid));
    await card.session.setCcc();
    expect(card.virtual.card.state.objects['5FC107']).toBe('F015A000000116FF02' + 'AB'.repeat(14) + 'F10121F20121F300F40100F50110F600F700FA00FB00FC00FD00FE00');

    const other = await openTestCard();
    await other.session.authenticate(DEFAULT_MANAGEMENT_KEY);
    const first = await other.session.setChuid();
    const second = await other.session.setChuid();
    expect(toHex(first)).not.toBe(toHex(second));
  });

  test('short APDUs: a 2.9 KB certificate goes out in 255-byte chained pieces and comes back through 61xx/GET RESPONSE', async () => {
    const card = await openTestCard({ session: { apduFormat: 'short' } });
    await card.session.authenticate(DEFAULT_MANAGEMENT_KEY);
    const der = await certificate(2600);
    const start = card.transport.sent.length;
    await card.session.putCertificate(0x9c, der);
    const puts = card.transport.sent.slice(start);
    expect(puts.length).toBe(Math.ceil((der.length + 20) / 255));
    expect(puts.slice(0, -1).every((apdu) => apdu.startsWith('10DB3FFFFF'))).toBe(true);
    expect(puts.at(-1)!.startsWith('00DB3FFF')).toBe(true);

    const readStart = card.transport.sent.length;
    expect(toHex(await card.session.getCertificate(0x9c))).toBe(toHex(der));
    const reads = card.transport.sent.slice(readStart);
    expect(reads[0]).toBe('00CB3FFF055C035FC10A');
    expect(reads.slice(1).every((apdu) => apdu.startsWith('00C00000'))).toBe(true);
    expect(reads.length).toBe(Math.ceil((der.length + 14) / 256));
    expect(card.transport.received[readStart]!.slice(-4)).toBe('6100');
  });

  test('extended APDUs: the same certificate goes out in one command', async () => {
    const card = await openTestCard({ session: { apduFormat: 'extended' } });
    await card.session.authenticate(DEFAULT_MANAGEMENT_KEY);
    const der = await certificate(2600);
    const start = card.transport.sent.length;
    await card.session.putCertificate(0x9c, der);
    expect(card.transport.sent.length - start).toBe(1);
    expect(card.transport.sent[start]!.slice(0, 10)).toBe('00DB3FFF00');
    expect(toHex(await card.session.getCertificate(0x9c))).toBe(toHex(der));
  });

  test('the PRINTED object is only readable after VERIFY PIN', async () => {
    const card = await openTestCard();
    await card.session.authenticate(DEFAULT_MANAGEMENT_KEY);
    await card.session.putObject(OBJECT.PRINTED, fromHex('88008900'));
    await card.session.reselect();
    await expect(card.session.getObject(OBJECT.PRINTED)).rejects.toBeInstanceOf(SecurityStatusError);
  });
});
