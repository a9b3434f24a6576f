/**
 * What every inventory backend must do, as one set of tests run against SQLite (test/unit) and against a real
 * PostgreSQL (test/database): the same schema and queries must behave the same on both.
 */
import { describe, expect, test } from 'vitest';
import type { Inventory } from '../../src/operations/inventory/inventory.js';

const KEY = 'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEXAMPLE ana@piv';

export function inventoryContract(name: string, open: (now: () => Date) => Promise<Inventory>): void {
  describe(`inventory on ${name}`, () => {
    let clock = new Date('2026-11-24T10:00:00Z');
    const now = () => clock;

    test('records an enrollment with its card, CA certificate and deployments, and lists it back', async () => {
      const inventory = await open(now);
      try {
        const id = await inventory.recordEnrollment({
          person: 'ana', card: { serial: 1001, firmware: '5.7.2', reader: 'Yubico YubiKey 00 00' }, slot: '9C', algorithm: 'ECCP256',
          fingerprint: 'SHA256:ana-1', authorizedKey: KEY, certificateSerial: '0A0B', certificateNotAfter: '2027-11-24T10:00:00.000Z', options: { algorithm: 'ECCP256', slot: '9C' },
        });
        await inventory.recordCaCertificate(id, { caDir: '/ca', serial: '7', keyId: 'ana@piv', principals: ['ana', 'deploy'], validBefore: '2026-12-24T10:00:00Z' });
        await inventory.recordDeployment(id, 'ana@web1:22', 'present');
        await inventory.recordDeployment(id, 'ana@web2:22', 'failed', 'unreachable');
        await inventory.recordDeployment(id, 'ana@web2:22', 'present');
        const [record, ...more] = await inventory.enrollments({ person: 'ana' });
        expect(more).toEqual([]);
        expect(record).toMatchObject({
          id, person: 'ana', cardSerial: 1001, firmware: '5.7.2', slot: '9C', algorithm: 'ECCP256', fingerprint: 'SHA256:ana-1', authorizedKey: KEY,
          certificateSerial: '0A0B', status: 'active', options: { algorithm: 'ECCP256', slot: '9C' },
          caCertificates: [{ caDir: '/ca', serial: '7', keyId: 'ana@piv', principals: ['ana', 'deploy'], validBefore: '2026-12-24T10:00:00Z' }],
          deployments: [{ host: 'ana@web1:22', state: 'present' }, { host: 'ana@web2:22', state: 'present' }],
        });
        expect((await inventory.events(id)).map((e) => e.kind)).toEqual(['enroll', 'ca-sign', 'deploy', 'deploy', 'deploy']);
      } finally {
        await inventory.close();
      }
    });

    test('a new key in the same card slot replaces the old enrollment; a revocation is recorded', async () => {
      const inventory = await open(now);
      try {
        const first = await inventory.recordEnrollment({ person: 'bo', card: { serial: 2002 }, slot: '9C', algorithm: 'RSA2048', fingerprint: 'SHA256:bo-1', authorizedKey: KEY, options: {} });
        await inventory.recordCaCertificate(first, { caDir: '/ca', serial: '8', keyId: 'bo@piv', principals: ['bo'], validBefore: '2026-12-01T00:00:00Z' });
        clock = new Date('2026-11-25T10:00:00Z');
        const second = await inventory.recordEnrollment({ person: 'bo', card: { serial: 2002 }, slot: '9C', algorithm: 'RSA2048', fingerprint: 'SHA256:bo-2', authorizedKey: KEY, options: {} });
        const active = await inventory.enrollments({ person: 'bo' });
        expect(active.map((r) => r.id)).toEqual([second]);
        const all = await inventory.enrollments({ person: 'bo', status: 'all' });
        expect(all.find((r) => r.id === first)).toMatchObject({ status: 'replaced', replacedBy: second, updatedAt: '2026-11-25T10:00:00.000Z' });
        expect(await inventory.recordCaRevocation('/ca', { serial: '8' })).toEqual([first]);
        expect(await inventory.recordCaRevocation('/ca', { serial: '8' })).toEqual([]); // already revoked
        const [revoked] = await inventory.enrollments({ fingerprint: 'SHA256:bo-1', status: 'all' });
        expect(revoked!.caCertificates[0]!.revokedAt).toBe('2026-11-25T10:00:00.000Z');
      } finally {
        await inventory.close();
      }
    });

    test('--expiring-within: by X.509 not-after or an unrevoked SSH certificate', async () => {
      const inventory = await open(now);
      try {
        await inventory.recordEnrollment({ person: 'cy', slot: '9C', algorithm: 'ECCP256', fingerprint: 'SHA256:cy', authorizedKey: KEY, certificateNotAfter: '2026-12-10T00:00:00.000Z', options: {} });
        const dee = await inventory.recordEnrollment({ person: 'dee', slot: '9C', algorithm: 'ECCP256', fingerprint: 'SHA256:dee', authorizedKey: KEY, certificateNotAfter: '2028-01-01T00:00:00.000Z', options: {} });
        await inventory.recordCaCertificate(dee, { caDir: '/ca2', serial: '1', keyId: 'dee', principals: ['dee'], validBefore: '2026-12-05T00:00:00Z' });
        await inventory.recordEnrollment({ person: 'eve', slot: '9C', algorithm: 'ECCP256', fingerprint: 'SHA256:eve', authorizedKey: KEY, certificateNotAfter: '2028-01-01T00:00:00.000Z', options: {} });
        const soon = await inventory.enrollments({ expiringBefore: new Date('2026-12-24T00:00:00Z') });
        expect(soon.map((r) => r.person).filter((p) => ['cy', 'dee', 'eve'].includes(p))).toEqual(['cy', 'dee']);
        await inventory.recordCaRevocation('/ca2', { keyId: 'dee' });
        const afterRevocation = await inventory.enrollments({ expiringBefore: new Date('2026-12-24T00:00:00Z') });
        expect(afterRevocation.map((r) => r.person).filter((p) => ['cy', 'dee', 'eve'].includes(p))).toEqual(['cy']);
      } finally {
        await inventory.close();
      }
    });

    test('attestation evidence is kept per enrollment: certificates, facts, verdict, trust, policy verdict', async () => {
      const inventory = await open(now);
      try {
        const id = await inventory.recordEnrollment({ person: 'fay', card: { serial: 3003 }, slot: '9A', algorithm: 'ECCP256', fingerprint: 'SHA256:fay', authorizedKey: KEY, options: {} });
        const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
        await inventory.recordAttestation(id, {
          attestationPem: pem, deviceCertificatePem: pem, facts: { serial: 3003, pinPolicy: 'ONCE', fips: false }, verdict: 'verified',
          chain: ['CN=YubiKey PIV Attestation 9a', 'CN=Yubico PIV Attestation', 'CN=Yubico PIV Root CA Serial 263751'], trust: 'Yubico', policyVerdict: { allowed: true, reasons: [] },
        });
        await inventory.recordAttestation(id, { verdict: 'other-serial', verdictMessage: 'the attestation is for serial 1, but the card is 3003', chain: [], trust: 'Yubico' });
        expect(await inventory.attestations(id)).toEqual([
          {
            attestationPem: pem, deviceCertificatePem: pem, facts: { serial: 3003, pinPolicy: 'ONCE', fips: false }, verdict: 'verified', verdictMessage: undefined,
            chain: ['CN=YubiKey PIV Attestation 9a', 'CN=Yubico PIV Attestation', 'CN=Yubico PIV Root CA Serial 263751'], trust: 'Yubico', policyVerdict: { allowed: true, reasons: [] },
            createdAt: clock.toISOString(),
          },
          {
            attestationPem: undefined, deviceCertificatePem: undefined, facts: undefined, verdict: 'other-serial', verdictMessage: 'the attestation is for serial 1, but the card is 3003',
            chain: [], trust: 'Yubico', policyVerdict: undefined, createdAt: clock.toISOString(),
          },
        ]);
        expect((await inventory.events(id)).map((e) => e.kind)).toEqual(['enroll', 'attest', 'attest']);
        const other = await inventory.recordEnrollment({ person: 'fay', card: { serial: 3004 }, slot: '9A', algorithm: 'ECCP256', fingerprint: 'SHA256:fay-2', authorizedKey: KEY, options: {} });
        expect(await inventory.attestations(other)).toEqual([]);
      } finally {
        await inventory.close();
      }
    });

    test('opening again migrates nothing twice and keeps the data', async () => {
      const first = await open(now);
      const before = (await first.enrollments({ status: 'all' })).length;
      await first.close();
      const second = await open(now);
      try {
        expect((await second.enrollments({ status: 'all' })).length).toBe(before);
        const versions = await second.db.query<{ version: number }>('SELECT version FROM schema_migrations');
        expect(versions.map((v) => Number(v.version)).sort()).toEqual([1, 2, 3, 4, 5]);
      } finally {
        await second.close();
      }
    });
  });
}
