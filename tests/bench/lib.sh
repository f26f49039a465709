# lib.sh — sourced by the bench runners (run_fleet.sh, run_latency.sh):
# bench_setup NAME PKG...  checks root and the built controller, and installs
# the Debian packages the comparison needs if missing (bench only: CI never
# needs them); a package that cannot be installed is said, and the tool it
# brings is left out of the table by the Python bench.
bench_setup() {
    name=$1; shift
    [ "$(id -u)" = 0 ] || { echo "tests/bench/$name: must run as root" >&2; exit 1; }
    export DEBIAN_FRONTEND=noninteractive
    missing=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        apt-get update -q >/dev/null 2>&1 || true
        for p in $missing; do
            apt-get install -y -q --no-install-recommends "$p" >/tmp/certfleet-bench-apt.log 2>&1 ||
                echo "bench: could not install $p (see /tmp/certfleet-bench-apt.log)" >&2
        done
    fi
    [ -x bin/certfleet ] || { echo "tests/bench/$name: bin/certfleet is not built (make)" >&2; exit 1; }
}
