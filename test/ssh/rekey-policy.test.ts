/**
 * `rekey` under a site policy, on the virtual card with the key on a real sshd: a policy the new key would break is
 * refused while planning — the card's state file, the host's authorized_keys and the inventory stay what they were.
 * The same re-key without the policy goes through and changes all three (so the comparison can fail).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Inventory } from '../../src/operations/inventory/inventory.js';
import { run } from '../support/run.js';
import { makeIdentity, scratch, startHost, stopHost, type TestIdentity, type TestSshd } from './support/deploy-hosts.js';

const CLI = new URL('../../bin/piv-enroll', import.meta.url).pathname;
const PIN = '24681357';

let dir: string;
let deployer: TestIdentity;
let host: TestSshd | undefined;
let knownHosts: string;

beforeAll(async () => {
  dir = scratch('pe-rekey-policy-');
  deployer = await makeIdentity(dir, 'deployer');
  host = await startHost(deployer);
  knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `${host.knownHostsLine}\n`);
});

afterAll(async () => {
  await stopHost(host);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Everything the inventory knows about the card: enrollments (with deployments and certificates), events, re-keys. */
async function inventoryState(location: string): Promise<unknown> {
  const inventory = await Inventory.open(location);
  try {
    const records = await inventory.enrollments({ status: 'all' });
    return { records, events: await inventory.events(), rekeys: await Promise.all(records.map((r) => inventory.unfinishedRekeys(r.id))) };
  } finally {
    await inventory.close();
  }
}

describe('rekey under a site policy', () => {
  it('a policy the new key would break (algorithm, key origin): refused with each rule, card, host and inventory unchanged', async () => {
    const card = join(dir, 'ana.json');
    const inventory = join(dir, 'inventory.sqlite');
    const access = ['--identity', deployer.privateKey, '--known-hosts', knownHosts];
    const enrolled = await run(process.execPath, [CLI, 'enroll', '--virtual', card, '--user', 'ana', '--algorithm', 'ECCP256', '--pkcs11', 'none', '--yes', '--json',
      '--inventory', inventory, '--deploy-to', host!.spec, ...access], { env: { PIV_NEW_PIN: PIN, PIV_NEW_PUK: '97531864' }, timeoutMs: 120_000 });
    expect(enrolled.code, enrolled.stderr).toBe(0);
    const oldKey = JSON.parse(enrolled.stdout).authorizedKey as string;
    expect(readFileSync(host!.user.authorizedKeys, 'utf8')).toBe(`${deployer.line}\n${oldKey}\n`);

    // The recorded enrollment is an ECCP256 key made on this computer: this site now wants ECCP384 keys made on the card.
    const policy = join(dir, 'policy.yaml');
    writeFileSync(policy, 'require:\n  algorithms: [ECCP384]\n  key-origin: generated\n');
    const cardBefore = readFileSync(card);
    const keysBefore = readFileSync(host!.user.authorizedKeys);
    const inventoryBefore = await inventoryState(inventory);
    const rekey = (extra: string[]) => run(process.execPath, [CLI, 'rekey', '--virtual', card, '--inventory', inventory, '--force', '--key-source', 'host', '--pkcs11', 'none',
      '--out', join(dir, 'out'), '--yes', '--json', ...access, ...extra], { env: { PIV_PIN: PIN }, timeoutMs: 120_000 });

    const refused = await rekey(['--policy', policy]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('the card was not re-keyed, nothing changed');
    expect(refused.stderr).toMatch(/policy rule algorithms: .*ECCP256/);
    expect(refused.stderr).toMatch(/policy rule key-origin: /);
    expect(refused.stderr + refused.stdout).not.toContain(PIN);
    expect(readFileSync(card).equals(cardBefore)).toBe(true);
    expect(readFileSync(host!.user.authorizedKeys).equals(keysBefore)).toBe(true);
    expect(await inventoryState(inventory)).toEqual(inventoryBefore);

    // Without the policy the same re-key goes through: the card, the host and the inventory all change.
    const rekeyed = await rekey(['--policy', 'none']);
    expect(rekeyed.code, rekeyed.stderr).toBe(0);
    expect(readFileSync(card).equals(cardBefore)).toBe(false);
    const keysAfter = readFileSync(host!.user.authorizedKeys, 'utf8');
    expect(keysAfter).not.toContain(oldKey);
    expect(keysAfter.split('\n').filter(Boolean)).toHaveLength(2);
    expect(await inventoryState(inventory)).not.toEqual(inventoryBefore);
  });
});
