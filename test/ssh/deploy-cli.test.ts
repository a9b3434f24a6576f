/**
 * `piv-enroll deploy` as a user runs it (the built CLI, bin/piv-enroll): host validation before any connection,
 * hosts files, the table and JSON, exit statuses, removal by fingerprint, and the key read from a (virtual) card.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../support/run.js';
import { freePort, makeIdentity, scratch, startHost, stopHost, type TestIdentity, type TestSshd } from './support/deploy-hosts.js';

const CLI = new URL('../../bin/piv-enroll', import.meta.url).pathname;

let dir: string;
let deployer: TestIdentity;
let key: TestIdentity;
let first: TestSshd | undefined;
let second: TestSshd | undefined;
let knownHosts: string;
let downSpec: string;

const common = () => ['--identity', deployer.privateKey, '--known-hosts', knownHosts, '--connect-timeout', '5'];
const cli = (args: string[]) => run(process.execPath, [CLI, 'deploy', ...args], { timeoutMs: 120_000 });

beforeAll(async () => {
  dir = scratch('pe-deploy-cli-');
  deployer = await makeIdentity(dir, 'deployer');
  key = await makeIdentity(dir, 'key', 'alice@laptop');
  first = await startHost(deployer);
  second = await startHost(deployer);
  knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `${first.knownHostsLine}\n${second.knownHostsLine}\n`);
  downSpec = `${first.user.name}@127.0.0.1:${await freePort()}`;
});

afterAll(async () => {
  await stopHost(first);
  await stopHost(second);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('piv-enroll deploy (CLI)', () => {
  it('reports every bad host spec at once, exit 2, before connecting anywhere', async () => {
    const hostsFile = join(dir, 'bad-hosts');
    writeFileSync(hostsFile, `# fleet\n${first!.spec}\n\n-oProxyCommand=touch${dir}/pwned\nroot@[::1\n`);
    const result = await cli(['--public-key', key.publicKey, '--hosts-file', hostsFile, '--host', 'a@b:0', ...common()]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${hostsFile}:4: "-oProxyCommand=touch${dir}/pwned" is not [user@]host[:port]: a host must not start with "-"`);
    expect(result.stderr).toContain(`${hostsFile}:5: "root@[::1" is not [user@]host[:port]: unclosed "["`);
    expect(result.stderr).toContain('--host: "a@b:0" is not [user@]host[:port]: the port is a number from 1 to 65535');
    expect(readFileSync(first!.user.authorizedKeys, 'utf8')).toBe(`${deployer.line}\n`);
  });

  it('deploys to a hosts file, prints JSON, exits 1 when a host failed; a second run changes nothing and says so', async () => {
    const hostsFile = join(dir, 'hosts');
    writeFileSync(hostsFile, `# two good hosts and one down\n\n${first!.spec}   # the first\n  ${second!.spec}\n${downSpec}\n`);
    const result = await cli(['--public-key', key.publicKey, '--hosts-file', hostsFile, '--json', ...common()]);
    expect(result.code, result.stderr).toBe(1);
    const report = JSON.parse(result.stdout) as { action: string; fingerprint: string; summary: unknown; hosts: Array<{ host: string; status: string; reason?: string }> };
    expect(report.action).toBe('add');
    expect(report.fingerprint).toBe(/SHA256:\S+/.exec(execFileSync('ssh-keygen', ['-l', '-f', key.publicKey], { encoding: 'utf8' }))![0]);
    expect(report.hosts.map((h) => [h.host, h.status, h.reason])).toEqual([
      [first!.spec, 'added', undefined],
      [second!.spec, 'added', undefined],
      [downSpec, 'failed', 'unreachable'],
    ]);
    expect(report.summary).toEqual({ changed: 2, unchanged: 0, failed: 1 });

    const again = await cli(['--public-key', key.publicKey, '--host', first!.spec, '--host', second!.spec, ...common()]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`${first!.spec.replace(/\./g, '\\.')}\\s+already present`));
    expect(again.stdout).toContain('Nothing to change: the key is already on every host (2).');
  });

  it('removes by SHA256 fingerprint, shows a dry run first, and exits 0', async () => {
    const fingerprint = /SHA256:\S+/.exec(execFileSync('ssh-keygen', ['-l', '-f', key.publicKey], { encoding: 'utf8' }))![0];
    const dry = await cli(['--remove', fingerprint, '--host', first!.spec, '--dry-run', ...common()]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('(dry run: nothing written)');
    expect(dry.stdout).toMatch(/would remove/);
    expect(readFileSync(first!.user.authorizedKeys, 'utf8')).toContain(key.line);
    const removed = await cli(['--remove', fingerprint, '--host', first!.spec, ...common()]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toMatch(/\bremoved\b/);
    expect(readFileSync(first!.user.authorizedKeys, 'utf8')).toBe(`${deployer.line}\n`);
  });

  it('deploys the public key of a card slot (the embedded virtual card)', async () => {
    const card = join(dir, 'card.json');
    const enrolled = await run(process.execPath, [CLI, 'enroll', '--virtual', card, '--user', 'deploy-test', '--algorithm', 'ECCP256', '--keep-default-credentials', '--pkcs11', 'none', '--yes', '--json'], { timeoutMs: 120_000 });
    expect(enrolled.code, enrolled.stderr).toBe(0);
    const { authorizedKey, fingerprint } = JSON.parse(enrolled.stdout) as { authorizedKey: string; fingerprint: string };
    const result = await cli(['--slot', '9c', '--virtual', card, '--host', second!.spec, '--json', ...common()]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ fingerprint, hosts: [{ host: second!.spec, status: 'added' }] });
    const blob = authorizedKey.split(' ')[1]!;
    expect(readFileSync(second!.user.authorizedKeys, 'utf8').split('\n').filter((l) => l.includes(blob))).toHaveLength(1);
  });
});
