/**
 * `enroll --deploy-to` on the embedded virtual card: the enrolled key lands in the real users' authorized_keys on
 * real sshd instances, a host that is down is reported (enrollment kept, exit 1), and the inventory records where
 * the key went. `deploy` afterwards records itself against the same enrollment.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, runOk } from '../support/run.js';
import { freePort, makeIdentity, scratch, startHost, stopHost, type TestIdentity, type TestSshd } from './support/deploy-hosts.js';

const CLI = new URL('../../bin/piv-enroll', import.meta.url).pathname;
const ENV = { PIV_NEW_PIN: '24681357', PIV_NEW_PUK: '97531864' };

let dir: string;
let deployer: TestIdentity;
let first: TestSshd | undefined;
let second: TestSshd | undefined;
let knownHosts: string;

beforeAll(async () => {
  dir = scratch('pe-enroll-deploy-');
  deployer = await makeIdentity(dir, 'deployer');
  first = await startHost(deployer);
  second = await startHost(deployer);
  knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `${first.knownHostsLine}\n${second.knownHostsLine}\n`);
});

afterAll(async () => {
  await stopHost(first);
  await stopHost(second);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('enroll --deploy-to', () => {
  it('puts the enrolled key on every host and records where it went', async () => {
    const inventory = join(dir, 'inventory.sqlite');
    const enrolled = await run(process.execPath, [CLI, 'enroll', '--virtual', join(dir, 'ana.json'), '--user', 'ana', '--algorithm', 'ECCP256', '--yes', '--json', '--inventory', inventory,
      '--deploy-to', first!.spec, '--deploy-to', second!.spec, '--identity', deployer.privateKey, '--known-hosts', knownHosts], { env: ENV, timeoutMs: 120_000 });
    expect(enrolled.code, enrolled.stderr).toBe(0);
    const result = JSON.parse(enrolled.stdout);
    expect(result.deployment.summary).toMatchObject({ changed: 2, failed: 0 });
    for (const host of [first!, second!]) expect(readFileSync(host.user.authorizedKeys, 'utf8')).toBe(`${deployer.line}\n${result.authorizedKey}\n`);
    const [record] = JSON.parse((await runOk(process.execPath, [CLI, 'inventory', 'list', '--inventory', inventory, '--json'])).stdout);
    expect(record.deployments.map((d: { host: string; state: string }) => [d.host, d.state]).sort()).toEqual([[first!.spec, 'present'], [second!.spec, 'present']].sort());

    // Taking it off one host with `deploy --remove` is recorded against the same enrollment.
    const pub = join(dir, 'ana.pub');
    writeFileSync(pub, `${result.authorizedKey}\n`);
    await runOk(process.execPath, [CLI, 'deploy', '--remove', pub, '--host', second!.spec, '--identity', deployer.privateKey, '--known-hosts', knownHosts, '--inventory', inventory]);
    const [after] = JSON.parse((await runOk(process.execPath, [CLI, 'inventory', 'list', '--inventory', inventory, '--json'])).stdout);
    expect(after.deployments.find((d: { host: string }) => d.host === second!.spec).state).toBe('removed');
    expect(readFileSync(second!.user.authorizedKeys, 'utf8')).toBe(`${deployer.line}\n`);
  });

  it('a host that is down: the card stays enrolled, the failure is named, exit 1', async () => {
    const down = `${first!.user.name}@127.0.0.1:${await freePort()}`;
    const enrolled = await run(process.execPath, [CLI, 'enroll', '--virtual', join(dir, 'bo.json'), '--user', 'bo', '--algorithm', 'ECCP256', '--yes',
      '--deploy-to', down, '--deploy-to', first!.spec, '--identity', deployer.privateKey, '--known-hosts', knownHosts], { env: ENV, timeoutMs: 120_000 });
    expect(enrolled.code).toBe(1);
    expect(enrolled.stderr).toContain(`the card is enrolled, but the key did not reach ${down} (unreachable)`);
    expect(enrolled.stdout).toMatch(/Deployed to 2 hosts: 1 added, 0 already there, 1 failed/);
  });

  it('bad hosts are refused before the card is touched', async () => {
    const card = join(dir, 'cy.json');
    const refused = await run(process.execPath, [CLI, 'enroll', '--virtual', card, '--user', 'cy', '--yes', '--deploy-to', '-oProxyCommand=x', '--identity', deployer.privateKey], { env: ENV });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--deploy-to: "-oProxyCommand=x" is not \[user@\]host\[:port\]: a host must not start with "-"/);
    const stray = await run(process.execPath, [CLI, 'enroll', '--virtual', card, '--user', 'cy', '--yes', '--identity', deployer.privateKey], { env: ENV });
    expect(stray.code).toBe(2);
    expect(stray.stderr).toMatch(/--identity only apply with --deploy-to/);
  });
});
