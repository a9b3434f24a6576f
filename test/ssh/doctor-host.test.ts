/**
 * `piv-enroll doctor --host` against a real sshd, with the in-process virtual card: the host spec is read by deploy's
 * parser (a spec that would reach ssh as an option is refused before anything runs), and the host key is checked by a
 * probe that never prompts before any PIN goes anywhere. An `ssh` wrapper first on PATH logs each invocation
 * (its arguments, and whether an askpass was set), then runs the real client.
 */
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../support/run.js';
import { makeIdentity, scratch, startHost, stopHost, type TestSshd } from './support/deploy-hosts.js';

const CLI = new URL('../../bin/piv-enroll', import.meta.url).pathname;
const PIN = '24681357';

let dir: string;
let card: string;
let host: TestSshd | undefined;
let wrapperDir: string;
let sshLog: string;

beforeAll(async () => {
  dir = scratch('pe-doctor-host-');
  host = await startHost(await makeIdentity(dir, 'deployer'));
  card = join(dir, 'card.json');
  const enrolled = await run(process.execPath, [CLI, 'enroll', '--virtual', card, '--user', 'doctor-host', '--pkcs11', 'none', '--yes'], {
    env: { PIV_NEW_PIN: PIN, PIV_NEW_PUK: '97531864' },
  });
  expect(enrolled.code, enrolled.stderr).toBe(0);
  wrapperDir = join(dir, 'bin');
  sshLog = join(dir, 'ssh.log');
  const real = (await run('sh', ['-c', 'command -v ssh'])).stdout.trim();
  await run('mkdir', ['-p', wrapperDir]);
  writeFileSync(
    join(wrapperDir, 'ssh'),
    `#!/bin/sh\n{ printf 'run:'; printf ' %s' "$@"; [ -n "\${SSH_ASKPASS:-}" ] && printf ' ASKPASS'; echo; } >> '${sshLog}'\nexec '${real}' "$@"\n`,
  );
  chmodSync(join(wrapperDir, 'ssh'), 0o755);
});

afterAll(async () => {
  await stopHost(host);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function doctor(args: string[]) {
  rmSync(sshLog, { force: true });
  const result = await run(process.execPath, [CLI, 'doctor', '--virtual', card, '--json', ...args], {
    env: { PIV_PIN: PIN, PATH: `${wrapperDir}:${process.env.PATH}` },
    timeoutMs: 60_000,
  });
  const sshRuns = existsSync(sshLog) ? readFileSync(sshLog, 'utf8').trim().split('\n') : [];
  return { ...result, sshRuns, report: result.code !== 2 && result.stdout ? JSON.parse(result.stdout) : undefined };
}

const hostFindings = (report: { findings: Array<{ id: string; area: string; severity: string }> }) =>
  report.findings.filter((f) => f.area === 'host').map((f) => `${f.id}:${f.severity}`);

describe('doctor --host', () => {
  it('refuses a host or user that would reach ssh as an option: a usage error, exit 2, and nothing runs', async () => {
    const marker = join(dir, 'pwned');
    for (const spec of [`-oProxyCommand=touch\${IFS}${marker};x@h`, `x@-oProxyCommand=touch\${IFS}${marker}`, '-oProxyCommand=true']) {
      const result = await doctor(['--host', spec, '--accept-new-host-keys']);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(/--host: .* is not \[user@\]host\[:port\]: a (user name|host) must not start with "-"/);
      expect(result.sshRuns).toEqual([]);
    }
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses options it sets itself, and --identity', async () => {
    const result = await doctor(['--host', host!.spec, '--ssh-option', 'StrictHostKeyChecking=no', '--ssh-option', 'BatchMode=no', '--identity', join(dir, 'deployer')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--ssh-option StrictHostKeyChecking cannot be set: use --accept-new-host-keys');
    expect(result.stderr).toContain('--ssh-option BatchMode cannot be set');
    expect(result.stderr).toContain('--identity: the doctor logs in with the card\'s key only');
    expect(result.sshRuns).toEqual([]);
  });

  it('an unknown host key is its own finding; only the probe ran (BatchMode, no askpass, no PKCS#11), and known_hosts is unchanged', async () => {
    const knownHosts = join(dir, 'known_hosts-empty');
    writeFileSync(knownHosts, '');
    const result = await doctor(['--host', host!.spec, '--known-hosts', knownHosts]);
    expect(result.code, result.stderr).toBe(1);
    expect(hostFindings(result.report)).toEqual(['unknown-host-key:problem']);
    expect(result.report.findings.find((f: { id: string }) => f.id === 'unknown-host-key').advice).toMatch(/--accept-new-host-keys/);
    expect(result.sshRuns).toHaveLength(1);
    expect(result.sshRuns[0]).toContain('-o BatchMode=yes');
    expect(result.sshRuns[0]).toContain('-o StrictHostKeyChecking=yes');
    expect(result.sshRuns[0]).toContain(`-o UserKnownHostsFile=${knownHosts}`);
    expect(result.sshRuns[0]).toMatch(/ -- 127\.0\.0\.1 true$/);
    expect(result.sshRuns[0]).not.toMatch(/ -I | ASKPASS/);
    expect(readFileSync(knownHosts, 'utf8')).toBe('');
  });

  it('a changed host key is its own finding, with or without --accept-new-host-keys', async () => {
    const impostor = await makeIdentity(dir, 'impostor');
    const knownHosts = join(dir, 'known_hosts-changed');
    writeFileSync(knownHosts, `[127.0.0.1]:${host!.port} ${impostor.line.split(' ').slice(0, 2).join(' ')}\n`);
    for (const extra of [[], ['--accept-new-host-keys']]) {
      const result = await doctor(['--host', host!.spec, '--known-hosts', knownHosts, ...extra]);
      expect(result.code, result.stderr).toBe(1);
      expect(hostFindings(result.report)).toEqual(['changed-host-key:problem']);
      expect(result.sshRuns).toHaveLength(1);
    }
  });

  it('with --accept-new-host-keys the doctor records the key and goes on to the logins', async () => {
    const knownHosts = join(dir, 'known_hosts-new');
    writeFileSync(knownHosts, '');
    const result = await doctor(['--host', host!.spec, '--known-hosts', knownHosts, '--accept-new-host-keys']);
    expect(result.code, result.stderr).toBe(0);
    // The embedded card has no PKCS#11 module to log in with: the doctor got past the host key to that point.
    expect(hostFindings(result.report)).toEqual(['virtual-card-host:warning']);
    expect(result.sshRuns[0]).toContain('-o StrictHostKeyChecking=accept-new');
    const entry = await run('ssh-keygen', ['-F', `[127.0.0.1]:${host!.port}`, '-f', knownHosts]);
    expect(entry.stdout).toContain(host!.knownHostsLine.split(' ').slice(1).join(' '));
    // Now known: the same run without --accept-new-host-keys gets there too.
    const again = await doctor(['--host', host!.spec, '--known-hosts', knownHosts]);
    expect(hostFindings(again.report)).toEqual(['virtual-card-host:warning']);
  });

  it('an unreachable host is reported by the probe', async () => {
    const { freePort } = await import('../support/net.js');
    const result = await doctor(['--host', `nobody@127.0.0.1:${await freePort()}`]);
    expect(result.code).toBe(1);
    expect(hostFindings(result.report)).toEqual(['unreachable:problem']);
  });
});
