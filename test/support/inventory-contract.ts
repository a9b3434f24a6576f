/**
 * What every inventory backend must do, as one set of tests run against SQLite (test/unit) and against a real
 * PostgreSQL (test/database): the same schema and queries must behave the same on both.
 */
import { describe, expect, test } from 'vitest';
import { escrowEvents, latestEscrow, recordEscrow, recordEscrowOpened } from '../../src/operations/inventory/escrow-store.js';
import type { Inventory } from '../../src/operations/inventory/inventory.js';
import { MIGRATIONS } from '../../src/operations/inventory/schema.js';

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

    test('escrow (migration 6): per card, the newest row wins; storing and opening are events, without the ciphertext', async () => {
      const inventory = await open(now);
      try {
        // Stored the moment the card took its PUK, before the enrollment is recorded: the card row comes first.
        await recordEscrow(inventory, { cardSerial: 6007, recipient: 'age1x', ciphertext: 'A' }, now());
        expect((await latestEscrow(inventory, 6007))?.ciphertext).toBe('A');
        await inventory.recordEnrollment({ person: 'gus', card: { serial: 6007 }, slot: '9C', algorithm: 'ECCP256', fingerprint: 'SHA256:gus', authorizedKey: KEY, options: {} });
        expect((await inventory.enrollments({ cardSerial: 6007 })).map((r) => r.person)).toEqual(['gus']);
        const id = await inventory.recordEnrollment({ person: 'fay', card: { serial: 6006 }, slot: '9C', algorithm: 'ECCP256', fingerprint: 'SHA256:fay', authorizedKey: KEY, options: {} });
        expect(await latestEscrow(inventory, 6006)).toBeUndefined();
        await recordEscrow(inventory, { cardSerial: 6006, recipient: 'age1first', ciphertext: '-----BEGIN AGE ENCRYPTED FILE-----\nONE\n' }, now());
        clock = new Date('2026-11-26T10:00:00Z');
        await recordEscrow(inventory, { cardSerial: 6006, recipient: 'age1second', ciphertext: '-----BEGIN AGE ENCRYPTED FILE-----\nTWO\n' }, now());
        expect(await latestEscrow(inventory, 6006)).toEqual({
          cardSerial: 6006, recipient: 'age1second', ciphertext: '-----BEGIN AGE ENCRYPTED FILE-----\nTWO\n', createdAt: '2026-11-26T10:00:00.000Z',
        });
        expect(await latestEscrow(inventory, 60060)).toBeUndefined();
        await recordEscrowOpened(inventory, 6006, 'opened by helpdesk@desk1 (show)', now());
        const events = await escrowEvents(inventory, 6006);
        expect(events.map((e) => e.kind)).toEqual(['escrow', 'escrow', 'escrow-show']);
        expect(events[2]!.detail).toBe('card 6006: opened by helpdesk@desk1 (show)');
        expect(events.some((e) => e.detail.includes('ONE') || e.detail.includes('TWO'))).toBe(false);
        expect((await inventory.events(id)).map((e) => e.kind)).toEqual(['enroll', 'escrow', 'escrow', 'escrow-show']);
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
        expect(versions.map((v) => Number(v.version)).sort((a, b) => a - b)).toEqual(MIGRATIONS.map((m) => m.version).sort((a, b) => a - b));
        expect(MIGRATIONS.map((m) => m.version)).toContain(7);
      } finally {
        await second.close();
      }
    });

    test('cards have a status and events of their own (migration 7): reset, lost, enrolled again', async () => {
      const inventory = await open(now);
      try {
        const id = await inventory.recordEnrollment({ person: 'fay', card: { serial: 7007, firmware: '5.7.2' }, slot: '9C', algorithm: 'ECCP256', fingerprint: 'SHA256:fay-1', authorizedKey: KEY, options: {} });
        expect(await inventory.card(7007)).toMatchObject({ serial: 7007, firmware: '5.7.2', virtual: false, status: 'active' });
        expect(await inventory.card(7008)).toBeUndefined();
        await inventory.recordCardEvent({ serial: 7007 }, 'pin-change', 'PIN changed');
        await inventory.recordCardEvent({ serial: 7007 }, 'reset', 'PIV application reset', 'reset');
        expect(await inventory.card(7007)).toMatchObject({ status: 'reset', firmware: '5.7.2' });
        const [record] = await inventory.enrollments({ cardSerial: 7007, status: 'all' });
        expect(record).toMatchObject({ id, cardStatus: 'reset' });
        expect((await inventory.cardEvents(7007)).map((e) => [e.kind, e.cardSerial, e.enrollmentId])).toEqual([['pin-change', 7007, undefined], ['reset', 7007, undefined]]);
        // A card first seen by a card-level event is made; a virtual one stays marked virtual.
        await inventory.recordCardEvent({ serial: 7009, firmware: '5.4.3', virtual: true }, 'lost', 'retired', 'lost');
        expect(await inventory.card(7009)).toMatchObject({ status: 'lost', virtual: true, firmware: '5.4.3' });
        // Enrolled again, the card is in use again.
        await inventory.recordEnrollment({ person: 'fay', card: { serial: 7007, firmware: '5.7.2' }, slot: '9C', algorithm: 'ECCP256', fingerprint: 'SHA256:fay-2', authorizedKey: KEY, options: {} });
        expect((await inventory.card(7007))!.status).toBe('active');
        expect((await inventory.events()).filter((e) => e.cardSerial === 7007).length).toBe(2);
        await expect(inventory.db.query("UPDATE cards SET status = 'stolen' WHERE serial = '7007'")).rejects.toThrow();
      } finally {
        await inventory.close();
      }
    });
  });
}
