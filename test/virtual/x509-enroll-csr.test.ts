/**
 * `enroll --csr DIR`: the enrollment hardens the card and makes the key, then stops at a request for an X.509 CA
 * (no self-signed certificate); `certificate import` then brings the CA's certificate through the PIN-protected
 * management key the enrollment set.
 */
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runCertificateImport } from '../../src/cli/commands/certificate.js';
import { runEnroll, type EnrollEnvironment } from '../../src/cli/commands/enroll.js';
import type { Output } from '../../src/cli/output.js';
import type { Prompter } from '../../src/cli/prompter.js';
import { openssl, opensslVerifiesRequest } from '../support/openssl.js';
import { openTestCard } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'piv-enroll-csr-'));
const NEW_PIN = '24681357';

function captured(): Output & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, result: (t) => out.push(t), notice: (t) => err.push(t), error: (t) => err.push(t) };
}

const noPrompter: Prompter = {
  input: async () => { throw new Error('no prompt expected'); },
  password: async () => { throw new Error('no prompt expected'); },
  confirm: async () => { throw new Error('no prompt expected'); },
  say: () => undefined,
};
const environment: EnrollEnvironment = { env: { PIV_NEW_PIN: NEW_PIN, PIV_NEW_PUK: '97531864' }, interactive: false, prompter: noPrompter };

describe('enroll --csr', () => {
  test('stops after the request: no certificate on the card, the plan says so; import then finishes the slot', async () => {
    const file = join(dir, 'card.json');
    const csrDir = join(dir, 'requests');
    const output = captured();
    expect(await runEnroll({ virtual: file, user: 'alice', algorithm: 'ECCP256', keySource: 'card', csr: csrDir, out: join(dir, 'out'), yes: true, json: true }, output, environment)).toBe(0);
    const plan = output.err.join('\n');
    expect(plan).toMatch(/Write a certificate request CN=alice \(SHA256, signed by the card with the key's attestation\) to .*requests\/piv-9c\.csr, and stop there/);
    expect(plan).toMatch(/piv-enroll certificate import --slot 9c FILE/);
    expect(plan).not.toMatch(/self-signed/);
    const result = JSON.parse(output.out.join('\n'));
    expect(result).toMatchObject({ certificate: null, request: { subject: 'CN=alice', attested: true }, verification: [], inventory: null });
    expect(result.files).toEqual([join(csrDir, 'piv-9c.csr'), join(dir, 'out', 'piv-9c.pub'), join(dir, 'out', 'piv-9c-public.pem'), join(dir, 'out', 'piv-9c-attestation.pem'), join(dir, 'out', 'piv-9c-attestation-f9.pem')]);

    const csr = join(csrDir, 'piv-9c.csr');
    expect(opensslVerifiesRequest(csr)).toBe(true);
    expect(openssl(['req', '-in', csr, '-noout', '-text'])).toMatch(/1\.3\.6\.1\.4\.1\.41482\.3\.1:/);
    expect(statSync(csr).mode & 0o777).toBe(0o644);

    // No certificate was written to the slot, but the card is hardened (PIN changed, management key PIN-protected).
    const card = await openTestCard({ file });
    try {
      await expect(card.session.getCertificate(0x9c)).rejects.toThrow();
      expect((await card.session.getPinMetadata()).isDefault).toBe(false);
      expect((await card.session.getSlotMetadata(0x9c)).origin).toBe('generated');
    } finally {
      await card.virtual.close();
    }

    // The CA signs; the import authenticates with the PIN-protected management key, the PIN from the environment.
    const caKey = join(dir, 'ca.key');
    const caCert = join(dir, 'ca.pem');
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', caKey, '-out', caCert, '-subj', '/CN=Example Issuing CA', '-days', '2']);
    const issued = join(dir, 'alice.pem');
    openssl(['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-set_serial', '99', '-days', '30', '-out', issued]);
    const imported = captured();
    const importEnvironment = { env: { PIV_PIN: NEW_PIN }, interactive: false, prompter: noPrompter };
    expect(await runCertificateImport(issued, { virtual: file, slot: '9c' }, imported, importEnvironment)).toBe(0);
    expect(imported.out.join('\n')).toMatch(/Slot 9c: CN=alice, issued by CN=Example Issuing CA/);
    const after = await openTestCard({ file });
    try {
      expect(Buffer.from(await after.session.getCertificate(0x9c)).equals(Buffer.from(readFileSync(issued, 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64'))).toBe(true);
    } finally {
      await after.virtual.close();
    }
  });

  test('the import needs the PIN for a PIN-protected management key: missing, exit 2, card unchanged', async () => {
    const file = join(dir, 'card2.json');
    expect(await runEnroll({ virtual: file, user: 'bob', algorithm: 'ECCP256', keySource: 'card', csr: join(dir, 'r2'), yes: true }, captured(), environment)).toBe(0);
    const caKey = join(dir, 'ca2.key');
    const caCert = join(dir, 'ca2.pem');
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', caKey, '-out', caCert, '-subj', '/CN=CA2', '-days', '2']);
    const issued = join(dir, 'bob.pem');
    openssl(['x509', '-req', '-in', join(dir, 'r2', 'piv-9c.csr'), '-CA', caCert, '-CAkey', caKey, '-set_serial', '5', '-days', '30', '-out', issued]);
    const before = readFileSync(file);
    await expect(runCertificateImport(issued, { virtual: file, slot: '9c' }, captured(), { env: {}, interactive: false, prompter: noPrompter })).rejects.toThrow(/missing: the PIN/);
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  test('--csr with --ca or --deploy-to is a usage error before the card is touched', async () => {
    await expect(runEnroll({ virtual: join(dir, 'never.json'), user: 'x', csr: dir, ca: dir, yes: true }, captured(), environment)).rejects.toThrow(/--csr stops the enrollment/);
    await expect(runEnroll({ virtual: join(dir, 'never.json'), user: 'x', csr: dir, deployTo: ['host'], yes: true }, captured(), environment)).rejects.toThrow(/--csr stops the enrollment/);
  });
});
