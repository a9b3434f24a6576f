/**
 * The host half of `piv-enroll doctor`: log in with the OpenSSH client through a PKCS#11 module, once per
 * signature algorithm, and classify what happened from ssh's own debug output. The PIN reaches ssh through an
 * SSH_ASKPASS program reading a 0600 file, never argv.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { UsageError } from '../../errors.js';

export interface HostTarget {
  user?: string;
  host: string;
  port?: number;
}

export function parseHostSpec(text: string): HostTarget {
  const match = /^(?:([^@\s]+)@)?(\[[^\]]+\]|[^:@\s]+)(?::(\d{1,5}))?$/.exec(text.trim());
  const port = match?.[3] === undefined ? undefined : Number(match[3]);
  if (!match || (port !== undefined && (port < 1 || port > 65535))) throw new UsageError(`--host takes [user@]host[:port], not "${text}"`);
  return { user: match[1], host: match[2]!.replace(/^\[|\]$/g, ''), port };
}

export type HostOutcome =
  | 'ok'
  | 'key-not-authorized'
  | 'signature-refused'
  | 'no-common-algorithm'
  | 'host-key-problem'
  | 'unreachable'
  | 'pin-refused'
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
  const accepted = checks.find((c) => c.outcome === 'ok' || c.outcome === 'signature-refused');
  if (!accepted) return checks;
  return checks.map((c) =>
    c.outcome === 'key-not-authorized'
      ? { ...c, outcome: 'no-common-algorithm', detail: `the server refuses ${c.algorithm} signatures (it accepts the same key with ${accepted.algorithm})` }
      : c,
  );
}

export interface HostCheckOptions {
  target: HostTarget;
  module: string;
  algorithms: string[];
  pin: string;
  /** The card key's authorized_keys line: with IdentitiesOnly, ssh offers a token key only when an IdentityFile names it. */
  publicKeyLine: string;
  /** Extra -o options (e.g. StrictHostKeyChecking=accept-new). */
  sshOptions: string[];
  timeoutSeconds?: number;
}

export async function checkHost(options: HostCheckOptions): Promise<HostCheck[]> {
  const dir = await mkdtemp(join(tmpdir(), 'piv-enroll-askpass-'));
  try {
    const pinFile = join(dir, 'pin');
    await writeFile(pinFile, `${options.pin}\n`, { mode: 0o600 });
    const askpass = join(dir, 'askpass');
    await writeFile(askpass, `#!/bin/sh\nexec cat '${pinFile}'\n`, { mode: 0o700 });
    await chmod(askpass, 0o700);
    const identity = join(dir, 'card.pub');
    await writeFile(identity, `${options.publicKeyLine}\n`);
    const destination = `${options.target.user ? `${options.target.user}@` : ''}${options.target.host}`;
    const checks: HostCheck[] = [];
    for (const algorithm of options.algorithms) {
      const args = [
        '-v',
        '-o', 'PreferredAuthentications=publickey',
        '-o', 'PasswordAuthentication=no',
        '-o', 'KbdInteractiveAuthentication=no',
        '-o', 'IdentitiesOnly=yes', // only the card's key: not the agent's, not ~/.ssh/id_*
        '-o', `IdentityFile=${identity}`,
        '-o', 'IdentityAgent=none',
        '-o', `PubkeyAcceptedAlgorithms=${algorithm}`,
        '-o', `ConnectTimeout=${options.timeoutSeconds ?? 10}`,
        ...options.sshOptions.flatMap((o) => ['-o', o]),
        '-I', options.module,
        ...(options.target.port ? ['-p', String(options.target.port)] : []),
        destination,
        'true',
      ];
      const result = await execa('ssh', args, {
        reject: false,
        stdin: 'ignore',
        detached: true, // no controlling terminal: ssh asks askpass for the PIN
        env: { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: process.env.DISPLAY ?? ':0' },
        timeout: ((options.timeoutSeconds ?? 10) + 20) * 1000,
      });
      checks.push({ algorithm, ...classifySshOutput(`${result.stderr}\n${result.stdout}`, result.exitCode ?? 255, algorithm) });
    }
    return reclassifyRefusedAlgorithms(checks);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
