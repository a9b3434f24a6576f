/**
 * `batch --require-attestation` through the real stack: three people whose rows generate the key on the card, over
 * three readers behind pcscd, their hosts named by the site policy's host group (`@web`) on a real sshd. One card
 * answers ATTEST with a tampered certificate (the attest-other-key fault): that person stops with the reason and gets
 * nothing on the host or in the inventory; the others are enrolled, deployed and their evidence recorded.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { certificatePem } from '../../src/crypto/pem.js';
import { Inventory } from '../../src/operations/inventory/inventory.js';
import { virtualTestRootCertificate } from '../../src/transport/virtual/test-root.js';
import { makeIdentity, startHost, stopHost, type TestSshd } from '../ssh/support/deploy-hosts.js';
import { CLI, run, scratchDir, serveCard, type ServedCard } from './bench.js';

const ENV = { PIV_NEW_PIN: '24681357', PIV_NEW_PUK: '97531864' };

describe.skipIf(!inject('benchReady'))('batch --require-attestation', () => {
  const cards: ServedCard[] = [];
  let host: TestSshd | undefined;
  afterEach(async () => {
    for (const card of cards.splice(0)) expect(await card.stop()).toBe(0);
    await stopHost(host);
    host = undefined;
  });

  test('a tampered attestation on one card stops that person only, with the reason; the others enroll, deploy and keep their evidence', async () => {
    const dir = scratchDir();
    const deployer = await makeIdentity(dir, 'deployer');
    host = await startHost(deployer);
    const knownHosts = join(dir, 'known_hosts');
    writeFileSync(knownHosts, `${host.knownHostsLine}\n`);
    // A card behind vpcd is a card in a reader: its test root is trusted only because this file names it.
    const testRoot = join(dir, 'virtual-test-root.pem');
    writeFileSync(testRoot, certificatePem(await virtualTestRootCertificate()));
    const policy = join(dir, 'policy.yaml');
    writeFileSync(policy, `host-groups:\n  web: [${host.spec}]\n`);
    const manifest = join(dir, 'intake.csv');
    writeFileSync(manifest, 'user,card-serial,algorithm,key-source,hosts\nana,5101,ECCP256,card,@web\nbo,5102,ECCP256,card,@web\ncy,5103,ECCP256,card,@web\n');
    const inventory = join(dir, 'inventory.sqlite');
    cards.push(await serveCard({ serial: 5101 }));
    cards.push(await serveCard({ serial: 5102, port: 35966, faults: ['attest-other-key'] }));
    cards.push(await serveCard({ serial: 5103, port: 35967 }));

    const result = await run(process.execPath, [CLI, 'batch', '--manifest', manifest, '--inventory', inventory, '--yes', '--json', '--wait', '2m', '--pkcs11', 'none',
      '--require-attestation', '--attestation-roots', testRoot, '--policy', policy, '--out', join(dir, 'out'), '--identity', deployer.privateKey, '--known-hosts', knownHosts],
    { env: ENV, timeoutMs: 180_000 });
    expect(result.code, result.stderr).toBe(1); // not everyone was enrolled

    const people = JSON.parse(result.stdout).people as Array<{ user: string; status: string; cardSerial?: number; error?: string; hosts: { present: number } }>;
    expect(people.map((p) => [p.user, p.status, p.cardSerial])).toEqual([['ana', 'enrolled', 5101], ['bo', 'failed', 5102], ['cy', 'enrolled', 5103]]);
    expect(people[1]!.error).toMatch(/attestation required, and refused for the key in slot 9C \(other-key\)/);
    expect(people[0]!.hosts.present).toBe(1);
    expect(people[2]!.hosts.present).toBe(1);

    // The host group reached the host for ana and cy, never for bo.
    const keys = readFileSync(host.user.authorizedKeys, 'utf8');
    const keyOf = (user: string) => readFileSync(join(dir, 'out', user, 'piv-9c.pub'), 'utf8').split(' ')[1]!;
    expect(keys).toContain(keyOf('ana'));
    expect(keys).toContain(keyOf('cy'));
    expect(keys.trim().split('\n')).toHaveLength(3); // the deployer's own key, ana's, cy's

    const opened = await Inventory.open(inventory);
    try {
      const records = await opened.enrollments({ status: 'all' });
      expect(records.map((r) => [r.person, r.cardSerial]).sort()).toEqual([['ana', 5101], ['cy', 5103]]);
      for (const record of records) {
        expect(await opened.attestations(record.id)).toMatchObject([{ verdict: 'verified', trust: `Yubico + ${testRoot}`, facts: { serial: record.cardSerial } }]);
      }
    } finally {
      await opened.close();
    }
  });
});
