/**
 * `enroll --deploy-to HOST…`: the new key goes onto the hosts right after enrollment, exactly as `piv-enroll
 * deploy` would put it. Hosts and ssh options are checked before the card is touched.
 */
import { UsageError } from '../../errors.js';
import { deployKey, type HostResult } from '../../operations/deploy/deploy-key.js';
import { hostsAndOptions } from './deploy.js';
import { hostAccess, type HostAccessFlags } from '../card-options.js';

export interface EnrollDeployFlags extends HostAccessFlags {
  deployTo?: string[];
  deployHostsFile?: string;
}

export type DeployFollowUp = (authorizedKey: string) => Promise<HostResult[]>;

export async function prepareDeployFollowUp(flags: EnrollDeployFlags): Promise<DeployFollowUp | undefined> {
  if (flags.deployTo === undefined && flags.deployHostsFile === undefined) {
    const stray = [flags.identity && '--identity', flags.knownHosts && '--known-hosts', flags.acceptNewHostKeys && '--accept-new-host-keys', flags.sshOption && '--ssh-option'].filter(Boolean);
    if (stray.length > 0) throw new UsageError(`${stray.join(', ')} only apply with --deploy-to or --deploy-hosts-file`);
    return undefined;
  }
  const problems: string[] = [];
  const { targets, options } = await hostsAndOptions(
    { host: flags.deployTo, hostsFile: flags.deployHostsFile, ...hostAccess(flags) },
    problems,
    '--deploy-to',
    '--deploy-hosts-file',
  );
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return (authorizedKey) => deployKey({ action: 'add', keyLine: authorizedKey }, targets, options);
}
