/**
 * The host half of `piv-enroll doctor`: first a probe that authenticates with nothing and never prompts, which
 * checks the host key (unknown or changed is a finding of its own, and no PIN goes anywhere); then logins with the
 * OpenSSH client through a PKCS#11 module, once per signature algorithm, classified from ssh's own debug output.
 * The PIN reaches ssh through an SSH_ASKPASS program that answers only ssh's PKCS#11 PIN prompt, reading a 0600
 * file in a 0700 directory that is removed however the doctor ends; never argv, never the environment.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { UsageError } from '../../errors.js';
import { childEnvironment } from '../child-environment.js';
import { parseHostSpec as parseDeployHostSpec } from '../deploy/host-spec.js';
import { classifySshFailure } from '../deploy/ssh-client.js';
import { withPrivateDirectory } from '../private-directory.js';

export interface HostTarget {
  user?: string;
  host: string;
  port?: number;
}

/** `--host`, read by deploy's parser: a user or host starting with "-" is refused, so nothing reaches ssh as an option. */
export function parseHostSpec(text: string): HostTarget {
  const parsed = parseDeployHostSpec(text);
  if ('problem' in parsed) throw new UsageError(`--host: ${parsed.problem}`);
  return { user: parsed.user, host: parsed.host, port: parsed.port };
}

/** Options the doctor sets itself (lower case → why), for checkSshOptions. */
export const DOCTOR_RESERVED_OPTIONS: ReadonlyMap<string, string> = new Map([
  ['batchmode', 'the doctor sets it itself (a probe that never prompts, then logins that ask only for the PIN)'],
  ['controlmaster', 'the doctor logs in afresh each time, never through a shared connection'],
  ['controlpath', 'the doctor logs in afresh each time, never through a shared connection'],
  ['controlpersist', 'the doctor logs in afresh each time, never through a shared connection'],
  ['stricthostkeychecking', 'use --accept-new-host-keys to accept keys of hosts not yet known (a changed key is always refused)'],
]);

export type HostOutcome =
  | 'ok'
  | 'key-not-authorized'
  | 'signature-refused'
  | 'no-common-algorithm'
  | 'host-key-problem'
  | 'unknown-host-key'
  | 'changed-host-key'
  | 'unreachable'
  | 'pin-refused'
  | 'certificate-refused'
  | 'error';

export interface HostCheck {
  algorithm: string;
  outcome: HostOutcome;
  serverVersion?: string;
  serverSignatureAlgorithms?: string[];
  detail?: string;
}

/** Reads ssh -v output. Order matters: the most specific explanation wins. */
export function classifySshOutput(output: string, exitCode: number, algorithm?: string): Omit<HostCheck, 'algorithm'> {
  const serverVersion = /remote software version (\S+)/.exec(output)?.[1];
  const sigAlgs = /server-sig-algs=<([^>]*)>/.exec(output)?.[1]?.split(',');
  const base = { serverVersion, serverSignatureAlgorithms: sigAlgs };
  if (/Authenticated to /.test(output) && exitCode === 0) return { ...base, outcome: 'ok' };
  if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No .* host key is known/.test(output)) {
    return { ...base, outcome: 'host-key-problem', detail: 'the host key is unknown or changed' };
  }
  if (/Connection refused|Connection timed out|No route to host|Could not resolve hostname|Network is unreachable|Connection closed by .* port \d+$/m.test(output) && !serverVersion) {
    return { ...base, outcome: 'unreachable', detail: /(Connection refused|Connection timed out|No route to host|Could not resolve hostname[^\n]*|Network is unreachable)/.exec(output)?.[1] };
  }
  if (/C_Login failed|PIN.*incorrect|CKR_PIN_INCORRECT/.test(output)) return { ...base, outcome: 'pin-refused', detail: 'the PKCS#11 module refused the PIN' };
  if (/no mutual signature algorithm/.test(output)) return { ...base, outcome: 'no-common-algorithm', detail: 'client and server share no signature algorithm for this key' };
  if (/Server accepts key/.test(output)) return { ...base, outcome: 'signature-refused', detail: 'the server accepted the key, then refused its signature' };
  // The server lists the signature algorithms it accepts (RFC 8308): a refusal of one it does not list is not about the key.
  if (algorithm && sigAlgs && !sigAlgs.includes(algorithm) && /Permission denied \(/.test(output)) {
    return { ...base, outcome: 'no-common-algorithm', detail: `the server does not accept ${algorithm} signatures` };
  }
  if (/Permission denied \(/.test(output)) return { ...base, outcome: 'key-not-authorized', detail: 'the server does not accept this key for the user' };
  return { ...base, outcome: 'error', detail: output.trim().split('\n').at(-1) };
}

/**
 * sshd advertises every algorithm it knows in server-sig-algs, also ones PubkeyAcceptedAlgorithms refuses (ssh-rsa
 * on OpenSSH 8.8+), and the client then only sees "Permission denied". When the same key was accepted with another
 * algorithm, such a refusal is about the algorithm, not the key.
 */
export function reclassifyRefusedAlgorithms(checks: HostCheck[]): HostCheck[] {
  const accepted = checks.find((c) => c.algorithm !== 'certificate' && (c.outcome === 'ok' || c.outcome === 'signature-refused'));
  if (!accepted) return checks;
  return checks.map((c) =>
    c.outcome === 'key-not-authorized' && c.algorithm !== 'certificate'
      ? { ...c, outcome: 'no-common-algorithm', detail: `the server refuses ${c.algorithm} signatures (it accepts the same key with ${accepted.algorithm})` }
      : c,
  );
}

/** A certificate login succeeded only if the server accepted the certificate itself, not the plain key after it. */
export function classifyCertificateLogin(output: string, exitCode: number): Omit<HostCheck, 'algorithm'> {
  const base = classifySshOutput(output, exitCode);
  const certificateAccepted = /Server accepts key: .*-CERT/.test(output);
  if (base.outcome === 'ok' && certificateAccepted) return base;
  if (base.outcome === 'ok' || base.outcome === 'key-not-authorized' || base.outcome === 'signature-refused') {
    if (certificateAccepted) return { ...base, outcome: 'signature-refused', detail: 'the server accepted the certificate, then refused its signature' };
    return { ...base, outcome: 'certificate-refused', detail: 'the server refused the certificate' };
  }
  return base;
}

/** How the doctor reaches the host: the host-key policy and the user's own ssh options. */
export interface HostAccess {
  /** UserKnownHostsFile (default: ssh's own, ~/.ssh/known_hosts). */
  knownHostsFile?: string;
  /** StrictHostKeyChecking=accept-new instead of yes; a changed key is refused either way. */
  acceptNewHostKeys?: boolean;
  /** Extra -o options, checked with DOCTOR_RESERVED_OPTIONS. */
  sshOptions: string[];
  timeoutSeconds?: number;
}

export interface HostCheckOptions extends HostAccess {
  target: HostTarget;
  module: string;
  algorithms: string[];
  pin: string;
  /** The card key's authorized_keys line: with IdentitiesOnly, ssh offers a token key only when an IdentityFile names it. */
  publicKeyLine: string;
  /** An OpenSSH certificate of the card key, to try a certificate login as well. */
  certificate?: string;
  /** Certificate algorithms to offer (default: each of `algorithms` as its -cert-v01 form). */
  certificateAlgorithms?: string;
}

const DEFAULT_TIMEOUT_SECONDS = 10;
/** Beyond the connect time: the PKCS#11 login and up to four signatures on a slow card. */
const LOGIN_GRACE_MS = 20_000;

/**
 * ssh keeps the first value it reads for an option: the host-key policy and no connection sharing come first,
 * the user's options after the doctor's own, then the known-hosts file and the connect time.
 */
function hostKeyPolicyArgs(access: HostAccess): string[] {
  return [
    '-o', `StrictHostKeyChecking=${access.acceptNewHostKeys ? 'accept-new' : 'yes'}`,
    '-o', 'ControlMaster=no',
    '-o', 'ControlPath=none',
  ];
}

function userAccessArgs(access: HostAccess): string[] {
  return [
    ...access.sshOptions.flatMap((o) => ['-o', o]),
    ...(access.knownHostsFile ? ['-o', `UserKnownHostsFile=${access.knownHostsFile}`] : []),
    '-o', `ConnectTimeout=${access.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS}`,
  ];
}

/** `-l`, `-p`, then `--` before the host: no host text is ever read as an option. */
function destinationArgs(target: HostTarget): string[] {
  return [...(target.port !== undefined ? ['-p', String(target.port)] : []), ...(target.user !== undefined ? ['-l', target.user] : []), '--', target.host, 'true'];
}

/** The probe: host key and reachability only. Every authentication method is off, so it offers nothing and asks nothing. */
export function probeArgs(target: HostTarget, access: HostAccess): string[] {
  return [
    '-o', 'BatchMode=yes',
    '-o', 'PubkeyAuthentication=no',
    '-o', 'PasswordAuthentication=no',
    '-o', 'KbdInteractiveAuthentication=no',
    '-o', 'GSSAPIAuthentication=no',
    '-o', 'HostbasedAuthentication=no',
    '-o', 'IdentityAgent=none',
    '-o', 'PKCS11Provider=none',
    ...hostKeyPolicyArgs(access),
    ...userAccessArgs(access),
    ...destinationArgs(target),
  ];
}

/**
 * Checks the host key before any PIN is used: undefined when it is known (or newly accepted with
 * --accept-new-host-keys); otherwise the one check to report (unknown or changed host key, unreachable), and the
 * logins are not tried.
 */
export async function probeHostKey(target: HostTarget, access: HostAccess): Promise<HostCheck | undefined> {
  const timeoutMs = (access.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000 + LOGIN_GRACE_MS;
  const result = await execa('ssh', probeArgs(target, access), {
    reject: false,
    stdin: 'ignore',
    timeout: timeoutMs,
    env: childEnvironment('ssh'),
    extendEnv: false,
  });
  const stderr = `${result.stderr}${result.timedOut ? `\nssh: timed out after ${timeoutMs} ms` : ''}`;
  const failure = classifySshFailure({ exitCode: result.exitCode ?? 255, stdout: result.stdout, stderr });
  if (!failure || failure.reason === 'authentication') return undefined;
  const outcome: HostOutcome = failure.reason === 'unknown-host-key' || failure.reason === 'changed-host-key' || failure.reason === 'unreachable' ? failure.reason : 'error';
  return { algorithm: 'host key', outcome, detail: failure.detail };
}

/** ssh-pkcs11.c asks "Enter PIN for '<token label>': "; ssh passes the prompt as $1. */
const PIN_PROMPT_PATTERN = `"Enter PIN for '"*"': "`;

/**
 * The SSH_ASKPASS program: the PIN for ssh's PKCS#11 PIN prompt, nothing for anything else (a host-key
 * confirmation, a passphrase, a password), and nothing for a confirmation ssh marks with SSH_ASKPASS_PROMPT.
 */
export function askpassScript(pinFile: string): string {
  return [
    '#!/bin/sh',
    '[ -z "${SSH_ASKPASS_PROMPT:-}" ] || exit 1',
    'case "$1" in',
    `  ${PIN_PROMPT_PATTERN}) exec cat '${pinFile.replace(/'/g, `'\\''`)}' ;;`,
    'esac',
    'exit 1',
    '',
  ].join('\n');
}

export async function checkHost(options: HostCheckOptions): Promise<HostCheck[]> {
  return withPrivateDirectory('piv-enroll-askpass-', async (directory) => {
    const dir = directory.path;
    const pinFile = join(dir, 'pin');
    await writeFile(pinFile, `${options.pin}\n`, { mode: 0o600 });
    const askpass = join(dir, 'askpass');
    await writeFile(askpass, askpassScript(pinFile), { mode: 0o700 });
    const identity = join(dir, 'card.pub');
    await writeFile(identity, `${options.publicKeyLine}\n`);
    let running: ResultPromise | undefined;
    // ssh runs in its own session (below), out of reach of the terminal's Ctrl-C: stop it with us.
    directory.onAbandon(() => running?.kill('SIGKILL'));
    const timeoutMs = (options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000 + LOGIN_GRACE_MS;
    const attempt = async (acceptedAlgorithms: string, extra: string[]): Promise<{ output: string; exitCode: number }> => {
      const args = [
        '-v',
        '-o', 'BatchMode=no', // ssh asks askpass for the PIN; the host-key policy never asks
        ...hostKeyPolicyArgs(options),
        '-o', 'PreferredAuthentications=publickey',
        '-o', 'PasswordAuthentication=no',
        '-o', 'KbdInteractiveAuthentication=no',
        '-o', 'IdentitiesOnly=yes', // only the card's key: not the agent's, not ~/.ssh/id_*
        '-o', `IdentityFile=${identity}`,
        '-o', 'IdentityAgent=none',
        '-o', `PubkeyAcceptedAlgorithms=${acceptedAlgorithms}`,
        ...extra,
        ...userAccessArgs(options),
        '-I', options.module,
        ...destinationArgs(options.target),
      ];
      running = execa('ssh', args, {
        reject: false,
        stdin: 'ignore',
        detached: true, // no controlling terminal: ssh asks askpass for the PIN
        env: childEnvironment('ssh', { extra: { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: process.env.DISPLAY ?? ':0' } }),
        extendEnv: false,
        timeout: timeoutMs,
      });
      const result = await running;
      running = undefined;
      return { output: `${String(result.stderr)}\n${String(result.stdout)}`, exitCode: result.exitCode ?? 255 };
    };
    const checks: HostCheck[] = [];
    for (const algorithm of options.algorithms) {
      const { output, exitCode } = await attempt(algorithm, []);
      checks.push({ algorithm, ...classifySshOutput(output, exitCode, algorithm) });
    }
    if (options.certificate) {
      // The certificate login: sshd checks the CA's signature algorithm against CASignatureAlgorithms first. The plain
      // algorithms stay allowed, or ssh does not load the token key the certificate needs ("no separate private key").
      const certificateAlgorithms = options.certificateAlgorithms ?? options.algorithms.map((a) => `${a}-cert-v01@openssh.com`).join(',');
      const { output, exitCode } = await attempt(`${certificateAlgorithms},${options.algorithms.join(',')}`, ['-o', `CertificateFile=${options.certificate}`]);
      checks.push({ algorithm: 'certificate', ...classifyCertificateLogin(output, exitCode) });
    }
    return reclassifyRefusedAlgorithms(checks);
  });
}

/** The signature algorithm an OpenSSH certificate's CA used, as `ssh-keygen -L` reports it ("ssh-rsa" means SHA-1). */
export async function certificateSignatureAlgorithm(file: string): Promise<string | undefined> {
  const result = await execa('ssh-keygen', ['-L', '-f', file], { reject: false, stdin: 'ignore', timeout: 30_000, env: childEnvironment('ssh'), extendEnv: false });
  if (result.exitCode !== 0) throw new UsageError(`${file} is not an OpenSSH certificate (ssh-keygen -L: ${result.stderr.trim()})`);
  return /Signing CA: .*\(using ([^)]+)\)/.exec(result.stdout)?.[1];
}
