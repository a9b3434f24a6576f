/**
 * A real PostgreSQL (Debian's postgresql package) for tests: its own cluster in a temporary directory, owned by
 * the postgres system user (initdb refuses root), listening on 127.0.0.1 on a free port, password auth
 * (scram-sha-256) for TCP so the client's PGPASSWORD path is what gets tested. Stopped and removed afterwards.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../support/net.js';

export interface TestPostgres {
  url: string;
  password: string;
  stop(): void;
}

function binDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0]!, 'bin') : undefined;
}

export const postgresAvailable = (): boolean => binDir() !== undefined;


export async function startPostgres(): Promise<TestPostgres> {
  const bin = binDir();
  if (!bin) throw new Error('PostgreSQL is not installed (apt-get install postgresql)');
  const root = mkdtempSync(join(tmpdir(), 'piv-enroll-pg-'));
  chmodSync(root, 0o755);
  const data = join(root, 'data');
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const pwfile = join(root, 'pwfile');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  const { uid, gid } = JSON.parse(execFileSync('sh', ['-c', 'printf \'{"uid":%s,"gid":%s}\' "$(id -u postgres)" "$(id -g postgres)"']).toString());
  chownSync(root, uid, gid);
  chownSync(pwfile, uid, gid);
  const asPostgres = (command: string, args: string[]): void => {
    execFileSync('runuser', ['-u', 'postgres', '--', join(bin, command), ...args], { stdio: 'pipe', cwd: root });
  };
  asPostgres('initdb', ['-D', data, '-U', 'piv', '--pwfile', pwfile, '--auth-local', 'trust', '--auth-host', 'scram-sha-256', '-E', 'UTF8']);
  const port = await freePort();
  asPostgres('pg_ctl', ['-D', data, '-l', join(root, 'log'), '-w', '-t', '30', '-o', `-p ${port} -k ${root} -c listen_addresses=127.0.0.1`, 'start']);
  return {
    url: `postgres://piv@127.0.0.1:${port}/postgres`,
    password,
    stop() {
      try {
        asPostgres('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
}
