/**
 * Fleets already run by Ansible: the same deployment as an inventory and a playbook (ansible.posix.authorized_key,
 * which Debian 12's ansible package includes), from templates/ansible/, and optionally run with ansible-playbook,
 * whose JSON callback output becomes the same per-host results as a direct deployment.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { PivEnrollError, UsageError } from '../../errors.js';
import { childEnvironment } from '../child-environment.js';
import type { DeployOptions, DeployRequest, HostResult } from './deploy-key.js';
import { DEFAULT_CONCURRENCY, DEFAULT_CONNECT_TIMEOUT_SECONDS } from './deploy-key.js';
import type { HostTarget } from './host-spec.js';
import { shellQuote } from './remote-script.js';
import { classifySshFailure, lastLine, type FailureReason } from './ssh-client.js';

const TEMPLATES = new URL('../../../templates/ansible/', import.meta.url);
/** The playbook's tasks that reach the host: the login, the account's home (for the tokens), the key. */
const PLAYBOOK_TASKS = 3;
/** Beyond the connect time, per host and task (as a direct deployment's session), and for Ansible's own start. */
const TASK_GRACE_MS = 60_000;
const STARTUP_MS = 60_000;

/** ansible-playbook runs the hosts `forks` at a time, task by task: a bound on the whole run. */
export function ansibleTimeoutMs(hosts: number, forks: number, connectTimeoutSeconds: number): number {
  return STARTUP_MS + PLAYBOOK_TASKS * Math.ceil(hosts / forks) * (connectTimeoutSeconds * 1000 + TASK_GRACE_MS);
}

export interface AnsibleFiles {
  inventory: string;
  playbook: string;
  /** Inventory host name → the host spec it stands for. */
  hosts: Map<string, string>;
  command: string[];
  state: 'present' | 'absent';
}

/** A YAML double-quoted scalar (JSON's escapes are YAML's), tagged so Ansible never templates it. */
function unsafeYaml(text: string): string {
  return `!unsafe ${JSON.stringify(text)}`;
}

function inventoryName(target: HostTarget, taken: Set<string>): string {
  const base = target.label.replace(/[^A-Za-z0-9_.-]/g, '_');
  let name = base;
  for (let n = 2; taken.has(name); n++) name = `${base}_${n}`;
  taken.add(name);
  return name;
}

/** The ssh options a direct deployment would use, as ansible_ssh_common_args (Ansible splits them like a shell). */
function sshArgs(options: DeployOptions): string {
  return [
    '-o', 'BatchMode=yes',
    '-o', `StrictHostKeyChecking=${options.acceptNewHostKeys ? 'accept-new' : 'yes'}`,
    ...(options.sshOptions ?? []).flatMap((o) => ['-o', o]),
    ...(options.knownHostsFile ? ['-o', `UserKnownHostsFile=${options.knownHostsFile}`] : []),
    ...(options.identityFile ? ['-o', 'IdentitiesOnly=yes'] : []),
    '-o', `ConnectTimeout=${options.connectTimeoutSeconds ?? DEFAULT_CONNECT_TIMEOUT_SECONDS}`,
  ]
    .map(shellWord)
    .join(' ');
}

/** Quotes only what needs it: Ansible strips quotes around a whole value, so it must not start with one. */
function shellWord(text: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(text) ? text : shellQuote(text);
}

export async function writeAnsibleFiles(directory: string, request: DeployRequest, keyLine: string | undefined, targets: HostTarget[], options: DeployOptions): Promise<AnsibleFiles> {
  if (keyLine === undefined || 'fingerprint' in request) {
    throw new UsageError('--ansible needs the public key itself (ansible.posix.authorized_key matches keys, not fingerprints): give --remove FILE');
  }
  if (options.authorizedKeysFiles === 'auto') {
    throw new UsageError('--authorized-keys-file auto asks each host\'s sshd, which the playbook cannot: give the paths (as in sshd_config) with --ansible');
  }
  const state = request.action === 'add' ? 'present' : 'absent';
  await mkdir(directory, { recursive: true });
  const hosts = new Map<string, string>();
  const taken = new Set<string>();
  const hostLines = targets.map((target) => {
    const name = inventoryName(target, taken);
    hosts.set(name, target.label);
    const fields = [`ansible_host: ${JSON.stringify(target.host)}`];
    if (target.port !== undefined) fields.push(`ansible_port: ${target.port}`);
    if (target.user !== undefined) fields.push(`ansible_user: ${JSON.stringify(target.user)}`);
    return `    ${JSON.stringify(name)}: { ${fields.join(', ')} }`;
  });
  const varLines = [
    `    piv_enroll_state: ${state}`,
    `    piv_enroll_key: ${unsafeYaml(keyLine)}`,
    `    ansible_ssh_common_args: ${unsafeYaml(sshArgs(options))}`,
    ...(options.identityFile ? [`    ansible_ssh_private_key_file: ${unsafeYaml(options.identityFile)}`] : []),
    // The module's user: and path: (the playbook expands sshd's tokens for the account).
    ...(options.account !== undefined ? [`    piv_enroll_account: ${unsafeYaml(options.account)}`] : []),
    ...(options.authorizedKeysFiles !== undefined ? [`    piv_enroll_paths: [${options.authorizedKeysFiles.map(unsafeYaml).join(', ')}]`] : []),
    '    ansible_python_interpreter: auto_silent',
  ];
  const template = await readFile(new URL('inventory.yml', TEMPLATES), 'utf8');
  const inventory = join(directory, 'inventory.yml');
  const playbook = join(directory, 'playbook.yml');
  await writeFile(inventory, template.replace('@VARS@', varLines.join('\n')).replace('@HOSTS@', hostLines.join('\n')));
  await copyFile(new URL('authorized-key.yml', TEMPLATES), playbook);
  const command = ['ansible-playbook', '-i', inventory, playbook, '--forks', String(options.concurrency ?? DEFAULT_CONCURRENCY), ...(options.dryRun ? ['--check'] : [])];
  return { inventory, playbook, hosts, command, state };
}

interface AnsibleHostResult {
  changed?: boolean;
  failed?: boolean;
  unreachable?: boolean;
  skipped?: boolean;
  msg?: string;
}

interface AnsibleJson {
  plays?: Array<{ tasks?: Array<{ task?: { name?: string }; hosts?: Record<string, AnsibleHostResult> }> }>;
}

/** Ansible's messages carry ssh's stderr (unreachable) or the module's error (failed). */
function failureFrom(result: AnsibleHostResult): { reason: FailureReason; detail: string } {
  const message = result.msg ?? '';
  if (result.unreachable) return classifySshFailure({ exitCode: 255, stdout: '', stderr: message }) ?? { reason: 'unreachable', detail: lastLine(message) };
  if (/No space left/i.test(message)) return { reason: 'no-space', detail: lastLine(message) };
  if (/Permission denied|Read-only file system|Operation not permitted/i.test(message)) return { reason: 'permission-denied', detail: lastLine(message) };
  return { reason: 'error', detail: lastLine(message) };
}

/** What one host's task results say, in deploy's own terms. */
export function ansibleHostResult(state: 'present' | 'absent', dryRun: boolean, results: AnsibleHostResult[]): Pick<HostResult, 'status' | 'changed' | 'reason' | 'detail'> {
  const failed = results.find((r) => r.unreachable || r.failed);
  if (failed) return { status: 'failed', changed: false, ...failureFrom(failed) };
  const keyTask = results.at(-1);
  if (!keyTask || keyTask.skipped) return { status: 'failed', changed: false, reason: 'error', detail: 'the authorized_key task did not run' };
  if (keyTask.changed) {
    if (dryRun) return { status: state === 'present' ? 'would-add' : 'would-remove', changed: false };
    return { status: state === 'present' ? 'added' : 'removed', changed: true };
  }
  return { status: state === 'present' ? 'already-present' : 'absent', changed: false };
}

export async function runAnsiblePlaybook(files: AnsibleFiles, options: DeployOptions): Promise<HostResult[]> {
  const now = options.now ?? Date.now;
  const started = now();
  const [program, ...args] = files.command;
  const timeoutMs = ansibleTimeoutMs(files.hosts.size, options.concurrency ?? DEFAULT_CONCURRENCY, options.connectTimeoutSeconds ?? DEFAULT_CONNECT_TIMEOUT_SECONDS);
  const run = await execa(program!, args, {
    reject: false,
    timeout: timeoutMs,
    extendEnv: false,
    env: childEnvironment('ansible', {
      extra: {
        ANSIBLE_STDOUT_CALLBACK: 'json',
        ANSIBLE_NOCOLOR: '1',
        ANSIBLE_RETRY_FILES_ENABLED: 'False',
        ANSIBLE_HOST_KEY_CHECKING: 'True',
      },
    }),
  });
  if ((run as { code?: string }).code === 'ENOENT' || /ENOENT/.test(String(run.message ?? ''))) {
    throw new PivEnrollError('ansible-playbook is not installed (Debian: apt-get install ansible)');
  }
  if (run.timedOut) throw new PivEnrollError(`ansible-playbook did not finish within ${Math.round(timeoutMs / 1000)} s and was stopped`);
  let parsed: AnsibleJson;
  try {
    parsed = JSON.parse(run.stdout) as AnsibleJson;
  } catch {
    throw new PivEnrollError(`ansible-playbook failed (exit ${run.exitCode}): ${lastLine(run.stderr) || lastLine(run.stdout)}`);
  }
  const seconds = (now() - started) / 1000;
  const perHost = new Map<string, AnsibleHostResult[]>();
  for (const play of parsed.plays ?? []) {
    for (const task of play.tasks ?? []) {
      for (const [name, result] of Object.entries(task.hosts ?? {})) perHost.set(name, [...(perHost.get(name) ?? []), result]);
    }
  }
  return [...files.hosts].map(([name, label]) => ({
    host: label,
    ...ansibleHostResult(files.state, options.dryRun ?? false, perHost.get(name) ?? []),
    seconds,
  }));
}
