/**
 * What piv-enroll's children see of its environment, observed through real OpenSSH: a ProxyCommand that writes its
 * environment to a file and then relays the connection to the test sshd (a small node TCP relay; netcat is not part
 * of the bench). ssh hands its environment to ProxyCommand, so the dump is what ssh itself got. piv-enroll runs
 * with every secret variable set to a known value; none of the values may appear in any dump. The values are
 * compared, never printed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRET_VARIABLES } from '../../src/operations/child-environment.js';
import { run } from '../support/run.js';
import { makeIdentity, scratch, startHost, stopHost, type TestIdentity, type TestSshd } from './support/deploy-hosts.js';

const CLI = new URL('../../bin/piv-enroll', import.meta.url).pathname;
const PIN = '24681357';
const hasAnsible = spawnSync('ansible-playbook', ['--version']).status === 0;

/** Each secret variable with a value of its own; PIV_PIN is the virtual card's real PIN, so the doctor can run. */
const secrets: Record<string, string> = Object.fromEntries(
  SECRET_VARIABLES.map((name, i) => [name, name === 'PIV_PIN' ? PIN : `Leak-${name.toLowerCase()}-${i}-7f3a`]),
);

let dir: string;
let deployer: TestIdentity;
let key: TestIdentity;
let host: TestSshd | undefined;
let knownHosts: string;
let relay: string;

beforeAll(async () => {
  dir = scratch('pe-child-env-');
  deployer = await makeIdentity(dir, 'deployer');
  key = await makeIdentity(dir, 'key');
  host = await startHost(deployer);
  knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `${host.knownHostsLine}\n`);
  relay = join(dir, 'relay.mjs');
  writeFileSync(
    relay,
    [
      "import { connect } from 'node:net';",
      'const socket = connect(Number(process.argv[3]), process.argv[2]);',
      'process.stdin.pipe(socket);',
      'socket.pipe(process.stdout);',
      "socket.on('close', () => process.exit(0));",
      "socket.on('error', () => process.exit(1));",
    ].join('\n'),
  );
});

afterAll(async () => {
  await stopHost(host);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** `ProxyCommand=…` that appends ssh's environment to `dump`, then relays to the host ssh asked for (%h %p). */
function dumpingProxy(dump: string): string {
  return `ProxyCommand=sh -c 'env >> ${dump}; echo ---- >> ${dump}; exec ${process.execPath} ${relay} "$1" "$2"' proxy %h %p`;
}

/** piv-enroll's own environment for these runs: the secrets, and a harmless marker that must get through. */
const pivEnvironment = { ...secrets, LC_PIV_ENROLL_TEST: 'passes-through', NOT_ALLOWED_MARKER: 'stays-home' };

function expectNoSecret(dump: string): void {
  for (const [name, value] of Object.entries(secrets)) {
    expect(dump.includes(value), `the value of ${name} is in the dump`).toBe(false);
    expect(new RegExp(`^${name}=`, 'm').test(dump), `${name} is in the dump`).toBe(false);
  }
  expect(dump).not.toContain('NOT_ALLOWED_MARKER');
  expect(dump).toContain('LC_PIV_ENROLL_TEST=passes-through');
  expect(dump).toMatch(/^PATH=/m);
  expect(dump).toMatch(/^HOME=/m);
}

describe('the environment piv-enroll gives ssh', () => {
  it('the probe itself catches a leak: plain ssh in the same environment hands every secret to its ProxyCommand', async () => {
    const dump = join(dir, 'control.env');
    const result = await run('ssh', [
      '-F', '/dev/null', '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'IdentitiesOnly=yes', '-i', deployer.privateKey,
      '-o', dumpingProxy(dump), '-p', String(host!.port), '-l', host!.user.name, '--', '127.0.0.1', 'true',
    ], { env: pivEnvironment, timeoutMs: 30_000 });
    expect(result.code, result.stderr).toBe(0);
    const text = readFileSync(dump, 'utf8');
    for (const value of Object.values(secrets)) expect(text.includes(value)).toBe(true);
  });

  it('piv-enroll deploy: no secret reaches ssh or its ProxyCommand', async () => {
    const dump = join(dir, 'deploy.env');
    const result = await run(process.execPath, [
      CLI, 'deploy', '--public-key', key.publicKey, '--host', host!.spec, '--identity', deployer.privateKey, '--known-hosts', knownHosts,
      '--ssh-option', dumpingProxy(dump), '--json',
    ], { env: pivEnvironment, timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).hosts[0].status).toBe('added');
    expect(readFileSync(host!.user.authorizedKeys, 'utf8')).toContain(key.line);
    expectNoSecret(readFileSync(dump, 'utf8'));
  });

  it('piv-enroll doctor --host: no secret reaches ssh or its ProxyCommand', async () => {
    const card = join(dir, 'card.json');
    const enrolled = await run(process.execPath, [CLI, 'enroll', '--virtual', card, '--user', 'env-test', '--pkcs11', 'none', '--yes'], {
      env: { PIV_NEW_PIN: PIN, PIV_NEW_PUK: '97531864' },
    });
    expect(enrolled.code, enrolled.stderr).toBe(0);
    const dump = join(dir, 'doctor.env');
    const result = await run(process.execPath, [
      CLI, 'doctor', '--virtual', card, '--host', host!.spec, '--known-hosts', knownHosts, '--ssh-option', dumpingProxy(dump), '--json',
    ], { env: pivEnvironment, timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { findings: Array<{ id: string }> };
    // The embedded card cannot log in (no PKCS#11 module reaches it): the host-key probe is what ran.
    expect(report.findings.map((f) => f.id)).toContain('virtual-card-host');
    expect(existsSync(dump)).toBe(true);
    expectNoSecret(readFileSync(dump, 'utf8'));
  });

  it.skipIf(!hasAnsible)('piv-enroll deploy --ansible --run: no secret reaches ansible-playbook or the ssh it runs', async () => {
    const dump = join(dir, 'ansible.env');
    const other = await makeIdentity(dir, 'ansible-key');
    const result = await run(process.execPath, [
      CLI, 'deploy', '--public-key', other.publicKey, '--host', host!.spec, '--identity', deployer.privateKey, '--known-hosts', knownHosts,
      '--ssh-option', dumpingProxy(dump), '--ansible', join(dir, 'fleet'), '--run', '--json',
    ], { env: pivEnvironment, timeoutMs: 120_000 });
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(readFileSync(host!.user.authorizedKeys, 'utf8')).toContain(other.line);
    const text = readFileSync(dump, 'utf8');
    expect(text).toMatch(/^ANSIBLE_/m); // what piv-enroll set for ansible-playbook, seen by the ssh it ran
    expectNoSecret(text);
  });
});
