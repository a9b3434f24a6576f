/**
 * `deploy --ansible DIR [--run]`: the inventory and playbook written from templates/ansible/, run by Debian's
 * ansible-playbook (ansible.posix.authorized_key) against real sshd instances with their own users.
 */
import { underCi } from '../bench/bench-state.mjs';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Output } from '../../src/cli/output.js';
import { runDeploy } from '../../src/cli/commands/deploy.js';
import { freePort, makeIdentity, scratch, startHost, stopHost, type TestIdentity, type TestSshd } from './support/deploy-hosts.js';

const hasAnsible = spawnSync('ansible-playbook', ['--version']).status === 0;
if (!hasAnsible) console.warn('deploy-ansible: ansible-playbook is not installed (Debian: apt-get install ansible); skipping');

function captured(): Output & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, result: (t) => out.push(t), notice: (t) => err.push(t), error: (t) => err.push(t) };
}

let dir: string;
let deployer: TestIdentity;
let key: TestIdentity;
let plain: TestSshd | undefined;
let messy: TestSshd | undefined;
let changed: TestSshd | undefined;
let downSpec: string;
let knownHosts: string;
const MESSY = '# team\n\nfrom="127.0.0.1",no-pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFw0aXRoVGFic0FuZFF1b3Rlc0luT3B0aW9uczAxMjM0NTY3 bob';

beforeAll(async () => {
  if (!hasAnsible && !underCi()) return;
  dir = scratch('pe-deploy-ansible-');
  deployer = await makeIdentity(dir, 'deployer');
  key = await makeIdentity(dir, 'key', 'carol {{ lookup("pipe", "touch PWNED") }}');
  plain = await startHost(deployer);
  messy = await startHost(deployer, MESSY);
  changed = await startHost(deployer);
  downSpec = `nobody@127.0.0.1:${await freePort()}`;
  const impostor = await makeIdentity(dir, 'impostor');
  knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `${plain.knownHostsLine}\n${messy.knownHostsLine}\n[127.0.0.1]:${changed.port} ${impostor.line.split(' ').slice(0, 2).join(' ')}\n`);
}, 120_000);

afterAll(async () => {
  for (const host of [plain, messy, changed]) await stopHost(host);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!hasAnsible && !underCi())('deploy --ansible', () => {
  const flags = (extra: Record<string, unknown>) => ({
    publicKey: key.publicKey,
    host: [plain!.spec, messy!.spec, changed!.spec, downSpec],
    identity: deployer.privateKey,
    knownHosts,
    connectTimeout: '5',
    ansible: join(dir, 'fleet'),
    inventory: join(dir, 'inventory.sqlite'),
    ...extra,
  });

  it('writes an inventory and a playbook, and says how to run them, without touching any host', async () => {
    const output = captured();
    expect(await runDeploy(flags({}), output, false)).toBe(0);
    const inventory = readFileSync(join(dir, 'fleet', 'inventory.yml'), 'utf8');
    const playbook = readFileSync(join(dir, 'fleet', 'playbook.yml'), 'utf8');
    expect(playbook).toContain('ansible.posix.authorized_key:');
    expect(inventory).toContain(`piv_enroll_key: !unsafe ${JSON.stringify(key.line)}`);
    expect(inventory).toContain('piv_enroll_state: present');
    expect(inventory).toContain(`ansible_port: ${plain!.port}, ansible_user: "${plain!.user.name}"`);
    expect(output.out.join('\n')).toContain(`Run: ansible-playbook -i ${join(dir, 'fleet', 'inventory.yml')} ${join(dir, 'fleet', 'playbook.yml')} --forks 16`);
    expect(readFileSync(plain!.user.authorizedKeys, 'utf8')).toBe(`${deployer.line}\n`);
    // ansible-playbook itself accepts them.
    expect(spawnSync('ansible-playbook', ['--syntax-check', '-i', join(dir, 'fleet', 'inventory.yml'), join(dir, 'fleet', 'playbook.yml')]).status).toBe(0);
  });

  it('runs ansible-playbook: the same per-host results, a dry run first, then idempotent, then removal', async () => {
    const dry = captured();
    expect(await runDeploy(flags({ run: true, dryRun: true, json: true }), dry, false)).toBe(1);
    expect((JSON.parse(dry.out[0]!) as { hosts: Array<{ status: string }> }).hosts.map((h) => h.status)).toEqual(['would-add', 'would-add', 'failed', 'failed']);
    expect(readFileSync(plain!.user.authorizedKeys, 'utf8')).toBe(`${deployer.line}\n`);

    const first = captured();
    expect(await runDeploy(flags({ run: true, json: true }), first, false)).toBe(1);
    const report = JSON.parse(first.out[0]!) as { hosts: Array<{ host: string; status: string; reason?: string }> };
    expect(report.hosts.map((h) => [h.host, h.status, h.reason])).toEqual([
      [plain!.spec, 'added', undefined],
      [messy!.spec, 'added', undefined],
      [changed!.spec, 'failed', 'changed-host-key'],
      [downSpec, 'failed', 'unreachable'],
    ]);
    expect(readFileSync(plain!.user.authorizedKeys, 'utf8')).toBe(`${deployer.line}\n${key.line}\n`);
    expect(readFileSync(messy!.user.authorizedKeys, 'utf8')).toContain(key.line);
    expect(readFileSync(messy!.user.authorizedKeys, 'utf8')).toContain(MESSY.split('\n')[2]);
    expect(statSync(plain!.user.authorizedKeys).mode & 0o777).toBe(0o600);
    // The key's comment asked Ansible to run a command: !unsafe kept it text.
    expect(spawnSync('find', ['/', '-xdev', '-maxdepth', '3', '-name', 'PWNED']).stdout.toString()).toBe('');

    const before = readFileSync(plain!.user.authorizedKeys);
    const mtime = statSync(plain!.user.authorizedKeys).mtimeMs;
    const again = captured();
    expect(await runDeploy(flags({ run: true, host: [plain!.spec, messy!.spec] }), again, false)).toBe(0);
    expect(again.out.join('\n')).toContain('Nothing to change: the key is already on every host (2).');
    expect(readFileSync(plain!.user.authorizedKeys).equals(before)).toBe(true);
    expect(statSync(plain!.user.authorizedKeys).mtimeMs).toBe(mtime);

    const removed = captured();
    expect(await runDeploy(flags({ run: true, publicKey: undefined, remove: key.publicKey, host: [plain!.spec] }), removed, false)).toBe(0);
    expect(removed.out.join('\n')).toMatch(/\bremoved\b/);
    expect(readFileSync(plain!.user.authorizedKeys, 'utf8')).toBe(`${deployer.line}\n`);
  });

  it('refuses removal by fingerprint (the module matches keys, not fingerprints)', async () => {
    await expect(runDeploy(flags({ publicKey: undefined, remove: 'SHA256:WacEq30Uo0oFQzgU8eMYoyFUH1D1T2BbxKRkWrq/1uY' }), captured(), false)).rejects.toThrow(/--ansible needs the public key itself/);
  });
});
