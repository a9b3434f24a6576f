/** `deploy`: public keys onto hosts (issue 5 part 1). Flags only; the command module is imported lazily. */
import { Option, type Command } from 'commander';
import { addCardOptions, addInventoryOption, type WithCardFlags, cardSelection, collect } from './card-options.js';
import type { DeployFlags } from './commands/deploy.js';
import type { Output } from './output.js';

export function registerDeployCommand(program: Command, output: Output, setExit: (code: number) => void): void {
  addInventoryOption(addCardOptions(
    program
      .command('deploy')
      .description('put an SSH public key into authorized_keys on hosts (or take it out), many hosts at a time, through the OpenSSH client'),
  ))
    .option('--public-key <file>', 'the public key line to deploy (a .pub file; options before the key are deployed with it)')
    .option('--slot <slot>', "deploy the public key of this PIV slot of the card (e.g. 9c)")
    .option('--remove <key>', 'take a key out instead: a public key FILE or its SHA256:… fingerprint')
    .addOption(new Option('--host <[user@]host[:port]>', 'a host to deploy to (repeatable)').argParser(collect))
    .option('--hosts-file <file>', 'hosts, one [user@]host[:port] a line; # comments and blank lines allowed')
    .option('--concurrency <n>', 'hosts worked on at once', '16')
    .addOption(new Option('--ssh-option <key=value>', 'extra ssh -o option (repeatable), e.g. ProxyJump=bastion').argParser(collect))
    .option('--identity <file>', 'log in with this private key (ssh -i; default: your ssh configuration and agent)')
    .option('--known-hosts <file>', 'known_hosts file to check host keys against (default: ~/.ssh/known_hosts)')
    .option('--accept-new-host-keys', 'accept and remember the key of a host not yet known (a changed key is still refused)')
    .option('--connect-timeout <seconds>', 'give up on a host that does not answer within this time', '10')
    .option('--authorized-keys-file <paths>', "sshd's AuthorizedKeysFile: space-separated paths (%h %u %U %%; relative to the home; the key goes into the first, is matched and removed in all), or auto to ask the host's sshd (sshd -T: root or sudo -n)")
    .option('--account <name>', "edit this account's keys, logged in as root (or with sudo -n); the file stays the account's")
    .option('--keep-options', 'a line of the key with other options counts as present (default: it is replaced)')
    .option('--include-cert-authority', 'with --remove: take out cert-authority lines of the key too')
    .option('--dry-run', 'connect and report what would change, write nothing')
    .option('--json', 'print one JSON object (and no progress)')
    .option('--ansible <dir>', 'write an Ansible inventory and playbook (ansible.posix.authorized_key) into DIR instead of deploying')
    .option('--run', 'with --ansible: run ansible-playbook on them')
    .action(async (flags: WithCardFlags<DeployFlags>) => {
      const { runDeploy } = await import('./commands/deploy.js');
      setExit(await runDeploy({ ...flags, ...cardSelection(flags) }, output));
    });
}
