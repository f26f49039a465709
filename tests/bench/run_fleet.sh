#!/bin/sh
# run_fleet.sh — `make bench`, fleet part: certfleet status vs parallel-ssh and
# Ansible on real sshd hosts (tests/bench/bench_fleet.py; docs/benchmarks.md).
# Must run as root (apt-get; sshd).  Installs pssh and ansible-core if missing;
# a tool that cannot be installed is left out of the table.
set -u
cd "$(dirname "$0")/../.."
. tests/bench/lib.sh
bench_setup run_fleet.sh pssh ansible-core time
exec timeout -k 10 900 /usr/bin/python3 tests/bench/bench_fleet.py "$@"
