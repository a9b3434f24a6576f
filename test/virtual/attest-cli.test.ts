/** `piv-enroll attest` end to end, in process, on virtual card files. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { run } from '../../src/cli/main.js';
import type { Output } from '../../src/cli/output.js';
import { certificatePem } from '../../src/crypto/pem.js';
import { virtualTestRootCertificate } from '../../src/transport/virtual/test-root.js';
import { keyAlgorithmByName } from '../../src/standards/algorithms.js';
import { DEFAULT_MANAGEMENT_KEY, openTestCard } from './helpers.js';

function captured(): Output & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, result: (t) => out.push(t), notice: (t) => err.push(t), error: (t) => err.push(t) };
}

/** A virtual card file whose slot 9c holds a key generated on the card. */
async function cardFileWithGeneratedKey(serial: number): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'piv-enroll-attest-')), 'card.json');
  const card = await openTestCard({ file, serial, deps: { now: () => Date.now() } });
  await card.session.authenticate(DEFAULT_MANAGEMENT_KEY);
  await card.session.generateKey(0x9c, keyAlgorithmByName('ECCP256')!);
  await card.virtual.close();
  return file;
}

describe('piv-enroll attest', () => {
  test('--virtual: verified against the virtual card test root, exit 0, facts in --json', async () => {
    const file = await cardFileWithGeneratedKey(22334455);
    const output = captured();
    expect(await run(['attest', '--virtual', file, '--json'], output)).toBe(0);
    const verdict = JSON.parse(output.out.join('\n'));
    expect(verdict).toMatchObject({ slot: '9c', verified: true, trust: 'Yubico + piv-enroll virtual card test root', cardSerial: 22334455, slotKeySource: 'metadata' });
    expect(verdict.facts).toMatchObject({ firmware: '5.7.2', serial: 22334455, pinPolicy: 'ALWAYS', touchPolicy: 'NEVER', formFactor: 'Keychain (USB-A)' });
    const text = captured();
    expect(await run(['attest', '--virtual', file], text)).toBe(0);
    expect(text.out.join('\n')).toMatch(/Slot 9c: attested/);
  });

  test('--attestation-roots adds to the trust, as in enroll/status/doctor: a virtual card still verifies through its test root, and the verdict names every source', async () => {
    // Before, attest alone replaced the trust with the files: a Yubico root named here refused the same card (exit 1).
    // That Yubico's roots alone refuse a virtual card is tested through a reader (test/real-stack/attestation.test.ts).
    const file = await cardFileWithGeneratedKey(22334456);
    const yubicoRoot = join(process.cwd(), 'templates/attestation/yubico-attestation-root-1.pem');
    const output = captured();
    expect(await run(['attest', '--virtual', file, '--attestation-roots', yubicoRoot, '--json'], output)).toBe(0);
    expect(JSON.parse(output.out.join('\n'))).toMatchObject({ verified: true, trust: `Yubico + ${yubicoRoot} + piv-enroll virtual card test root` });
  });

  test('an unreadable --attestation-roots file is refused before the card is opened', async () => {
    const file = await cardFileWithGeneratedKey(22334458);
    const before = readFileSync(file);
    const empty = join(mkdtempSync(join(tmpdir(), 'piv-enroll-roots-')), 'empty.pem');
    writeFileSync(empty, 'no certificate here\n');
    const output = captured();
    expect(await run(['attest', '--virtual', file, '--attestation-roots', empty], output)).not.toBe(0);
    expect(output.err.join('\n')).toMatch(/holds no PEM certificate/);
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  test('--attestation-roots with the test root verifies the same card', async () => {
    const file = await cardFileWithGeneratedKey(22334457);
    const rootFile = join(mkdtempSync(join(tmpdir(), 'piv-enroll-roots-')), 'root.pem');
    writeFileSync(rootFile, certificatePem(await virtualTestRootCertificate()));
    const output = captured();
    expect(await run(['attest', '--virtual', file, '--attestation-roots', rootFile, '--json'], output)).toBe(0);
    expect(JSON.parse(output.out.join('\n')).trust).toBe(`Yubico + ${rootFile} + piv-enroll virtual card test root`);
  });

  test('a bad slot is a usage error (exit 2)', async () => {
    const output = captured();
    expect(await run(['attest', '--virtual', '/tmp/never-made.json', '--slot', 'zz'], output)).toBe(2);
    expect(output.err.join('\n')).toMatch(/--slot takes/);
  });
});
