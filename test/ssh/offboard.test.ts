/**
 * `offboard --user`: from the inventory, the person's keys come off every host they were deployed to (other lines
 * kept), every CA that certified them revokes them (ssh-keygen -Q agrees), and the enrollments become revoked.
 * A host that cannot be reached leaves the job unfinished and says so; --dry-run changes nothing.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, runOk } from '../support/run.js';
import { freePort, makeIdentity, scratch, startHost, stopHost, type TestIdentity, type TestSshd } from './support/deploy-hosts.js';

const CLI = new URL('../../bin/piv-enroll', import.meta.url).pathname;
const PASSPHRASE = 'correct horse battery';
const ENV = { PIV_NEW_PIN: '24681357', PIV_NEW_PUK: '97531864', PIV_CA_PASSPHRASE: PASSPHRASE };

let dir: string;
let deployer: TestIdentity;
let first: TestSshd | undefined;
let second: TestSshd | undefined;
let knownHosts: string;
let inventory: string;
let ca: string;

const sshFlags = () => ['--identity', deployer.privateKey, '--known-hosts', knownHosts];

async function enroll(card: string, user: string, hosts: string[]): Promise<{ authorizedKey: string; caCertificate: { file: string } }> {
  const enrolled = await run(process.execPath, [CLI, 'enroll', '--virtual', join(dir, card), '--user', user, '--algorithm', 'ECCP256', '--yes', '--json', '--inventory', inventory,
    '--ca', ca, '--out', join(dir, card.replace('.json', '')), ...hosts.flatMap((h) => ['--deploy-to', h]), ...sshFlags()], { env: ENV, timeoutMs: 120_000 });
  expect(enrolled.stdout, enrolled.stderr).not.toBe('');
  return JSON.parse(enrolled.stdout);
}

beforeAll(async () => {
  dir = scratch('pe-offboard-');
  deployer = await makeIdentity(dir, 'deployer');
  first = await startHost(deployer);
  second = await startHost(deployer);
  knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `${first.knownHostsLine}\n${second.knownHostsLine}\n`);
  inventory = join(dir, 'inventory.sqlite');
  ca = join(dir, 'ca');
  await runOk(process.execPath, [CLI, 'ca', 'init', '--dir', ca, '--algorithm', 'ed25519'], { env: ENV });
});

afterAll(async () => {
  await stopHost(first);
  await stopHost(second);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('offboard', () => {
  it('removes every key of the person from every recorded host and revokes their certificates', async () => {
    const laptop = await enroll('ana-1.json', 'ana', [first!.spec, second!.spec]);
    const spare = await enroll('ana-2.json', 'ana', [first!.spec]);
    const bo = await enroll('bo.json', 'bo', [first!.spec]);

    const dry = await runOk(process.execPath, [CLI, 'offboard', '--user', 'ana', '--dry-run', '--inventory', inventory, ...sshFlags()]);
    expect(dry.stdout).toMatch(/Offboarding ana:[\s\S]*remove it from .*[\s\S]*\(dry run: nothing changed\)/);
    expect(readFileSync(first!.user.authorizedKeys, 'utf8')).toContain(laptop.authorizedKey);

    const done = await run(process.execPath, [CLI, 'offboard', '--user', 'ana', '--inventory', inventory, ...sshFlags()], { timeoutMs: 120_000 });
    expect(done.code, done.stderr + done.stdout).toBe(0);
    expect(done.stdout).toMatch(/ana is offboarded\./);
    // Bo's key and the deployer's stay, byte for byte; Ana's two keys are gone.
    expect(readFileSync(first!.user.authorizedKeys, 'utf8')).toBe(`${deployer.line}\n${bo.authorizedKey}\n`);
    expect(readFileSync(second!.user.authorizedKeys, 'utf8')).toBe(`${deployer.line}\n`);
    for (const enrolled of [laptop, spare]) {
      const keygen = await run('ssh-keygen', ['-Q', '-f', join(ca, 'revoked.krl'), enrolled.caCertificate.file]);
      expect(keygen.code).toBe(1);
      expect(keygen.stdout).toMatch(/REVOKED/);
    }
    expect((await run('ssh-keygen', ['-Q', '-f', join(ca, 'revoked.krl'), bo.caCertificate.file])).code).toBe(0);
    const ana = JSON.parse((await runOk(process.execPath, [CLI, 'inventory', 'list', '--inventory', inventory, '--json', '--person', 'ana', '--status', 'all'])).stdout);
    expect(ana.map((e: { status: string }) => e.status)).toEqual(['revoked', 'revoked']);
    expect(ana.flatMap((e: { deployments: Array<{ state: string }> }) => e.deployments.map((d) => d.state))).toEqual(['removed', 'removed', 'removed']);

    const again = await runOk(process.execPath, [CLI, 'offboard', '--user', 'ana', '--inventory', inventory, ...sshFlags()]);
    expect(again.stdout).toMatch(/ana: nothing to do/);
  });

  it('a host that cannot be reached: the rest is done, the enrollment stays open, exit 1', async () => {
    const down = `${first!.user.name}@127.0.0.1:${await freePort()}`;
    const cy = await enroll('cy.json', 'cy', [first!.spec]);
    // Record a deployment to a host that has since gone away.
    const pub = join(dir, 'cy.pub');
    writeFileSync(pub, `${cy.authorizedKey}\n`);
    const host = await run(process.execPath, [CLI, 'deploy', '--public-key', pub, '--host', down, '--connect-timeout', '3', '--inventory', inventory, ...sshFlags()]);
    expect(host.code).toBe(1);
    const offboarded = await run(process.execPath, [CLI, 'offboard', '--user', 'cy', '--inventory', inventory, ...sshFlags()], { timeoutMs: 120_000 });
    expect(offboarded.code).toBe(1);
    expect(offboarded.stdout).toMatch(new RegExp(`Not finished \\(run offboard again once fixed\\): ${down.replace(/[.]/g, '\\.')}: unreachable`));
    expect(readFileSync(first!.user.authorizedKeys, 'utf8')).not.toContain(cy.authorizedKey);
    const [record] = JSON.parse((await runOk(process.execPath, [CLI, 'inventory', 'list', '--inventory', inventory, '--json', '--person', 'cy'])).stdout);
    expect(record.status).toBe('active');
  });

  it('an unknown person is an error, not a silent success', async () => {
    const unknown = await run(process.execPath, [CLI, 'offboard', '--user', 'nobody', '--inventory', inventory]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/has no enrollment of "nobody"/);
  });
});
