/**
 * Real hosts for the deploy tests: Unix users made with useradd (homes under a temporary directory, so file modes
 * are enforced for them as they would be on a server; we run as root, which would bypass them), each with an sshd
 * of its own on 127.0.0.1 (own port, own host key, StrictModes yes, UsePAM no, public keys only), and a software
 * ed25519 identity the tests deploy with.
 */

import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runOk, run } from '../../support/run.js';
import { freePort } from '../../support/net.js';
import { loopbackSshdConfig, spawnSshd } from '../../support/sshd-process.js';
export { freePort };

export function scratch(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}


export interface TestUser {
  name: string;
  home: string;
  uid: number;
  gid: number;
  authorizedKeys: string;
  remove(): Promise<void>;
}

/** A fresh user pe-dXXXX with a login shell and an unlocked account without password (sshd refuses locked ones). */
export async function createTestUser(): Promise<TestUser> {
  const base = scratch('pe-deploy-home-');
  chmodSync(base, 0o755); // the user must be able to reach its home
  const name = `pe-d${randomBytes(3).toString('hex')}`;
  const home = join(base, name);
  await runOk('useradd', ['--create-home', '--home-dir', home, '--shell', '/bin/sh', '--password', '*', name]);
  const uid = Number((await runOk('id', ['-u', name])).stdout.trim());
  const gid = Number((await runOk('id', ['-g', name])).stdout.trim());
  return {
    name,
    home,
    uid,
    gid,
    authorizedKeys: join(home, '.ssh', 'authorized_keys'),
    remove: async () => {
      await run('pkill', ['-KILL', '-u', name]); // sessions a failed test may have left behind
      await run('userdel', ['--remove', name]);
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** Writes ~/.ssh/authorized_keys as the user would have it: owned by the user, 0700 and 0600. */
export function writeAuthorizedKeys(user: TestUser, content: string | Buffer): void {
  const dir = join(user.home, '.ssh');
  mkdirSync(dir, { recursive: true });
  chownSync(dir, user.uid, user.gid);
  chmodSync(dir, 0o700);
  writeFileSync(user.authorizedKeys, content);
  chownSync(user.authorizedKeys, user.uid, user.gid);
  chmodSync(user.authorizedKeys, 0o600);
}

export interface TestIdentity {
  privateKey: string;
  publicKey: string;
  line: string;
}

export async function makeIdentity(dir: string, name: string, comment = `${name}@piv-enroll-test`): Promise<TestIdentity> {
  const privateKey = join(dir, name);
  await runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', privateKey]);
  return { privateKey, publicKey: `${privateKey}.pub`, line: readFileSync(`${privateKey}.pub`, 'utf8').trim() };
}

export interface TestSshd {
  port: number;
  user: TestUser;
  /** `user@127.0.0.1:port` */
  spec: string;
  /** The known_hosts line for this sshd's host key. */
  knownHostsLine: string;
  log(): string;
  stop(): Promise<void>;
}

/**
 * An sshd for one user on a free loopback port, in the foreground (-D), logging to our pipe (-e). `outsideHome`
 * authorizes keys through a second, root-owned file, so the account itself may have no ~/.ssh; it lives under
 * /run because StrictModes checks every directory above a file outside the home, and /tmp is world-writable.
 */
export async function startSshd(user: TestUser, outsideHome?: string, fleet?: FleetConfig): Promise<TestSshd> {
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // Debian's privilege separation directory
  const dir = scratch('pe-deploy-sshd-');
  let extraKeysFile = '';
  let extraDir: string | undefined;
  if (outsideHome !== undefined) {
    extraDir = mkdtempSync('/run/pe-deploy-keys-');
    chmodSync(extraDir, 0o755);
    extraKeysFile = join(extraDir, 'authorized_keys');
    writeFileSync(extraKeysFile, outsideHome, { mode: 0o644 });
  }
  const port = await freePort();
  const hostKey = join(dir, 'host_ed25519');
  await runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    loopbackSshdConfig({
      port,
      hostKey,
      pidFile: join(dir, 'sshd.pid'),
      authorizedKeysFile: fleet?.authorizedKeysFile ?? `.ssh/authorized_keys ${extraKeysFile}`.trimEnd(),
      strictModes: true,
      extra: [`AllowUsers ${user.name}${fleet?.rootLogin ? ' root' : ''}`, 'LogLevel VERBOSE', ...(fleet?.rootLogin ? ['PermitRootLogin prohibit-password'] : [])],
    }),
  );
  const sshd = await spawnSshd(config);
  const child = sshd.child;


  const [type, blob] = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(' ');
  return {
    port,
    user,
    spec: `${user.name}@127.0.0.1:${port}`,
    knownHostsLine: `[127.0.0.1]:${port} ${type} ${blob}`,
    log: sshd.log,
    stop: () =>
      new Promise((resolve) => {
        const done = () => {
          rmSync(dir, { recursive: true, force: true });
          if (extraDir) rmSync(extraDir, { recursive: true, force: true });
          resolve();
        };
        if (child.exitCode !== null || child.signalCode !== null) return done();
        // 'exit', not 'close': session processes (Ansible keeps its connections 60 s) share sshd's output pipes.
        child.on('exit', done);
        child.kill('SIGTERM');
      }),
  };
}

export interface FleetConfig {
  /** sshd_config's AuthorizedKeysFile line. */
  authorizedKeysFile: string;
  /** Let root log in too (AllowUsers root, PermitRootLogin prohibit-password). */
  rootLogin?: boolean;
}

export interface FleetHost extends TestSshd {
  /** A root-owned 0755 directory under /run for AuthorizedKeysFile paths outside the home (`${keysDir}/%u`). */
  keysDir: string;
  /** `root@127.0.0.1:port` */
  rootSpec: string;
}

/**
 * A user with an sshd whose AuthorizedKeysFile is `authorizedKeysFile(keysDir)`, where keysDir is a directory
 * under /run (StrictModes checks every directory above a file outside the home); `files` are written into it
 * (root-owned, 0644) before sshd starts, e.g. { root: deployer line } for a root login through `${keysDir}/%u`.
 */
export async function startFleetHost(authorizedKeysFile: (keysDir: string) => string, files: Record<string, string> = {}, rootLogin = true): Promise<FleetHost> {
  const user = await createTestUser();
  const keysDir = mkdtempSync('/run/pe-deploy-fleet-');
  chmodSync(keysDir, 0o755);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(keysDir, name), content, { mode: 0o644 });
  try {
    const sshd = await startSshd(user, undefined, { authorizedKeysFile: authorizedKeysFile(keysDir), rootLogin });
    const stop = sshd.stop;
    return { ...sshd, keysDir, rootSpec: `root@127.0.0.1:${sshd.port}`, stop: async () => (await stop(), rmSync(keysDir, { recursive: true, force: true })) };
  } catch (error) {
    await user.remove();
    rmSync(keysDir, { recursive: true, force: true });
    throw error;
  }
}

/** Whether `identity` logs in to the host as its user (a real login, BatchMode). */
export async function canLogIn(host: TestSshd, identity: TestIdentity, knownHosts: string): Promise<boolean> {
  const result = await run('ssh', ['-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', `IdentityFile=${identity.privateKey}`,
    '-o', 'IdentitiesOnly=yes', '-p', String(host.port), '-l', host.user.name, '--', '127.0.0.1', 'true']);
  return result.code === 0;
}

/**
 * A user with an sshd and the identity authorized: in the user's own authorized_keys, followed by `extra`, or
 * (bare) only through the sshd's root-owned file, leaving the account without ~/.ssh.
 */
export async function startHost(identity: TestIdentity, extra = '', options: { bare?: boolean } = {}): Promise<TestSshd> {
  const user = await createTestUser();
  if (!options.bare) writeAuthorizedKeys(user, `${identity.line}\n${extra}`);
  try {
    return await startSshd(user, options.bare ? `${identity.line}\n` : undefined);
  } catch (error) {
    await user.remove();
    throw error;
  }
}

export async function stopHost(sshd: TestSshd | undefined): Promise<void> {
  if (!sshd) return;
  await run('pkill', ['-KILL', '-u', sshd.user.name]); // open sessions first, so no connection outlives the test
  await sshd.stop();
  await sshd.user.remove();
}
