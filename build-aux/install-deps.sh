#!/bin/sh
# install-deps.sh — install the Debian packages certfleet's build and tests need.
#
# Idempotent: packages already present are not reinstalled and `apt-get update`
# runs only when something is missing.  Adds, when the machine has none:
#   - a deb-src entry for the machine's own Debian mirror (bookworm + trixie),
#     so vendor/fetch.sh can `apt-get source` the pinned libraries;
#   - a trixie `deb` entry pinned to priority 100, so only packages asked for
#     with `-t trixie` (pebble 2.6, which serves ARI) come from trixie.
#   - Debian's busybox for arm64 as a .deb in /var/cache/certfleet-test/ (downloaded,
#     never installed): the aarch64 userland of test_aarch64.py's fleet host,
#     run under qemu-user.
# Must not: touch anything outside /etc/apt/{sources.list.d,preferences.d}, dpkg
# and /var/cache/certfleet-test.
set -eu

[ "$(id -u)" = 0 ] || { echo "install-deps: must run as root (apt-get)" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive

# The Debian mirror this machine already uses (first http(s) URI naming /debian).
mirror=$( (grep -hE '^[[:space:]]*URIs:' $(ls /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v /certfleet.sources) /dev/null
            grep -hE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null) |
          grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n 1 | sed 's:[/ ]*$::')
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

need_update=0
src=/etc/apt/sources.list.d/certfleet.sources
if [ ! -f "$src" ] || ! grep -q "URIs: $mirror\$" "$src"; then
    cat > "$src" <<EOS
# written by certfleet build-aux/install-deps.sh
Types: deb-src
URIs: $mirror
Suites: bookworm trixie
Components: main
Signed-By: $keyring

Types: deb
URIs: $mirror
Suites: trixie
Components: main
Signed-By: $keyring
EOS
    need_update=1
fi
pin=/etc/apt/preferences.d/certfleet-trixie
if [ ! -f "$pin" ]; then
    printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' > "$pin"
    need_update=1
fi

# arm64: the aarch64 agent's static musl cross tool chain, and qemu-user to
# run its tests (Debian's musl-dev for arm64 needs the foreign architecture)
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
    need_update=1
fi

pkgs="build-essential musl-tools dpkg-dev ca-certificates curl openssl xz-utils
      nginx-light openssh-server openssh-client python3 python3-pytest
      iproute2 procps file binutils cron sudo time clang libclang-rt-dev valgrind jq strace netcat-openbsd
      gcc-aarch64-linux-gnu musl-dev:arm64 libc6-arm64-cross qemu-user-static ansible-core
      chromium python3-websocket prometheus certbot"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
# pebble must be the trixie build (>= 2.6: ARI)
pebble_ok=0
v=$(dpkg-query -W -f='${Version}' pebble 2>/dev/null || true)
if [ -n "$v" ] && dpkg --compare-versions "$v" ge 2.6; then pebble_ok=1; fi

cache=/var/cache/certfleet-test
have_bb() { ls "$cache"/busybox_*_arm64.deb >/dev/null 2>&1; }

if [ -z "$missing" ] && [ $pebble_ok = 1 ] && [ $need_update = 0 ] && have_bb; then
    exit 0
fi
apt-get update -q
[ -n "$missing" ] && apt-get install -y -q --no-install-recommends $missing
[ $pebble_ok = 1 ] || apt-get install -y -q --no-install-recommends -t trixie pebble
if ! have_bb; then
    mkdir -p "$cache"
    # apt checks it against the signed Release file, as for any package
    (cd "$cache" && apt-get download -q -o APT::Sandbox::User=root busybox:arm64)
fi
# Debian starts nginx, sshd and prometheus (wanted for its promtool) on
# install; the tests run their own instances and need no server.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl stop nginx ssh prometheus 2>/dev/null || true
fi
exit 0
