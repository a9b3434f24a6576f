/**
 * The remote script, run here by real shells (dash as /bin/sh, bash in POSIX mode) against temporary homes,
 * exactly as a host runs it behind REMOTE_COMMAND. File modes are not checked here (we run as root); the ssh tests
 * do that with real users.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { splitKeyLine } from '../../src/operations/deploy/key-line.js';
import { buildRemoteScript, parseRemoteReply, REMOTE_COMMAND, remoteCommand, shellQuote, type RemoteRequest } from '../../src/operations/deploy/remote-script.js';

const BLOB = 'AAAAC3NzaC1lZDI1NTE5AAAAIHx2OCVRMh8RPHVZ2BzJUnSxOQqUobEeSLwVBYhX+IeY';
const LINE = `ssh-ed25519 ${BLOB} alice@laptop`;
const OTHER_BLOB = 'AAAAC3NzaC1lZDI1NTE5AAAAIDisabledDisabledDisabledDisabledDisabled0';

function home(): string {
  return mkdtempSync(join(tmpdir(), 'pe-deploy-script-'));
}

function runScript(dir: string, request: RemoteRequest, shell: string[] = ['sh', '-c']): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(shell[0]!, [...shell.slice(1), remoteCommand(request)], { env: { HOME: dir, PATH: '/usr/bin:/bin' }, cwd: '/' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(buildRemoteScript(request));
  });
}

const keysFile = (dir: string) => join(dir, '.ssh', 'authorized_keys');
function writeKeys(dir: string, content: string | Buffer): void {
  mkdirSync(join(dir, '.ssh'), { recursive: true, mode: 0o700 });
  writeFileSync(keysFile(dir), content, { mode: 0o600 });
}

const MESSY = Buffer.from(
  [
    '# team keys\r',
    '',
    `from="127.0.0.1",no-pty ssh-ed25519 ${OTHER_BLOB} bob`,
    '   \t',
    'command="echo \\"hi there\\"",no-agent-forwarding ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDx0uVYbm2dGk3dK4bT/x1 old\r',
    'caf\xe9 is not a key line, and stays',
    '#last line without newline',
  ].join('\n'),
  'latin1',
);

for (const [name, shell] of [
  ['dash (/bin/sh)', ['sh', '-c']],
  ['bash --posix', ['bash', '--posix', '-c']],
] as const) {
  describe(`remote script under ${name}`, () => {
    it('creates ~/.ssh and authorized_keys when missing, then finds the key present and leaves the file alone', async () => {
      const dir = home();
      expect(parseRemoteReply((await runScript(dir, { action: 'add', blob: BLOB, keyLine: LINE }, [...shell])).stdout)).toEqual({ kind: 'added' });
      expect(readFileSync(keysFile(dir), 'utf8')).toBe(`${LINE}\n`);
      expect(statSync(join(dir, '.ssh')).mode & 0o777).toBe(0o700);
      expect(statSync(keysFile(dir)).mode & 0o777).toBe(0o600);
      const before = statSync(keysFile(dir));
      expect(parseRemoteReply((await runScript(dir, { action: 'add', blob: BLOB, keyLine: `${LINE.replace('alice@laptop', 'other comment')}` }, [...shell])).stdout)).toEqual({ kind: 'already-present' });
      const after = statSync(keysFile(dir));
      expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
      expect(existsSync(join(dir, '.ssh', '.piv-enroll.lock'))).toBe(false);
    });

    it('appends after a file without final newline, keeping every byte (CR, Latin-1, blank lines) before it', async () => {
      const dir = home();
      writeKeys(dir, MESSY);
      expect(parseRemoteReply((await runScript(dir, { action: 'add', blob: BLOB, keyLine: LINE }, [...shell])).stdout)).toEqual({ kind: 'added' });
      expect(readFileSync(keysFile(dir)).equals(Buffer.concat([MESSY, Buffer.from(`\n${LINE}\n`)]))).toBe(true);
    });

    it('removes by blob whatever the options and comment, keeping the other lines byte for byte', async () => {
      const dir = home();
      writeKeys(dir, MESSY);
      const reply = parseRemoteReply((await runScript(dir, { action: 'remove', blob: OTHER_BLOB }, [...shell])).stdout);
      expect(reply).toEqual({ kind: 'removed', count: 1 });
      const expected = Buffer.concat([Buffer.from(MESSY.toString('latin1').replace(`from="127.0.0.1",no-pty ssh-ed25519 ${OTHER_BLOB} bob\n`, ''), 'latin1'), Buffer.from('\n')]);
      expect(readFileSync(keysFile(dir)).equals(expected)).toBe(true);
      expect(parseRemoteReply((await runScript(dir, { action: 'remove', blob: OTHER_BLOB }, [...shell])).stdout)).toEqual({ kind: 'absent' });
      expect(parseRemoteReply((await runScript(home(), { action: 'remove', blob: OTHER_BLOB }, [...shell])).stdout)).toEqual({ kind: 'absent' });
    });

    it('finds the same blobs as the TypeScript reader, line by line', async () => {
      const corpus = [
        ...MESSY.toString('latin1').split('\n'),
        `restrict ${LINE}`,
        `  environment="A=b c"\t${LINE}`,
        `cert-authority,principals="x \\" y" ecdsa-sha2-nistp256 ${OTHER_BLOB}`,
        `ssh-ed25519\t${BLOB}`,
        `no-pty`,
        `ssh-ed25519 tooShort`,
        `sk-ssh-ed25519@openssh.com ${OTHER_BLOB} touch key`,
      ];
      const dir = home();
      writeKeys(dir, Buffer.from(corpus.join('\n') + '\n', 'latin1'));
      const reply = parseRemoteReply((await runScript(dir, { action: 'list', includeCertAuthority: true }, [...shell])).stdout);
      const expected = corpus.map((l) => splitKeyLine(l)?.blob).filter((b): b is string => b !== undefined);
      expect(expected.length).toBeGreaterThan(6);
      expect(reply).toEqual({ kind: 'listed', blobs: expected });
    });

    it('on a dry run decides without writing anything, not even ~/.ssh', async () => {
      const dir = home();
      expect(parseRemoteReply((await runScript(dir, { action: 'add', blob: BLOB, keyLine: LINE, dryRun: true }, [...shell])).stdout)).toEqual({ kind: 'would-add' });
      expect(existsSync(join(dir, '.ssh'))).toBe(false);
      writeKeys(dir, MESSY);
      expect(parseRemoteReply((await runScript(dir, { action: 'remove', blob: OTHER_BLOB, dryRun: true }, [...shell])).stdout)).toEqual({ kind: 'would-remove' });
      expect(readFileSync(keysFile(dir)).equals(MESSY)).toBe(true);
    });
  });
}

describe('remote script safety', () => {
  it('takes key text literally: quotes, $(…), backquotes and semicolons in a comment run nothing', async () => {
    const dir = home();
    const canary = join(dir, 'pwned');
    const hostile = `ssh-ed25519 ${BLOB} it's $(touch ${canary}) \`touch ${canary}\` "; touch ${canary}; '`;
    expect(parseRemoteReply((await runScript(dir, { action: 'add', blob: BLOB, keyLine: hostile })).stdout)).toEqual({ kind: 'added' });
    expect(existsSync(canary)).toBe(false);
    expect(readFileSync(keysFile(dir), 'utf8')).toBe(`${hostile}\n`);
  });

  it('refuses data that could break out of the script', () => {
    expect(() => buildRemoteScript({ action: 'add', blob: BLOB, keyLine: `${LINE}\ntouch /tmp/x` })).toThrow(/line break/);
    expect(() => buildRemoteScript({ action: 'add', blob: `${BLOB}';id;'`, keyLine: LINE })).toThrow(/base64/);
    expect(shellQuote(`a'b`)).toBe(`'a'\\''b'`);
  });

  it('gives the login shell one line with no quote inside its quotes (fish, tcsh and csh read it as sh does)', () => {
    expect(REMOTE_COMMAND).toMatch(/^exec sh -c '[^'\n]*'$/);
    expect(remoteCommand({})).toBe('exec sh -s');
    expect(remoteCommand({ account: 'bob' })).toBe(REMOTE_COMMAND); // sudo -n needs the script's text again
  });

  it('waits for another deployment\'s lock, then proceeds; gives up with "locked" when it is never released', async () => {
    const dir = home();
    writeKeys(dir, `${LINE}\n`);
    const lock = join(dir, '.ssh', '.piv-enroll.lock');
    mkdirSync(lock);
    const refused = parseRemoteReply((await runScript(dir, { action: 'add', blob: OTHER_BLOB, keyLine: `ssh-ed25519 ${OTHER_BLOB}`, lockWaitTenths: 3 })).stdout);
    expect(refused).toMatchObject({ kind: 'error', reason: 'locked' });
    expect(existsSync(lock)).toBe(true); // not ours: left alone
    expect(readFileSync(keysFile(dir), 'utf8')).toBe(`${LINE}\n`);

    const waiting = runScript(dir, { action: 'add', blob: OTHER_BLOB, keyLine: `ssh-ed25519 ${OTHER_BLOB}`, lockWaitTenths: 100 });
    await new Promise((r) => setTimeout(r, 400));
    rmdirSync(lock);
    expect(parseRemoteReply((await waiting).stdout)).toEqual({ kind: 'added' });
    expect(readFileSync(keysFile(dir), 'utf8')).toBe(`${LINE}\nssh-ed25519 ${OTHER_BLOB}\n`);
    expect(existsSync(lock)).toBe(false);
  });

  it('does not replace a symbolic link with a file', async () => {
    const dir = home();
    mkdirSync(join(dir, '.ssh'), { mode: 0o700 });
    writeFileSync(join(dir, 'real_keys'), `${LINE}\n`);
    symlinkSync(join(dir, 'real_keys'), keysFile(dir));
    const reply = parseRemoteReply((await runScript(dir, { action: 'add', blob: OTHER_BLOB, keyLine: `ssh-ed25519 ${OTHER_BLOB}` })).stdout);
    expect(reply).toMatchObject({ kind: 'error', reason: 'unsupported' });
    expect(lstatSync(keysFile(dir)).isSymbolicLink()).toBe(true);
    // …but reads through it: a key already there is found.
    expect(parseRemoteReply((await runScript(dir, { action: 'add', blob: BLOB, keyLine: LINE })).stdout)).toEqual({ kind: 'already-present' });
  });

  it('reads its reply among whatever else a login prints, and knows when there is none', () => {
    expect(parseRemoteReply('Welcome to host!\nPIV-ENROLL added\n')).toEqual({ kind: 'added' });
    expect(parseRemoteReply('PIV-ENROLL error no-space cannot write ~/.ssh/x: No space left on device\n')).toEqual({ kind: 'error', reason: 'no-space', detail: 'cannot write ~/.ssh/x: No space left on device' });
    expect(parseRemoteReply('motd\n')).toBeUndefined();
    expect(parseRemoteReply('PIV-ENROLL something-new\n')).toBeUndefined();
  });

  it('runs under the login shells it guards against when they are installed (tcsh, fish)', async () => {
    for (const shell of ['tcsh', 'fish']) {
      if (spawnSync('which', [shell]).status !== 0) continue;
      const dir = home();
      const reply = parseRemoteReply((await runScript(dir, { action: 'add', blob: BLOB, keyLine: LINE }, [shell, '-c'])).stdout);
      expect(reply, shell).toEqual({ kind: 'added' });
    }
  });
});
