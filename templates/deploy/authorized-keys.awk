# The reader of authorized_keys lines, for the remote script (remote-script.sh). It mirrors splitKeyLine
# in src/operations/deploy/key-line.ts: the first field of a line is the key type when the second is a blob; otherwise a
# leading options field (blanks inside double quotes, \" escapes) comes first. It is embedded single-quoted: no single quote anywhere.
#   mode=look   exit 10: no line of the key, 11: there as asked, 12: to change (remove: there)
#   mode=write  the file given twice (counted, then copied): the new content on stdout, "count N what" on stderr,
#               exit 3 when nothing is to change
#   mode=list   the blobs, one "PIV-ENROLL blob B" line each
function is_blob(s) { return length(s) >= 16 && s ~ "^[A-Za-z0-9+/]+=?=?$" }
function parse(line,    n, f, i, c, quoted, rest) {
  K_BLOB = ""; K_OPTS = ""
  sub(/\r$/, "", line)
  sub(/^[ \t]+/, "", line)
  if (line == "" || substr(line, 1, 1) == "#") return
  n = split(line, f, /[ \t]+/)
  if (n >= 2 && f[1] !~ /[="]/ && is_blob(f[2])) { K_BLOB = f[2]; return }
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
  if (n >= 2 && is_blob(f[2])) { K_BLOB = f[2]; K_OPTS = substr(line, 1, i - 1) }
}
# cert-authority (authorized_keys) or @cert-authority (the known_hosts marker): a CA key, not a login key.
# Option names are case-insensitive (sshd auth-options.c); quoted values are left out of the test.
function is_ca(o) {
  o = tolower(o)
  gsub(/"([^"\\]|\\.)*"/, "", o)
  return o == "@cert-authority" || o ~ /(^|,)cert-authority(,|$)/
}
# A line of the key: for add never a CA line; for remove a CA line only when asked (--include-cert-authority).
function ours() { return K_BLOB == T && (act == "add" ? !is_ca(K_OPTS) : (ca == "yes" || !is_ca(K_OPTS))) }
function as_asked() { return keep == "yes" || K_OPTS == WANT }
BEGIN { T = ENVIRON["PIV_ENROLL_BLOB"]; WANT = ENVIRON["PIV_ENROLL_OPTIONS"]; KEY = ENVIRON["PIV_ENROLL_KEY"] }
mode == "list" { parse($0); if (K_BLOB != "" && (ca == "yes" || !is_ca(K_OPTS))) print "PIV-ENROLL blob " K_BLOB; next }
mode == "look" {
  parse($0)
  if (ours()) { m++; if (act == "remove" || !as_asked()) { c++; exit } }
  next
}
FNR == 1 { pass++ }
pass == 1 { parse($0); if (ours()) { if (as_asked()) exact++; else other++ } next }
{
  parse($0)
  if (ours()) {
    if (act == "remove") { n++; next }
    if (!as_asked()) {
      n++
      # The first line of the key with other options becomes the key as asked; further ones go.
      if (!exact && !replaced) { print KEY; replaced = 1 }
      next
    }
  }
  print
}
END {
  if (mode == "look") exit (c ? 12 : m ? 11 : 10)
  if (mode != "write") exit 0
  if (act == "add" && exact + other == 0 && append == "yes") { print KEY; printf "count 1 added\n" > "/dev/stderr"; exit 0 }
  if (n == 0) exit 3
  printf "count %d %s\n", n, (act == "add" ? "updated" : "removed") > "/dev/stderr"
}
