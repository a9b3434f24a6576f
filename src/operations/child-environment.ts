/**
 * The environment a child program (ssh, ssh-keygen, ansible-playbook, the PKCS#11 host) gets: built from an allow-list, never
 * inherited. piv-enroll's own environment may hold the PIN, PUK, management key and passphrases (PIV_PIN, …,
 * PGPASSWORD); an inherited environment hands them to ssh, to its ProxyCommand and LocalCommand, to the host
 * through SendEnv, and to every Ansible module. Pass the result with `extendEnv: false`.
 */

/** Variables that hold a secret: they never reach a child, whatever an allow-list or an extra says. */
export const SECRET_VARIABLES: readonly string[] = [
  'PIV_PIN',
  'PIV_NEW_PIN',
  'PIV_PUK',
  'PIV_NEW_PUK',
  'PIV_MANAGEMENT_KEY',
  'PIV_CA_PASSPHRASE',
  'PIV_CA_PIN',
  'PIV_KEY_PASSPHRASE',
  'PGPASSWORD',
];

/** Every child: where programs are, whose they are, and how to speak to them. */
const BASE_VARIABLES = ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LANGUAGE', 'TZ'];
const LOCALE_PREFIX = 'LC_';

export type ChildProgram =
  /** ssh and ssh-keygen: the agent (ProxyJump hosts, deploy's own logins) and the shell ProxyCommand runs in. */
  | 'ssh'
  /** ansible-playbook: what ssh needs, plus Ansible's own configuration (ANSIBLE_*) and its temporary directory. */
  | 'ansible'
  /** The PKCS#11 host process (node loading OpenSC, ykcs11…): pcscd's socket and the modules' own configuration. */
  | 'pkcs11';

const PROGRAM_VARIABLES: Record<ChildProgram, { names: string[]; prefixes: string[] }> = {
  ssh: { names: ['SSH_AUTH_SOCK', 'SHELL'], prefixes: [] },
  ansible: { names: ['SSH_AUTH_SOCK', 'SHELL', 'TMPDIR'], prefixes: ['ANSIBLE_'] },
  pkcs11: { names: ['TMPDIR'], prefixes: ['PCSCLITE_', 'OPENSC_', 'YKCS11_'] },
};

export interface ChildEnvironmentOptions {
  /** Pass TERM on (only for a child that talks to the user's terminal). */
  terminal?: boolean;
  /** Values the caller sets itself (e.g. SSH_ASKPASS); they win over the source. A secret variable is dropped. */
  extra?: Record<string, string | undefined>;
  /** Where the allowed values come from (default: process.env). */
  source?: NodeJS.ProcessEnv;
}

function isSecret(name: string): boolean {
  return SECRET_VARIABLES.includes(name.toUpperCase());
}

/** The environment for `program`: the allowed variables present in `source`, then `extra`; never a secret. */
export function childEnvironment(program: ChildProgram, options: ChildEnvironmentOptions = {}): Record<string, string> {
  const source = options.source ?? process.env;
  const allowed = PROGRAM_VARIABLES[program];
  const names = new Set([...BASE_VARIABLES, ...allowed.names, ...(options.terminal ? ['TERM'] : [])]);
  const prefixes = [LOCALE_PREFIX, ...allowed.prefixes];
  const environment: Record<string, string> = {};
  for (const [name, value] of Object.entries(source)) {
    if (value === undefined || isSecret(name)) continue;
    if (names.has(name) || prefixes.some((prefix) => name.startsWith(prefix))) environment[name] = value;
  }
  for (const [name, value] of Object.entries(options.extra ?? {})) {
    if (isSecret(name)) continue;
    if (value === undefined) delete environment[name];
    else environment[name] = value;
  }
  return environment;
}
