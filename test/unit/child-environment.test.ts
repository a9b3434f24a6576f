import { describe, expect, test } from 'vitest';
import { childEnvironment, SECRET_VARIABLES } from '../../src/operations/child-environment.js';

/** A distinct marker per secret variable, so a leak of any one of them is caught (and never printed: only names are compared). */
const secrets = Object.fromEntries(SECRET_VARIABLES.map((name, i) => [name, `secret-value-${i}-${name.length}`]));

const source: NodeJS.ProcessEnv = {
  ...secrets,
  PATH: '/usr/local/bin:/usr/bin:/bin',
  HOME: '/home/ana',
  USER: 'ana',
  LOGNAME: 'ana',
  SHELL: '/bin/bash',
  SSH_AUTH_SOCK: '/run/user/1000/ssh-agent.sock',
  LANG: 'de_DE.UTF-8',
  LC_ALL: 'C.UTF-8',
  LC_TIME: 'en_GB.UTF-8',
  TZ: 'Europe/Berlin',
  TERM: 'xterm-256color',
  TMPDIR: '/var/tmp/ana',
  DISPLAY: ':1',
  ANSIBLE_CONFIG: '/etc/ansible/site.cfg',
  AWS_SECRET_ACCESS_KEY: 'not-ours-either',
  NODE_OPTIONS: '--require /tmp/hook.js',
  PIV_ENROLL_INVENTORY: 'postgres://inventory@db/piv',
};

const leaked = (environment: Record<string, string>): string[] =>
  Object.entries(environment).filter(([, value]) => Object.values(secrets).some((secret) => value.includes(secret))).map(([name]) => name);

describe('childEnvironment', () => {
  test('ssh gets who and where it is, its agent and locale, and nothing else', () => {
    const environment = childEnvironment('ssh', { source });
    expect(Object.keys(environment).sort()).toEqual(['HOME', 'LANG', 'LC_ALL', 'LC_TIME', 'LOGNAME', 'PATH', 'SHELL', 'SSH_AUTH_SOCK', 'TZ', 'USER']);
    expect(environment.SSH_AUTH_SOCK).toBe(source.SSH_AUTH_SOCK);
    expect(leaked(environment)).toEqual([]);
  });

  test('ansible-playbook also gets its own configuration and temporary directory', () => {
    const environment = childEnvironment('ansible', { source, extra: { ANSIBLE_STDOUT_CALLBACK: 'json' } });
    expect(environment).toMatchObject({ ANSIBLE_CONFIG: '/etc/ansible/site.cfg', ANSIBLE_STDOUT_CALLBACK: 'json', TMPDIR: '/var/tmp/ana', PATH: source.PATH, HOME: source.HOME });
    expect(environment.TERM).toBeUndefined();
    expect(leaked(environment)).toEqual([]);
  });

  test('the doctor\'s askpass variables are explicit extras; TERM only when asked for', () => {
    const environment = childEnvironment('ssh', { source, terminal: true, extra: { SSH_ASKPASS: '/tmp/x/askpass', SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' } });
    expect(environment).toMatchObject({ SSH_ASKPASS: '/tmp/x/askpass', SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0', TERM: 'xterm-256color' });
    expect(childEnvironment('ssh', { source }).DISPLAY).toBeUndefined();
  });

  test('a secret never comes out: not from the source, not as an extra, not in another spelling', () => {
    for (const program of ['ssh', 'ansible'] as const) {
      const environment = childEnvironment(program, {
        source: { ...source, pgpassword: 'secret-value-lower', Piv_Pin: 'secret-value-mixed' },
        extra: { PIV_PIN: secrets.PIV_PIN, PGPASSWORD: secrets.PGPASSWORD },
      });
      for (const name of SECRET_VARIABLES) expect(Object.keys(environment).map((n) => n.toUpperCase())).not.toContain(name);
      expect(leaked(environment)).toEqual([]);
      expect(Object.values(environment).some((v) => v.startsWith('secret-value'))).toBe(false);
    }
  });

  test('reads process.env by default', () => {
    const saved = process.env.PIV_PIN;
    process.env.PIV_PIN = secrets.PIV_PIN;
    try {
      const environment = childEnvironment('ssh');
      expect(environment.PIV_PIN).toBeUndefined();
      expect(environment.PATH).toBe(process.env.PATH);
    } finally {
      if (saved === undefined) delete process.env.PIV_PIN;
      else process.env.PIV_PIN = saved;
    }
  });
});
