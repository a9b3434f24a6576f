/** How `deploy` shows its results: a table per host, or one JSON object. */
import { summarize, type DeployRequest, type HostResult } from '../operations/deploy/deploy-key.js';
import type { DeployPlan } from './commands/deploy.js';

export const STATUS_TEXT: Record<HostResult['status'], string> = {
  added: 'added',
  updated: 'updated',
  'already-present': 'already present',
  removed: 'removed',
  absent: 'absent',
  'would-add': 'would add',
  'would-update': 'would update',
  'would-remove': 'would remove',
  failed: 'FAILED',
};

const SOURCE_TEXT: Record<NonNullable<HostResult['authorizedKeysSource']>, string> = {
  given: '',
  sshd: ' (from sshd -T)',
  default: " (sshd's default)",
};

/** The files a host used, when they are not simply ~/.ssh/authorized_keys. */
function whereText(r: HostResult): string {
  const files = r.authorizedKeysFiles ?? [];
  if (files.length === 0 || (r.authorizedKeysSource === 'given' && files.length === 1 && files[0] === '~/.ssh/authorized_keys')) return '';
  return `${files.join(' ')}${SOURCE_TEXT[r.authorizedKeysSource ?? 'given']}`;
}

export function formatResults(plan: { key: { fingerprint: string }; request: DeployRequest; options: { dryRun?: boolean } }, results: HostResult[]): string {
  const width = Math.max(4, ...results.map((r) => r.host.length));
  const lines = [`${plan.request.action === 'add' ? 'Deploying' : 'Removing'} ${plan.key.fingerprint}${plan.options.dryRun ? ' (dry run: nothing written)' : ''}`, ''];
  lines.push(`${'HOST'.padEnd(width)}  ${'RESULT'.padEnd(15)}  DETAIL`);
  for (const r of results) {
    const detail = [r.status === 'failed' ? `${r.reason}: ${r.detail ?? ''}`.trim() : '', whereText(r), ...(r.notes ?? [])].filter(Boolean).join('; ');
    lines.push(`${r.host.padEnd(width)}  ${STATUS_TEXT[r.status].padEnd(15)}  ${detail}`.trimEnd());
  }
  const summary = summarize(results);
  lines.push('');
  if (summary.changed === 0 && summary.failed === 0) {
    lines.push(`Nothing to change: the key is already ${plan.request.action === 'add' ? 'on' : 'off'} every host (${results.length}).`);
  } else {
    const changedWord = plan.options.dryRun ? 'would change' : 'changed';
    lines.push(`${summary.changed} ${changedWord}, ${summary.unchanged} already as asked, ${summary.failed} failed.`);
  }
  return lines.join('\n');
}

export function resultsJson(plan: DeployPlan, results: HostResult[]): string {
  return JSON.stringify(
    { action: plan.request.action, fingerprint: plan.key.fingerprint, key: plan.key.line ?? null, dryRun: plan.options.dryRun ?? false, summary: summarize(results), hosts: results },
    null,
    2,
  );
}

