/**
 * `deploy`'s operation: put one public key on many hosts (or take it off), a bounded number of hosts at a time,
 * and say per host what happened. No printing, no prompting: the CLI and `enroll --deploy-to` render the results.
 *
 *   addKeyToHosts(keyLine, hosts, options)        → HostResult[]   (the enroll chain uses this one)
 *   removeKeyFromHosts(keyOrFingerprint, hosts, options) → HostResult[]
 *
 * Removal by SHA256 fingerprint needs no ssh-keygen on the host: the host lists its blobs, they are hashed here,
 * and the matching blob is removed like any other.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import { mapBounded } from './bounded-pool.js';
import { parseHostSpecs, type HostTarget } from './host-spec.js';
import { blobFingerprint, readPublicKeyLine, SHA256_FINGERPRINT } from './key-line.js';
import { ACCOUNT_NAME, buildRemoteScript, checkKeysFilePath, parseRemoteAnswer, remoteCommand, type RemoteContext, type RemoteRequest } from './remote-script.js';
import {
  checkControlDirectory,
  checkSshOptions,
  classifySshFailure,
  closeArgs,
  execaSshRunner,
  lastLine,
  sessionArgs,
  type FailureReason,
  type SshRunner,
  type SshSettings,
} from './ssh-client.js';

export const DEFAULT_CONCURRENCY = 16;
export const DEFAULT_CONNECT_TIMEOUT_SECONDS = 10;
/** Beyond the connect time: the remote lock may be waited for up to ~30 s. */
const SESSION_GRACE_MS = 60_000;

export type DeployRequest =
  | { action: 'add'; keyLine: string }
  /** Removes the key with this line's blob (its options and comment do not matter). */
  | { action: 'remove'; keyLine: string }
  | { action: 'remove'; fingerprint: string };

export type HostStatus = 'added' | 'updated' | 'already-present' | 'removed' | 'absent' | 'would-add' | 'would-update' | 'would-remove' | 'failed';

export interface HostResult {
  /** The host as `[user@]host[:port]`. */
  host: string;
  status: HostStatus;
  /** True when authorized_keys was rewritten (never in a dry run). */
  changed: boolean;
  reason?: FailureReason;
  detail?: string;
  seconds: number;
  /** The authorized keys files the host used (relative ones shown under ~ or ~ACCOUNT). */
  authorizedKeysFiles?: string[];
  /** Where they came from: the option (or the default), the host's sshd (sshd -T), or sshd's default because sshd could not be asked. */
  authorizedKeysSource?: RemoteContext['source'];
  /** What the host noted: a stale lock taken over, attributes that could not be copied, why sshd was not asked. */
  notes?: string[];
}

export interface DeployOptions {
  /** Hosts worked on at once (default 16; sshd's MaxStartups starts refusing at 10 unauthenticated per host, not per client). */
  concurrency?: number;
  /** Connect and report what would change, writing nothing. */
  dryRun?: boolean;
  /** StrictHostKeyChecking=accept-new instead of yes. */
  acceptNewHostKeys?: boolean;
  identityFile?: string;
  /** UserKnownHostsFile (default: ssh's own, ~/.ssh/known_hosts). */
  knownHostsFile?: string;
  /** Extra ssh_config options, `K=V`. */
  sshOptions?: string[];
  connectTimeoutSeconds?: number;
  /** sshd_config AuthorizedKeysFile paths (tokens %h %u %U %%; relative to the home), or `auto` to ask the host's sshd. Default ~/.ssh/authorized_keys. */
  authorizedKeysFiles?: string[] | 'auto';
  /** Edit this account's keys (logged in as root, or with sudo -n); the files stay the account's. */
  account?: string;
  /** Keep a line of the key that has other options as it is (default: replace it). */
  keepOptions?: boolean;
  /** --remove also takes out cert-authority lines of the key. */
  includeCertAuthority?: boolean;
  runner?: SshRunner;
  /** Milliseconds, for the per-host durations. */
  now?: () => number;
  onHostStart?: (host: string) => void;
  onHostDone?: (result: HostResult) => void;
}

/** Host specs or parsed targets → targets; every bad spec in one UsageError. */
export function resolveHosts(hosts: ReadonlyArray<string | HostTarget>): HostTarget[] {
  const parsed = parseHostSpecs(hosts.map((h) => ({ text: typeof h === 'string' ? h : h.label })));
  if (parsed.problems.length > 0) throw new UsageError(parsed.problems.join('\n'));
  if (parsed.targets.length === 0) throw new UsageError('no hosts given');
  return parsed.targets;
}

export function addKeyToHosts(keyLine: string, hosts: ReadonlyArray<string | HostTarget>, options: DeployOptions = {}): Promise<HostResult[]> {
  return deployKey({ action: 'add', keyLine }, hosts, options);
}

/** `key` is a public key line or a `SHA256:…` fingerprint. */
export function removeKeyFromHosts(key: string, hosts: ReadonlyArray<string | HostTarget>, options: DeployOptions = {}): Promise<HostResult[]> {
  const request: DeployRequest = key.startsWith('SHA256:') ? { action: 'remove', fingerprint: key } : { action: 'remove', keyLine: key };
  return deployKey(request, hosts, options);
}

type PlannedEdit = { blob: string; keyLine?: string } | { fingerprint: string };

function planEdit(request: DeployRequest): PlannedEdit {
  if ('fingerprint' in request) {
    if (!SHA256_FINGERPRINT.test(request.fingerprint)) throw new UsageError(`"${request.fingerprint}" is not a SHA256 fingerprint (SHA256: and 43 base64 characters, as ssh-keygen -l prints)`);
    return { fingerprint: request.fingerprint };
  }
  const key = readPublicKeyLine(request.keyLine, 'the public key');
  return { blob: key.blob, keyLine: key.line };
}

export async function deployKey(request: DeployRequest, hosts: ReadonlyArray<string | HostTarget>, options: DeployOptions = {}): Promise<HostResult[]> {
  const targets = resolveHosts(hosts);
  const edit = planEdit(request);
  const sshOptions = options.sshOptions ?? [];
  const problems = checkSshOptions(sshOptions);
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) problems.push(`the concurrency is a whole number ≥ 1, not ${concurrency}`);
  problems.push(...checkKeysOptions(options));
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  const controlDirectory = await mkdtemp(join(tmpdir(), 'pe-ssh-'));
  try {
    checkControlDirectory(controlDirectory);
    const settings: SshSettings = {
      controlDirectory,
      connectTimeoutSeconds: options.connectTimeoutSeconds ?? DEFAULT_CONNECT_TIMEOUT_SECONDS,
      acceptNewHostKeys: options.acceptNewHostKeys ?? false,
      identityFile: options.identityFile,
      knownHostsFile: options.knownHostsFile,
      sshOptions,
    };
    const scope: Scope = {
      authorizedKeysFiles: options.authorizedKeysFiles,
      account: options.account,
      keepOptions: options.keepOptions,
      includeCertAuthority: options.includeCertAuthority,
    };
    const host = new HostDeployment(settings, options.runner ?? execaSshRunner, request.action, edit, options.dryRun ?? false, scope);
    const now = options.now ?? Date.now;
    return await mapBounded(targets, concurrency, async (target) => {
      options.onHostStart?.(target.label);
      const started = now();
      const outcome = await host.run(target);
      const result: HostResult = { host: target.label, ...outcome, seconds: (now() - started) / 1000 };
      options.onHostDone?.(result);
      return result;
    });
  } finally {
    await rm(controlDirectory, { recursive: true, force: true });
  }
}

/** Problems with the files and account options, all at once. */
export function checkKeysOptions(options: Pick<DeployOptions, 'authorizedKeysFiles' | 'account'>): string[] {
  const problems: string[] = [];
  const files = options.authorizedKeysFiles;
  if (Array.isArray(files)) {
    if (files.length === 0) problems.push('--authorized-keys-file: give a path (or auto)');
    for (const path of files) {
      if (path === 'auto') problems.push('--authorized-keys-file auto stands alone');
      else {
        const problem = checkKeysFilePath(path);
        if (problem) problems.push(`--authorized-keys-file: ${problem}`);
      }
    }
  }
  if (options.account !== undefined && !ACCOUNT_NAME.test(options.account)) {
    problems.push(`--account: "${options.account}" is not a POSIX user name (letters, digits, . _ -, not starting with -, at most 32)`);
  }
  return problems;
}

type Scope = Pick<RemoteRequest, 'authorizedKeysFiles' | 'account' | 'keepOptions' | 'includeCertAuthority'>;

type Outcome = Omit<HostResult, 'host' | 'seconds'>;

/** One host's work: one session, or two over one master connection (closed at the end). */
class HostDeployment {
  constructor(
    private readonly settings: SshSettings,
    private readonly runner: SshRunner,
    private readonly action: 'add' | 'remove',
    private readonly edit: PlannedEdit,
    private readonly dryRun: boolean,
    private readonly scope: Scope,
  ) {}

  async run(target: HostTarget): Promise<Outcome> {
    if ('blob' in this.edit) return this.session(target, { ...this.scope, action: this.action, blob: this.edit.blob, keyLine: this.edit.keyLine, dryRun: this.dryRun });
    const fingerprint = this.edit.fingerprint;
    try {
      const listed = await this.session(target, { ...this.scope, action: 'list' }, true);
      if (listed.status === 'failed' || !listed.blobs) return listed;
      const blob = listed.blobs.find((b) => fingerprintOrUndefined(b) === fingerprint);
      if (blob === undefined) return { ...withoutBlobs(listed), status: 'absent', changed: false };
      return await this.session(target, { ...this.scope, action: 'remove', blob, dryRun: this.dryRun }, true);
    } finally {
      await this.runner(closeArgs(target, this.settings), '', 10_000).catch(() => undefined);
    }
  }

  /** One session; `persist` keeps the master connection for the next one. */
  private async session(target: HostTarget, request: RemoteRequest, persist = false): Promise<Outcome & { blobs?: string[] }> {
    const timeoutMs = this.settings.connectTimeoutSeconds * 1000 + SESSION_GRACE_MS;
    const run = await this.runner(sessionArgs(target, this.settings, remoteCommand(request), persist), buildRemoteScript(request), timeoutMs);
    const answer = parseRemoteAnswer(run.stdout);
    if (!answer) {
      const failure = classifySshFailure(run) ?? { reason: 'error' as const, detail: lastLine(run.stderr) || `the remote side exited ${run.exitCode} without a reply` };
      return { status: 'failed', changed: false, ...failure };
    }
    const { outcome: reply, context } = answer;
    const where: Partial<Outcome> = {
      ...(context.files.length > 0 ? { authorizedKeysFiles: context.files } : {}),
      ...(context.source ? { authorizedKeysSource: context.source } : {}),
      ...(context.notes.length > 0 ? { notes: context.notes } : {}),
    };
    switch (reply.kind) {
      case 'added':
      case 'updated':
      case 'removed':
        return { status: reply.kind, changed: true, ...where };
      case 'already-present':
      case 'absent':
      case 'would-add':
      case 'would-update':
      case 'would-remove':
        return { status: reply.kind, changed: false, ...where };
      case 'listed':
        return { status: 'absent', changed: false, blobs: reply.blobs, ...where };
      case 'error':
        return { status: 'failed', changed: false, reason: knownReason(reply.reason), detail: reply.detail, ...where };
    }
  }
}

function withoutBlobs(outcome: Outcome & { blobs?: string[] }): Outcome {
  const { blobs: _blobs, ...rest } = outcome;
  return rest;
}

function fingerprintOrUndefined(blob: string): string | undefined {
  try {
    return blobFingerprint(blob);
  } catch {
    return undefined; // a line sshd would not read either
  }
}

function knownReason(reason: string): FailureReason {
  return (['permission-denied', 'no-space', 'locked', 'unsupported', 'no-account'] as const).find((r) => r === reason) ?? 'error';
}

export interface DeploySummary {
  changed: number;
  unchanged: number;
  failed: number;
}

export function summarize(results: HostResult[]): DeploySummary {
  return {
    changed: results.filter((r) => r.changed || r.status === 'would-add' || r.status === 'would-update' || r.status === 'would-remove').length,
    unchanged: results.filter((r) => r.status === 'already-present' || r.status === 'absent').length,
    failed: results.filter((r) => r.status === 'failed').length,
  };
}
