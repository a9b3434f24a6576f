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

export interface HostCheckOptions {
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
    const attempt = async (acceptedAlgorithms: string, extra: string[]): Promise<{ output: string; exitCode: number }> => {
      const args = [
        '-v',
        '-o', 'PreferredAuthentications=publickey',
        '-o', 'PasswordAuthentication=no',
        '-o', 'KbdInteractiveAuthentication=no',
        '-o', 'IdentitiesOnly=yes', // only the card's key: not the agent's, not ~/.ssh/id_*
        '-o', `IdentityFile=${identity}`,
        '-o', 'IdentityAgent=none',
        '-o', `PubkeyAcceptedAlgorithms=${acceptedAlgorithms}`,
        ...extra,
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
      return { output: `${result.stderr}\n${result.stdout}`, exitCode: result.exitCode ?? 255 };
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
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The signature algorithm an OpenSSH certificate's CA used, as `ssh-keygen -L` reports it ("ssh-rsa" means SHA-1). */
export async function certificateSignatureAlgorithm(file: string): Promise<string | undefined> {
  const result = await execa('ssh-keygen', ['-L', '-f', file], { reject: false });
  if (result.exitCode !== 0) throw new UsageError(`${file} is not an OpenSSH certificate (ssh-keygen -L: ${result.stderr.trim()})`);
  return /Signing CA: .*\(using ([^)]+)\)/.exec(result.stdout)?.[1];
}
