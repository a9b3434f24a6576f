/**
 * `deploy --ansible --run` records itself in the inventory as a direct deployment does, so `offboard` finds those
 * hosts and takes the key off them; and the playbook honours --authorized-keys-file (path:, sshd's tokens
 * expanded for the account) and --account (user:): a root login puts the key into another account's file
 * outside the home, and that account logs in with it.
 */
import { underCi } from '../bench/bench-state.mjs';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Inventory } from '../../src/operations/inventory/inventory.js';
import { run, runOk } from '../support/run.js';
import { canLogIn, makeIdentity, scratch, startFleetHost, startHost, stopHost, type FleetHost, type TestIdentity, type TestSshd } from './support/deploy-hosts.js';

const CLI = new URL('../../bin/piv-enroll', import.meta.url).pathname;
const hasAnsible = spawnSync('ansible-playbook', ['--version']).status === 0;
if (!hasAnsible) console.warn('deploy-ansible-offboard: ansible-playbook is not installed (Debian: apt-get install ansible); skipping');

let dir: string;
let deployer: TestIdentity;
let host: TestSshd | undefined;
let fleet: FleetHost | undefined;
let knownHosts: string;
let inventory: string;

const sshFlags = () => ['--identity', deployer.privateKey, '--known-hosts', knownHosts];

beforeAll(async () => {
  if (!hasAnsible && !underCi()) return;
  dir = scratch('pe-deploy-ansible-offboard-');
  deployer = await makeIdentity(dir, 'deployer');
  host = await startHost(deployer);
  fleet = await startFleetHost((keys) => `${keys}/%u`, { root: `${deployer.line}\n` });
  knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `${host.knownHostsLine}\n${fleet.knownHostsLine}\n`);
  inventory = join(dir, 'inventory.sqlite');
}, 120_000);

afterAll(async () => {
  await stopHost(host);
  await stopHost(fleet);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!hasAnsible && !underCi())('deploy --ansible --run and the inventory', () => {
  it('records the hosts, so offboard removes the key from them', async () => {
    // Ana's enrollment, recorded as enroll records it (a software key stands in for the card's).
    const ana = await makeIdentity(dir, 'ana', 'ana card');
    const authorizedKey = ana.line;
    const fingerprint = /SHA256:\S+/.exec((await runOk('ssh-keygen', ['-l', '-f', ana.publicKey])).stdout)![0];
    const store = await Inventory.open(inventory);
    try {
      await store.recordEnrollment({ person: 'ana', slot: '9a', algorithm: 'ED25519', fingerprint, authorizedKey, options: {} });
    } finally {
      await store.close();
    }
    const pub = ana.publicKey;

    const deployed = await run(process.execPath, [CLI, 'deploy', '--public-key', pub, '--host', host!.spec, '--ansible', join(dir, 'fleet'), '--run', '--json',
      '--inventory', inventory, ...sshFlags()], { timeoutMs: 300_000 });
    expect(deployed.code, deployed.stderr + deployed.stdout).toBe(0);
    expect((JSON.parse(deployed.stdout) as { hosts: Array<{ status: string }> }).hosts.map((h) => h.status)).toEqual(['added']);
    expect(readFileSync(host!.user.authorizedKeys, 'utf8')).toContain(authorizedKey);
    const [record] = JSON.parse((await runOk(process.execPath, [CLI, 'inventory', 'list', '--inventory', inventory, '--json', '--person', 'ana'])).stdout) as Array<{ deployments: Array<{ host: string; state: string }> }>;
    expect(record!.deployments.map((d) => [d.host, d.state])).toEqual([[host!.spec, 'present']]);

    const offboarded = await run(process.execPath, [CLI, 'offboard', '--user', 'ana', '--inventory', inventory, ...sshFlags()], { timeoutMs: 120_000 });
    expect(offboarded.code, offboarded.stderr + offboarded.stdout).toBe(0);
    expect(offboarded.stdout).toMatch(/ana is offboarded\./);
    expect(readFileSync(host!.user.authorizedKeys, 'utf8')).toBe(`${deployer.line}\n`);
  }, 400_000);

  it("honours --authorized-keys-file with %u and --account: the account's file outside the home, owned by it, and a login", async () => {
    const key = await makeIdentity(dir, 'fleet-key');
    const accountFile = join(fleet!.keysDir, fleet!.user.name);
    const deployed = await run(process.execPath, [CLI, 'deploy', '--public-key', key.publicKey, '--host', fleet!.rootSpec, '--ansible', join(dir, 'fleet-2'), '--run', '--json',
      '--inventory', 'none', '--account', fleet!.user.name, '--authorized-keys-file', `${fleet!.keysDir}/%u`, ...sshFlags()], { timeoutMs: 300_000 });
    expect(deployed.code, deployed.stderr + deployed.stdout).toBe(0);
    expect((JSON.parse(deployed.stdout) as { hosts: Array<{ status: string }> }).hosts.map((h) => h.status)).toEqual(['added']);
    expect(readFileSync(accountFile, 'utf8')).toBe(`${key.line}\n`);
    expect(statSync(accountFile).uid).toBe(fleet!.user.uid);
    expect(await canLogIn(fleet!, key, knownHosts)).toBe(true);
  }, 400_000);
});
