/**
 * `piv-enroll deploy`: flags → one key and a host list → the deploy operation (or the Ansible files) → a table or
 * JSON. Exit 0 when every host is as asked, 1 when any host failed, 2 for bad usage (every problem listed at once).
 */
import { UsageError } from '../../errors.js';
import { writeAnsibleFiles, runAnsiblePlaybook } from '../../operations/deploy/ansible.js';
import { deployKey, DEFAULT_CONCURRENCY, type DeployOptions, type DeployRequest, type HostResult } from '../../operations/deploy/deploy-key.js';
import type { HostTarget } from '../../operations/deploy/host-spec.js';
import { readPublicKeyLine, SHA256_FINGERPRINT } from '../../operations/deploy/key-line.js';
import type { CardSelection } from '../../operations/open-card.js';
import { parseSlot } from '../../standards/references.js';
import { recordDeployResults } from '../../operations/inventory/record-deploy.js';
import { openInventoryToRecord } from '../inventory-option.js';
import { cancellation } from '../cancellation.js';
import type { Output } from '../output.js';
import { formatResults, resultsJson, STATUS_TEXT } from '../deploy-report.js';
import { startTaskList } from '../task-list.js';
import { hostsAndOptions, keysScopeFrom, readText, type HostTargetFlags } from '../host-options.js';

export interface DeployFlags extends CardSelection, HostTargetFlags {
  inventory?: string;
  publicKey?: string;
  slot?: string;
  remove?: string;
  host?: string[];
  hostsFile?: string;
  concurrency?: string;
  connectTimeout?: string;
  dryRun?: boolean;
  json?: boolean;
  ansible?: string;
  run?: boolean;
  /** sshd_config AuthorizedKeysFile paths, space-separated, or `auto`. */
  authorizedKeysFile?: string;
  account?: string;
  keepOptions?: boolean;
  includeCertAuthority?: boolean;
}

export interface DeployPlan {
  request: DeployRequest;
  /** What the results are about: the fingerprint, and the line when there is one. */
  key: { fingerprint: string; line?: string };
  targets: HostTarget[];
  options: DeployOptions;
}

/** Everything that can be checked before touching the card or the network, all problems at once. */
async function planFromFlags(flags: DeployFlags): Promise<DeployPlan> {
  const problems: string[] = [];
  const sources = [flags.publicKey !== undefined && '--public-key', flags.slot !== undefined && '--slot', flags.remove !== undefined && '--remove'].filter(Boolean);
  if (sources.length !== 1) problems.push(sources.length === 0 ? 'give the key: --public-key FILE, --slot SLOT or --remove FILE|SHA256:…' : `${sources.join(', ')}: give only one of them`);
  const slot = flags.slot === undefined ? undefined : parseSlot(flags.slot);
  if (flags.slot !== undefined && slot === undefined) problems.push(`--slot takes 9a, 9c, 9d, 9e or 82–95, not "${flags.slot}"`);
  const cardFlagsGiven = flags.reader !== undefined || flags.virtual !== undefined;
  if (cardFlagsGiven && flags.slot === undefined) problems.push('--reader and --virtual choose the card for --slot');

  const { targets, options: reach } = await hostsAndOptions(flags, problems);
  const options = { ...reach, ...keysScopeFrom(flags, problems) };
  if (flags.run && flags.ansible === undefined) problems.push('--run runs the Ansible playbook: give --ansible DIR too');
  if (flags.ansible !== undefined && flags.keepOptions) problems.push('--keep-options: ansible.posix.authorized_key always sets the options given; deploy without --ansible');
  if (flags.ansible !== undefined && flags.includeCertAuthority) problems.push('--include-cert-authority: ansible.posix.authorized_key has no such choice; deploy without --ansible');
  if (flags.keepOptions && flags.remove !== undefined) problems.push('--keep-options is for adding a key');
  if (flags.includeCertAuthority && flags.remove === undefined) problems.push('--include-cert-authority is for --remove');

  let request: DeployRequest | undefined;
  let key: DeployPlan['key'] | undefined;
  try {
    if (flags.publicKey !== undefined) {
      const text = await readText(flags.publicKey, 'the public key', problems);
      if (text !== undefined) {
        const parsed = readPublicKeyLine(text, flags.publicKey);
        request = { action: 'add', keyLine: parsed.line };
        key = { fingerprint: parsed.fingerprint, line: parsed.line };
      }
    } else if (flags.remove !== undefined) {
      if (flags.remove.startsWith('SHA256:')) {
        if (!SHA256_FINGERPRINT.test(flags.remove)) problems.push(`--remove: "${flags.remove}" is not a SHA256 fingerprint (SHA256: and 43 base64 characters)`);
        request = { action: 'remove', fingerprint: flags.remove };
        key = { fingerprint: flags.remove };
      } else {
        const text = await readText(flags.remove, 'the public key to remove', problems);
        if (text !== undefined) {
          const parsed = readPublicKeyLine(text, flags.remove);
          request = { action: 'remove', keyLine: parsed.line };
          key = { fingerprint: parsed.fingerprint, line: parsed.line };
        }
      }
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    problems.push(error.message);
  }
  if (problems.length > 0) throw new UsageError(problems.join('\n'));

  if (slot !== undefined) {
    const line = await readSlotKey(flags, slot);
    const parsed = readPublicKeyLine(line, `slot ${flags.slot}`);
    request = { action: 'add', keyLine: parsed.line };
    key = { fingerprint: parsed.fingerprint, line: parsed.line };
  }
  return { request: request!, key: key!, targets, options };
}

/** The card modules load only for --slot: a deployment from a key file starts faster without them. */
async function readSlotKey(selection: CardSelection, slot: number): Promise<string> {
  const { openCardOrVirtual } = await import('../../operations/open-card.js');
  const { exportSlot } = await import('../../operations/export-key.js');
  const card = await openCardOrVirtual(selection, { allowed: false, because: 'deploying a key to hosts' });
  try {
    return (await card.session.transaction(() => exportSlot(card.session, slot, 'ssh'))).text;
  } finally {
    await card.close();
  }
}

/** On a terminal, without --json: one listr2 task per host, as many running as the operation runs. */
async function withProgress(plan: DeployPlan, work: (options: DeployOptions) => Promise<HostResult[]>): Promise<HostResult[]> {
  const finished = new Map<string, { resolve: (r: HostResult) => void; promise: Promise<HostResult> }>();
  for (const target of plan.targets) {
    let resolve!: (r: HostResult) => void;
    const promise = new Promise<HostResult>((r) => (resolve = r));
    finished.set(target.label, { resolve, promise });
  }
  const { done: listing } = await startTaskList(
    plan.targets.map((target) => ({
      title: target.label,
      task: async (_context, task) => {
        const result = await finished.get(target.label)!.promise;
        task.title = `${target.label}: ${STATUS_TEXT[result.status]}${result.status === 'failed' ? ` (${result.reason})` : ''}`;
        if (result.status === 'failed') throw new Error(task.title);
      },
    })),
    { concurrent: plan.options.concurrency ?? DEFAULT_CONCURRENCY, exitOnError: false },
  );
  const results = await work({ ...plan.options, onHostDone: (r) => finished.get(r.host)?.resolve(r) });
  await listing;
  return results;
}

export async function runDeploy(flags: DeployFlags, output: Output, terminal = Boolean(process.stdout.isTTY && process.stderr.isTTY)): Promise<number> {
  const plan = await planFromFlags(flags);
  if (flags.ansible !== undefined) {
    const files = await writeAnsibleFiles(flags.ansible, plan.request, plan.key.line, plan.targets, plan.options);
    if (!flags.run) {
      output.result([`Wrote ${files.inventory}`, `      ${files.playbook}`, `Run: ${files.command.join(' ')}`].join('\n'));
      return 0;
    }
    // Recorded as a direct deployment is, so offboard knows these hosts too.
    const inventory = plan.options.dryRun ? undefined : await openInventoryToRecord(flags.inventory);
    try {
      const results = await runAnsiblePlaybook(files, plan.options);
      if (inventory) await record(inventory, plan, results, output);
      output.result(flags.json ? resultsJson(plan, results) : formatResults(plan, results));
      return results.some((r) => r.status === 'failed') ? 1 : 0;
    } finally {
      await inventory?.close();
    }
  }
  // Opened before any host changes: an unreachable inventory stops the deployment first.
  const inventory = plan.options.dryRun ? undefined : await openInventoryToRecord(flags.inventory);
  const hosts = hostsSoFar(plan);
  const stopReporting = cancellation.reportWith(hosts.statement);
  try {
    const work = (options: DeployOptions) => deployKey(plan.request, plan.targets, { ...options, ...chained(options, hosts) });
    const results = terminal && !flags.json ? await withProgress(plan, work) : await work(plan.options);
    if (inventory) await record(inventory, plan, results, output);
    output.result(flags.json ? resultsJson(plan, results) : formatResults(plan, results));
    return results.some((r) => r.status === 'failed') ? 1 : 0;
  } finally {
    stopReporting();
    await inventory?.close();
  }
}

async function record(inventory: NonNullable<Awaited<ReturnType<typeof openInventoryToRecord>>>, plan: DeployPlan, results: HostResult[], output: Output): Promise<void> {
  const recorded = await recordDeployResults(inventory, plan.key.fingerprint, plan.request.action, results);
  if (recorded.enrollmentId === undefined) output.notice(`inventory: ${plan.key.fingerprint} is not an enrolled key there; nothing recorded`);
}

/**
 * Which hosts are done, which were being worked on and which not started, for the "cancelled: …" of a Ctrl-C.
 * A host being worked on gets the whole change or none (the remote side renames the new authorized_keys into
 * place), but which one only the host can tell.
 */
function hostsSoFar(plan: DeployPlan): { onHostStart: (host: string) => void; onHostDone: (result: HostResult) => void; statement: () => string } {
  const started = new Set<string>();
  const done = new Map<string, HostResult>();
  const list = (hosts: string[]): string => hosts.join(', ');
  return {
    onHostStart: (host) => started.add(host),
    onHostDone: (result) => done.set(result.host, result),
    statement: () => {
      const finished = [...done.values()];
      const changed = finished.filter((r) => r.changed).map((r) => r.host);
      const unchanged = finished.filter((r) => !r.changed && r.status !== 'failed').map((r) => r.host);
      const failed = finished.filter((r) => r.status === 'failed').map((r) => r.host);
      const running = [...started].filter((host) => !done.has(host));
      const waiting = plan.targets.map((t) => t.label).filter((host) => !started.has(host));
      return [
        changed.length > 0 ? `${plan.request.action === 'add' ? 'added on' : 'removed from'} ${list(changed)}` : 'no host changed',
        unchanged.length > 0 && `already as asked: ${list(unchanged)}`,
        failed.length > 0 && `failed: ${list(failed)}`,
        running.length > 0 && `interrupted, changed wholly or not at all (check them): ${list(running)}`,
        waiting.length > 0 && `not started: ${list(waiting)}`,
      ].filter((part): part is string => typeof part === 'string').join('; ');
    },
  };
}

/** The progress hooks of `options` (the task list's), and then ours. */
function chained(options: DeployOptions, hosts: ReturnType<typeof hostsSoFar>): Pick<DeployOptions, 'onHostStart' | 'onHostDone'> {
  return {
    onHostStart: (host) => (hosts.onHostStart(host), options.onHostStart?.(host)),
    onHostDone: (result) => (hosts.onHostDone(result), options.onHostDone?.(result)),
  };
}
