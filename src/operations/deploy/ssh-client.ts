/**
 * The OpenSSH client as deploy uses it: never a prompt (BatchMode), a bounded connect time, strict host-key
 * checking unless accepting new keys was asked for, and one multiplexed connection per host whose control socket
 * lives in a private 0700 directory. The runner is injected so tests can script ssh's answers.
 */
import { UsageError } from '../../errors.js';
import { childEnvironment } from '../child-environment.js';
import type { HostTarget } from './host-spec.js';

export interface SshRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs `ssh args…` with `input` on stdin. */
export type SshRunner = (args: string[], input: string, timeoutMs: number) => Promise<SshRun>;

export const execaSshRunner: SshRunner = async (args, input, timeoutMs) => {
  // Loaded when a host is reached, not at start-up: execa's module graph costs every enroll ~0.1 s (more on a loaded machine).
  const { execa } = await import('execa');
  const result = await execa('ssh', args, { input, reject: false, timeout: timeoutMs, stripFinalNewline: false, env: childEnvironment('ssh'), extendEnv: false });
  const timedOut = result.timedOut ? `\nssh: timed out after ${timeoutMs} ms` : '';
  return { exitCode: result.exitCode ?? 255, stdout: result.stdout, stderr: `${result.stderr}${timedOut}` };
};

export interface SshSettings {
  /** A private (0700) directory for the control sockets. */
  controlDirectory: string;
  connectTimeoutSeconds: number;
  acceptNewHostKeys: boolean;
  identityFile?: string;
  knownHostsFile?: string;
  /** Extra `-o K=V` options, checked by checkSshOptions. */
  sshOptions: string[];
}

/** Options deploy sets itself: a user's value would break unattended runs or the host-key policy. */
export const DEPLOY_RESERVED_OPTIONS: ReadonlyMap<string, string> = new Map([
  ['batchmode', 'deploy never prompts'],
  ['controlmaster', 'deploy manages its own connection sharing'],
  ['controlpath', 'deploy manages its own connection sharing'],
  ['controlpersist', 'deploy manages its own connection sharing'],
  ['stricthostkeychecking', 'use --accept-new-host-keys to accept keys of hosts not yet known'],
]);

/** Problems with `--ssh-option K=V` values, all at once; `reserved` maps a lower-case option to why it cannot be set. */
export function checkSshOptions(options: string[], reserved: ReadonlyMap<string, string> = DEPLOY_RESERVED_OPTIONS): string[] {
  const problems: string[] = [];
  for (const option of options) {
    const match = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(option);
    if (!match) {
      problems.push(`--ssh-option takes KEY=VALUE (an ssh_config option), not "${option}"`);
      continue;
    }
    const why = reserved.get(match[1]!.toLowerCase());
    if (why) problems.push(`--ssh-option ${match[1]} cannot be set: ${why}`);
    if (/[\r\n]/.test(match[2]!)) problems.push(`--ssh-option ${match[1]}: the value holds a line break`);
  }
  return problems;
}

/**
 * Key exchange: X25519 first, the rest of ssh's default list after it. OpenSSH 9.x prefers the post-quantum hybrid
 * sntrup761x25519, which costs ~50 ms of CPU on each side per connection (measured here): three times the whole
 * connection otherwise, and the bound on a fleet-wide run. A deploy session carries public keys only, so it has no
 * secret for a future quantum computer to read; host authentication is the same either way. `--ssh-option
 * KexAlgorithms=…` (read first by ssh) overrides this.
 */
export const PREFERRED_KEX = '^curve25519-sha256,curve25519-sha256@libssh.org';

/**
 * `persist`: the host needs more than one session (removal by fingerprint lists, then removes), so the master
 * outlives the first one and is closed with closeArgs; its idle timeout ends it anyway should piv-enroll die first.
 * A single session is its own master and closes with it (measured: a persisting master and `ssh -O exit` cost a
 * quarter more CPU per host).
 */
function connectionArgs(target: HostTarget, settings: SshSettings, persist: boolean): string[] {
  // ssh keeps the first value it reads for an option: fixed ones first, then the user's, then overridable defaults.
  return [
    '-o', 'BatchMode=yes',
    '-o', 'ControlMaster=auto',
    '-o', `ControlPath=${settings.controlDirectory}/%C`,
    '-o', `ControlPersist=${persist ? '120' : 'no'}`,
    '-o', `StrictHostKeyChecking=${settings.acceptNewHostKeys ? 'accept-new' : 'yes'}`,
    ...settings.sshOptions.flatMap((o) => ['-o', o]),
    ...(settings.identityFile ? ['-o', `IdentityFile=${settings.identityFile}`, '-o', 'IdentitiesOnly=yes'] : []),
    ...(settings.knownHostsFile ? ['-o', `UserKnownHostsFile=${settings.knownHostsFile}`] : []),
    '-o', `ConnectTimeout=${settings.connectTimeoutSeconds}`,
    '-o', `KexAlgorithms=${PREFERRED_KEX}`,
    ...(target.port !== undefined ? ['-p', String(target.port)] : []),
    ...(target.user !== undefined ? ['-l', target.user] : []),
  ];
}

/** `ssh … -- host command`: the `--` ends option parsing, so no host text is ever read as an option. */
export function sessionArgs(target: HostTarget, settings: SshSettings, command: string, persist = false): string[] {
  return [...connectionArgs(target, settings, persist), '--', target.host, command];
}

/** Ends the host's persisting master connection (`ssh -O exit`). */
export function closeArgs(target: HostTarget, settings: SshSettings): string[] {
  return [...connectionArgs(target, settings, true), '-O', 'exit', '--', target.host];
}

export type FailureReason =
  | 'unreachable'
  | 'authentication'
  | 'unknown-host-key'
  | 'changed-host-key'
  | 'permission-denied'
  | 'no-space'
  | 'locked'
  | 'unsupported'
  | 'no-account'
  | 'error';

export interface SshFailure {
  reason: FailureReason;
  detail: string;
}

const CONNECT_FAILURES =
  /(Connection refused|Connection timed out|Operation timed out|timed out after \d+ ms|No route to host|Network is unreachable|Could not resolve hostname[^\n]*|Name or service not known|Temporary failure in name resolution|Connection reset by [^\n]*|Connection closed by [^\n]*|kex_exchange_identification: [^\n]*)/;

/** Why an ssh run failed, from its exit status and stderr (undefined when ssh itself did not fail). */
export function classifySshFailure(run: SshRun): SshFailure | undefined {
  const stderr = run.stderr;
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/.test(stderr)) {
    return { reason: 'changed-host-key', detail: 'the host key differs from the one in known_hosts (a changed server, or an attack)' };
  }
  if (/No \S+ host key is known for|Host key verification failed/.test(stderr)) {
    return { reason: 'unknown-host-key', detail: 'the host key is not in known_hosts (--accept-new-host-keys accepts it)' };
  }
  if (run.exitCode !== 255 && !/timed out after \d+ ms/.test(stderr)) return undefined;
  const connect = CONNECT_FAILURES.exec(stderr)?.[1];
  if (connect) return { reason: 'unreachable', detail: connect.trim() };
  if (/Permission denied \(|Too many authentication failures|no mutual signature algorithm/.test(stderr)) {
    return { reason: 'authentication', detail: lastLine(stderr) };
  }
  return { reason: 'error', detail: lastLine(stderr) || `ssh exited ${run.exitCode}` };
}

export function lastLine(text: string): string {
  return text.trim().split('\n').map((l) => l.trim()).filter(Boolean).at(-1) ?? '';
}

/** ControlPath must fit a Unix socket path (108 bytes on Linux) with the 40-character %C hash. */
export function checkControlDirectory(directory: string): void {
  if (directory.length + 1 + 40 >= 104) throw new UsageError(`the temporary directory ${directory} is too long for an ssh control socket; set TMPDIR to a shorter one`);
}
