/** `piv-enroll attest` end to end, in process, on virtual card files. */
import { mkdtempSync, writeFileSync } from 'node:fs';
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
    expect(verdict).toMatchObject({ slot: '9c', verified: true, trust: 'piv-enroll virtual card test root', cardSerial: 22334455, slotKeySource: 'metadata' });
    expect(verdict.facts).toMatchObject({ firmware: '5.7.2', serial: 22334455, pinPolicy: 'ALWAYS', touchPolicy: 'NEVER', formFactor: 'Keychain (USB-A)' });
    const text = captured();
    expect(await run(['attest', '--virtual', file], text)).toBe(0);
    expect(text.out.join('\n')).toMatch(/Slot 9c: attested/);
  });

  test('Yubico\'s roots do not vouch for a virtual card: exit 1 with the reason', async () => {
    const file = await cardFileWithGeneratedKey(22334456);
    const yubicoRoot = join(process.cwd(), 'templates/attestation/yubico-attestation-root-1.pem');
    const output = captured();
    expect(await run(['attest', '--virtual', file, '--attestation-roots', yubicoRoot, '--json'], output)).toBe(1);
    expect(JSON.parse(output.out.join('\n'))).toMatchObject({ verified: false, reason: 'wrong-chain' });
    const text = captured();
    expect(await run(['attest', '--virtual', file, '--attestation-roots', yubicoRoot], text)).toBe(1);
    expect(text.err.join('\n')).toMatch(/attestation refused \(wrong-chain\)/);
  });

  test('--attestation-roots with the test root verifies the same card', async () => {
    const file = await cardFileWithGeneratedKey(22334457);
    const rootFile = join(mkdtempSync(join(tmpdir(), 'piv-enroll-roots-')), 'root.pem');
    writeFileSync(rootFile, certificatePem(await virtualTestRootCertificate()));
    expect(await run(['attest', '--virtual', file, '--attestation-roots', rootFile], captured())).toBe(0);
  });

  test('a bad slot is a usage error (exit 2)', async () => {
    const output = captured();
    expect(await run(['attest', '--virtual', '/tmp/never-made.json', '--slot', 'zz'], output)).toBe(2);
    expect(output.err.join('\n')).toMatch(/--slot takes/);
  });
});
