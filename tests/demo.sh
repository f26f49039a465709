#!/usr/bin/env bash
# demo.sh — `make demo`: the product's current reach, end to end, on this
# machine only: a local Let's Encrypt test CA (Pebble), the static binaries,
# the agent talking to the CA over its own verified TLS.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
work=$(mktemp -d /tmp/certfleet-demo.XXXXXX)
trap 'kill "$(cat "$work/feemu.pid" 2>/dev/null)" 2>/dev/null || true; cf_pebble_stop "$work/pebble"; rm -rf "$work"' EXIT

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
agent() { bin/certfleet-agent --prefix "$work/root" "$@"; }
ca_args=(--server "$PEBBLE_DIR_URL" --ca-file "$PEBBLE_CA" --resolver "127.0.0.1:$CTS_DNS" --agree-tos)

step "certfleet-agent issue: a certificate for two names by HTTP-01 (standalone responder)"
echo "+ certfleet-agent issue -d shop.example.test -d www.shop.example.test --standalone ..."
agent issue -d shop.example.test -d www.shop.example.test --standalone \
    --http-port "$PEBBLE_HTTP_PORT" "${ca_args[@]}"

step "the installed files (live/ points at a complete archive version)"
ls -l "$work/root/etc/certfleet/live/"
ls -l "$work/root/etc/certfleet/live/shop.example.test/"

step "openssl verifies the chain against Pebble's root"
curl -sf --cacert "$PEBBLE_CA" "$PEBBLE_MGMT/roots/0" > "$work/pebble-root.pem"
live=$work/root/etc/certfleet/live/shop.example.test
openssl verify -CAfile "$work/pebble-root.pem" -untrusted "$live/chain.pem" "$live/cert.pem"
openssl x509 -in "$live/cert.pem" -noout -subject -issuer -enddate -ext subjectAltName

step "certfleet-agent status"
agent status
agent status --json

step "a second run has nothing to do (exit 2, nothing touched)"
set +e; agent issue -d shop.example.test -d www.shop.example.test --standalone \
    --http-port "$PEBBLE_HTTP_PORT" "${ca_args[@]}"; rc=$?; set -e
echo "(exit $rc)"
[ $rc = 2 ]

step "a name that does not resolve is refused before the CA is asked"
curl -sf -X POST -d '{"host":"broken.example.test."}' "$CTS_MGMT/set-servfail" >/dev/null
set +e; agent issue -d broken.example.test --standalone --http-port "$PEBBLE_HTTP_PORT" "${ca_args[@]}"; rc=$?; set -e
echo "(exit $rc)"

step "an emulated FlexibleEngine ELB listener: elb renew by DNS-01 through FE DNS"
/usr/bin/python3 tests/integration/feemu.py --demo "$work/fe" "$CTS_MGMT" > "$work/feemu.out" 2>&1 &
echo $! > "$work/feemu.pid"
for _ in $(seq 100); do [ -s "$work/fe/fe.env" ] && break; sleep 0.1; done
cp "$work/fe/fe.env" "$work/fe.conf"
elb() { bin/certfleet elb "$@" --fe-config "$work/fe.conf"; }
echo "+ certfleet elb renew -d lb.example.test --fe-config fe.conf (credentials in a 0600 file) ..."
elb renew -d lb.example.test --server "$PEBBLE_DIR_URL" --ca-file "$PEBBLE_CA" \
    --resolver "127.0.0.1:$CTS_DNS" --agree-tos

step "certfleet elb status"
elb status

step "a second elb renew has nothing to do (exit 2, nothing uploaded)"
set +e; elb renew -d lb.example.test --server "$PEBBLE_DIR_URL" --ca-file "$PEBBLE_CA" \
    --resolver "127.0.0.1:$CTS_DNS"; rc=$?; set -e
echo "(exit $rc)"
[ $rc = 2 ]

step "demo done"
