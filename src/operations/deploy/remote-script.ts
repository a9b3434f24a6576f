/**
 * What runs on each host: a POSIX sh script (templates/deploy/remote-script.sh, with the authorized_keys reader
 * authorized-keys.awk inside it) that edits the account's authorized keys. It reaches the host on ssh's stdin,
 * with the request in single-quoted assignments at its head, so nothing from the key is ever parsed by the login
 * shell. The login shell only sees REMOTE_COMMAND, one line without quotes inside quotes, which fish, tcsh and csh
 * run as sh does (the guard ssh-copy-id uses: `exec sh -c '…'`).
 *
 * The edit, as a careful deployer does it (shared/reference/ssh.md §5): the files sshd reads (given, or asked of
 * sshd with `sshd -T`), keys compared by blob and options (a line of the key with other options is replaced, unless
 * keepOptions; cert-authority lines are not the key and are left alone unless asked); the decision is taken once
 * without writing (an unchanged file is never touched) and again under a lock, since another deployment may have
 * written meanwhile; the new file is written next to the old one, given its owner, group, mode, ACLs and extended
 * attributes, fsynced, renamed over it, and the directory fsynced; every other line is kept byte for byte; a
 * missing final newline is added. POSIX has no flock, so the lock is a file created exclusively (noclobber,
 * O_EXCL) next to the file, recording its holder; it is itself the new file and is renamed over the old one, which
 * releases it; waited for at most 30 s by default, taken over when its holder is gone; an EXIT trap removes it if
 * the script stops before the rename.
 */

import { readFileSync } from 'node:fs';
import { splitKeyLine } from './key-line.js';

export type RemoteAction = 'add' | 'remove' | 'list';

/** sshd's default AuthorizedKeysFile (sshd_config(5)), used when sshd cannot be asked. */
export const SSHD_DEFAULT_KEYS_FILES = ['.ssh/authorized_keys', '.ssh/authorized_keys2'];

export interface RemoteRequest {
  action: RemoteAction;
  /** The key's base64 blob (add, remove). */
  blob?: string;
  /** The full authorized_keys line to append (add). */
  keyLine?: string;
  /** Decide and report, write nothing (no ~/.ssh created, no lock taken). */
  dryRun?: boolean;
  /** How long to wait for another deployment's lock, in tenths of a second (default 300: 30 s). */
  lockWaitTenths?: number;
  /** A lock whose holder cannot be checked (another host, no /proc) is taken over after this many seconds. */
  lockStaleSeconds?: number;
  /** The files, as sshd_config's AuthorizedKeysFile (tokens %h %u %U %%, relative to the home), or `auto`. */
  authorizedKeysFiles?: string[] | 'auto';
  /** Whose keys (default: the login's); another account needs root or sudo -n on the host. */
  account?: string;
  /** A line of the key with other options counts as present (it is not replaced). */
  keepOptions?: boolean;
  /** remove (and list) touch cert-authority lines of the blob too. */
  includeCertAuthority?: boolean;
}

export const DEFAULT_LOCK_WAIT_TENTHS = 300;
/** Past this, a lock that cannot be shown dead (its holder on another host, or no /proc) is taken over. */
export const DEFAULT_LOCK_STALE_SECONDS = 600;
export const DEFAULT_KEYS_FILES = ['.ssh/authorized_keys'];

/** A POSIX portable user name (the portable filename characters, no leading hyphen), at most 32 characters. */
export const ACCOUNT_NAME = /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,31}$/;

/** Problems with an AuthorizedKeysFile path: sshd's tokens only, no blanks (they separate paths), no control characters. */
export function checkKeysFilePath(path: string): string | undefined {
  if (path === '') return 'an empty AuthorizedKeysFile path';
  if (/[\x00-\x1f\x7f\s]/.test(path)) return `AuthorizedKeysFile path "${path}" holds a blank or control character`;
  const token = /%(.?)/g;
  for (let m = token.exec(path); m; m = token.exec(path)) {
    if (!['h', 'u', 'U', '%'].includes(m[1]!)) return `AuthorizedKeysFile path "${path}": %${m[1]} is not one of sshd's tokens %h %u %U %%`;
  }
  return undefined;
}

/**
 * The one command line the remote login shell parses; the script follows on stdin. This one keeps the script's
 * text (in $script), which editing another account's keys needs to start it again under sudo -n.
 */
export const REMOTE_COMMAND = `exec sh -c 'script=$(cat) && eval "$script"'`;
/**
 * The usual command: sh reads the script from stdin itself, one process fewer per host (no command in the script
 * reads stdin). No quotes at all, so every login shell reads it alike.
 */
export const REMOTE_COMMAND_STREAMED = 'exec sh -s';

export function remoteCommand(request: Pick<RemoteRequest, 'account'>): string {
  return request.account ? REMOTE_COMMAND : REMOTE_COMMAND_STREAMED;
}

/** Marks the script's reply lines on stdout, apart from anything a login profile prints. */
export const REPLY_PREFIX = 'PIV-ENROLL';

/** POSIX sh single quoting: everything literal; a quote is closed, escaped, reopened. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

const TEMPLATES = new URL('../../../templates/deploy/', import.meta.url);

/** The body (templates/deploy/remote-script.sh) with the authorized_keys reader (authorized-keys.awk) inside it. */
const SCRIPT_BODY = ((): string => {
  const awk = readFileSync(new URL('authorized-keys.awk', TEMPLATES), 'utf8')
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n');
  if (awk.includes("'")) throw new Error('authorized-keys.awk holds a single quote: it is embedded single-quoted');
  return readFileSync(new URL('remote-script.sh', TEMPLATES), 'utf8').replace('@AWK@', () => awk);
})();

/** The script for one request: its data as quoted assignments, then the fixed body. */
export function buildRemoteScript(request: RemoteRequest): string {
  const blob = request.blob ?? '';
  const keyLine = request.keyLine ?? '';
  if (/[\r\n]/.test(keyLine)) throw new Error('a key line cannot hold a line break');
  if (!/^[A-Za-z0-9+/=]*$/.test(blob)) throw new Error('a key blob is base64');
  const account = request.account ?? '';
  if (account !== '' && !ACCOUNT_NAME.test(account)) throw new Error(`"${account}" is not a POSIX user name`);
  const files = request.authorizedKeysFiles ?? DEFAULT_KEYS_FILES;
  if (files !== 'auto') {
    const problem = files.length === 0 ? 'no AuthorizedKeysFile path' : files.map(checkKeysFilePath).find(Boolean);
    if (problem) throw new Error(problem);
  }
  const whole = (n: number | undefined, fallback: number) => Math.max(0, Math.floor(n ?? fallback));
  return [
    `action=${shellQuote(request.action)}`,
    `dry_run=${request.dryRun ? 'yes' : 'no'}`,
    `lock_wait_tenths=${whole(request.lockWaitTenths, DEFAULT_LOCK_WAIT_TENTHS)}`,
    `lock_stale_seconds=${whole(request.lockStaleSeconds, DEFAULT_LOCK_STALE_SECONDS)}`,
    `blob=${shellQuote(blob)}`,
    `key_line=${shellQuote(keyLine)}`,
    `key_options=${shellQuote(splitKeyLine(keyLine)?.options ?? '')}`,
    `keep_options=${request.keepOptions ? 'yes' : 'no'}`,
    `include_ca=${request.includeCertAuthority ? 'yes' : 'no'}`,
    `files=${shellQuote(files === 'auto' ? 'auto' : files.join(' '))}`,
    `account=${shellQuote(account)}`,
    SCRIPT_BODY,
  ].join('\n');
}

export type RemoteOutcome =
  | { kind: 'added' | 'updated' | 'already-present' | 'absent' | 'would-add' | 'would-update' | 'would-remove' }
  | { kind: 'removed'; count: number }
  | { kind: 'listed'; blobs: string[] }
  | { kind: 'error'; reason: string; detail: string };

/** Where the script looked: the files (as it shows them), why those, and what it noted (a lock taken over, ACLs not copied). */
export interface RemoteContext {
  files: string[];
  /** `given` (the option or the default), `sshd` (sshd -T), `default` (sshd could not be asked). */
  source?: 'given' | 'sshd' | 'default';
  notes: string[];
}

/** The script's reply, or undefined when it gave none (it never ran, or died before the end). */
export function parseRemoteReply(stdout: string): RemoteOutcome | undefined {
  return parseRemoteAnswer(stdout)?.outcome;
}

const CONTEXT_WORDS = ['blob', 'file', 'source', 'note'];

export function parseRemoteAnswer(stdout: string): { outcome: RemoteOutcome; context: RemoteContext } | undefined {
  const replies = stdout
    .split('\n')
    .filter((line) => line.startsWith(`${REPLY_PREFIX} `))
    .map((line) => line.slice(REPLY_PREFIX.length + 1));
  const tagged = (word: string) => replies.filter((r) => r.startsWith(`${word} `)).map((r) => r.slice(word.length + 1).trim());
  const source = tagged('source').at(-1);
  const context: RemoteContext = {
    files: tagged('file'),
    source: source === 'given' || source === 'sshd' || source === 'default' ? source : undefined,
    notes: tagged('note'),
  };
  const last = replies.filter((r) => !CONTEXT_WORDS.includes(r.split(' ')[0]!)).at(-1);
  if (last === undefined) return undefined;
  const [word = '', ...rest] = last.split(' ');
  const outcome = ((): RemoteOutcome | undefined => {
    switch (word) {
      case 'added':
      case 'updated':
      case 'already-present':
      case 'absent':
      case 'would-add':
      case 'would-update':
      case 'would-remove':
        return { kind: word };
      case 'removed':
        return { kind: 'removed', count: Number(rest[0] ?? 1) };
      case 'listed':
        return { kind: 'listed', blobs: tagged('blob') };
      case 'error':
        return { kind: 'error', reason: rest[0] ?? 'error', detail: rest.slice(1).join(' ').trim() };
      default:
        return undefined;
    }
  })();
  return outcome && { outcome, context };
}
