#!/usr/bin/env bash
# The real PC/SC test bench, set up idempotently (safe to run again and again):
#  1. the Debian packages the real-stack tests use, installed if missing;
#  2. a vsmartcard vpcd reader entry named like a YubiKey ("Yubico YubiKey OTP+FIDO+CCID 00 00" on TCP port
#     35965, "… 00 01" on 35966), which ykman, yubico-piv-tool and ykcs11 accept;
#  3. pcscd running with it (restarted only when the entry changed);
#  4. delayed ACKs off on the loopback route (see below), so the virtual card answers about as fast as a USB one;
#  5. Debian's default vpcd readers set aside (OpenSC would not see all four of ours otherwise).
# The virtual card then plugs in with: piv-enroll virtual-card serve --vpcd 127.0.0.1:35965 --state FILE
set -euo pipefail

PACKAGES=(pcscd libpcsclite-dev vsmartcard-vpcd opensc opensc-pkcs11 ykcs11 yubico-piv-tool yubikey-manager
  openssh-server openssh-client softhsm2 pcsc-tools procps iproute2 postgresql ansible tcsh fish
  age poppler-utils)  # age: the escrow interop tests decrypt with the Debian age CLI; poppler-utils: the handout rendered to PNG and text
ENTRY=/etc/reader.conf.d/piv-enroll-yubikey
# The vpcd driver keeps its state in globals and pcscd loads a driver path only once, so a second entry with
# Debian's LIBPATH would share (and break) the default "Virtual PCD" readers: ours loads its own copy.
DRIVER_COPY=/usr/local/lib/piv-enroll/libifdvpcd-yubikey.so
PORT_HEX=8C7D   # 35965
SECOND_PORT_HEX=8C7F   # 35967

SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo)

log() { printf 'testbench: %s\n' "$*"; }

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

changed=0
driver=$(readlink -f /usr/lib/pcsc/drivers/serial/libifdvpcd.so)
# Two entries of two readers each: "… 00 00"/"… 00 01" on 35965/35966 and "… 01 00"/"… 01 01" on 35967/35968
# (the batch tests and bench:batch use up to four readers). Each entry loads its own copy of the driver.
for index in 1 2; do
  entry=$ENTRY
  copy=$DRIVER_COPY
  port=$PORT_HEX
  name='Yubico YubiKey OTP+FIDO+CCID'
  # pcscd does not number readers of two entries with one name apart: the second entry gets its own name.
  if [ "$index" -eq 2 ]; then entry=$ENTRY-2; copy=${DRIVER_COPY%.so}-2.so; port=$SECOND_PORT_HEX; name='Yubico YubiKey FIDO+CCID'; fi
  if ! cmp -s "$driver" "$copy" 2>/dev/null; then
    "${SUDO[@]}" install -D -m 0644 "$driver" "$copy"
    changed=1
  fi
  wanted=$(printf 'FRIENDLYNAME "%s"\nDEVICENAME   /dev/null:0x%s\nLIBPATH      %s\nCHANNELID    0x%s\n' "$name" "$port" "$copy" "$port")
  if [ "$(cat "$entry" 2>/dev/null)" != "$wanted" ]; then
    printf '%s\n' "$wanted" | "${SUDO[@]}" tee "$entry" >/dev/null
    changed=1
  fi
done

# OpenSC gives each reader 4 of its 16 virtual slots, so it sees only the first four readers: Debian's default
# "Virtual PCD" entry (two readers no test uses) would hide two of ours. It is set aside, out of pcscd's directory
# (pcscd reads every file there), to /usr/local/lib/piv-enroll/vpcd.reader.conf.
if [ -e /etc/reader.conf.d/vpcd ]; then
  "${SUDO[@]}" install -D -m 0644 /etc/reader.conf.d/vpcd /usr/local/lib/piv-enroll/vpcd.reader.conf
  "${SUDO[@]}" rm /etc/reader.conf.d/vpcd
  changed=1
fi

# sshd refuses to start without its privilege-separation directory (normally made by systemd).
"${SUDO[@]}" mkdir -p /run/sshd

# vpcd sends each message as two writes (length, then body). With Nagle on its side and delayed ACKs on
# ours, every APDU stalls ~40 ms waiting for an ACK: 23 APDUs took 1.1 s, where a YubiKey on USB answers
# in a few ms. quickack on the 127.0.0.1 route turns delayed ACKs off for loopback connections made after
# this (the card server connects to vpcd anew). Both sides of every benchmark run on this same bench.
if ! ip route show table local 2>/dev/null | grep -q '^local 127.0.0.1 .*quickack 1'; then
  "${SUDO[@]}" ip route change local 127.0.0.1 dev lo proto kernel scope host src 127.0.0.1 table local quickack 1 ||
    log 'could not turn delayed ACKs off on loopback: APDUs to the virtual card will take ~40 ms each'
fi

listening() { grep -qi ":${PORT_HEX} 00000000:0000 0A" /proc/net/tcp /proc/net/tcp6 2>/dev/null; }

if pidof pcscd >/dev/null && { [ "$changed" -eq 1 ] || ! listening; }; then
  log 'restarting pcscd to load the reader entry'
  "${SUDO[@]}" pkill -x pcscd || true
  for _ in $(seq 50); do pidof pcscd >/dev/null || break; sleep 0.1; done
fi
if ! pidof pcscd >/dev/null; then
  log 'starting pcscd'
  "${SUDO[@]}" pcscd
fi
for _ in $(seq 100); do
  if [ -S /run/pcscd/pcscd.comm ] && listening; then
    log "ready: pcscd $(pidof pcscd), readers \"Yubico YubiKey OTP+FIDO+CCID 00 00\"/\"… 00 01\" on 127.0.0.1:35965/35966, \"Yubico YubiKey FIDO+CCID 00 00\"/\"… 00 01\" on 35967/35968"
    exit 0
  fi
  sleep 0.1
done
log 'pcscd did not come up with the vpcd reader (see syslog, or run `pcscd --foreground --debug`)'
exit 1
