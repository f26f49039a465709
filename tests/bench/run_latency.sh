#!/bin/sh
# run_latency.sh — `make bench`, latency part: certfleet vs parallel-ssh and
# Ansible (-m raw, -m command) on real sshd behind an emulated slow link
# (tests/bench/bench_latency.py, delayfwd.c; docs/benchmarks.md).  Must run
# as root (network namespaces, TUN, SCHED_FIFO, apt-get).  Installs pssh and
# ansible-core if missing (bench only: CI never needs them); a tool that
# cannot be installed is left out of the table.
# Arguments go to bench_latency.py (--rtt MS, --hosts 1,100, --rounds N,
# --before OLD_CERTFLEET, --no-doc).
set -u
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "tests/bench/run_latency.sh: must run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
missing=""
for p in pssh ansible-core gcc; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    apt-get update -q >/dev/null 2>&1 || true
    for p in $missing; do
        apt-get install -y -q --no-install-recommends "$p" >/tmp/certfleet-bench-apt.log 2>&1 ||
            echo "bench: could not install $p (see /tmp/certfleet-bench-apt.log)" >&2
    done
fi
[ -x bin/certfleet ] || { echo "tests/bench/run_latency.sh: bin/certfleet is not built (make)" >&2; exit 1; }
exec timeout -k 10 1800 /usr/bin/python3 tests/bench/bench_latency.py "$@"
