/**
 * A real OpenSSH sshd for tests: its own host key, config, port and authorized_keys file, on 127.0.0.1
 * only, started in the foreground and stopped after the test. Logs (with -e) are kept for assertions.
 */

import { rmSync, writeFileSync } from 'node:fs';
import { afterAll } from 'vitest';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { OPENSC_PKCS11, run, runOk, scratchDir, type ServedCard } from './bench.js';
import { freePort } from '../support/net.js';
import { loopbackSshdConfig, spawnSshd } from '../support/sshd-process.js';

export interface TestSshd {
  port: number;
  user: string;
  authorizedKeys: string;
  log(): string;
  stop(): Promise<void>;
}


export async function startSshd(options: { pubkeyAcceptedAlgorithms?: string; trustedUserCaKeys?: string; revokedKeys?: string } = {}): Promise<TestSshd> {
  const dir = scratchDir('piv-enroll-sshd-');
  const port = await freePort();
  await runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_ed25519')]);
  const authorizedKeys = join(dir, 'authorized_keys');
  writeFileSync(authorizedKeys, '', { mode: 0o600 });
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    loopbackSshdConfig({
      port,
      hostKey: join(dir, 'host_ed25519'),
      pidFile: join(dir, 'sshd.pid'),
      authorizedKeysFile: authorizedKeys,
      strictModes: false,
      extra: [
        'PermitRootLogin prohibit-password',
        ...(options.pubkeyAcceptedAlgorithms ? [`PubkeyAcceptedAlgorithms ${options.pubkeyAcceptedAlgorithms}`] : []),
        ...(options.trustedUserCaKeys ? [`TrustedUserCAKeys ${options.trustedUserCaKeys}`] : []),
        ...(options.revokedKeys ? [`RevokedKeys ${options.revokedKeys}`] : []),
        'LogLevel DEBUG1',
      ],
    }),
  );
  const sshd = await spawnSshd(config);
  const child = sshd.child;


  return {
    port,
    user: userInfo().username,
    authorizedKeys,
    log: sshd.log,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.on('close', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** An SSH_ASKPASS program that prints the PIN kept in a 0600 file: the PIN never appears in argv. */
/** The askpass directories made by a test file: they hold a PIN, so they go when the file's tests end. */
const askpassDirectories: string[] = [];
afterAll(() => {
  for (const dir of askpassDirectories.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export function askpassFor(pin: string): { env: NodeJS.ProcessEnv } {
  const dir = scratchDir('piv-enroll-askpass-');
  askpassDirectories.push(dir);
  const pinFile = join(dir, 'pin');
  writeFileSync(pinFile, pin + '\n', { mode: 0o600 });
  const script = join(dir, 'askpass');
  writeFileSync(script, `#!/bin/sh\nexec cat '${pinFile}'\n`, { mode: 0o700 });
  return { env: { SSH_ASKPASS: script, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' } };
}

/** `ssh -I opensc-pkcs11.so` into the test sshd with one signature algorithm, the PIN from askpass; runs `echo`. */
export function loginWithCard(sshd: TestSshd, algorithm: string, pin: string, message: string): ReturnType<typeof run> {
  return run(
    'ssh',
    ['-F', '/dev/null', '-p', String(sshd.port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'PasswordAuthentication=no',
      '-o', 'KbdInteractiveAuthentication=no', '-o', `PubkeyAcceptedAlgorithms=${algorithm}`, '-I', OPENSC_PKCS11, `${sshd.user}@127.0.0.1`, `echo ${message}`],
    { env: askpassFor(pin).env },
  );
}

/**
 * `ssh -I opensc-pkcs11.so -o CertificateFile=…`: the card key with its OpenSSH certificate. The client
 * offers the certificate only if the plain algorithm is allowed too ("no separate private key for certificate").
 */
export function loginWithCardCertificate(sshd: TestSshd, algorithm: string, certificate: string, pin: string, message: string): ReturnType<typeof run> {
  return run(
    'ssh',
    ['-F', '/dev/null', '-p', String(sshd.port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'PasswordAuthentication=no',
      '-o', 'KbdInteractiveAuthentication=no', '-o', `PubkeyAcceptedAlgorithms=${algorithm}-cert-v01@openssh.com,${algorithm}`, '-o', `CertificateFile=${certificate}`,
      '-I', OPENSC_PKCS11, `${sshd.user}@127.0.0.1`, `echo ${message}`],
    { env: askpassFor(pin).env },
  );
}

/** Ends what a test left running: the sshd, then the served card, which must exit cleanly. */
export async function stopAll(sshd: TestSshd | undefined, card: ServedCard | undefined): Promise<void> {
  await sshd?.stop();
  if (card) expect(await card.stop()).toBe(0);
}
