/**
 * deploy against real sshd instances, each with its own user: a plain host, a host whose authorized_keys has
 * comments, blank lines, keys with options and no final newline, a read-only ~/.ssh, a changed host key, an unknown
 * host key, and a port where nothing listens.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, statSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addKeyToHosts, removeKeyFromHosts, type DeployOptions, type HostResult } from '../../src/operations/deploy/deploy-key.js';
import { freePort, makeIdentity, scratch, startHost, stopHost, type TestIdentity, type TestSshd } from './support/deploy-hosts.js';

let dir: string;
let deployer: TestIdentity;
let cardKey: TestIdentity;
let otherKey: TestIdentity;
let plain: TestSshd | undefined;
let messy: TestSshd | undefined;
let readOnly: TestSshd | undefined;
let changed: TestSshd | undefined;
let unknown: TestSshd | undefined;
let downSpec: string;
let knownHosts: string;
let messyOriginal: string;

function options(extra: DeployOptions = {}): DeployOptions {
  return { identityFile: deployer.privateKey, knownHostsFile: knownHosts, connectTimeoutSeconds: 5, ...extra };
}

function byHost(results: HostResult[]): Record<string, HostResult> {
  return Object.fromEntries(results.map((r) => [r.host, r]));
}

beforeAll(async () => {
  dir = scratch('pe-deploy-test-');
  deployer = await makeIdentity(dir, 'deployer');
  cardKey = await makeIdentity(dir, 'card', 'card key');
  otherKey = await makeIdentity(dir, 'other', 'someone else');
  plain = await startHost(deployer);
  // No final newline; comments, blank lines, blanks before a key, and options with quoted blanks and escapes.
  messyOriginal = [
    '# team keys',
    '',
    `from="127.0.0.1",no-pty ${otherKey.line}`,
    '   ',
    `  command="echo \\"hi there\\"",no-agent-forwarding ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDx0uVYbm2dGk3dK4bT/x1 old laptop`,
    '#ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDisabledDisabledDisabledDisabledDisabled0 commented out',
    'environment="A=b c"\tssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFw0aXRoVGFic0FuZFF1b3Rlc0luT3B0aW9uczAxMjM0NTY3 tab',
  ].join('\n');
  messy = await startHost(deployer, messyOriginal);
  readOnly = await startHost(deployer);
  chmodSync(join(readOnly.user.home, '.ssh'), 0o500);
  changed = await startHost(deployer);
  unknown = await startHost(deployer);
  downSpec = `nobody@127.0.0.1:${await freePort()}`;
  const wrongHostKey = await makeIdentity(dir, 'impostor');
  knownHosts = join(dir, 'known_hosts');
  writeFileSync(
    knownHosts,
    [plain, messy, readOnly].map((h) => h!.knownHostsLine).join('\n') +
      `\n[127.0.0.1]:${changed.port} ${wrongHostKey.line.split(' ').slice(0, 2).join(' ')}\n`,
  );
});

afterAll(async () => {
  for (const host of [plain, messy, readOnly, changed, unknown]) await stopHost(host);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('deploy to real hosts', () => {
  it('adds the key where it can and says why it cannot elsewhere, keeping every other line byte for byte', async () => {
    const before = statSync(plain!.user.authorizedKeys);
    const results = byHost(await addKeyToHosts(cardKey.line, [plain!.spec, messy!.spec, readOnly!.spec, changed!.spec, unknown!.spec, downSpec], options()));
    expect(results[plain!.spec]).toMatchObject({ status: 'added', changed: true });
    expect(results[messy!.spec]).toMatchObject({ status: 'added', changed: true });
    expect(results[readOnly!.spec]).toMatchObject({ status: 'failed', reason: 'permission-denied' });
    expect(results[changed!.spec]).toMatchObject({ status: 'failed', reason: 'changed-host-key' });
    expect(results[unknown!.spec]).toMatchObject({ status: 'failed', reason: 'unknown-host-key' });
    expect(results[downSpec]).toMatchObject({ status: 'failed', reason: 'unreachable' });

    expect(readFileSync(plain!.user.authorizedKeys, 'utf8')).toBe(`${deployer.line}\n${cardKey.line}\n`);
    expect(readFileSync(messy!.user.authorizedKeys, 'utf8')).toBe(`${deployer.line}\n${messyOriginal}\n${cardKey.line}\n`);
    for (const host of [plain!, messy!]) {
      const stat = statSync(host.user.authorizedKeys);
      expect(stat.mode & 0o777).toBe(0o600);
      expect([stat.uid, stat.gid]).toEqual([host.user.uid, host.user.gid]);
      expect(statSync(join(host.user.home, '.ssh')).mode & 0o777).toBe(0o700);
      expect(existsSync(join(host.user.home, '.ssh', '.piv-enroll.lock'))).toBe(false);
    }
    expect(statSync(plain!.user.authorizedKeys).ino).not.toBe(before.ino); // replaced by rename, not edited in place
    expect(readFileSync(readOnly!.user.authorizedKeys, 'utf8')).toBe(`${deployer.line}\n`);
    expect(readFileSync(unknown!.user.authorizedKeys, 'utf8')).toBe(`${deployer.line}\n`);
    // The deployer can still log in everywhere it could: its own line survived.
    expect(results[plain!.spec]!.seconds).toBeGreaterThan(0);
  });

  it('changes nothing on a second run, and says so: same bytes, same inode, same mtime', async () => {
    const before = [plain!, messy!].map((h) => ({ bytes: readFileSync(h.user.authorizedKeys), stat: statSync(h.user.authorizedKeys) }));
    const results = await addKeyToHosts(cardKey.line, [plain!.spec, messy!.spec], options());
    expect(results.map((r) => [r.status, r.changed])).toEqual([['already-present', false], ['already-present', false]]);
    [plain!, messy!].forEach((h, i) => {
      expect(readFileSync(h.user.authorizedKeys).equals(before[i]!.bytes)).toBe(true);
      const stat = statSync(h.user.authorizedKeys);
      expect([stat.ino, stat.mtimeMs]).toEqual([before[i]!.stat.ino, before[i]!.stat.mtimeMs]);
    });
  });

  it('counts a key as present when it is there with another comment, or with other options when asked to keep them', async () => {
    const [blobType, blob] = otherKey.line.split(' ');
    const sameOptionsOtherComment = `from="127.0.0.1",no-pty ${blobType} ${blob} a different comment`;
    expect((await addKeyToHosts(sameOptionsOtherComment, [messy!.spec], options()))[0]).toMatchObject({ status: 'already-present', changed: false });
    const withoutOptions = `${blobType} ${blob} a different comment`;
    expect((await addKeyToHosts(withoutOptions, [messy!.spec], options({ keepOptions: true })))[0]).toMatchObject({ status: 'already-present', changed: false });
    expect((await addKeyToHosts(withoutOptions, [messy!.spec], options({ dryRun: true })))[0]).toMatchObject({ status: 'would-update', changed: false });
  });

  it('on a dry run reports what would change and writes nothing', async () => {
    const before = readFileSync(messy!.user.authorizedKeys);
    const results = byHost(await addKeyToHosts(`from="127.0.0.1",no-pty ${otherKey.line.replace('someone else', 'x')}`, [messy!.spec], options({ dryRun: true })));
    expect(results[messy!.spec]!.status).toBe('already-present');
    const fresh = await makeIdentity(dir, 'fresh');
    const dry = await addKeyToHosts(fresh.line, [messy!.spec, plain!.spec], options({ dryRun: true }));
    expect(dry.map((r) => r.status)).toEqual(['would-add', 'would-add']);
    expect(readFileSync(messy!.user.authorizedKeys).equals(before)).toBe(true);
    expect(readFileSync(plain!.user.authorizedKeys, 'utf8')).not.toContain(fresh.line);
  });

  it('refuses an unknown host key unless asked to accept new ones, then remembers it', async () => {
    const refused = await addKeyToHosts(cardKey.line, [unknown!.spec], options());
    expect(refused[0]).toMatchObject({ status: 'failed', reason: 'unknown-host-key' });
    const accepted = await addKeyToHosts(cardKey.line, [unknown!.spec], options({ acceptNewHostKeys: true }));
    expect(accepted[0]).toMatchObject({ status: 'added' });
    // Debian's ssh_config hashes host names (HashKnownHosts yes): ask ssh-keygen for the entry.
    const entry = execFileSync('ssh-keygen', ['-F', `[127.0.0.1]:${unknown!.port}`, '-f', knownHosts], { encoding: 'utf8' });
    expect(entry).toContain(unknown!.knownHostsLine.split(' ').slice(1).join(' '));
    // A changed key stays refused even then.
    const stillRefused = await addKeyToHosts(cardKey.line, [changed!.spec], options({ acceptNewHostKeys: true }));
    expect(stillRefused[0]).toMatchObject({ status: 'failed', reason: 'changed-host-key' });
  });

  it('loses nothing when several deployments of different keys reach one account at the same time', async () => {
    const keys = await Promise.all(Array.from({ length: 6 }, (_, i) => makeIdentity(dir, `concurrent-${i}`)));
    const before = readFileSync(plain!.user.authorizedKeys, 'utf8');
    const results = await Promise.all(keys.map((k) => addKeyToHosts(k.line, [plain!.spec], options())));
    expect(results.map((r) => [r[0]!.status, r[0]!.detail])).toEqual(keys.map(() => ['added', undefined]));
    const after = readFileSync(plain!.user.authorizedKeys, 'utf8');
    expect(after.startsWith(before)).toBe(true);
    for (const k of keys) expect(after.split('\n').filter((l) => l === k.line)).toHaveLength(1);
    expect(after.split('\n').filter(Boolean)).toHaveLength(before.split('\n').filter(Boolean).length + keys.length);
  });

  it('removes a key by public key file and by fingerprint, keeping the other lines, and then finds it absent', async () => {
    const withCardKey = readFileSync(messy!.user.authorizedKeys, 'utf8');
    const removed = await removeKeyFromHosts(cardKey.line.replace('card key', 'any comment'), [messy!.spec], options());
    expect(removed[0]).toMatchObject({ status: 'removed', changed: true });
    expect(readFileSync(messy!.user.authorizedKeys, 'utf8')).toBe(withCardKey.replace(`${cardKey.line}\n`, ''));

    // The key with options (from=…,no-pty) goes too: keys are matched by blob. By fingerprint, as ssh-keygen -l shows it.
    const fingerprint = /SHA256:\S+/.exec(execFileSync('ssh-keygen', ['-l', '-f', otherKey.publicKey], { encoding: 'utf8' }))![0];
    const byFingerprint = await removeKeyFromHosts(fingerprint, [messy!.spec], options());
    expect(byFingerprint[0]).toMatchObject({ status: 'removed' });
    const expected = `${deployer.line}\n${messyOriginal.replace(`from="127.0.0.1",no-pty ${otherKey.line}\n`, '')}\n`;
    expect(readFileSync(messy!.user.authorizedKeys, 'utf8')).toBe(expected);

    const again = await removeKeyFromHosts(fingerprint, [messy!.spec], options());
    expect(again[0]).toMatchObject({ status: 'absent', changed: false });
    const againByFile = await removeKeyFromHosts(cardKey.line, [messy!.spec], options());
    expect(againByFile[0]).toMatchObject({ status: 'absent', changed: false });
  });

  it('creates ~/.ssh (0700) and authorized_keys (0600) when the account has none', async () => {
    // The deployer logs in through the sshd's own second authorized_keys file: the account has no ~/.ssh at all.
    const bare = await startHost(deployer, '', { bare: true });
    try {
      writeFileSync(knownHosts, `${bare.knownHostsLine}\n`, { flag: 'a' });
      expect(existsSync(join(bare.user.home, '.ssh'))).toBe(false);
      const dry = await addKeyToHosts(cardKey.line, [bare.spec], options({ dryRun: true }));
      expect(dry[0]).toMatchObject({ status: 'would-add' });
      expect(existsSync(join(bare.user.home, '.ssh'))).toBe(false);
      const results = await addKeyToHosts(cardKey.line, [bare.spec], options());
      expect(results[0]).toMatchObject({ status: 'added' });
      expect(readFileSync(bare.user.authorizedKeys, 'utf8')).toBe(`${cardKey.line}\n`);
      expect(statSync(bare.user.authorizedKeys).mode & 0o777).toBe(0o600);
      expect(statSync(join(bare.user.home, '.ssh')).mode & 0o777).toBe(0o700);
      expect(statSync(bare.user.authorizedKeys).uid).toBe(bare.user.uid);
    } finally {
      await stopHost(bare);
    }
  });
});
