/**
 * `ca sign --require-attestation`: a key comes with a verified attestation (files, or read from the card with --slot),
 * or it is refused with the reason and nothing is signed; the certificate's key id names the attested serial and
 * policies, as ssh-keygen -L shows.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { certificatePem } from '../../src/crypto/pem.js';
import { virtualTestRootCertificate } from '../../src/transport/virtual/test-root.js';
import { run, runOk } from '../support/run.js';

const CLI = new URL('../../bin/piv-enroll', import.meta.url).pathname;
const SERIAL = '4242017';
const env = { PIV_CA_PASSPHRASE: 'a CA passphrase', XDG_STATE_HOME: '/nonexistent-state' };
let dir: string;
let testRoot: string;

const cli = (args: string[]) => run(process.execPath, [CLI, ...args], { env });
const sign = (extra: string[]) => cli(['ca', 'sign', '--dir', join(dir, 'ca'), '--principals', 'ana', '--key-id', 'ana', '--inventory', 'none', '--require-attestation', ...extra]);
const fromFiles = (pub: string, out: string, roots: string[]) => [
  '--public-key', pub, '--attestation', join(dir, 'out', 'piv-9c-attestation.pem'), '--attestation-f9', join(dir, 'out', 'piv-9c-attestation-f9.pem'), '--out', join(dir, out),
  ...roots.flatMap((r) => ['--attestation-roots', r]),
];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'piv-enroll-ca-attest-'));
  testRoot = join(dir, 'test-root.pem');
  writeFileSync(testRoot, certificatePem(await virtualTestRootCertificate()));
  const enrolled = await run(process.execPath, [CLI, 'enroll', '--virtual', join(dir, 'card.json'), '--serial', SERIAL, '--user', 'ana', '--algorithm', 'ECCP256', '--key-source', 'card', '--pin-policy', 'once', '--touch-policy', 'cached', '--inventory', 'none', '--out', join(dir, 'out'), '--yes'], {
    env: { PIV_NEW_PIN: '24681357', PIV_NEW_PUK: '97531864' },
  });
  expect(enrolled.code, enrolled.stderr).toBe(0);
  const init = await cli(['ca', 'init', '--dir', join(dir, 'ca')]);
  expect(init.code, init.stderr).toBe(0);
  await runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'other')]);
});

describe('ca sign --require-attestation', () => {
  test('an attested key from files: signed, the key id names serial and policies (ssh-keygen -L)', async () => {
    const result = await sign(fromFiles(join(dir, 'out', 'piv-9c.pub'), 'files-cert.pub', [testRoot]));
    expect(result.code, result.stderr).toBe(0);
    const listed = (await runOk('ssh-keygen', ['-L', '-f', join(dir, 'files-cert.pub')])).stdout;
    expect(listed).toContain(`Key ID: "ana yubikey-serial=${SERIAL} pin-policy=once touch-policy=cached"`);
  });

  test('the slot of the virtual card (--slot --virtual): read from the card, trusted through its test root', async () => {
    const result = await sign(['--slot', '9c', '--virtual', join(dir, 'card.json'), '--out', join(dir, 'slot-cert.pub')]);
    expect(result.code, result.stderr).toBe(0);
    expect((await runOk('ssh-keygen', ['-L', '-f', join(dir, 'slot-cert.pub')])).stdout).toContain(`Key ID: "ana yubikey-serial=${SERIAL} pin-policy=once touch-policy=cached"`);
  });

  test('the same files against Yubico\'s roots only: refused (wrong-chain), nothing written', async () => {
    const result = await sign(fromFiles(join(dir, 'out', 'piv-9c.pub'), 'yubico-only-cert.pub', []));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/refused \(wrong-chain\).*not among the roots of Yubico/s);
    expect(existsSync(join(dir, 'yubico-only-cert.pub'))).toBe(false);
  });

  test('another key with this attestation: refused (other-key)', async () => {
    const result = await sign(fromFiles(join(dir, 'other.pub'), 'other-cert.pub', [testRoot]));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('refused (other-key): the attested key is not the key to certify');
    expect(existsSync(join(dir, 'other-cert.pub'))).toBe(false);
  });

  test('a tampered attestation read from the card: refused with the reason', async () => {
    const result = await sign(['--slot', '9c', '--virtual', join(dir, 'card.json'), '--fault', 'attest-other-serial', '--out', join(dir, 'serial-cert.pub')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`refused (other-serial): the attestation is for serial ${Number(SERIAL) + 1}, but the card is ${SERIAL}`);
    expect(existsSync(join(dir, 'serial-cert.pub'))).toBe(false);
  });

  test('--public-key without its attestation files is a usage error', async () => {
    const result = await sign(['--public-key', join(dir, 'out', 'piv-9c.pub')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('needs the key\'s attestation: --attestation FILE --attestation-f9 FILE');
  });
});
