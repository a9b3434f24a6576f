LC_ALL=C
export LC_ALL
umask 077
pct=%
nl='
'

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
# A path as the report shows it: relative ones are in the account's home.
shown() { case $1 in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$home_shown" "$1" ;; esac; }

awk_keys='@AWK@'
# How the script starts itself again (sudo -n, or as the account): its own text as $1, kept in $script.
again='script=$1 && eval "$script"'

# Whose keys: the login's own, or (--account) another account's, edited as root (directly or through sudo -n).
# The account's name was checked by piv-enroll (a POSIX user name) and only ever appears quoted.
choose_account() {
  as_admin=no
  if [ "${0:-}" = piv-enroll-as-account ]; then
    # Started again as the account by as_account below: the files were resolved by root.
    account=
    files=$PIV_ENROLL_FILES
  fi
  if [ -z "$account" ] || [ "$account" = "${LOGNAME:-${USER:-}}" ]; then
    account=${LOGNAME:-${USER:-}}
    cd || fail error 'no home directory'
    home=$PWD
    home_shown='~'
    [ "${0:-}" != piv-enroll-as-account ] || home_shown="~$account"
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    [ "${0:-}" != piv-enroll-sudo ] || fail permission-denied 'sudo -n did not give root'
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then exec sudo -n -- sh -c "$again" piv-enroll-sudo "$script"; fi
    fail permission-denied "editing $account's keys needs root or sudo -n (without a password) on the host"
  fi
  entry=$(getent passwd "$account" 2>/dev/null) || entry=$(awk -F: -v n="$account" '$1 == n { print; exit }' /etc/passwd)
  [ -n "$entry" ] || fail no-account "no account $account on the host"
  IFS=: read -r _ _ account_uid account_gid _ home _ <<ENTRY
$entry
ENTRY
  cd "$home" 2>/dev/null || fail error "$account has no home directory ($home)"
  home_shown="~$account"
  as_admin=yes
}

# The configuration of the sshd serving this session: the -f of the first sshd among our ancestors (Linux /proc).
# Since OpenSSH 8.2 the listener names itself "sshd: ARGV… [listener] N of X-Y startups" (one string, blanks
# between the words); before, its cmdline was its argv.
listener_config() {
  pid=$$
  while [ "$pid" -gt 1 ] 2>/dev/null; do
    read -r st </proc/"$pid"/stat 2>/dev/null || return 0
    cmd=$(tr '\0' '\n' </proc/"$pid"/cmdline 2>/dev/null)
    case $cmd in
      "sshd: "*" [listener] "*) words=${cmd#sshd: }; words=${words%% \[listener\] *} ;;
      */sshd"$nl"*|sshd"$nl"*) words=$cmd ;;
      *) words= ;;
    esac
    if [ -n "$words" ]; then
      printf '%s\n' "$words" | tr ' ' '\n' | awk 'f { print; exit } $0 == "-f" { f = 1; next } /^-f/ { print substr($0, 3); exit }'
      return 0
    fi
    st=${st##*) }
    set -- $st
    pid=$2
  done
}

# --authorized-keys-file auto: sshd's own answer (sshd -T, which needs root), else sshd's default.
ask_sshd() {
  keys_files='.ssh/authorized_keys .ssh/authorized_keys2'
  keys_source=default
  run_as=
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then run_as='sudo -n --'; else keys_note='sshd -T needs root or sudo -n: the default AuthorizedKeysFile assumed'; return 0; fi
  fi
  sshd=$(command -v sshd 2>/dev/null) || sshd=/usr/sbin/sshd
  config=$(listener_config)
  [ -n "$account" ] || account=$(id -un)
  set -- ${SSH_CONNECTION:-}
  match="user=$account,host=${1:-127.0.0.1},addr=${1:-127.0.0.1},laddr=${3:-127.0.0.1},lport=${4:-22}"
  answer=$($run_as "$sshd" -T ${config:+-f "$config"} -C "$match" 2>/dev/null | awk '$1 == "authorizedkeysfile" { $1 = ""; sub(/^ /, ""); print; exit }')
  if [ -z "$answer" ]; then keys_note='sshd -T gave no answer: the default AuthorizedKeysFile assumed'; return 0; fi
  [ "$answer" != none ] || fail unsupported 'sshd reads no AuthorizedKeysFile (AuthorizedKeysFile none)'
  keys_files=$answer
  keys_source=sshd
}

# sshd's tokens (sshd_config(5) TOKENS): %h home, %u user name, %U numeric user id, %% a percent sign.
expand() {
  rest=$1
  out=
  while :; do
    case $rest in
      *"$pct"*)
        out=$out${rest%%"$pct"*}
        rest=${rest#*"$pct"}
        case $rest in
          h*) out=$out$home ;;
          u*) [ -n "$account" ] || account=$(id -un); out=$out$account ;;
          U*) [ -n "${account_uid:-}" ] || account_uid=$(id -u); out=$out$account_uid ;;
          "$pct"*) out=$out$pct ;;
          *) fail unsupported "AuthorizedKeysFile token %${rest%"${rest#?}"} is not one piv-enroll knows (%h %u %U %%)" ;;
        esac
        rest=${rest#?} ;;
      *) out=$out$rest; break ;;
    esac
  done
  # Relative paths stay relative: we are in the home, as sshd reads them.
  expanded=$out
}

resolve_files() {
  keys_source=given
  keys_note=
  keys_files=$files
  if [ "${0:-}" = piv-enroll-as-account ]; then keys_source=$PIV_ENROLL_SOURCE; keys_note=$PIV_ENROLL_NOTE
  elif [ "$files" = auto ]; then ask_sshd; fi
  count=0
  for pattern in $keys_files; do
    if [ "${0:-}" = piv-enroll-as-account ]; then expanded=$pattern; else expand "$pattern"; fi
    count=$((count + 1))
    eval "file_$count=\$expanded"
  done
  [ "$count" -gt 0 ] || fail unsupported 'no AuthorizedKeysFile'
  if [ "$as_admin" = yes ]; then as_account_if_needed; fi
  say "source $keys_source"
  [ -z "$keys_note" ] || say "note $keys_note"
  i=1
  while [ "$i" -le "$count" ]; do eval "say \"file \$(shown \"\$file_$i\")\""; i=$((i + 1)); done
}

# Root never writes where the account could swap a name for a symbolic link between two steps (cp, chown and a
# redirection all follow one): a file in the home, or in a directory not root's alone, is edited as the account
# itself (the files it owns stay its own), started again with setpriv, runuser or su. Elsewhere (such as
# /etc/ssh/authorized_keys/%u) root edits and gives new files to the account.
as_account_if_needed() {
  resolved=; i=1; needs=no
  while [ "$i" -le "$count" ]; do
    eval "f=\$file_$i"
    resolved="$resolved $f"
    case $f in
      /*) d=${f%/*}
          while [ -n "$d" ]; do
            [ ! -d "$d" ] || [ -z "$(find "$d" -prune \( ! -user 0 -o \( \( -perm -0002 -o -perm -0020 \) ! -perm -1000 \) \) 2>/dev/null)" ] || needs=yes
            d=${d%/*}
          done ;;
      *) needs=yes ;;
    esac
    i=$((i + 1))
  done
  [ "$needs" = yes ] || return 0
  [ "$account_uid" != 0 ] || return 0
  export PIV_ENROLL_FILES="${resolved# }" PIV_ENROLL_SOURCE="$keys_source" PIV_ENROLL_NOTE="$keys_note"
  export HOME="$home" LOGNAME="$account" USER="$account"
  if command -v setpriv >/dev/null 2>&1; then
    exec setpriv --reuid="$account_uid" --regid="$account_gid" --init-groups -- sh -c "$again" piv-enroll-as-account "$script"
  elif command -v runuser >/dev/null 2>&1; then
    exec runuser -u "$account" -- sh -c "$again" piv-enroll-as-account "$script"
  fi
  exec su -s /bin/sh -c "$again" "$account" piv-enroll-as-account "$script"
}

# The first look, one file: exit 10 no line with the key, 11 present as asked, 12 to change; else unreadable.
look() {
  PIV_ENROLL_BLOB=$blob PIV_ENROLL_OPTIONS=$key_options awk -v mode=look -v act="$action" -v keep="$keep_options" -v ca="$include_ca" "$awk_keys" "$1"
}

# The lock: a file created exclusively (noclobber: O_EXCL) next to the file, recording its holder (host, boot,
# pid and start time, read from /proc without a process), and also the new file: written, then renamed over the
# old one, which releases it. A holder on this host that no longer runs is taken over; one that cannot be checked
# (another host, no /proc) only once the lock is older than the bound.
lock_name() {
  case $1 in */*) dir=${1%/*} ;; *) dir=. ;; esac
  base=${1##*/}
  if [ "$base" = authorized_keys ]; then lock=$dir/.piv-enroll.lock; else lock=$dir/.piv-enroll.$base.lock; fi
}

holder_of_self() {
  boot=-; host=-; start=-
  read -r boot </proc/sys/kernel/random/boot_id 2>/dev/null || boot=-
  read -r host </proc/sys/kernel/hostname 2>/dev/null || host=-
  if read -r st </proc/$$/stat 2>/dev/null; then st=${st##*) }; set -- $st; start=${20}; fi
  holder="piv-enroll-lock host=$host boot=$boot pid=$$ start=$start"
}

# 0 when the lock's holder is known to be gone.
holder_dead() {
  first=
  { read -r first <"$lock"; } 2>/dev/null || return 1
  set -- $first
  [ "${1:-}" = piv-enroll-lock ] || return 1
  [ "${2:-}" = "host=$host" ] && [ "${3:-}" = "boot=$boot" ] && [ "$boot" != - ] || return 1
  held_pid=${4#pid=}; held_start=${5#start=}
  if read -r st </proc/"$held_pid"/stat 2>/dev/null; then
    st=${st##*) }; set -- $st
    [ "${20}" != "$held_start" ] || return 1
  fi
  dead_holder="pid $held_pid (started $held_start)"
  return 0
}

# 0 when the lock is older than the bound (the holder could not be checked).
lock_expired() {
  changed=$(stat -c %Y -- "$lock" 2>/dev/null) || return 1
  now=$(date +%s) || return 1
  [ $((now - changed)) -ge "$lock_stale_seconds" ] || return 1
  dead_holder="unknown, the lock is $((now - changed)) s old"
}

# Takes a stale lock over: renamed aside (one of several waiters wins), checked to be the one judged stale.
take_over() {
  aside=$lock.stale.$$
  mv -f "$lock" "$aside" 2>/dev/null || return 1
  { read -r seen <"$aside"; } 2>/dev/null || seen=
  if [ "$seen" != "$first" ] && [ -n "$first" ]; then
    # Another waiter took it over first, and this is its live lock: give it back.
    [ -e "$lock" ] || mv -f "$aside" "$lock" 2>/dev/null
    return 1
  fi
  rm -f "$aside"
  say "note took over a stale lock $(shown "$lock") (holder: $dead_holder)"
}

# One attempt, no waiting, no message: 1 when the lock is held or cannot be made here (then the first look decides).
try_lock() {
  [ -n "${holder:-}" ] || holder_of_self
  trap '[ -n "$locked" ] && rm -f "$locked"' EXIT
  trap 'exit 1' HUP INT TERM PIPE
  set -C
  if { printf '%s\n' "$holder" >"$lock"; } 2>/dev/null; then set +C; locked=$lock; return 0; fi
  set +C
  return 1
}

take_lock() {
  lock_name "$1"
  [ -n "${holder:-}" ] || holder_of_self
  waited=0
  trap '[ -n "$locked" ] && rm -f "$locked"' EXIT
  trap 'exit 1' HUP INT TERM PIPE
  set -C
  # "printf", not ":": a failed redirection on a special built-in ends a POSIX shell.
  until { printf '%s\n' "$holder" >"$lock"; } 2>/dev/null; do
    if [ ! -e "$lock" ]; then err=$( { true >"$lock"; } 2>&1 ) && { printf '%s\n' "$holder" >|"$lock"; break; }; [ -e "$lock" ] || fail_write "cannot create $(shown "$lock")" "$err"; fi
    if [ $((waited % 10)) -eq 0 ]; then
      first=
      if holder_dead || { [ $((waited % 100)) -eq 0 ] && lock_expired; }; then take_over && continue; fi
    fi
    [ "$waited" -lt "$lock_wait_tenths" ] || fail locked "$(shown "$lock") is held by another deployment (${first:-no holder recorded}); it is taken over once its holder is gone, or after ${lock_stale_seconds} s"
    if sleep 0.1 2>/dev/null; then waited=$((waited + 1)); else sleep 1; waited=$((waited + 10)); fi
  done
  set +C
  locked=$lock
}

# The new file keeps the old one's owner, group, mode, ACLs and extended attributes: GNU cp copies them all in one
# process; elsewhere ls, chmod and chown do owner, group and mode, and the report says what was not copied.
keep_attributes() {
  if [ -e "$1" ]; then
    cp --attributes-only --preserve=mode,ownership,xattr -- "$1" "$2" 2>/dev/null || portable_attributes "$1" "$2"
    if [ -d /sys/fs/selinux ] && command -v chcon >/dev/null 2>&1; then chcon --reference="$1" -- "$2" 2>/dev/null || :; fi
  elif [ "$as_admin" = yes ]; then
    err=$(chown "$account_uid:$account_gid" -- "$2" 2>&1) || fail_write "cannot give $(shown "$2") to $account" "$err"
  fi
}

portable_attributes() {
  set -- $(ls -lnd -- "$1") "$1" "$2"
  mode=$1; old_uid=$3; old_gid=$4
  shift $(($# - 2))
  perm=0; bits=${mode#?}
  for weight in 256 128 64 32 16 8 4 2 1; do
    case $bits in [rwxst]*) perm=$((perm + weight)) ;; esac
    bits=${bits#?}
  done
  err=$(chmod "$(printf '%o' "$perm")" -- "$2" 2>&1) || fail_write "cannot set the mode of $(shown "$2")" "$err"
  err=$(chown "$old_uid:$old_gid" -- "$2" 2>&1) || fail_write "cannot keep the owner of $(shown "$1") ($old_uid:$old_gid)" "$err"
  case $mode in
    *+) if command -v getfacl >/dev/null 2>&1 && command -v setfacl >/dev/null 2>&1; then
          getfacl -p -- "$1" 2>/dev/null | setfacl --set-file=- -- "$2" 2>/dev/null || say "note ACLs of $(shown "$1") not copied"
        else say "note ACLs of $(shown "$1") not copied (no getfacl/setfacl)"; fi ;;
  esac
  say "note extended attributes of $(shown "$1") not copied (no GNU cp)"
}

make_directory() {
  case $1 in */*) dir=${1%/*} ;; *) return 0 ;; esac
  [ ! -d "$dir" ] || return 0
  case $dir in /*) fail unsupported "the directory $dir does not exist" ;; esac
  err=$(mkdir -p -- "$dir" 2>&1) || [ -d "$dir" ] || fail_write "cannot create $(shown "$dir")" "$err"
  if [ "$as_admin" = yes ]; then chown "$account_uid:$account_gid" -- "$dir" 2>/dev/null || :; fi
  new_directory=$dir
}

# Under the lock: the new content into the lock file (exit 3 of the same awk when nothing is to change: another
# deployment did it meanwhile), attributes, fsync, rename, fsync of the directory.
rewrite() {
  target=$1
  fresh=yes; [ ! -e "$target" ] || fresh=no
  [ ! -L "$target" ] || fail unsupported "$(shown "$target") is a symbolic link: not replaced"
  if [ -e "$target" ]; then
    err=$( PIV_ENROLL_BLOB=$blob PIV_ENROLL_OPTIONS=$key_options PIV_ENROLL_KEY=$key_line awk -v mode=write -v act="$action" -v keep="$keep_options" -v ca="$include_ca" -v append="$2" "$awk_keys" "$target" "$target" 2>&1 >"$lock" )
  elif [ "$2" = yes ]; then
    err=$( printf '%s\n' "$key_line" 2>&1 >"$lock" ) && err='count 1 added'
  else
    err=; (exit 3)
  fi
  status=$?
  if [ "$status" -eq 3 ]; then rm -f "$lock"; locked=; return 3; fi
  [ "$status" -eq 0 ] || fail_write "cannot write $(shown "$lock")" "$err"
  outcome=${err##*count }
  keep_attributes "$target" "$lock"
  sync -- "$lock" 2>/dev/null || sync
  # mv without a subshell; only when it fails is it asked again, for its reason.
  if ! mv -f "$lock" "$target" 2>/dev/null; then
    err=$(mv -f "$lock" "$target" 2>&1) || fail_write "cannot replace $(shown "$target")" "$err"
  fi
  locked=
  sync -- "$dir" 2>/dev/null || sync
  # A new file (or directory) gets the SELinux context the policy gives it; an old file's was copied.
  if [ "$fresh" = yes ] && command -v restorecon >/dev/null 2>&1; then restorecon -F ${new_directory:+"$new_directory"} "$target" >/dev/null 2>&1 || :; fi
}

main() {
  locked=
  choose_account
  resolve_files
  if [ "$action" = list ]; then
    i=1
    while [ "$i" -le "$count" ]; do
      eval "f=\$file_$i"
      if [ -e "$f" ]; then awk -v mode=list -v ca="$include_ca" "$awk_keys" "$f" || fail permission-denied "cannot read $(shown "$f")"; fi
      i=$((i + 1))
    done
    say listed
    return 0
  fi
  # One file, to add to, not a dry run (the usual case): straight to the lock, whose writing awk also decides
  # (exit 3: nothing to change). Every process costs the host CPU, and a fleet deployment is CPU-bound.
  if [ "$action" = add ] && [ "$count" -eq 1 ] && [ "$dry_run" = no ] && [ -f "$file_1" ] && [ ! -L "$file_1" ] && [ -r "$file_1" ] && lock_name "$file_1" && try_lock; then
    if rewrite "$file_1" yes; then
      case $outcome in *added*) say added ;; *) say updated ;; esac
    else
      say already-present
    fi
    return 0
  fi
  # The first look at every file, without writing.
  present=no; todo=; i=1
  while [ "$i" -le "$count" ]; do
    eval "f=\$file_$i"
    if [ -e "$f" ]; then
      [ -r "$f" ] || fail permission-denied "cannot read $(shown "$f")"
      look "$f"
      case $? in
        10) ;;
        11) present=yes ;;
        12) present=yes; todo="$todo $i" ;;
        *) fail permission-denied "cannot read $(shown "$f")" ;;
      esac
    fi
    i=$((i + 1))
  done
  append=no
  if [ "$action" = add ] && [ "$present" = no ]; then append=yes; todo=" 1"; fi
  if [ -z "$todo" ]; then
    if [ "$action" = add ]; then say already-present; else say absent; fi
    return 0
  fi
  if [ "$dry_run" = yes ]; then
    if [ "$action" = remove ]; then say would-remove; elif [ "$append" = yes ]; then say would-add; else say would-update; fi
    return 0
  fi
  removed=0; updated=no; added=no
  for i in $todo; do
    eval "f=\$file_$i"
    make_directory "$f"
    take_lock "$f"
    # Under the lock, for several files: the key may have reached one of the others meanwhile.
    if [ "$append" = yes ] && [ "$count" -gt 1 ]; then
      j=2; while [ "$j" -le "$count" ]; do eval "g=\$file_$j"; if [ -e "$g" ]; then look "$g"; [ $? -eq 10 ] || append=no; fi; j=$((j + 1)); done
    fi
    if rewrite "$f" "$append"; then
      case $outcome in
        *added*) added=yes ;;
        *) set -- $outcome; removed=$((removed + ${1:-0})); updated=yes ;;
      esac
    fi
  done
  if [ "$action" = remove ]; then
    if [ "$removed" -gt 0 ]; then say "removed $removed"; else say absent; fi
  elif [ "$added" = yes ]; then say added
  elif [ "$updated" = yes ]; then say updated
  else say already-present
  fi
}

main
