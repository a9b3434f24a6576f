/**
 * `enroll --ca DIR` on the embedded virtual card: the enrolled key comes out with an OpenSSH certificate from
 * the project's CA, and every CA problem (no --out, no passphrase, a wrong one) is found before the card is
 * written to.
 */
import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { run, runOk } from '../support/run.js';

const CLI = new URL('../../bin/piv-enroll', import.meta.url).pathname;
const PASSPHRASE = 'correct horse battery';
const ENV = { PIV_NEW_PIN: '24681357', PIV_NEW_PUK: '97531864', PIV_CA_PASSPHRASE: PASSPHRASE };
const scratch = () => mkdtempSync(join(tmpdir(), 'piv-enroll-ca-enroll-'));

async function slotsOf(card: string): Promise<string[]> {
  const status = JSON.parse((await runOk(process.execPath, [CLI, 'status', '--virtual', card, '--json'])).stdout);
  return status.slots.map((s: { slot: string }) => s.slot);
}

describe('enroll --ca', () => {
  let ca: string;
  beforeAll(async () => {
    ca = join(scratch(), 'ca');
    await runOk(process.execPath, [CLI, 'ca', 'init', '--dir', ca, '--algorithm', 'ed25519'], { env: { PIV_CA_PASSPHRASE: PASSPHRASE } });
  });

  test('certifies the enrolled key: ssh-keygen -L shows its fingerprint, the principals and the CA', async () => {
    const dir = scratch();
    const enrolled = await runOk(process.execPath, [CLI, 'enroll', '--virtual', join(dir, 'card.json'), '--user', 'ana', '--algorithm', 'ECCP256', '--yes', '--json',
      '--ca', ca, '--principals', 'ana,deploy', '--ca-validity', '12h', '--out', join(dir, 'out')], { env: ENV });
    const result = JSON.parse(enrolled.stdout);
    expect(result.caCertificate).toMatchObject({ serial: 1, principals: ['ana', 'deploy'], signatureAlgorithm: 'ssh-ed25519', file: join(dir, 'out', 'piv-9c-cert.pub') });
    expect(result.files).toContain(join(dir, 'out', 'piv-9c-cert.pub'));
    const listed = (await runOk('ssh-keygen', ['-L', '-f', join(dir, 'out', 'piv-9c-cert.pub')])).stdout;
    expect(listed).toContain(`Public key: ECDSA-CERT ${result.fingerprint}`);
    expect(listed).toMatch(/Principals:\s+ana\s+deploy/);
    expect(listed).toContain(`Key ID: "${result.caCertificate.keyId}"`);
    const hours = (Date.parse(result.caCertificate.validBefore) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(11.9);
    expect(hours).toBeLessThan(12.1);
  });

  test.each([
    ['no --out', ['--ca', 'CA'], ENV, /--ca writes the certificate beside the public key: give --out DIR/],
    ['no passphrase', ['--ca', 'CA', '--out', 'OUT'], { ...ENV, PIV_CA_PASSPHRASE: '' }, /missing: the CA passphrase \(PIV_CA_PASSPHRASE or --ca-passphrase-file\)/],
    ['a wrong passphrase', ['--ca', 'CA', '--out', 'OUT'], { ...ENV, PIV_CA_PASSPHRASE: 'not the passphrase' }, /wrong passphrase/],
    ['no CA in the directory', ['--ca', 'NOCA', '--out', 'OUT'], ENV, /no-ca/],
    ['--principals without --ca', ['--principals', 'ana'], ENV, /--principals only apply with --ca DIR/],
  ])('%s: refused before the card is written to', async (_name, extra, env, message) => {
    const dir = scratch();
    const card = join(dir, 'card.json');
    const args = extra.map((a) => (a === 'CA' ? ca : a === 'OUT' ? join(dir, 'out') : a === 'NOCA' ? join(dir, 'no-ca') : a));
    const refused = await run(process.execPath, [CLI, 'enroll', '--virtual', card, '--user', 'ana', '--algorithm', 'ECCP256', '--yes', ...args], { env });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(message);
    expect(refused.stderr).not.toContain(PASSPHRASE);
    if (existsSync(card)) expect(await slotsOf(card)).not.toContain('9C');
  });
});
