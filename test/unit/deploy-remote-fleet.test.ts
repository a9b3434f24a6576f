/**
 * The remote script's fleet branches, run here by dash against temporary homes as a host runs it: key options
 * (update, keep, dry run), cert-authority lines, AuthorizedKeysFile paths and tokens, sshd's answer and its fallback,
 * stale and live locks, the old file's owner, group and mode, and the processes forked on the add path.
 * We run as root: a non-root login is played by `setpriv` as nobody.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildRemoteScript, parseRemoteAnswer, parseRemoteReply, remoteCommand, type RemoteRequest } from '../../src/operations/deploy/remote-script.js';

const BLOB = 'AAAAC3NzaC1lZDI1NTE5AAAAIHx2OCVRMh8RPHVZ2BzJUnSxOQqUobEeSLwVBYhX+IeY';
const LINE = `ssh-ed25519 ${BLOB} alice@laptop`;
const RESTRICTED = `from="10.0.0.0/8",no-pty ${LINE}`;
const OTHER = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDisabledDisabledDisabledDisabledDisabled0 bob';

function home(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pe-deploy-fleet-'));
  chmodSync(dir, 0o755);
  return dir;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runScript(dir: string, request: RemoteRequest, prefix: string[] = [], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const argv = [...prefix, 'sh', '-c', remoteCommand(request)];
    const child = spawn(argv[0]!, argv.slice(1), { env: { HOME: dir, PATH: '/usr/bin:/bin:/usr/sbin:/sbin', LOGNAME: 'root', ...env }, cwd: '/' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(buildRemoteScript(request));
  });
}

const reply = async (dir: string, request: RemoteRequest) => parseRemoteReply((await runScript(dir, request)).stdout);
const keysFile = (dir: string, name = 'authorized_keys') => join(dir, '.ssh', name);
function writeKeys(dir: string, content: string, name = 'authorized_keys'): void {
  mkdirSync(join(dir, '.ssh'), { recursive: true, mode: 0o700 });
  writeFileSync(keysFile(dir, name), content, { mode: 0o600 });
}
const add = (keyLine: string, extra: Partial<RemoteRequest> = {}): RemoteRequest => ({ action: 'add', blob: BLOB, keyLine, ...extra });

describe('key lines compared by blob and options', () => {
  it('replaces an unrestricted line by the restricted one, and back, in place ("updated")', async () => {
    const dir = home();
    writeKeys(dir, `${OTHER}\n${LINE} old comment\n# end\n`);
    expect(await reply(dir, add(RESTRICTED, { dryRun: true }))).toEqual({ kind: 'would-update' });
    expect(readFileSync(keysFile(dir), 'utf8')).toBe(`${OTHER}\n${LINE} old comment\n# end\n`);
    expect(await reply(dir, add(RESTRICTED))).toEqual({ kind: 'updated' });
    expect(readFileSync(keysFile(dir), 'utf8')).toBe(`${OTHER}\n${RESTRICTED}\n# end\n`);
    expect(await reply(dir, add(RESTRICTED))).toEqual({ kind: 'already-present' });
    expect(await reply(dir, add(LINE))).toEqual({ kind: 'updated' });
    expect(readFileSync(keysFile(dir), 'utf8')).toBe(`${OTHER}\n${LINE}\n# end\n`);
  });

  it('keeps one line of the key: further lines with other options go', async () => {
    const dir = home();
    writeKeys(dir, `no-pty ${LINE}\n${OTHER}\nrestrict ${LINE}\n`);
    expect(await reply(dir, add(RESTRICTED))).toEqual({ kind: 'updated' });
    expect(readFileSync(keysFile(dir), 'utf8')).toBe(`${RESTRICTED}\n${OTHER}\n`);
  });

  it('with keepOptions leaves a line with other options as it is', async () => {
    const dir = home();
    writeKeys(dir, `${LINE}\n`);
    expect(await reply(dir, add(RESTRICTED, { keepOptions: true }))).toEqual({ kind: 'already-present' });
    expect(readFileSync(keysFile(dir), 'utf8')).toBe(`${LINE}\n`);
  });

  it('never takes a cert-authority line for the key: adds beside it, removes beside it unless asked', async () => {
    const dir = home();
    const ca = `cert-authority,principals="a,b" ${LINE}`;
    const marker = `@cert-authority ${LINE}`;
    const upper = `Cert-Authority ${LINE}`;
    writeKeys(dir, `${ca}\n${marker}\n${upper}\n`);
    expect(await reply(dir, add(LINE))).toEqual({ kind: 'added' });
    expect(readFileSync(keysFile(dir), 'utf8')).toBe(`${ca}\n${marker}\n${upper}\n${LINE}\n`);
    expect(await reply(dir, { action: 'remove', blob: BLOB })).toEqual({ kind: 'removed', count: 1 });
    expect(readFileSync(keysFile(dir), 'utf8')).toBe(`${ca}\n${marker}\n${upper}\n`);
    expect(await reply(dir, { action: 'remove', blob: BLOB })).toEqual({ kind: 'absent' });
    expect(await reply(dir, { action: 'list' })).toEqual({ kind: 'listed', blobs: [] });
    expect(await reply(dir, { action: 'remove', blob: BLOB, includeCertAuthority: true })).toEqual({ kind: 'removed', count: 3 });
    expect(readFileSync(keysFile(dir), 'utf8')).toBe('');
  });

  it('does not mistake an option value for cert-authority', async () => {
    const dir = home();
    writeKeys(dir, `command="echo cert-authority" ${LINE}\n`);
    expect(await reply(dir, { action: 'remove', blob: BLOB })).toEqual({ kind: 'removed', count: 1 });
  });
});

describe('AuthorizedKeysFile', () => {
  it('uses .ssh/authorized_keys2 alone, relative to the home, and says so', async () => {
    const dir = home();
    writeKeys(dir, `${OTHER}\n`, 'authorized_keys2');
    const run = await runScript(dir, add(LINE, { authorizedKeysFiles: ['.ssh/authorized_keys2'] }));
    expect(parseRemoteAnswer(run.stdout)).toEqual({ outcome: { kind: 'added' }, context: { files: ['~/.ssh/authorized_keys2'], source: 'given', notes: [] } });
    expect(readFileSync(keysFile(dir, 'authorized_keys2'), 'utf8')).toBe(`${OTHER}\n${LINE}\n`);
    expect(existsSync(keysFile(dir))).toBe(false);
  });

  it('matches in every file, adds to the first, removes from all', async () => {
    const dir = home();
    const files = ['.ssh/authorized_keys', '.ssh/authorized_keys2'];
    writeKeys(dir, `${LINE}\n`, 'authorized_keys2');
    expect(await reply(dir, add(LINE, { authorizedKeysFiles: files }))).toEqual({ kind: 'already-present' });
    expect(existsSync(keysFile(dir))).toBe(false);
    expect(await reply(dir, add(RESTRICTED, { authorizedKeysFiles: files }))).toEqual({ kind: 'updated' });
    expect(readFileSync(keysFile(dir, 'authorized_keys2'), 'utf8')).toBe(`${RESTRICTED}\n`);
    rmKeys(dir, 'authorized_keys2');
    expect(await reply(dir, add(LINE, { authorizedKeysFiles: files }))).toEqual({ kind: 'added' });
    expect(readFileSync(keysFile(dir), 'utf8')).toBe(`${LINE}\n`);
    writeKeys(dir, `${OTHER}\n${LINE}\n`, 'authorized_keys2');
    expect(await reply(dir, { action: 'remove', blob: BLOB, authorizedKeysFiles: files })).toEqual({ kind: 'removed', count: 2 });
    expect(readFileSync(keysFile(dir), 'utf8')).toBe('');
    expect(readFileSync(keysFile(dir, 'authorized_keys2'), 'utf8')).toBe(`${OTHER}\n`);
  });

  it('expands %h, %u, %U and %% for the account, and writes outside the home when the directory exists', async () => {
    const dir = home();
    const outside = mkdtempSync(join(tmpdir(), 'pe-deploy-outside-'));
    const run = await runScript(dir, add(LINE, { authorizedKeysFiles: [`${outside}/%u.%U.100%%`, '%h/.ssh/second'] }));
    expect(parseRemoteAnswer(run.stdout)?.context.files).toEqual([`${outside}/root.0.100%`, `${dir}/.ssh/second`]);
    expect(readFileSync(join(outside, 'root.0.100%'), 'utf8')).toBe(`${LINE}\n`);
    expect(readdirSync(outside)).toEqual(['root.0.100%']); // the lock was renamed into place
    const missing = await reply(dir, add(LINE, { authorizedKeysFiles: [`${outside}/no/such/%u`] }));
    expect(missing).toMatchObject({ kind: 'error', reason: 'unsupported' });
  });

  it('refuses tokens sshd has not and paths with blanks before anything runs', () => {
    expect(() => buildRemoteScript(add(LINE, { authorizedKeysFiles: ['/etc/keys/%d'] }))).toThrow(/%d/);
    expect(() => buildRemoteScript(add(LINE, { authorizedKeysFiles: ['/etc/my keys'] }))).toThrow(/blank/);
    expect(() => buildRemoteScript(add(LINE, { account: 'bob;id' }))).toThrow(/POSIX user name/);
    expect(() => buildRemoteScript(add(LINE, { account: '-bob' }))).toThrow(/POSIX user name/);
  });

  it('auto as root: the answer of sshd -T for this login', async () => {
    const dir = home();
    const expected = spawnSync('/usr/sbin/sshd', ['-T', '-C', 'user=root,host=127.0.0.1,addr=127.0.0.1,laddr=127.0.0.1,lport=22'], { encoding: 'utf8' });
    const line = /^authorizedkeysfile (.*)$/m.exec(expected.stdout)?.[1];
    expect(line, expected.stderr).toBeDefined();
    const run = await runScript(dir, add(LINE, { authorizedKeysFiles: 'auto' }));
    const answer = parseRemoteAnswer(run.stdout);
    expect(answer?.context.source).toBe('sshd');
    expect(answer?.context.files).toEqual(line!.split(' ').map((f) => (f.startsWith('/') ? f.replace('%u', 'root') : `~/${f}`)));
  });

  it('auto for a login that cannot run sshd -T: sshd\'s default, said so', async () => {
    const dir = home();
    chownSync(dir, 65534, 65534);
    const run = await runScript(dir, add(LINE, { authorizedKeysFiles: 'auto' }), ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'], { LOGNAME: 'nobody' });
    const answer = parseRemoteAnswer(run.stdout);
    expect(answer, run.stderr).toMatchObject({ outcome: { kind: 'added' }, context: { source: 'default', files: ['~/.ssh/authorized_keys', '~/.ssh/authorized_keys2'] } });
    expect(answer!.context.notes.join(' ')).toMatch(/sshd -T needs root or sudo -n/);
    expect(statSync(keysFile(dir)).uid).toBe(65534);
  });

  it('another account that does not exist: no-account, nothing written', async () => {
    const dir = home();
    expect(await reply(dir, add(LINE, { account: 'pe-no-such-user' }))).toMatchObject({ kind: 'error', reason: 'no-account' });
    expect(existsSync(join(dir, '.ssh'))).toBe(false);
  });
});

function rmKeys(dir: string, name: string): void {
  spawnSync('rm', ['-f', keysFile(dir, name)]);
}

/** This host's lock record for `pid` (as the script writes it), from /proc. */
function holderRecord(pid: number): string {
  const host = readFileSync('/proc/sys/kernel/hostname', 'utf8').trim();
  const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const start = stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[19];
  return `piv-enroll-lock host=${host} boot=${boot} pid=${pid} start=${start}`;
}

describe('the lock', () => {
  const lockPath = (dir: string) => join(dir, '.ssh', '.piv-enroll.lock');

  it('takes over a lock whose holder died, and says so', async () => {
    const dir = home();
    writeKeys(dir, `${OTHER}\n`);
    const child = spawn('sleep', ['30']);
    const record = holderRecord(child.pid!);
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    writeFileSync(lockPath(dir), `${record}\n`);
    const run = await runScript(dir, add(LINE, { lockWaitTenths: 5 }));
    const answer = parseRemoteAnswer(run.stdout);
    expect(answer?.outcome).toEqual({ kind: 'added' });
    expect(answer?.context.notes.join(' ')).toMatch(new RegExp(`took over a stale lock .*pid ${child.pid}`));
    expect(readFileSync(keysFile(dir), 'utf8')).toBe(`${OTHER}\n${LINE}\n`);
    expect(readdirSync(join(dir, '.ssh'))).toEqual(['authorized_keys']);
  });

  it('waits for a live holder and gives up with "locked", naming it', async () => {
    const dir = home();
    writeKeys(dir, `${OTHER}\n`);
    const record = holderRecord(process.pid);
    writeFileSync(lockPath(dir), `${record}\n`);
    const answer = await reply(dir, add(LINE, { lockWaitTenths: 3 }));
    expect(answer).toMatchObject({ kind: 'error', reason: 'locked' });
    expect((answer as { detail: string }).detail).toContain(`pid=${process.pid}`);
    expect(readFileSync(lockPath(dir), 'utf8')).toBe(`${record}\n`);
  });

  it('takes over a lock without a record only once it is older than the bound', async () => {
    const dir = home();
    writeKeys(dir, `${OTHER}\n`);
    writeFileSync(lockPath(dir), '');
    expect(await reply(dir, add(LINE, { lockWaitTenths: 3, lockStaleSeconds: 600 }))).toMatchObject({ kind: 'error', reason: 'locked' });
    const old = Date.now() / 1000 - 700;
    utimesSync(lockPath(dir), old, old);
    const answer = parseRemoteAnswer((await runScript(dir, add(LINE, { lockWaitTenths: 3, lockStaleSeconds: 600 }))).stdout);
    expect(answer?.outcome).toEqual({ kind: 'added' });
    expect(answer?.context.notes.join(' ')).toMatch(/took over a stale lock .*unknown, the lock is \d+ s old/);
  });
});

describe('the new file', () => {
  it("keeps the old file's owner, group and mode; a new file is 0600", async () => {
    const dir = home();
    writeKeys(dir, `${OTHER}\n`);
    chownSync(keysFile(dir), 65534, 65534);
    chmodSync(keysFile(dir), 0o640);
    const before = statSync(keysFile(dir));
    expect(await reply(dir, add(LINE))).toEqual({ kind: 'added' });
    const after = statSync(keysFile(dir));
    expect(after.ino).not.toBe(before.ino);
    expect([after.uid, after.gid, after.mode & 0o7777]).toEqual([65534, 65534, 0o640]);
    const fresh = home();
    expect(await reply(fresh, add(LINE))).toEqual({ kind: 'added' });
    expect(statSync(keysFile(fresh)).mode & 0o777).toBe(0o600);
  });

  it('forks five processes to add a key (awk, cp, sync, mv, sync) and one more than the awk when it is there', async () => {
    if (spawnSync('strace', ['-V']).status !== 0) return;
    const dir = home();
    writeKeys(dir, `${OTHER}\n`);
    const trace = join(dir, 'trace');
    const execs = async () => {
      await runScript(dir, add(LINE), ['strace', '-f', '-qq', '-e', 'trace=execve', '-o', trace]);
      return [...readFileSync(trace, 'utf8').matchAll(/execve\("([^"]+)"/g)].map((m) => m[1]!.split('/').at(-1)).slice(2); // strace's sh, then sh -s
    };
    expect(await execs()).toEqual(['awk', 'cp', 'sync', 'mv', 'sync']);
    expect(await execs()).toEqual(['awk', 'rm']);
  });
});
