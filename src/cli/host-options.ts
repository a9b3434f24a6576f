/**
 * The flags that say which hosts and how to reach them (deploy, enroll --deploy-to, batch, rekey, offboard), checked
 * without connecting; every problem is added to `problems`, so a command reports them all at once.
 */
import { readFile } from 'node:fs/promises';
import { checkKeysOptions, DEFAULT_CONCURRENCY, type DeployOptions } from '../operations/deploy/deploy-key.js';
import { hostsFileSpecs, parseHostSpecs, type HostTarget } from '../operations/deploy/host-spec.js';
import { checkSshOptions } from '../operations/deploy/ssh-client.js';
import type { HostAccessFlags } from './card-options.js';

export interface HostTargetFlags extends HostAccessFlags {
  host?: string[];
  hostsFile?: string;
  concurrency?: string;
  connectTimeout?: string;
  dryRun?: boolean;
  /** sshd_config AuthorizedKeysFile paths, space-separated, or `auto`. */
  authorizedKeysFile?: string;
  account?: string;
  keepOptions?: boolean;
  includeCertAuthority?: boolean;
}

export type DeployTargetFlags = Pick<HostTargetFlags, 'host' | 'hostsFile' | 'concurrency' | 'sshOption' | 'identity' | 'knownHosts' | 'acceptNewHostKeys' | 'connectTimeout' | 'dryRun'>;

function wholeNumber(text: string | undefined, fallback: number, flag: string, problems: string[]): number {
  if (text === undefined) return fallback;
  if (!/^\d{1,6}$/.test(text) || Number(text) < 1) {
    problems.push(`${flag} takes a whole number ≥ 1, not "${text}"`);
    return fallback;
  }
  return Number(text);
}

export async function readText(path: string, what: string, problems: string[]): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    problems.push(`cannot read ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    return undefined;
  }
}

/** Which files on the host, whose, and how lines are matched; problems are added to `problems`. */
export function keysScopeFrom(flags: HostTargetFlags, problems: string[]): Pick<DeployOptions, 'authorizedKeysFiles' | 'account' | 'keepOptions' | 'includeCertAuthority'> {
  let authorizedKeysFiles: DeployOptions['authorizedKeysFiles'];
  if (flags.authorizedKeysFile !== undefined) {
    const paths = flags.authorizedKeysFile.trim().split(/[ \t]+/).filter(Boolean);
    authorizedKeysFiles = paths.length === 1 && paths[0] === 'auto' ? 'auto' : paths;
  }
  const scope = { authorizedKeysFiles, account: flags.account, keepOptions: flags.keepOptions ?? false, includeCertAuthority: flags.includeCertAuthority ?? false };
  problems.push(...checkKeysOptions(scope));
  return scope;
}

/** The hosts and how to reach them, checked without connecting; problems are added to `problems`. Shared with `enroll --deploy-to`. */
export async function hostsAndOptions(flags: DeployTargetFlags, problems: string[], hostFlag = '--host', hostsFileFlag = '--hosts-file'): Promise<{ targets: HostTarget[]; options: DeployOptions }> {
  const specs = (flags.host ?? []).map((text) => ({ text, where: hostFlag }));
  if (flags.hostsFile !== undefined) {
    const text = await readText(flags.hostsFile, 'the hosts file', problems);
    if (text !== undefined) for (const spec of hostsFileSpecs(text, flags.hostsFile)) specs.push(spec); // a loop: a hosts file can be longer than a call's arguments
  }
  const hosts = parseHostSpecs(specs);
  for (const problem of hosts.problems) problems.push(problem);
  if (specs.length === 0) problems.push(`give hosts: ${hostFlag} [user@]host[:port] (repeatable) or ${hostsFileFlag} FILE`);
  else if (hosts.targets.length === 0 && hosts.problems.length === 0) problems.push('the hosts file lists no hosts');
  return { targets: hosts.targets, options: deployOptionsFrom(flags, problems) };
}

/** How to reach hosts (concurrency, ssh options, identity, known hosts), checked; problems are added to `problems`. */
export function deployOptionsFrom(flags: Omit<DeployTargetFlags, 'host' | 'hostsFile'>, problems: string[]): DeployOptions {
  const concurrency = wholeNumber(flags.concurrency, DEFAULT_CONCURRENCY, '--concurrency', problems);
  const connectTimeoutSeconds = wholeNumber(flags.connectTimeout, 10, '--connect-timeout', problems);
  const sshOptions = flags.sshOption ?? [];
  problems.push(...checkSshOptions(sshOptions));
  return {
    concurrency,
    connectTimeoutSeconds,
    sshOptions,
    dryRun: flags.dryRun ?? false,
    acceptNewHostKeys: flags.acceptNewHostKeys ?? false,
    identityFile: flags.identity,
    knownHostsFile: flags.knownHosts,
  };
}

