/**
 * OpenSSH pieces for the CA tests: an sshd on 127.0.0.1 that trusts only a CA (no authorized_keys at all),
 * a certificate login with the OpenSSH client, the piv-enroll CLI run in process, and scratch directories
 * removed after each test.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { run as runCli } from '../../../src/cli/main.js';
import { run, runOk, type RunResult } from '../../support/run.js';
import { freePort } from '../../support/net.js';
import { loopbackSshdConfig, spawnSshd } from '../../support/sshd-process.js';

const scratchDirs: string[] = [];

export function caScratch(prefix = 'piv-enroll-ca-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratchDirs.push(dir);
  return dir;
}

export function removeCaScratch(): void {
  for (const dir of scratchDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A secret in a 0600 file, for --passphrase-file / --pin-file: secrets never go into argv. */
export function secretFile(dir: string, name: string, value: string): string {
  const path = join(dir, name);
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  return path;
}

/** piv-enroll's CLI, in this process: stdout and stderr captured, the exit status returned. */
export async function piv(args: string[]): Promise<RunResult> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { result: (t) => out.push(t), notice: (t) => err.push(t), error: (t) => err.push(t) });
  return { code, stdout: out.map((t) => `${t}\n`).join(''), stderr: err.map((t) => `${t}\n`).join('') };
}

export async function pivOk(args: string[]): Promise<RunResult> {
  const result = await piv(args);
  if (result.code !== 0) throw new Error(`piv-enroll ${args.join(' ')} exited ${result.code}\n${result.stdout}${result.stderr}`);
  return result;
}

/** A user key made by ssh-keygen (no passphrase): returns the private key path; the public key is PATH.pub. */
export async function userKey(dir: string, name: string, type: 'ed25519' | 'rsa' | 'ecdsa'): Promise<string> {
  const path = join(dir, name);
  await runOk('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '3072'] : []), '-N', '', '-C', `${name}@test`, '-f', path]);
  return path;
}

export interface CaSshd {
  port: number;
  user: string;
  log(): string;
  stop(): Promise<void>;
}


/**
 * sshd trusting a CA only (AuthorizedKeysFile none), default CASignatureAlgorithms: either the `snippet` that
 * `ca init` wrote (TrustedUserCAKeys, RevokedKeys…), or TrustedUserCAKeys and optionally RevokedKeys given here.
 */
export async function startCaSshd(options: { snippet?: string; trustedUserCaKeys?: string; revokedKeys?: string }): Promise<CaSshd> {
  const dir = caScratch('piv-enroll-ca-sshd-');
  const port = await freePort();
  await runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_ed25519')]);
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    loopbackSshdConfig({
      port,
      hostKey: join(dir, 'host_ed25519'),
      pidFile: join(dir, 'sshd.pid'),
      authorizedKeysFile: 'none',
      strictModes: false,
      extra: [
        'PermitRootLogin prohibit-password',
        'LogLevel DEBUG1',
        ...(options.snippet !== undefined ? [options.snippet] : []),
        ...(options.trustedUserCaKeys ? [`TrustedUserCAKeys ${options.trustedUserCaKeys}`] : []),
        ...(options.revokedKeys ? [`RevokedKeys ${options.revokedKeys}`] : []),
      ],
    }),
  );
  const sshd = await spawnSshd(config);
  const child = sshd.child;


  return {
    port,
    user: userInfo().username,
    log: sshd.log,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.on('close', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** `ssh -i KEY -o CertificateFile=CERT user@127.0.0.1 echo MESSAGE`, nothing else offered (no agent, no default keys). */
export function certificateLogin(sshd: CaSshd, key: string, certificate: string, message = 'logged-in'): Promise<RunResult> {
  return run('ssh', [
    '-F', '/dev/null', '-p', String(sshd.port),
    '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes',
    '-o', 'IdentityAgent=none', '-o', 'PasswordAuthentication=no', '-o', 'KbdInteractiveAuthentication=no',
    '-i', key, '-o', `CertificateFile=${certificate}`, `${sshd.user}@127.0.0.1`, `echo ${message}`,
  ], { timeoutMs: 30_000 });
}

/** An SSH_ASKPASS program that prints a secret kept in a 0600 file, for OpenSSH tools that ask for one. */
export function askpass(dir: string, secret: string): NodeJS.ProcessEnv {
  const file = secretFile(dir, 'askpass-secret', secret);
  const script = join(dir, 'askpass');
  writeFileSync(script, `#!/bin/sh\nexec cat '${file}'\n`, { mode: 0o700 });
  return { SSH_ASKPASS: script, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' };
}
