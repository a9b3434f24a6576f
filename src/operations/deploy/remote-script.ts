/**
 * What runs on each host: a POSIX sh script that edits ~/.ssh/authorized_keys. It reaches the host on ssh's
 * stdin, with the key data in single-quoted assignments at its head, so nothing from the key is ever parsed by
 * the login shell. The login shell only sees REMOTE_COMMAND, one line without quotes inside quotes, which fish,
 * tcsh and csh run as sh does (the guard ssh-copy-id uses: `exec sh -c '…'`).
 *
 * The edit, as a careful deployer does it (shared/reference/ssh.md §5): keys compared by blob, so a key already
 * there with another comment or with options counts as present; the decision is taken once without writing (an
 * unchanged file is never touched) and again under a lock, since another deployment may have written meanwhile;
 * the new file is written next to the old one (umask 077: mode 600) and renamed over it; every other line is kept
 * byte for byte; a missing final newline is added; restorecon runs where SELinux has it. POSIX has no flock, so
 * the lock is a file created exclusively (noclobber, O_EXCL) next to authorized_keys; it is itself the new file and
 * is renamed over the old one, which releases it; waited for at most 30 s by default; an EXIT trap removes it if the
 * script stops before the rename.
 */

export type RemoteAction = 'add' | 'remove' | 'list';

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
}

export const DEFAULT_LOCK_WAIT_TENTHS = 300;

/** The one command line the remote login shell parses. The script follows on stdin. */
export const REMOTE_COMMAND = `exec sh -c 'script=$(cat) && eval "$script"'`;

/** Marks the script's reply lines on stdout, apart from anything a login profile prints. */
export const REPLY_PREFIX = 'PIV-ENROLL';

/** POSIX sh single quoting: everything literal; a quote is closed, escaped, reopened. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * blob_of mirrors splitKeyLine in key-line.ts: a line's first field is the key type when the second is a blob;
 * otherwise a leading options field (blanks inside double quotes, \" escapes) comes first.
 */
const AWK_BLOB_OF = String.raw`
function is_blob(s) { return length(s) >= 16 && s ~ "^[A-Za-z0-9+/]+=?=?$" }
function blob_of(line,    n, f, i, c, quoted, rest) {
  sub(/\r$/, "", line)
  sub(/^[ \t]+/, "", line)
  if (line == "" || substr(line, 1, 1) == "#") return ""
  n = split(line, f, /[ \t]+/)
  if (n >= 2 && f[1] !~ /[="]/ && is_blob(f[2])) return f[2]
  quoted = 0
  for (i = 1; i <= length(line); i++) {
    c = substr(line, i, 1)
    if (quoted && c == "\\") { i++; continue }
    if (c == "\"") quoted = !quoted
    else if (!quoted && (c == " " || c == "\t")) break
  }
  rest = substr(line, i)
  sub(/^[ \t]+/, "", rest)
  n = split(rest, f, /[ \t]+/)
  if (n >= 2 && is_blob(f[2])) return f[2]
  return ""
}
`;

const SCRIPT_BODY = String.raw`
LC_ALL=C
export LC_ALL
umask 077
file=.ssh/authorized_keys
lock=.ssh/.piv-enroll.lock
locked=no

say() { printf 'PIV-ENROLL %s\n' "$*"; }
oneline() { printf '%s' "$1" | tr '\n' ' '; }
fail() { say "error $1 $(oneline "$2")"; exit 1; }
fail_write() {
  case $2 in
    *'No space'*|*'Disk quota'*) fail no-space "$1: $2" ;;
    *'ermission denied'*|*'Read-only file system'*|*'Operation not permitted'*) fail permission-denied "$1: $2" ;;
    *) fail write-failed "$1: $2" ;;
  esac
}

awk_blob_of='` + AWK_BLOB_OF + String.raw`'

count_matches() {
  if [ ! -e "$file" ]; then echo 0; return 0; fi
  PIV_ENROLL_BLOB=$blob awk "$awk_blob_of"'
    BEGIN { t = ENVIRON["PIV_ENROLL_BLOB"]; n = 0 }
    blob_of($0) == t { n++ }
    END { print n }' "$file"
}

list_blobs() {
  if [ ! -e "$file" ]; then return 0; fi
  awk "$awk_blob_of"'{ b = blob_of($0); if (b != "") print "PIV-ENROLL blob " b }' "$file"
}

# Whether the key is in the file, by awk's exit status alone: no subshell, one process (a fleet run is CPU-bound).
has_key() {
  [ -e "$file" ] || return 1
  [ -r "$file" ] || fail permission-denied "cannot read ~/$file"
  PIV_ENROLL_BLOB=$blob awk "$awk_blob_of"'
    BEGIN { t = ENVIRON["PIV_ENROLL_BLOB"]; found = 0 }
    blob_of($0) == t { found = 1; exit }
    END { exit !found }' "$file"
}

# The decision: 0 when the file already is as asked (the key present for add, absent for remove).
settled() {
  if [ "$action" = add ]; then has_key; return; fi
  n=$(count_matches) || fail permission-denied "cannot read ~/$file"
  [ "$n" -eq 0 ]
}

# The lock is a file created exclusively (noclobber: O_EXCL) and is also the new authorized_keys: it is written,
# then renamed over the old file, which releases the lock in the same step. No mkdir, rmdir or temporary file:
# every process costs the host CPU, and a fleet deployment is CPU-bound.
take_lock() {
  waited=0
  trap '[ "$locked" = yes ] && rm -f "$lock"' EXIT
  trap 'exit 1' HUP INT TERM PIPE
  set -C
  # "true", not ":": a failed redirection on a special built-in ends a POSIX shell.
  until { true >"$lock"; } 2>/dev/null; do
    # Held by someone else, or not creatable at all (then try once more in a subshell, for the reason).
    if [ ! -e "$lock" ]; then err=$( { true >"$lock"; } 2>&1 ) && break; [ -e "$lock" ] || fail_write "cannot create ~/$lock" "$err"; fi
    [ "$waited" -lt "$lock_wait_tenths" ] || fail locked "~/$lock is held by another deployment (remove it if none is running)"
    if sleep 0.1 2>/dev/null; then waited=$((waited + 1)); else sleep 1; waited=$((waited + 10)); fi
  done
  set +C
  locked=yes
}

# Writes the new content into the lock file. For add it also looks once more, under the lock, whether the key
# arrived meanwhile (exit status 3 of the same awk that copies the lines): then nothing is replaced.
write_new_file() {
  [ ! -L "$file" ] || fail unsupported "~/$file is a symbolic link: not replaced"
  if [ "$action" = add ] && [ ! -e "$file" ]; then
    err=$( printf '%s\n' "$key_line" 2>&1 >"$lock" )
  elif [ "$action" = add ]; then
    # awk prints every line as it read it and ends an unterminated last line with a newline; then the key.
    err=$( PIV_ENROLL_BLOB=$blob PIV_ENROLL_KEY=$key_line awk "$awk_blob_of"'
      BEGIN { t = ENVIRON["PIV_ENROLL_BLOB"]; found = 0 }
      blob_of($0) == t { found = 1 }
      { print }
      END { if (found) exit 3; print ENVIRON["PIV_ENROLL_KEY"] }' "$file" 2>&1 >"$lock" )
  else
    err=$( PIV_ENROLL_BLOB=$blob awk "$awk_blob_of"'
      BEGIN { t = ENVIRON["PIV_ENROLL_BLOB"] }
      blob_of($0) != t { print }' "$file" 2>&1 >"$lock" )
  fi
  status=$?
  if [ "$status" -eq 3 ]; then return 3; fi
  [ "$status" -eq 0 ] || fail_write "cannot write ~/$lock" "$err"
  # mv without a subshell; only when it fails is it asked again, for its reason.
  if ! mv -f "$lock" "$file" 2>/dev/null; then
    err=$(mv -f "$lock" "$file" 2>&1) || fail_write "cannot replace ~/$file" "$err"
  fi
  locked=no
  if command -v restorecon >/dev/null 2>&1; then restorecon -F .ssh "$file" >/dev/null 2>&1 || :; fi
}

main() {
  cd || fail error 'no home directory'
  if [ "$action" = list ]; then
    list_blobs || fail permission-denied "cannot read ~/$file"
    say listed
    return 0
  fi
  if settled; then
    if [ "$action" = add ]; then say already-present; else say absent; fi
    return 0
  fi
  if [ "$dry_run" = yes ]; then say "would-$action"; return 0; fi
  if [ ! -d .ssh ]; then
    err=$(mkdir .ssh 2>&1) || [ -d .ssh ] || fail_write 'cannot create ~/.ssh' "$err"
  fi
  take_lock
  # Again under the lock: another deployment may have changed the file since the first look (for add, the
  # writing awk looks itself).
  if [ "$action" = remove ] && settled; then say absent; return 0; fi
  if write_new_file; then
    if [ "$action" = add ]; then say added; else say "removed $n"; fi
  else
    say already-present
  fi
}

main
`;

/** The script for one request: its data as quoted assignments, then the fixed body. */
export function buildRemoteScript(request: RemoteRequest): string {
  const blob = request.blob ?? '';
  const keyLine = request.keyLine ?? '';
  if (/[\r\n]/.test(keyLine)) throw new Error('a key line cannot hold a line break');
  if (!/^[A-Za-z0-9+/=]*$/.test(blob)) throw new Error('a key blob is base64');
  return [
    `action=${shellQuote(request.action)}`,
    `dry_run=${request.dryRun ? 'yes' : 'no'}`,
    `lock_wait_tenths=${Math.max(0, Math.floor(request.lockWaitTenths ?? DEFAULT_LOCK_WAIT_TENTHS))}`,
    `blob=${shellQuote(blob)}`,
    `key_line=${shellQuote(keyLine)}`,
    SCRIPT_BODY,
  ].join('\n');
}

export type RemoteOutcome =
  | { kind: 'added' | 'already-present' | 'absent' | 'would-add' | 'would-remove' }
  | { kind: 'removed'; count: number }
  | { kind: 'listed'; blobs: string[] }
  | { kind: 'error'; reason: string; detail: string };

/** The script's reply, or undefined when it gave none (it never ran, or died before the end). */
export function parseRemoteReply(stdout: string): RemoteOutcome | undefined {
  const replies = stdout
    .split('\n')
    .filter((line) => line.startsWith(`${REPLY_PREFIX} `))
    .map((line) => line.slice(REPLY_PREFIX.length + 1));
  const blobs = replies.filter((r) => r.startsWith('blob ')).map((r) => r.slice(5).trim());
  const last = replies.filter((r) => !r.startsWith('blob ')).at(-1);
  if (last === undefined) return undefined;
  const [word = '', ...rest] = last.split(' ');
  switch (word) {
    case 'added':
    case 'already-present':
    case 'absent':
    case 'would-add':
    case 'would-remove':
      return { kind: word };
    case 'removed':
      return { kind: 'removed', count: Number(rest[0] ?? 1) };
    case 'listed':
      return { kind: 'listed', blobs };
    case 'error':
      return { kind: 'error', reason: rest[0] ?? 'error', detail: rest.slice(1).join(' ').trim() };
    default:
      return undefined;
  }
}
