#!/usr/bin/env bash
# demo.sh — `make demo`: the product's current reach, end to end, on this
# machine only: a local Let's Encrypt test CA (Pebble), the static binaries,
# the agent talking to the CA over its own verified TLS.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
work=$(mktemp -d /tmp/certfleet-demo.XXXXXX)
trap 'cf_pebble_stop "$work"; rm -rf "$work"' EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "the two static binaries"
file bin/certfleet-agent bin/certfleet | sed 's/, BuildID[^,]*//'
ls -l bin/certfleet-agent bin/certfleet | awk '{print $5, $9}'

step "certfleet --version (libraries linked in)"
bin/certfleet --version

step "the agent the controller carries is byte-identical to bin/certfleet-agent"
bin/certfleet agent-binary > "$work/agent"
cmp "$work/agent" bin/certfleet-agent && echo "identical: $(sha256sum < "$work/agent" | cut -c1-16)…"

step "a local ACME CA (Pebble + challtestsrv)"
cf_pebble_start "$work/pebble"
echo "directory: $PEBBLE_DIR_URL"

step "certfleet-agent directory (verified TLS with --ca-file)"
bin/certfleet-agent directory --server "$PEBBLE_DIR_URL" --ca-file "$PEBBLE_CA"

step "without trusting the CA's TLS certificate the agent refuses"
if bin/certfleet-agent directory --server "$PEBBLE_DIR_URL"; then
    echo "UNEXPECTED: the agent trusted an unknown CA" >&2; exit 1
else
    echo "(exit $? — refused, as it must)"
fi
step "demo done"
