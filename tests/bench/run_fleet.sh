#!/bin/sh
# run_fleet.sh — `make bench`, fleet part: certfleet status vs parallel-ssh and
# Ansible on real sshd hosts (tests/bench/bench_fleet.py; docs/benchmarks.md).
# Must run as root (apt-get; sshd).  Installs pssh and ansible-core if missing;
# a tool that cannot be installed is left out of the table.
set -u
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "tests/bench/run_fleet.sh: must run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
missing=""
for p in pssh ansible-core time; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    apt-get update -q >/dev/null 2>&1 || true
    for p in $missing; do
        apt-get install -y -q --no-install-recommends "$p" >/tmp/certfleet-bench-apt.log 2>&1 ||
            echo "bench: could not install $p (see /tmp/certfleet-bench-apt.log)" >&2
    done
fi
[ -x bin/certfleet ] || { echo "tests/bench/run_fleet.sh: bin/certfleet is not built (make)" >&2; exit 1; }
exec timeout -k 10 900 /usr/bin/python3 tests/bench/bench_fleet.py "$@"
