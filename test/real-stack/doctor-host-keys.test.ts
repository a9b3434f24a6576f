/**
 * doctor --host with a card behind pcscd, so the logins through OpenSC really happen: against a host key not yet
 * known the doctor stops at its probe (no ssh run with the PKCS#11 module, so no PIN is asked for or sent) and says
 * why; with --accept-new-host-keys it records the key and logs in. A ProxyCommand dumps the environment of every ssh
 * run, also of the ones that carry the askpass: the PIN and the other secret variables are in none of them.
 * An `ssh` wrapper first on PATH logs each invocation's arguments (never a secret: the PIN is not in argv).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { SECRET_VARIABLES } from '../../src/operations/child-environment.js';
import { CLI, run, scratchDir, serveCard, type ServedCard } from './bench.js';
import { startSshd, stopAll, type TestSshd } from './sshd.js';

const PIN = '24681357';
const secrets: Record<string, string> = Object.fromEntries(SECRET_VARIABLES.map((name, i) => [name, name === 'PIV_PIN' ? PIN : `Leak-${name.toLowerCase()}-${i}-9c1e`]));

describe.skipIf(!inject('benchReady'))('doctor --host and host keys, with a card behind pcscd', () => {
  let card: ServedCard | undefined;
  let sshd: TestSshd | undefined;
  afterEach(async () => {
    await stopAll(sshd, card);
    [card, sshd] = [undefined, undefined];
  });

  async function setUp(): Promise<{ dir: string; wrapperDir: string; sshLog: string }> {
    const dir = scratchDir('piv-enroll-doctor-hostkeys-');
    card = await serveCard({ state: join(dir, 'card.json') });
    const enrolled = await run(process.execPath, [CLI, 'enroll', '--reader', 'Yubico YubiKey', '--user', 'hostkeys', '--pkcs11', 'none', '--yes', '--json'], {
      env: { PIV_NEW_PIN: PIN, PIV_NEW_PUK: '97531864' },
    });
    expect(enrolled.code, enrolled.stderr).toBe(0);
    sshd = await startSshd();
    writeFileSync(sshd.authorizedKeys, `${JSON.parse(enrolled.stdout).authorizedKey}\n`, { mode: 0o600 });
    const wrapperDir = join(dir, 'bin');
    const sshLog = join(dir, 'ssh.log');
    mkdirSync(wrapperDir);
    const real = (await run('sh', ['-c', 'command -v ssh'])).stdout.trim();
    writeFileSync(join(wrapperDir, 'ssh'), `#!/bin/sh\n{ printf 'run:'; printf ' %s' "$@"; [ -n "\${SSH_ASKPASS:-}" ] && printf ' ASKPASS'; echo; } >> '${sshLog}'\nexec '${real}' "$@"\n`);
    chmodSync(join(wrapperDir, 'ssh'), 0o755);
    return { dir, wrapperDir, sshLog };
  }

  const doctor = (wrapperDir: string, extra: string[]) =>
    run(process.execPath, [CLI, 'doctor', '--reader', 'Yubico YubiKey', '--module', 'opensc', '--host', `${sshd!.user}@127.0.0.1:${sshd!.port}`, '--json', ...extra], {
      env: { ...secrets, PATH: `${wrapperDir}:${process.env.PATH}` },
      timeoutMs: 120_000,
    });

  test('an unknown host key: reported before any login; ssh never ran with the PKCS#11 module or an askpass, so no PIN was asked for', async () => {
    const { dir, wrapperDir, sshLog } = await setUp();
    const knownHosts = join(dir, 'known_hosts');
    writeFileSync(knownHosts, '');
    const result = await doctor(wrapperDir, ['--known-hosts', knownHosts]);
    expect(result.code, result.stderr).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.hosts).toEqual([expect.objectContaining({ algorithm: 'host key', outcome: 'unknown-host-key' })]);
    expect(report.findings.filter((f: { area: string }) => f.area === 'host').map((f: { id: string }) => f.id)).toEqual(['unknown-host-key']);
    const runs = readFileSync(sshLog, 'utf8').trim().split('\n');
    expect(runs).toHaveLength(1);
    expect(runs[0]).toContain('-o BatchMode=yes');
    expect(runs[0]).not.toMatch(/ -I | ASKPASS/);
    expect(readFileSync(knownHosts, 'utf8')).toBe('');
    expect(sshd!.log()).not.toMatch(/Accepted publickey|Failed publickey|Postponed publickey/); // no key was offered
  });

  test('with --accept-new-host-keys the key is recorded and the logins run; no ssh run, askpass ones included, sees a secret', async () => {
    const { dir, wrapperDir, sshLog } = await setUp();
    const knownHosts = join(dir, 'known_hosts');
    writeFileSync(knownHosts, '');
    const relay = join(dir, 'relay.mjs');
    writeFileSync(relay, "import { connect } from 'node:net';\nconst s = connect(Number(process.argv[3]), process.argv[2]);\nprocess.stdin.pipe(s);\ns.pipe(process.stdout);\ns.on('close', () => process.exit(0));\n");
    const dump = join(dir, 'ssh.env');
    const proxy = `ProxyCommand=sh -c 'env >> ${dump}; echo ---- >> ${dump}; exec ${process.execPath} ${relay} "$1" "$2"' proxy %h %p`;
    const result = await doctor(wrapperDir, ['--known-hosts', knownHosts, '--accept-new-host-keys', '--ssh-option', proxy]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.hosts.map((h: { algorithm: string; outcome: string }) => `${h.algorithm}:${h.outcome}`)).toEqual(['rsa-sha2-256:ok', 'rsa-sha2-512:ok', 'ssh-rsa:no-common-algorithm']);
    const runs = readFileSync(sshLog, 'utf8').trim().split('\n');
    expect(runs[0]).not.toMatch(/ -I | ASKPASS/); // the probe
    expect(runs.slice(1)).toHaveLength(3);
    for (const login of runs.slice(1)) expect(login).toMatch(/ -I \S+ .* -- 127\.0\.0\.1 true ASKPASS$/);
    const entry = await run('ssh-keygen', ['-F', `[127.0.0.1]:${sshd!.port}`, '-f', knownHosts]);
    expect(entry.code).toBe(0);
    const environments = readFileSync(dump, 'utf8').split('----\n').filter(Boolean);
    expect(environments).toHaveLength(4);
    expect(environments.filter((e) => /^SSH_ASKPASS=/m.test(e))).toHaveLength(3);
    for (const [name, value] of Object.entries(secrets)) {
      expect(environments.some((e) => e.includes(value)), `the value of ${name} reached ssh`).toBe(false);
    }
    // The askpass directory (and the PIN file in it) is gone.
    for (const e of environments) {
      const askpass = /^SSH_ASKPASS=(.*)$/m.exec(e)?.[1];
      if (askpass) expect(existsSync(askpass)).toBe(false);
    }
  });
});
