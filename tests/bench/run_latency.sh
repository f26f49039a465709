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
. tests/bench/lib.sh
bench_setup run_latency.sh pssh ansible-core gcc
exec timeout -k 10 1800 /usr/bin/python3 tests/bench/bench_latency.py "$@"
