/** `@GROUP` in a list of host specs (`--deploy-to @web`, a manifest's hosts): the policy's host group, expanded in place. */
import type { SitePolicy } from './types.js';

export function expandHostGroups(specs: readonly string[], policy: SitePolicy | undefined, problems: string[]): string[] {
  const hosts: string[] = [];
  for (const spec of specs) {
    if (!spec.startsWith('@')) {
      hosts.push(spec);
      continue;
    }
    const name = spec.slice(1);
    const group = policy?.hostGroups[name];
    if (group === undefined) {
      const known = Object.keys(policy?.hostGroups ?? {});
      problems.push(policy === undefined
        ? `${spec}: host groups come from a site policy (--policy FILE), and none is in effect`
        : `${spec}: the policy ${policy.file} has no host group "${name}"${known.length > 0 ? ` (it has ${known.map((k) => `@${k}`).join(', ')})` : ''}`);
      continue;
    }
    for (const host of group) if (!hosts.includes(host)) hosts.push(host);
  }
  return hosts;
}
