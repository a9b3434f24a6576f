/**
 * Attestation through pcscd: the virtual card behind vpcd is a card in a reader, so its test root is not trusted by
 * itself — enroll --require-attestation refuses its key (wrong-chain) and records nothing; with the test root named by
 * --attestation-roots the key verifies and the evidence is in the inventory; a re-key of the card key re-attests it.
 * `attest` judges the same way: Yubico's roots alone refuse the card, the test root added to them verifies it.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { certificatePem } from '../../src/crypto/pem.js';
import { Inventory } from '../../src/operations/inventory/inventory.js';
import { virtualTestRootCertificate } from '../../src/transport/virtual/test-root.js';
import { CLI, READER, run, scratchDir, serveCard, type ServedCard } from './bench.js';

const PIN = '24681357';
const SERIAL = 31337017;
const ENV = { PIV_NEW_PIN: PIN, PIV_NEW_PUK: '97531864', PIV_PIN: PIN };
const served: ServedCard[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const card of served.splice(0)) expect(await card.stop()).toBe(0);
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function evidence(inventory: string) {
  const opened = await Inventory.open(inventory);
  try {
    return await Promise.all((await opened.enrollments({ status: 'all' })).map(async (r) => ({ id: r.id, status: r.status, fingerprint: r.fingerprint, attestations: await opened.attestations(r.id) })));
  } finally {
    await opened.close();
  }
}

describe.skipIf(!inject('benchReady'))('attestation through pcscd', () => {
  test('--require-attestation: refused through Yubico\'s roots alone, verified with the test root as --attestation-roots, kept, re-attested at a re-key', async () => {
    const dir = scratchDir();
    dirs.push(dir);
    served.push(await serveCard({ serial: SERIAL, firmware: '5.7.2' }));
    const inventory = join(dir, 'inventory.sqlite');
    const testRoot = join(dir, 'virtual-test-root.pem');
    writeFileSync(testRoot, certificatePem(await virtualTestRootCertificate()));
    const enroll = (extra: string[]) =>
      run(process.execPath, [CLI, 'enroll', '--reader', READER, '--user', 'ana', '--key-source', 'card', '--algorithm', 'ECCP256', '--pkcs11', 'none', '--yes', '--json',
        '--inventory', inventory, '--out', join(dir, 'out'), '--require-attestation', ...extra], { env: ENV });

    const refused = await enroll([]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/attestation required, and refused for the key in slot 9C \(wrong-chain\).*not among the roots of Yubico/s);
    expect(await evidence(inventory)).toEqual([]);

    const accepted = await enroll(['--force', '--attestation-roots', testRoot]);
    expect(accepted.code, accepted.stderr).toBe(0);
    const json = JSON.parse(accepted.stdout);
    expect(json.attestationVerdict).toMatchObject({ verified: true, trust: `Yubico + ${testRoot}`, facts: { serial: SERIAL } });
    const [record] = await evidence(inventory);
    expect(record!.attestations).toMatchObject([{ verdict: 'verified', trust: `Yubico + ${testRoot}`, facts: { serial: SERIAL, firmware: '5.7.2' } }]);
    const f9 = new X509Certificate(readFileSync(join(dir, 'out', 'piv-9c-attestation-f9.pem')));
    expect(new X509Certificate(record!.attestations[0]!.attestationPem!).verify(f9.publicKey)).toBe(true);

    const rekeyed = await run(process.execPath, [CLI, 'rekey', '--reader', READER, '--inventory', inventory, '--force', '--pkcs11', 'none', '--out', join(dir, 'out'), '--yes', '--json',
      '--require-attestation', '--attestation-roots', testRoot], { env: ENV });
    expect(rekeyed.code, rekeyed.stderr).toBe(0);
    const after = await evidence(inventory);
    const active = after.find((r) => r.status === 'active')!;
    expect(active.fingerprint).not.toBe(record!.fingerprint);
    expect(active.attestations).toMatchObject([{ verdict: 'verified', facts: { serial: SERIAL } }]);
    expect(active.attestations[0]!.chain[0]).toBe('CN=YubiKey PIV Attestation 9c');
  });

  test('attest through a reader: Yubico\'s roots alone refuse the virtual card (wrong-chain); --attestation-roots adds the test root to them', async () => {
    const dir = scratchDir();
    dirs.push(dir);
    served.push(await serveCard({ serial: SERIAL + 1, firmware: '5.7.2' }));
    const testRoot = join(dir, 'virtual-test-root.pem');
    writeFileSync(testRoot, certificatePem(await virtualTestRootCertificate()));
    const enrolled = await run(process.execPath, [CLI, 'enroll', '--reader', READER, '--user', 'bo', '--key-source', 'card', '--algorithm', 'ECCP256', '--pkcs11', 'none',
      '--yes', '--inventory', 'none'], { env: ENV });
    expect(enrolled.code, enrolled.stderr).toBe(0);
    const attest = (extra: string[]) => run(process.execPath, [CLI, 'attest', '--reader', READER, '--json', ...extra], { env: ENV });

    const alone = await attest([]);
    expect(alone.code, alone.stderr).toBe(1);
    expect(JSON.parse(alone.stdout)).toMatchObject({ verified: false, reason: 'wrong-chain', trust: 'Yubico', cardSerial: SERIAL + 1 });
    const added = await attest(['--attestation-roots', testRoot]);
    expect(added.code, added.stderr).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ verified: true, trust: `Yubico + ${testRoot}`, facts: { serial: SERIAL + 1 } });
  });
});
