#!/bin/sh
# run.sh — `make bench`: one certificate issuance by certfleet-agent, uacme,
# certbot and lego against a local Pebble; prints a table and rewrites
# docs/benchmarks.md.  See tests/bench/README.md.
#
# Must run as root (apt-get; the clients bind Pebble's HTTP-01 port; uacme's
# trust store is swapped in a private mount namespace).  Idempotent: packages
# already installed are left alone and `apt-get update` runs only when one is
# missing.  A client whose package cannot be installed is reported as
# unavailable; the benchmark still runs the others.
# Arguments are passed to bench_issue.py (--rounds N, --clients a,b, --keep, --no-doc).
set -u
cd "$(dirname "$0")/../.."

if [ "$(id -u)" != 0 ]; then
    echo "tests/bench/run.sh: must run as root" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'
}

missing=""
for p in uacme certbot lego strace; do
    installed "$p" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "bench: installing$missing"
    apt-get update -q >/dev/null 2>&1 || echo "bench: apt-get update failed" >&2
    for p in $missing; do
        if ! apt-get install -y -q --no-install-recommends "$p" >/tmp/certfleet-bench-apt.log 2>&1; then
            echo "bench: could not install $p (see /tmp/certfleet-bench-apt.log); it will be reported as unavailable" >&2
        fi
    done
fi

[ -x bin/certfleet-agent ] || { echo "tests/bench/run.sh: bin/certfleet-agent is not built (make)" >&2; exit 1; }

exec timeout -k 10 270 /usr/bin/python3 tests/bench/bench_issue.py "$@"
