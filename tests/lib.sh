# tests/lib.sh — shell helpers shared by the demo and benchmarks: a local
# Pebble (Let's Encrypt's test CA) with pebble-challtestsrv as its DNS, on
# loopback, in a temporary directory.  Source it; call cf_pebble_start DIR.
# Nothing here leaves the machine.

cf_free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# cf_wait_https URL CAFILE: wait up to 10 s for URL to answer
cf_wait_https() {
    for _ in $(seq 100); do
        curl -sf --cacert "$2" -o /dev/null "$1" && return 0
        sleep 0.1
    done
    echo "timed out waiting for $1" >&2
    return 1
}

# cf_pebble_start DIR: sets PEBBLE_DIR_URL, PEBBLE_CA (listener CA),
# PEBBLE_MGMT, PEBBLE_HTTP_PORT, CTS_MGMT, CTS_DNS; processes are killed
# by cf_pebble_stop.
cf_pebble_start() {
    d=$1
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -keyout "$d/ca.key" -out "$d/ca.pem" -subj /CN=certfleet-demo-listener-ca 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$d/srv.key" -out "$d/srv.csr" -subj /CN=localhost 2>/dev/null
    printf 'subjectAltName=DNS:localhost\n' > "$d/ext"
    openssl x509 -req -in "$d/srv.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
        -out "$d/srv.pem" -days 2 -extfile "$d/ext" 2>/dev/null
    CTS_DNS=$(cf_free_port); CTS_MGMT_PORT=$(cf_free_port)
    p_port=$(cf_free_port); m_port=$(cf_free_port)
    PEBBLE_HTTP_PORT=$(cf_free_port); tls_port=$(cf_free_port)
    cat > "$d/pebble.json" <<EOJ
{"pebble":{"listenAddress":"127.0.0.1:$p_port","managementListenAddress":"127.0.0.1:$m_port",
 "certificate":"$d/srv.pem","privateKey":"$d/srv.key","httpPort":$PEBBLE_HTTP_PORT,"tlsPort":$tls_port,
 "ocspResponderURL":"","externalAccountBindingRequired":false,
 "certificateValidityPeriod":7776000,"retryAfter":{"authz":1,"order":1}}}
EOJ
    pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" -dns01 "127.0.0.1:$CTS_DNS" \
        -management "127.0.0.1:$CTS_MGMT_PORT" -http01 "" -https01 "" -tlsalpn01 "" -doh "" \
        > "$d/challtestsrv.log" 2>&1 &
    echo $! > "$d/challtestsrv.pid"
    PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 pebble -config "$d/pebble.json" \
        -dnsserver "127.0.0.1:$CTS_DNS" > "$d/pebble.log" 2>&1 &
    echo $! > "$d/pebble.pid"
    PEBBLE_DIR_URL=https://localhost:$p_port/dir
    PEBBLE_MGMT=https://localhost:$m_port
    PEBBLE_CA=$d/ca.pem
    CTS_MGMT=http://127.0.0.1:$CTS_MGMT_PORT
    cf_wait_https "$PEBBLE_DIR_URL" "$PEBBLE_CA"
}

cf_pebble_stop() {
    for f in "$1/pebble.pid" "$1/challtestsrv.pid"; do
        [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
    done
    return 0
}
