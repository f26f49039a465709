#!/usr/bin/env bash
# demo.sh — `make demo`: the product's current reach, end to end, on this
# machine only: a local Let's Encrypt test CA (Pebble), the static binaries,
# the agent talking to the CA over its own verified TLS.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
work=$(mktemp -d /tmp/certfleet-demo.XXXXXX)
# the controller's state (fleet results, ELB listeners and accounts) stays in
# the demo's directory: nothing is left in ~/.local/state, and a re-run's
# report shows only its own hosts and listener
export XDG_STATE_HOME=$work/state
demo_cleanup() {
    for f in "$work"/sshd*/pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
    [ -f "$work/feemu.pid" ] && kill "$(cat "$work/feemu.pid")" 2>/dev/null
    [ -n "${ng:-}" ] && [ -f "$ng/nginx.pid" ] && nginx -p "$ng/" -c "$ng/nginx.conf" -s quit 2>/dev/null
    cf_pebble_stop "$work/pebble"
    rm -rf "$work"
}
trap demo_cleanup EXIT

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

step "privilege separation: the agent's network process, seen from a DNS-01 hook mid-issuance"
# The hook runs while the agent holds the account key; it shows the network
# process (certfleet-net) that talks to the CA, then publishes the TXT record.
cat > "$work/show-netproc.sh" <<'EOH'
#!/bin/sh
agent=$PPID
while [ "$(cat /proc/$agent/comm)" != certfleet-agent ]; do agent=$(awk '{print $4}' /proc/$agent/stat); done
for p in /proc/[0-9]*; do
    [ "$(cat $p/comm 2>/dev/null)" = certfleet-net ] && [ "$(awk '{print $4}' $p/stat)" = "$agent" ] || continue
    echo "  certfleet-net (pid ${p#/proc/}), child of the agent (pid $agent):" >&2
    grep -E '^(Uid|Gid|Groups|NoNewPrivs|Seccomp):' $p/status | sed 's/^/    /' >&2
done
curl -sf -X POST -d "{\"host\":\"_acme-challenge.$CERTBOT_DOMAIN.\",\"value\":\"$CERTBOT_VALIDATION\"}" \
    "$CTS_MGMT/set-txt" >/dev/null
EOH
chmod 755 "$work/show-netproc.sh"
echo "+ certfleet-agent issue -d api.shop.example.test --preferred-challenges dns-01 --manual-auth-hook show-netproc.sh ..."
CTS_MGMT=$CTS_MGMT agent issue -d api.shop.example.test --preferred-challenges dns-01 \
    --manual-auth-hook "$work/show-netproc.sh" "${ca_args[@]}"

step "a name that does not resolve is refused before the CA is asked"
curl -sf -X POST -d '{"host":"broken.example.test."}' "$CTS_MGMT/set-servfail" >/dev/null
set +e; agent issue -d broken.example.test --standalone --http-port "$PEBBLE_HTTP_PORT" "${ca_args[@]}"; rc=$?; set -e
echo "(exit $rc)"

step "an existing certbot setup: the real certbot gets a certificate from Pebble (its own directories)"
# A separate prefix stands for a server that certbot manages today; certbot's
# Debian timer and cron entry are copied in, so that nothing of this
# machine's own /etc/letsencrypt or systemd is touched.
cbp=$work/certbot-host
cbdir=$cbp/etc/letsencrypt
for src in lib/systemd/system/certbot.timer etc/cron.d/certbot; do
    mkdir -p "$cbp/$(dirname "$src")"
    if [ -f "/$src" ]; then cp "/$src" "$cbp/$src"; else echo "# certbot's $src" > "$cbp/$src"; fi
done
echo "+ certbot certonly --standalone -d legacy.example.test --config-dir $cbdir --server $PEBBLE_DIR_URL ..."
if ! REQUESTS_CA_BUNDLE=$PEBBLE_CA certbot certonly --standalone --non-interactive --agree-tos \
    --register-unsafely-without-email --no-eff-email --server "$PEBBLE_DIR_URL" \
    --http-01-port "$PEBBLE_HTTP_PORT" -d legacy.example.test -d www.legacy.example.test \
    --config-dir "$cbdir" --work-dir "$work/certbot-work" --logs-dir "$work/certbot-logs" \
    > "$work/certbot.out" 2>&1; then
    cat "$work/certbot.out"; exit 1
fi
grep -E 'Successfully|expires on' "$work/certbot.out"
echo "# etc/letsencrypt/renewal/legacy.example.test.conf (what certbot renews with; paths left out)"
grep -E '^(\[renewalparams\]$|(account|authenticator|server|key_type|http01_port) =)' \
    "$cbdir/renewal/legacy.example.test.conf"
cbagent() { bin/certfleet-agent --prefix "$cbp" "$@"; }
cbserial() { openssl x509 -in "$cbp/etc/certfleet/live/legacy.example.test/cert.pem" -noout -serial; }

step "certfleet-agent import certbot --disable-certbot: the same key, certificate, account and method; no new issuance"
echo "+ certfleet-agent import certbot --disable-certbot --ca-file ... --resolver ..."
cbagent import certbot --disable-certbot --ca-file "$PEBBLE_CA" --resolver "127.0.0.1:$CTS_DNS"
cmp "$cbdir/live/legacy.example.test/privkey.pem" "$cbp/etc/certfleet/live/legacy.example.test/privkey.pem" &&
    echo "privkey.pem is byte-identical to certbot's; $(cbserial)"

step "certbot no longer renews it (its renewal config moved aside, timer masked, cron entry renamed)"
( cd "$cbp" && ls etc/letsencrypt/renewal etc/letsencrypt/renewal.certfleet-disabled etc/cron.d &&
  echo "etc/systemd/system/certbot.timer -> $(readlink etc/systemd/system/certbot.timer)" )
echo "+ certbot renew --force-renewal ..."
REQUESTS_CA_BUNDLE=$PEBBLE_CA certbot renew --force-renewal --no-random-sleep-on-renew --config-dir "$cbdir" \
    --work-dir "$work/certbot-work" --logs-dir "$work/certbot-logs" > "$work/certbot.out" 2>&1
grep 'No renewals were attempted' "$work/certbot.out"

step "certfleet-agent status lists the imported lineage"
cbagent status

step "the notify hook and the Prometheus textfile (agent.conf: notify-hook, prometheus-file)"
cat > "$work/notify.sh" <<'EOH'
#!/bin/sh
echo "  notify hook: event $CERTFLEET_EVENT for $CERTFLEET_LINEAGE ($CERTFLEET_DOMAINS)" >&2
env | grep '^CERTFLEET_' | sort | sed 's/^/    /' >&2
EOH
chmod 755 "$work/notify.sh"
mkdir -p "$cbp/var/lib/node-exporter"
printf 'notify-hook = %s\nprometheus-file = /var/lib/node-exporter/certfleet.prom\n' "$work/notify.sh" \
    >> "$cbp/etc/certfleet/agent.conf"
cat "$cbp/etc/certfleet/agent.conf"
echo "+ certfleet-agent renew --force -d legacy.example.test --server https://localhost:1/dir   (a CA that is down)"
set +e; cbagent renew --force -d legacy.example.test --server https://localhost:1/dir; rc=$?; set -e
echo "(exit $rc)"
[ $rc != 0 ]

step "the agent renews the imported lineage itself (the method certbot used: standalone); the hook hears it recovered"
old=$(cbserial)
echo "+ certfleet-agent renew --force -d legacy.example.test"
cbagent renew --force -d legacy.example.test
echo "old $old, new $(cbserial)"
[ "$old" != "$(cbserial)" ]
echo "# var/lib/node-exporter/certfleet.prom (rewritten atomically by every run, for node_exporter's textfile collector)"
grep -v '^#' "$cbp/var/lib/node-exporter/certfleet.prom"
diff <(cbagent status --prometheus | grep -v remaining_seconds) \
    <(grep -v remaining_seconds "$cbp/var/lib/node-exporter/certfleet.prom") &&
    echo "(certfleet-agent status --prometheus prints the same)"

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

step "certfleet: a fleet of three SSH hosts, hardened the way ssh-audit recommends"
# Each sshd (127.0.0.21-23) has only an Ed25519 host key and offers only
# curve25519 key exchange and AES-GCM; known_hosts holds only ssh-ed25519
# lines, as a first `ssh` contact writes it.  web3 is reached through web1
# (ProxyJump in an ssh_config file: Host matches ansible_host, as for
# Ansible, which runs ssh with that address); the inventory is Ansible YAML.
ssh-keygen -q -t ed25519 -N "" -C certfleet-demo -f "$work/id_ed25519"
: > "$work/known_hosts"
: > "$work/ssh_config"
printf 'all:\n  children:\n    web:\n      vars:\n        certfleet_method: standalone\n' > "$work/inventory.yml"
printf '        certfleet_server: %s\n        certfleet_agree_tos: yes\n      hosts:\n' "$PEBBLE_DIR_URL" >> "$work/inventory.yml"
for i in 1 2 3; do
    addr=127.0.0.2$i; d=$work/sshd$i; name=web$i.shop.example.test
    mkdir -p "$d"; chmod 700 "$d"
    ssh-keygen -q -t ed25519 -N "" -C "$addr" -f "$d/host_ed25519"
    port=$(/usr/bin/python3 -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1],0)); print(s.getsockname()[1])' "$addr")
    cp "$work/id_ed25519.pub" "$d/authorized_keys"
    cat > "$d/sshd_config" <<EOC
ListenAddress $addr:$port
HostKey $d/host_ed25519
HostKeyAlgorithms ssh-ed25519
KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org
Ciphers aes256-gcm@openssh.com,aes128-gcm@openssh.com
PubkeyAcceptedAlgorithms ssh-ed25519
PidFile none
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile $d/authorized_keys
SetEnv SHLVL=1
EOC
    mkdir -p /run/sshd
    /usr/sbin/sshd -D -e -f "$d/sshd_config" 2> "$d/log" &
    echo $! > "$d/pid"
    echo "[$addr]:$port $(cut -d' ' -f1,2 "$d/host_ed25519.pub")" >> "$work/known_hosts"
    eval "port$i=$port"
    # the CA's DNS sends the name to that host's address
    curl -sf -X POST -d "{\"host\":\"$name.\",\"addresses\":[\"$addr\"]}" "$CTS_MGMT/add-a" >/dev/null
    # per-host agent defaults: its address for the HTTP-01 responder, whom to trust
    mkdir -p "$work/hosts/$name/etc/certfleet"
    printf 'ca-file = %s\nresolver = 127.0.0.1:%s\nhttp-address = %s\nhttp-port = %s\n' \
        "$PEBBLE_CA" "$CTS_DNS" "$addr" "$PEBBLE_HTTP_PORT" > "$work/hosts/$name/etc/certfleet/agent.conf"
    printf '        %s:\n          ansible_host: %s\n          ansible_port: %s\n          ansible_user: root\n' \
        "$name" "$addr" "$port" >> "$work/inventory.yml"
    printf '          certfleet_domains: %s\n          certfleet_prefix: %s\n' "$name" "$work/hosts/$name" >> "$work/inventory.yml"
done
printf 'Host 127.0.0.23\n    ProxyJump root@127.0.0.21:%s\n' "$port1" > "$work/ssh_config"
for i in 1 2 3; do
    for _ in $(seq 50); do grep -q "Server listening" "$work/sshd$i/log" && break; sleep 0.1; done
done
echo "# inventory.yml"; cat "$work/inventory.yml"
echo "# ssh_config"; cat "$work/ssh_config"
echo "# known_hosts (ssh-ed25519 only)"; cut -c1-60 "$work/known_hosts"
fleet() { echo "+ certfleet $*"; bin/certfleet -i "$work/inventory.yml" --known-hosts "$work/known_hosts" \
    -F "$work/ssh_config" --identity "$work/id_ed25519" "$@"; }

step "certfleet hosts (the inventory, resolved); -v shows web3's route through web1"
fleet hosts
fleet hosts -v web3.shop.example.test

step "certfleet deploy (the embedded agent for the host's architecture, streamed over one exec, sha256-checked, renamed into place)"
fleet deploy

step "certfleet issue (each host's agent gets its certificate from Pebble, in parallel)"
fleet issue

step "certfleet status: the fleet table"
fleet status

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

step "certfleet elb deploy --from-host: the certificate web1's agent obtained, read over SSH and put on the listener"
echo "+ certfleet elb deploy --from-host web1.shop.example.test -d web1.shop.example.test --fe-config fe.conf -i inventory ..."
bin/certfleet elb deploy --from-host web1.shop.example.test -d web1.shop.example.test \
    --fe-config "$work/fe.conf" -i "$work/inventory.yml" --known-hosts "$work/known_hosts" \
    -F "$work/ssh_config" --identity "$work/id_ed25519"
elb status

step "certfleet report --html: the fleet and the ELB listener as one self-contained page (no network)"
page=${CERTFLEET_DEMO_REPORT:-/tmp/certfleet-report.html}
bin/certfleet report --html "$page"
echo "wrote $page ($(wc -c < "$page") bytes): open it in a browser"

step "certfleet report --prometheus (for node_exporter's textfile collector or a scrape)"
bin/certfleet report --prometheus | grep -v '^# HELP'

step "demo done"
