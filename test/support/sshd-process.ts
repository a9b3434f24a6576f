/** Starts a real sshd in the foreground (-D) with its log on our pipe (-e), and waits until it listens on 127.0.0.1. */
import { spawn, type ChildProcess } from 'node:child_process';

export interface SshdProcess {
  child: ChildProcess;
  /** Everything sshd logged so far. */
  log(): string;
}

export async function spawnSshd(config: string, timeoutMs = 10_000): Promise<SshdProcess> {
  let output = '';
  const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + timeoutMs;
  while (!/Server listening on 127\.0\.0\.1 port/.test(output)) {
    if (child.exitCode !== null) throw new Error(`sshd exited ${child.exitCode}: ${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`sshd did not start: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, log: () => output };
}

/** An sshd_config for tests: loopback only, public keys only (no password, no PAM), plus the test's own lines. */
export function loopbackSshdConfig(options: { port: number; hostKey: string; pidFile: string; authorizedKeysFile: string; strictModes: boolean; extra?: string[] }): string {
  return [
    `Port ${options.port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${options.hostKey}`,
    `PidFile ${options.pidFile}`,
    `AuthorizedKeysFile ${options.authorizedKeysFile}`,
    `StrictModes ${options.strictModes ? 'yes' : 'no'}`,
    'UsePAM no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    ...(options.extra ?? []),
    '',
  ].join('\n');
}
