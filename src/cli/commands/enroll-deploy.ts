/**
 * `enroll --deploy-to HOST…`: the new key goes onto the hosts right after enrollment, exactly as `piv-enroll
 * deploy` would put it. Hosts and ssh options are checked before the card is touched.
 */
import { UsageError } from '../../errors.js';
import type { DeployOptions } from '../../operations/deploy/deploy-key.js';
import type { HostTarget } from '../../operations/deploy/host-spec.js';
import { expandHostGroups } from '../../operations/policy/host-groups.js';
import type { SitePolicy } from '../../operations/policy/types.js';
import { hostsAndOptions } from '../host-options.js';
import { hostAccess, type HostAccessFlags } from '../card-options.js';

export interface EnrollDeployFlags extends HostAccessFlags {
  deployTo?: string[];
  deployHostsFile?: string;
}

/** The hosts and ssh options of --deploy-to/--deploy-hosts-file (`@GROUP`: the policy's host group), every one checked; undefined without them. */
export async function prepareDeployTargets(flags: EnrollDeployFlags, policy?: SitePolicy): Promise<{ targets: HostTarget[]; options: DeployOptions } | undefined> {
  if (flags.deployTo === undefined && flags.deployHostsFile === undefined) {
    const stray = [flags.identity && '--identity', flags.knownHosts && '--known-hosts', flags.acceptNewHostKeys && '--accept-new-host-keys', flags.sshOption && '--ssh-option'].filter(Boolean);
    if (stray.length > 0) throw new UsageError(`${stray.join(', ')} only apply with --deploy-to or --deploy-hosts-file`);
    return undefined;
  }
  const problems: string[] = [];
  const hosts = flags.deployTo === undefined ? undefined : expandHostGroups(flags.deployTo, policy, problems);
  const { targets, options } = await hostsAndOptions(
    { host: hosts, hostsFile: flags.deployHostsFile, ...hostAccess(flags) },
    problems,
    '--deploy-to',
    '--deploy-hosts-file',
  );
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return { targets, options };
}
