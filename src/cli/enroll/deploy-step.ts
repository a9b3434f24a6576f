/**
 * The wizard's deploy step, with a site policy: where the key goes (one of the policy's host groups, or none) and
 * whether the policy's CA certifies it. Only what the flags left open is asked; the answers become flags.
 */
import type { SitePolicy } from '../../operations/policy/types.js';
import type { Prompter } from '../prompter.js';

export interface DeployStepFlags {
  deployTo?: string[];
  deployHostsFile?: string;
  ca?: string;
}

export async function askDeployStep(flags: DeployStepFlags, policy: SitePolicy, prompter: Prompter): Promise<DeployStepFlags> {
  const answers: DeployStepFlags = {};
  const groups = Object.keys(policy.hostGroups);
  if (flags.deployTo === undefined && flags.deployHostsFile === undefined && groups.length > 0) {
    prompter.say(`Host groups of the site policy: ${groups.map((g) => `${g} (${policy.hostGroups[g]!.join(', ')})`).join('; ')}.`);
    for (;;) {
      const answer = (await prompter.input(`Deploy the key to which host group (${[...groups, 'none'].join(', ')})?`, 'none')).trim().replace(/^@/, '');
      if (answer === 'none' || answer === '') break;
      if (groups.includes(answer)) {
        answers.deployTo = [`@${answer}`];
        break;
      }
      prompter.say(`"${answer}" is not one of ${[...groups, 'none'].join(', ')}; try again.`);
    }
  }
  if (flags.ca === undefined && policy.defaults.ca !== undefined) {
    if (!(await prompter.confirm(`Have the site's SSH CA (${policy.defaults.ca}) certify the key?`, true))) answers.ca = 'none';
  }
  return answers;
}
