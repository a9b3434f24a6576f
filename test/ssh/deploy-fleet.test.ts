/**
 * deploy against real sshd instances configured as fleets are: AuthorizedKeysFile outside the home with %u (asked
 * of sshd with `sshd -T` by a root login, sshd's default assumed and said for a non-root one), .ssh/authorized_keys2
 * alone, a restricted key replacing an unrestricted one and back (sshd enforces the from= it gets), removal beside a
 * cert-authority line, a stale lock left by a dead deployment, and a root deployment into another account's file
 * that stays the account's. Every check ends in a real login, or a real refusal.
 */
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Output } from '../../src/cli/output.js';
import { runDeploy } from '../../src/cli/commands/deploy.js';
import { addKeyToHosts, removeKeyFromHosts, type DeployOptions } from '../../src/operations/deploy/deploy-key.js';
import { canLogIn, makeIdentity, scratch, startFleetHost, startHost, stopHost, writeAuthorizedKeys, type FleetHost, type TestIdentity, type TestSshd } from './support/deploy-hosts.js';

let dir: string;
let deployer: TestIdentity;
let card: TestIdentity;
let knownHosts: string;
let outside: FleetHost | undefined;
let second: FleetHost | undefined;
let plain: TestSshd | undefined;

function captured(): Output & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, result: (t) => out.push(t), notice: (t) => err.push(t), error: (t) => err.push(t) };
}

function options(extra: DeployOptions = {}): DeployOptions {
  return { identityFile: deployer.privateKey, knownHostsFile: knownHosts, connectTimeoutSeconds: 5, ...extra };
}

beforeAll(async () => {
  dir = scratch('pe-deploy-fleet-');
  deployer = await makeIdentity(dir, 'deployer');
  card = await makeIdentity(dir, 'card', 'card key');
  // The keys of every account in /run/…/%u: root (the administrator) logs in through its own file there.
  outside = await startFleetHost((keys) => `${keys}/%u`, { root: `${deployer.line}\n` });
  second = await startFleetHost(() => '.ssh/authorized_keys2', {}, false);
  writeAuthorizedKeys(second.user, '');
  rmSync(second.user.authorizedKeys);
  writeFileSync(join(second.user.home, '.ssh', 'authorized_keys2'), `${deployer.line}\n`, { mode: 0o600 });
  chownSync(join(second.user.home, '.ssh', 'authorized_keys2'), second.user.uid, second.user.gid);
  plain = await startHost(deployer);
  knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, [outside, second, plain].map((h) => h!.knownHostsLine).join('\n') + '\n');
}, 60_000);

afterAll(async () => {
  for (const host of [outside, second, plain]) await stopHost(host);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('deploy where sshd reads the keys', () => {
  it('AuthorizedKeysFile /run/…/%u: a root login asks sshd -T, writes the account\'s file there, and the key logs in', async () => {
    const host = outside!;
    const accountFile = join(host.keysDir, host.user.name);
    expect(await canLogIn(host, card, knownHosts)).toBe(false);
    const [result] = await addKeyToHosts(card.line, [host.rootSpec], options({ authorizedKeysFiles: 'auto', account: host.user.name }));
    expect(result).toMatchObject({ status: 'added', changed: true, authorizedKeysSource: 'sshd', authorizedKeysFiles: [accountFile] });
    expect(readFileSync(accountFile, 'utf8')).toBe(`${card.line}\n`);
    const stat = statSync(accountFile);
    expect([stat.uid, stat.gid, stat.mode & 0o777]).toEqual([host.user.uid, host.user.gid, 0o600]);
    expect(existsSync(join(host.user.home, '.ssh'))).toBe(false);
    expect(readdirSync(host.keysDir).sort()).toEqual([host.user.name, 'root'].sort()); // no lock left behind
    expect(await canLogIn(host, card, knownHosts)).toBe(true);
    // The same again: present, nothing written.
    const [again] = await addKeyToHosts(card.line, [host.rootSpec], options({ authorizedKeysFiles: 'auto', account: host.user.name }));
    expect(again).toMatchObject({ status: 'already-present', changed: false });
  });

  it('the CLI says per host which file it used and why, in the table and in the JSON', async () => {
    const host = outside!;
    const common = { publicKey: card.publicKey, host: [host.rootSpec], identity: deployer.privateKey, knownHosts, connectTimeout: '5', inventory: 'none', account: host.user.name, authorizedKeysFile: 'auto' };
    const json = captured();
    expect(await runDeploy({ ...common, json: true }, json, false)).toBe(0);
    expect((JSON.parse(json.out[0]!) as { hosts: unknown[] }).hosts).toMatchObject([{ host: host.rootSpec, status: 'already-present', authorizedKeysSource: 'sshd', authorizedKeysFiles: [join(host.keysDir, host.user.name)] }]);
    const table = captured();
    expect(await runDeploy(common, table, false)).toBe(0);
    expect(table.out.join('\n')).toMatch(new RegExp(`already present +${join(host.keysDir, host.user.name)} \\(from sshd -T\\)`));
    const bad = captured();
    await expect(runDeploy({ ...common, account: 'bob;id', authorizedKeysFile: '/keys/%x' }, bad, false)).rejects.toThrow(/%x is not one of sshd's tokens[\s\S]*--account: "bob;id" is not a POSIX user name/);
  });

  it('a non-root login cannot run sshd -T: sshd\'s default is used and the report says so', async () => {
    const host = outside!;
    const other = await makeIdentity(dir, 'other');
    const [result] = await addKeyToHosts(other.line, [host.spec], options({ authorizedKeysFiles: 'auto', identityFile: card.privateKey }));
    expect(result).toMatchObject({ status: 'added', authorizedKeysSource: 'default', authorizedKeysFiles: ['~/.ssh/authorized_keys', '~/.ssh/authorized_keys2'] });
    expect(result!.notes?.join(' ')).toMatch(/sshd -T needs root or sudo -n/);
    // …and that default is not where this sshd looks: the login still fails, as the report warned.
    expect(await canLogIn(host, other, knownHosts)).toBe(false);
  });

  it('.ssh/authorized_keys2 alone: the key goes there and logs in; no authorized_keys appears', async () => {
    const host = second!;
    const [result] = await addKeyToHosts(card.line, [host.spec], options({ authorizedKeysFiles: ['.ssh/authorized_keys2'] }));
    expect(result).toMatchObject({ status: 'added', authorizedKeysFiles: ['~/.ssh/authorized_keys2'] });
    expect(readFileSync(join(host.user.home, '.ssh', 'authorized_keys2'), 'utf8')).toBe(`${deployer.line}\n${card.line}\n`);
    expect(existsSync(host.user.authorizedKeys)).toBe(false);
    expect(await canLogIn(host, card, knownHosts)).toBe(true);
  });
});

describe('key options and cert-authority lines', () => {
  it('replaces an unrestricted line by a restricted one (the login is then refused), and back', async () => {
    const host = plain!;
    expect((await addKeyToHosts(card.line, [host.spec], options()))[0]).toMatchObject({ status: 'added' });
    expect(await canLogIn(host, card, knownHosts)).toBe(true);
    const restricted = `from="10.0.0.0/8",no-pty ${card.line}`;
    expect((await addKeyToHosts(restricted, [host.spec], options({ dryRun: true })))[0]).toMatchObject({ status: 'would-update', changed: false });
    expect((await addKeyToHosts(restricted, [host.spec], options()))[0]).toMatchObject({ status: 'updated', changed: true });
    expect(readFileSync(host.user.authorizedKeys, 'utf8')).toBe(`${deployer.line}\n${restricted}\n`);
    expect(await canLogIn(host, card, knownHosts)).toBe(false); // from= now applies: 127.0.0.1 is not in 10/8
    expect((await addKeyToHosts(card.line, [host.spec], options({ keepOptions: true })))[0]).toMatchObject({ status: 'already-present' });
    expect((await addKeyToHosts(card.line, [host.spec], options()))[0]).toMatchObject({ status: 'updated' });
    expect(readFileSync(host.user.authorizedKeys, 'utf8')).toBe(`${deployer.line}\n${card.line}\n`);
    expect(await canLogIn(host, card, knownHosts)).toBe(true);
  });

  it('removes the key beside a cert-authority line of the same blob, which stays unless asked', async () => {
    const host = plain!;
    const caLine = `cert-authority,principals="ops" ${card.line}`;
    writeAuthorizedKeys(host.user, `${deployer.line}\n${caLine}\n${card.line}\n`);
    expect((await removeKeyFromHosts(card.line, [host.spec], options()))[0]).toMatchObject({ status: 'removed' });
    expect(readFileSync(host.user.authorizedKeys, 'utf8')).toBe(`${deployer.line}\n${caLine}\n`);
    expect(await canLogIn(host, card, knownHosts)).toBe(false); // a CA line does not authorize the key itself
    expect((await removeKeyFromHosts(card.line, [host.spec], options()))[0]).toMatchObject({ status: 'absent' });
    expect((await removeKeyFromHosts(card.line, [host.spec], options({ includeCertAuthority: true })))[0]).toMatchObject({ status: 'removed' });
    expect(readFileSync(host.user.authorizedKeys, 'utf8')).toBe(`${deployer.line}\n`);
  });
});

/** The lock record the remote script writes, for a process of this host. */
function holderRecord(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const start = stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[19];
  const host = readFileSync('/proc/sys/kernel/hostname', 'utf8').trim();
  const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  return `piv-enroll-lock host=${host} boot=${boot} pid=${pid} start=${start}`;
}

describe('locks and owners', () => {
  it('takes over a lock left by a deployment that died, and reports it', async () => {
    const host = plain!;
    const dead = spawn('sleep', ['30']);
    const record = holderRecord(dead.pid!);
    dead.kill('SIGKILL');
    await new Promise((r) => dead.on('exit', r));
    const lock = join(host.user.home, '.ssh', '.piv-enroll.lock');
    writeFileSync(lock, `${record}\n`, { mode: 0o600 });
    chownSync(lock, host.user.uid, host.user.gid);
    const started = Date.now();
    const [result] = await addKeyToHosts(card.line, [host.spec], options());
    expect(result).toMatchObject({ status: 'added' });
    expect(Date.now() - started).toBeLessThan(10_000); // not the 30 s wait
    expect(result!.notes?.join(' ')).toMatch(new RegExp(`took over a stale lock .*\\.piv-enroll\\.lock .*pid ${dead.pid}`));
    expect(existsSync(lock)).toBe(false);
    expect(await canLogIn(host, card, knownHosts)).toBe(true);
  });

  it("a root deployment into another account's authorized_keys keeps that account's owner, group and mode", async () => {
    const host = outside!;
    // This host reads /run/…/%u; the account's own file there, as the account keeps it: its own, 0640.
    const accountFile = join(host.keysDir, host.user.name);
    writeFileSync(accountFile, `${deployer.line}\n`);
    chownSync(accountFile, host.user.uid, host.user.gid);
    chmodSync(accountFile, 0o640);
    const fresh = await makeIdentity(dir, 'fresh');
    const [result] = await addKeyToHosts(fresh.line, [host.rootSpec], options({ authorizedKeysFiles: [`${host.keysDir}/%u`], account: host.user.name }));
    expect(result).toMatchObject({ status: 'added', authorizedKeysSource: 'given' });
    const stat = statSync(accountFile);
    expect([stat.uid, stat.gid, stat.mode & 0o777]).toEqual([host.user.uid, host.user.gid, 0o640]);
    expect(readFileSync(accountFile, 'utf8')).toBe(`${deployer.line}\n${fresh.line}\n`);
    expect(await canLogIn(host, fresh, knownHosts)).toBe(true);
    // In the home too: root creates ~/.ssh and the file for the account, owned by it.
    const home = await addKeyToHosts(fresh.line, [host.rootSpec], options({ account: host.user.name }));
    expect(home[0]).toMatchObject({ status: 'added' });
    const created = statSync(join(host.user.home, '.ssh', 'authorized_keys'));
    expect([created.uid, created.gid, created.mode & 0o777]).toEqual([host.user.uid, host.user.gid, 0o600]);
    expect(statSync(join(host.user.home, '.ssh')).uid).toBe(host.user.uid);
  });

  it('edits files in the account\'s home as the account, never as root: a link to a root-only file is not read', async () => {
    const host = outside!;
    const secret = join(dir, 'root-only');
    writeFileSync(secret, `${card.line}\n`, { mode: 0o600 });
    chmodSync(dir, 0o755);
    writeAuthorizedKeys(host.user, '');
    rmSync(host.user.authorizedKeys);
    symlinkSync(secret, host.user.authorizedKeys);
    const [result] = await addKeyToHosts(card.line, [host.rootSpec], options({ account: host.user.name }));
    // As root the script would have read the key through the link and said "already present".
    expect(result).toMatchObject({ status: 'failed', reason: 'permission-denied' });
    expect(result!.detail).toMatch(/cannot read ~pe-d\w+\/\.ssh\/authorized_keys/);
    expect(readFileSync(secret, 'utf8')).toBe(`${card.line}\n`);
  });
});
