#!/usr/bin/env bash
# demo.sh — `make demo`: the product's current reach, end to end, on this
# machine only: a local Let's Encrypt test CA (Pebble), the static binaries,
# the agent talking to the CA over its own verified TLS.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
work=$(mktemp -d /tmp/certfleet-demo.XXXXXX)
trap 'cf_pebble_stop "$work/pebble"; rm -rf "$work"' EXIT

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

step "a local nginx site, plain HTTP (nginx listens on the port Pebble's VA connects to)"
ng=$work/nginx
mkdir -p "$ng/sites" "$ng/html" "$ng/tmp"
ng_addr=127.$((RANDOM % 200 + 20)).$((RANDOM % 250)).$((RANDOM % 250 + 2))
if [ "$(id -u)" = 0 ]; then https_port=443; ng_user="user root;"; else https_port=$(cf_free_port); ng_user=""; fi
cat > "$ng/nginx.conf" <<EON
$ng_user
worker_processes 1;
pid $ng/nginx.pid;
error_log $ng/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $ng/tmp/body;
    proxy_temp_path $ng/tmp/proxy;
    fastcgi_temp_path $ng/tmp/fastcgi;
    uwsgi_temp_path $ng/tmp/uwsgi;
    scgi_temp_path $ng/tmp/scgi;
    include $ng/sites/*.conf;
}
EON
cat > "$ng/sites/blog.conf" <<EON
# the blog (hand-written; certfleet keeps this comment and every other byte)
server {
    listen $ng_addr:$PEBBLE_HTTP_PORT;
    server_name blog.example.test;
    root $ng/html;
    location / { try_files \$uri \$uri/ =404; }
}
EON
echo "<h1>the blog, served by nginx</h1>" > "$ng/html/index.html"
cp "$ng/sites/blog.conf" "$work/blog.conf.orig"
curl -sf -X POST -d "{\"host\":\"blog.example.test.\",\"addresses\":[\"$ng_addr\"]}" "$CTS_MGMT/add-a" >/dev/null
nginx -p "$ng/" -c "$ng/nginx.conf"
trap 'nginx -p "$ng/" -c "$ng/nginx.conf" -s quit 2>/dev/null; cf_pebble_stop "$work/pebble"; rm -rf "$work"' EXIT
cat "$ng/sites/blog.conf"
ngx_args=(--nginx-conf "$ng/nginx.conf" --http-port "$PEBBLE_HTTP_PORT" --https-port "$https_port")

step "certfleet-agent nginx show: the server block nginx picks for the name"
agent nginx show -d blog.example.test "${ngx_args[@]}"

step "certfleet-agent issue --nginx: the challenge goes through the running nginx, then HTTPS is installed"
echo "+ certfleet-agent issue -d blog.example.test --nginx --nginx-conf $ng/nginx.conf ..."
agent issue -d blog.example.test --nginx "${ngx_args[@]}" "${ca_args[@]}"

step "what changed in the site's file (splices; everything else byte-identical)"
diff -u "$work/blog.conf.orig" "$ng/sites/blog.conf" || true

step "curl: HTTPS with a chain verified against Pebble's root"
https_url=https://blog.example.test; [ "$https_port" = 443 ] || https_url=$https_url:$https_port
curl -sS --cacert "$work/pebble-root.pem" --resolve "blog.example.test:$https_port:$ng_addr" "$https_url/"

step "curl: HTTP redirects to HTTPS (the ACME challenge path does not)"
curl -sS -o /dev/null -w '%{http_code} %{redirect_url}\n' --resolve "blog.example.test:$PEBBLE_HTTP_PORT:$ng_addr" \
    "http://blog.example.test:$PEBBLE_HTTP_PORT/x?y=1"
curl -sS -o /dev/null -w '%{http_code} (challenge path, not redirected)\n' \
    --resolve "blog.example.test:$PEBBLE_HTTP_PORT:$ng_addr" \
    "http://blog.example.test:$PEBBLE_HTTP_PORT/.well-known/acme-challenge/none"

step "a second install changes nothing (exit 2); status compares the served certificate"
set +e; agent nginx install -d blog.example.test "${ngx_args[@]}"; rc=$?; set -e
echo "(exit $rc)"
agent status -d blog.example.test

step "certfleet-agent nginx remove: the original bytes are back"
agent nginx remove -d blog.example.test "${ngx_args[@]}"
cmp "$work/blog.conf.orig" "$ng/sites/blog.conf" && echo "blog.conf is byte-identical to the original"

step "demo done"
