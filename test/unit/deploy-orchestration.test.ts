/**
 * The deploy operation with a scripted ssh: arguments (option injection, reserved options, order), failure
 * classification from real ssh messages, the concurrency bound, the fingerprint flow and its master connection.
 */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { addKeyToHosts, removeKeyFromHosts } from '../../src/operations/deploy/deploy-key.js';
import { parseRemoteReply } from '../../src/operations/deploy/remote-script.js';
import { checkSshOptions, classifySshFailure, type SshRun, type SshRunner } from '../../src/operations/deploy/ssh-client.js';

const LINE = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHx2OCVRMh8RPHVZ2BzJUnSxOQqUobEeSLwVBYhX+IeY alice@laptop';
const FINGERPRINT = 'SHA256:WacEq30Uo0oFQzgU8eMYoyFUH1D1T2BbxKRkWrq/1uY';
const OTHER_BLOB = 'AAAAC3NzaC1lZDI1NTE5AAAAIDisabledDisabledDisabledDisabledDisabled0';

/** ssh's own words (OpenSSH 9.2), as the ssh tests saw them. */
const STDERR = {
  changed: '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\nIT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\nHost key for [127.0.0.1]:40001 has changed and you have requested strict checking.\nHost key verification failed.\n',
  unknown: 'No ED25519 host key is known for [127.0.0.1]:40002 and you have requested strict checking.\nHost key verification failed.\n',
  refused: 'ssh: connect to host 127.0.0.1 port 40003: Connection refused\n',
  dns: 'ssh: Could not resolve hostname nowhere.invalid: Name or service not known\n',
  denied: 'pe-d1234@127.0.0.1: Permission denied (publickey).\n',
  closed: 'Connection closed by 127.0.0.1 port 40004\n',
};

describe('classifying ssh failures', () => {
  it('tells host-key, reachability and authentication failures apart', () => {
    const classify = (stderr: string, exitCode = 255) => classifySshFailure({ exitCode, stdout: '', stderr })?.reason;
    expect(classify(STDERR.changed)).toBe('changed-host-key');
    expect(classify(STDERR.unknown)).toBe('unknown-host-key');
    expect(classify(STDERR.refused)).toBe('unreachable');
    expect(classify(STDERR.dns)).toBe('unreachable');
    expect(classify(STDERR.closed)).toBe('unreachable');
    expect(classify(STDERR.denied)).toBe('authentication');
    expect(classify('something odd\n')).toBe('error');
    expect(classify('', 1)).toBeUndefined(); // the remote side failed, not ssh
  });

  it('refuses --ssh-option values that would prompt, share connections or weaken host-key checks, all at once', () => {
    expect(checkSshOptions(['ProxyJump=bastion', 'Port=2222', 'KexAlgorithms=curve25519-sha256'])).toEqual([]);
    expect(checkSshOptions(['BatchMode=no', 'stricthostkeychecking=no', 'ControlPath=/tmp/x', 'oops', '-oProxyCommand=x'])).toEqual([
      '--ssh-option BatchMode cannot be set: deploy never prompts',
      '--ssh-option stricthostkeychecking cannot be set: use --accept-new-host-keys to accept keys of hosts not yet known',
      '--ssh-option ControlPath cannot be set: deploy manages its own connection sharing',
      '--ssh-option takes KEY=VALUE (an ssh_config option), not "oops"',
      '--ssh-option takes KEY=VALUE (an ssh_config option), not "-oProxyCommand=x"',
    ]);
  });
});

interface Call {
  args: string[];
  input: string;
}

/** A scripted ssh: `answer` decides each session's result from its arguments and script. */
function fakeSsh(answer: (call: Call) => SshRun | Promise<SshRun>): SshRunner & { calls: Call[]; maxInFlight: number } {
  let inFlight = 0;
  const runner = Object.assign(
    async (args: string[], input: string) => {
      const call = { args, input };
      runner.calls.push(call);
      inFlight++;
      runner.maxInFlight = Math.max(runner.maxInFlight, inFlight);
      try {
        await new Promise((r) => setTimeout(r, 5));
        return await answer(call);
      } finally {
        inFlight--;
      }
    },
    { calls: [] as Call[], maxInFlight: 0 },
  );
  return runner;
}

const reply = (text: string): SshRun => ({ exitCode: 0, stdout: `PIV-ENROLL ${text}\n`, stderr: '' });
const destination = (call: Call) => call.args[call.args.indexOf('--') + 1];

describe('deploying with a scripted ssh', () => {
  it('builds ssh arguments that keep host text out of option parsing and put the user\'s options before the defaults', async () => {
    const ssh = fakeSsh(() => reply('added'));
    await addKeyToHosts(LINE, ['alice@web:2222'], { runner: ssh, identityFile: '/keys/id', knownHostsFile: '/kh', sshOptions: ['ConnectTimeout=3', 'ProxyJump=bastion'] });
    const args = ssh.calls[0]!.args;
    const option = (name: string) => args.filter((_, i) => args[i - 1] === '-o').filter((o) => o.startsWith(`${name}=`));
    expect(args.slice(-3, -1)).toEqual(['--', 'web']);
    expect(args.slice(args.indexOf('-p'), args.indexOf('-p') + 2)).toEqual(['-p', '2222']);
    expect(args.slice(args.indexOf('-l'), args.indexOf('-l') + 2)).toEqual(['-l', 'alice']);
    expect(option('BatchMode')).toEqual(['BatchMode=yes']);
    expect(option('StrictHostKeyChecking')).toEqual(['StrictHostKeyChecking=yes']);
    expect(option('ControlMaster')).toEqual(['ControlMaster=auto']);
    expect(option('ControlPath')[0]).toMatch(/^ControlPath=\/.*pe-ssh-[^/]+\/%C$/);
    // ssh keeps the first value: the user's ConnectTimeout wins over the default that follows it.
    expect(option('ConnectTimeout')).toEqual(['ConnectTimeout=3', 'ConnectTimeout=10']);
    expect(option('UserKnownHostsFile')).toEqual(['UserKnownHostsFile=/kh']);
    expect(option('IdentityFile')).toEqual(['IdentityFile=/keys/id']);
    expect(ssh.calls[0]!.input).toContain(`key_line='${LINE}'`);
  });

  it('works on at most `concurrency` hosts at once, in order, and reports each with its own outcome', async () => {
    const hosts = Array.from({ length: 12 }, (_, i) => `h${i}`);
    const ssh = fakeSsh((call) => {
      const host = destination(call)!;
      if (host === 'h3') return { exitCode: 255, stdout: '', stderr: STDERR.refused };
      if (host === 'h5') return { exitCode: 255, stdout: '', stderr: STDERR.changed };
      if (host === 'h7') return reply('error permission-denied cannot create ~/.ssh/.piv-enroll.lock: mkdir: Permission denied');
      if (host === 'h8') return reply('already-present');
      if (host === 'h9') return { exitCode: 127, stdout: '', stderr: 'sh: not found\n' };
      return reply('added');
    });
    const started: string[] = [];
    let clock = 0;
    const results = await addKeyToHosts(LINE, hosts, { runner: ssh, concurrency: 3, now: () => (clock += 250), onHostStart: (h) => started.push(h) });
    expect(ssh.maxInFlight).toBe(3);
    expect(started).toEqual(hosts);
    expect(results.map((r) => r.host)).toEqual(hosts);
    expect(results.map((r) => [r.host, r.status, r.reason])).toEqual(
      hosts.map((h) => {
        if (h === 'h3') return [h, 'failed', 'unreachable'];
        if (h === 'h5') return [h, 'failed', 'changed-host-key'];
        if (h === 'h7') return [h, 'failed', 'permission-denied'];
        if (h === 'h8') return [h, 'already-present', undefined];
        if (h === 'h9') return [h, 'failed', 'error'];
        return [h, 'added', undefined];
      }),
    );
    expect(results[9]!.detail).toBe('sh: not found');
    expect(results.every((r) => r.seconds > 0)).toBe(true);
    // One session per host and no separate close: each session is its own master.
    expect(ssh.calls).toHaveLength(hosts.length);
  });

  it('removes by fingerprint: lists the blobs, hashes them here, removes the match over the same master, closes it', async () => {
    const ssh = fakeSsh((call) => {
      if (call.args.includes('-O')) return { exitCode: 0, stdout: '', stderr: '' };
      const request = /action='(\w+)'/.exec(call.input)![1];
      if (request === 'list') return { exitCode: 0, stdout: `PIV-ENROLL blob ${OTHER_BLOB}\nPIV-ENROLL blob ${LINE.split(' ')[1]}\nPIV-ENROLL listed\n`, stderr: '' };
      expect(call.input).toContain(`blob='${LINE.split(' ')[1]}'`);
      return reply('removed 1');
    });
    const results = await removeKeyFromHosts(FINGERPRINT, ['web'], { runner: ssh });
    expect(results[0]).toMatchObject({ host: 'web', status: 'removed', changed: true });
    expect(ssh.calls.map((c) => (c.args.includes('-O') ? 'close' : /action='(\w+)'/.exec(c.input)![1]))).toEqual(['list', 'remove', 'close']);
    expect(ssh.calls.slice(0, 2).every((c) => c.args.includes('ControlPersist=120'))).toBe(true);

    const none = fakeSsh((call) => (call.args.includes('-O') ? { exitCode: 0, stdout: '', stderr: '' } : { exitCode: 0, stdout: `PIV-ENROLL blob ${OTHER_BLOB}\nPIV-ENROLL listed\n`, stderr: '' }));
    expect((await removeKeyFromHosts(FINGERPRINT, ['web'], { runner: none }))[0]).toMatchObject({ status: 'absent', changed: false });
  });

  it('refuses bad input before running ssh at all, with every problem in one error', async () => {
    const ssh = fakeSsh(() => reply('added'));
    await expect(addKeyToHosts(LINE, ['-oProxyCommand=x', 'ok', 'bad host'], { runner: ssh })).rejects.toThrow(/-oProxyCommand=x[\s\S]*bad host/);
    await expect(addKeyToHosts('not a key', ['ok'], { runner: ssh })).rejects.toThrow(UsageError);
    await expect(addKeyToHosts(LINE, ['ok'], { runner: ssh, concurrency: 0 })).rejects.toThrow(/concurrency/);
    await expect(addKeyToHosts(LINE, ['ok'], { runner: ssh, sshOptions: ['BatchMode=no'] })).rejects.toThrow(/BatchMode/);
    await expect(removeKeyFromHosts('SHA256:short', ['ok'], { runner: ssh })).rejects.toThrow(/not a SHA256 fingerprint/);
    await expect(addKeyToHosts(LINE, [], { runner: ssh })).rejects.toThrow(/no hosts/);
    expect(ssh.calls).toHaveLength(0);
  });

  it('passes the dry run to the host script', async () => {
    const ssh = fakeSsh((call) => reply(call.input.includes('dry_run=yes') ? 'would-add' : 'added'));
    expect((await addKeyToHosts(LINE, ['a'], { runner: ssh, dryRun: true }))[0]).toMatchObject({ status: 'would-add', changed: false });
    expect(parseRemoteReply('PIV-ENROLL would-add\n')).toEqual({ kind: 'would-add' });
  });
});

describe('which files, whose, and how lines are matched', () => {
  it('passes them to the host quoted, with the command that can start the script again under sudo -n for --account', async () => {
    const ssh = fakeSsh(() => ({ exitCode: 0, stdout: 'PIV-ENROLL source sshd\nPIV-ENROLL file /etc/ssh/keys/bob\nPIV-ENROLL note took over a stale lock\nPIV-ENROLL updated\n', stderr: '' }));
    const [result] = await addKeyToHosts(LINE, ['root@web'], { runner: ssh, authorizedKeysFiles: 'auto', account: 'bob', keepOptions: true });
    expect(result).toMatchObject({ status: 'updated', changed: true, authorizedKeysSource: 'sshd', authorizedKeysFiles: ['/etc/ssh/keys/bob'], notes: ['took over a stale lock'] });
    const input = ssh.calls[0]!.input;
    expect(input).toContain("files='auto'");
    expect(input).toContain("account='bob'");
    expect(input).toContain('keep_options=yes');
    expect(ssh.calls[0]!.args.at(-1)).toBe(`exec sh -c 'script=$(cat) && eval "$script"'`);
    const plain = fakeSsh(() => reply('added'));
    await addKeyToHosts(LINE, ['web'], { runner: plain, authorizedKeysFiles: ['.ssh/authorized_keys', '/etc/ssh/keys/%u'] });
    expect(plain.calls[0]!.input).toContain("files='.ssh/authorized_keys /etc/ssh/keys/%u'");
    expect(plain.calls[0]!.args.at(-1)).toBe('exec sh -s');
  });

  it('refuses a bad account name or path before any connection, all at once', async () => {
    const ssh = fakeSsh(() => reply('added'));
    const attempt = addKeyToHosts(LINE, ['web'], { runner: ssh, account: "bob'; id", authorizedKeysFiles: ['/keys/%d', 'auto'] });
    await expect(attempt).rejects.toThrow(UsageError);
    await expect(attempt).rejects.toThrow(/%d is not one of sshd's tokens[\s\S]*auto stands alone[\s\S]*--account: "bob'; id" is not a POSIX user name/);
    expect(ssh.calls).toHaveLength(0);
  });
});
