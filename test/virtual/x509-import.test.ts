/**
 * The X.509 CA path on the virtual card: request → an OpenSSL test CA signs → `certificate import` → status shows it.
 * A certificate for another key is refused with the card file byte-identical; a large one is stored compressed.
 */
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { run } from '../../src/cli/main.js';
import type { Output } from '../../src/cli/output.js';
import { decodeCertificateObject } from '../../src/bytes/certificate-object.js';
import { keyAlgorithmByName } from '../../src/standards/algorithms.js';
import { MAX_OBJECT_CONTENT, OBJECT } from '../../src/standards/objects.js';
import { MAX_OBJECT_SIZE } from '../../src/transport/virtual/handlers/objects.js';
import { openssl } from '../support/openssl.js';
import { DEFAULT_MANAGEMENT_KEY, openTestCard } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'piv-enroll-import-'));
const caKey = join(dir, 'ca.key');
const caCert = join(dir, 'ca.pem');

function captured(): Output & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, result: (t) => out.push(t), notice: (t) => err.push(t), error: (t) => err.push(t) };
}

async function cardWithKey(name: string, algorithm = 'ECCP256'): Promise<string> {
  const file = join(dir, `${name}.json`);
  const card = await openTestCard({ file, serial: 42000000 + Math.floor(Math.random() * 1000000), deps: { now: () => Date.now() } });
  await card.session.authenticate(DEFAULT_MANAGEMENT_KEY);
  await card.session.generateKey(0x9c, keyAlgorithmByName(algorithm)!);
  await card.virtual.close();
  return file;
}

/** The card's request, signed by the test CA; `extensions` (an openssl extfile section) makes it as large as needed. */
async function issued(file: string, name: string, extensions?: string): Promise<string> {
  const csr = join(dir, `${name}.csr`);
  expect(await run(['request', '--virtual', file, '--subject', `CN=${name},O=Example`, '--attest', '--out', csr], captured())).toBe(0);
  const out = join(dir, `${name}.pem`);
  const args = ['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-set_serial', '4660', '-days', '30', '-sha256', '-out', out];
  if (extensions) {
    const ext = join(dir, `${name}.ext`);
    writeFileSync(ext, `[v3]\n${extensions}\n`);
    args.push('-extfile', ext, '-extensions', 'v3');
  }
  openssl(args);
  return out;
}

beforeAll(() => {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', caKey, '-out', caCert, '-subj', '/CN=piv-enroll test CA', '-days', '2']);
});

describe('certificate import', () => {
  test('the object limit is the virtual card\'s (one number for both)', () => {
    expect(MAX_OBJECT_CONTENT).toBe(MAX_OBJECT_SIZE);
  });

  test('a certificate the test CA issued for the card\'s request is written; status shows it; the CHUID is fresh', async () => {
    const file = await cardWithKey('alice');
    const certificate = await issued(file, 'alice');
    const before = captured();
    expect(await run(['status', '--virtual', file, '--json'], before)).toBe(0);
    const output = captured();
    expect(await run(['certificate', 'import', '--virtual', file, '--slot', '9c', certificate], output)).toBe(0);
    expect(output.out.join('\n')).toMatch(/Slot 9c: CN=alice,O=Example, issued by CN=piv-enroll test CA, serial 1234, valid until .*; CHUID refreshed\.\nKey SHA256:\S+ \(matched through metadata\)/);
    const status = captured();
    expect(await run(['status', '--virtual', file, '--json'], status)).toBe(0);
    const report = JSON.parse(status.out.join('\n'));
    expect(report.slots.find((s: { slot: string }) => s.slot.toLowerCase() === '9c').certificate).toMatchObject({ subject: 'CN=alice,O=Example', issuer: 'CN=piv-enroll test CA', matchesKey: true });
    expect(report.chuidGuid).toBeDefined();
    expect(report.chuidGuid).not.toBe(JSON.parse(before.out.join('\n')).chuidGuid);
    // DER in, the same certificate: PEM and DER files both import
    const der = join(dir, 'alice.der');
    writeFileSync(der, new X509Certificate(readFileSync(certificate)).raw);
    const json = captured();
    expect(await run(['certificate', 'import', '--virtual', file, der, '--json'], json)).toBe(0);
    expect(JSON.parse(json.out.join('\n'))).toMatchObject({ slot: '9c', compressed: false, keySource: 'metadata', warnings: ['replaces the certificate CN=alice,O=Example in slot 9C'] });
  });

  test('a certificate for another key is refused, the card file byte-identical', async () => {
    const file = await cardWithKey('mallory');
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const otherKey = join(dir, 'other.key');
    writeFileSync(otherKey, other.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
    const csr = join(dir, 'other.csr');
    openssl(['req', '-new', '-key', otherKey, '-subj', '/CN=mallory', '-out', csr]);
    const wrong = join(dir, 'wrong.pem');
    openssl(['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-set_serial', '7', '-days', '30', '-out', wrong]);
    const before = readFileSync(file);
    const output = captured();
    expect(await run(['certificate', 'import', '--virtual', file, wrong], output)).toBe(1);
    expect(output.err.join('\n')).toMatch(/the certificate is for another key \(SHA256:\S+\) than the one in slot 9C \(SHA256:\S+\)/);
    expect(readFileSync(file).equals(before)).toBe(true);
    // not a certificate at all: refused the same way
    writeFileSync(join(dir, 'garbage.pem'), 'not a certificate\n');
    const garbage = captured();
    expect(await run(['certificate', 'import', '--virtual', file, join(dir, 'garbage.pem')], garbage)).toBe(1);
    expect(garbage.err.join('\n')).toMatch(/holds no X\.509 certificate/);
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  test('a large certificate (many SANs) is stored gzip-compressed and reads back whole', async () => {
    const file = await cardWithKey('large', 'RSA2048');
    const names = Array.from({ length: 150 }, (_, i) => `DNS:host-${i}.servers.example.com`).join(',');
    const certificate = await issued(file, 'large', `subjectAltName=${names}`);
    const der = new X509Certificate(readFileSync(certificate)).raw;
    expect(der.length).toBeGreaterThan(MAX_OBJECT_CONTENT);
    const output = captured();
    expect(await run(['certificate', 'import', '--virtual', file, certificate, '--json'], output)).toBe(0);
    const result = JSON.parse(output.out.join('\n'));
    expect(result.compressed).toBe(true);
    expect(result.objectBytes).toBeLessThanOrEqual(MAX_OBJECT_CONTENT);
    const card = await openTestCard({ file });
    try {
      const object = decodeCertificateObject(await card.session.getObject(OBJECT.CERT_SIGNATURE));
      expect(object.compressed).toBe(true);
      expect(Buffer.from(object.der).equals(der)).toBe(true);
    } finally {
      await card.virtual.close();
    }
  });

  test('a certificate too large even compressed is refused before anything is written', async () => {
    const file = await cardWithKey('huge');
    // random-looking names do not compress: 400 of them exceed the object even gzip-compressed
    const names = Array.from({ length: 400 }, (_, i) => `DNS:${(BigInt(i + 1) * 0x9e3779b97f4a7c15n).toString(36)}.example`).join(',');
    const certificate = await issued(file, 'huge', `subjectAltName=${names}`);
    const before = readFileSync(file);
    const output = captured();
    expect(await run(['certificate', 'import', '--virtual', file, certificate], output)).toBe(1);
    expect(output.err.join('\n')).toMatch(/too large for a PIV slot even compressed/);
    expect(readFileSync(file).equals(before)).toBe(true);
  });
});
