"""certfleet-agent issue against a hostile ACME server.

The peer is a double written here (real TLS on loopback, its CA handed to the
agent with --ca-file) that speaks just enough RFC 8555 to lead the agent to
the step under test and then misbehaves there: oversized headers and bodies,
a slow trickle, TLS cut without close_notify, invalid JSON, wrong JSON types,
challenge tokens that are paths, a redirect loop, a certificate for another
key, a nonce storm.  Every case must end with the expected error code, within
a time bound (measured), in bounded memory (the agent's peak RSS, from
wait4), with nothing under live/ and the state record still "none".
"""
import json
import os
import resource
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

import cfutil
from cfutil import free_port

DOMAIN = "hostile.example.test"
EXIT = {"CA_ERROR": 71, "NETWORK_ERROR": 77, "PROTOCOL_ERROR": 78}
MAX_RSS_KB = 16 * 1024           # the agent's peak RSS (measured: under 2 MiB)
MAX_RSS_KB_ASAN = 256 * 1024     # ASan's shadow memory and quarantine
AS_LIMIT = 256 * 1024 * 1024     # address-space cap for non-sanitizer builds


class AcmeDouble:
    """A minimal, lenient ACME server (no JWS checks) with one hostile mode."""

    def __init__(self, workdir, mode):
        self.mode = mode
        self.dir = Path(workdir)
        ca_cert, ca_key = cfutil.make_ca(self.dir / "ca")
        cert, key = cfutil.make_leaf(self.dir / "ca", ca_cert, ca_key)
        self.ca_file = ca_cert
        self.ca_key = ca_key
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(cert), str(key))
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.base = "https://localhost:%d" % self.port
        self.requests = []          # (method, path)
        self.challenged = False
        self.nonce = 0
        self.stopping = False
        self.cert_pem = None
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def directory(self):
        return self.base + "/dir"

    def stop(self):
        self.stopping = True
        try:
            self.sock.close()
        except OSError:
            pass

    # ------------------------------------------------------------ plumbing

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(c,), daemon=True).start()

    def _conn(self, raw):
        try:
            conn = self.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        conn.settimeout(60)
        buf = b""
        try:
            while not self.stopping:
                while b"\r\n\r\n" not in buf:
                    d = conn.recv(65536)
                    if not d:
                        return
                    buf += d
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                hdrs = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip()
                        for l in lines[1:] if ":" in l}
                n = int(hdrs.get("content-length", "0"))
                while len(buf) < n:
                    d = conn.recv(65536)
                    if not d:
                        return
                    buf += d
                buf = buf[n:]
                self.requests.append((method, path))
                if self._respond(conn, method, path) == "close":
                    return
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            try:
                conn.close()       # never unwrap(): no close_notify unless sent
            except OSError:
                pass

    def _nonce(self):
        self.nonce += 1
        return "nonce%06d" % self.nonce

    def _send(self, conn, status, body=b"", headers=(), ctype="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        h = ["HTTP/1.1 %s" % status, "Content-Type: " + ctype,
             "Replay-Nonce: " + self._nonce(), "Content-Length: %d" % len(body)]
        h += list(headers)
        conn.sendall(("\r\n".join(h) + "\r\n\r\n").encode() + body)

    # ------------------------------------------------------------ ACME

    def directory_json(self):
        b = self.base
        return {"newNonce": b + "/nonce", "newAccount": b + "/acct", "newOrder": b + "/order",
                "revokeCert": b + "/revoke", "keyChange": b + "/keychange"}

    def order_json(self, status):
        o = {"status": status, "identifiers": [{"type": "dns", "value": DOMAIN}],
             "authorizations": [self.base + "/authz/1"], "finalize": self.base + "/finalize/1"}
        if status == "valid":
            o["certificate"] = self.base + "/cert/1"
        return o

    def authz_json(self, token):
        st = "valid" if self.challenged else "pending"
        z = {"status": st, "identifier": {"type": "dns", "value": DOMAIN},
             "challenges": [{"type": "http-01", "url": self.base + "/chall/1",
                             "token": token, "status": st}]}
        if self.mode.startswith("authz_"):
            # the order was for DOMAIN; the authorization is for something else
            z["identifier"] = {"authz_foreign": {"type": "dns", "value": "victim.example.org"},
                               "authz_foreign_zone": {"type": "dns", "value": "victim.example.test"},
                               "authz_wildcard": {"type": "dns", "value": DOMAIN},
                               "authz_star": {"type": "dns", "value": "*." + DOMAIN},
                               "authz_ip": {"type": "ip", "value": "127.0.0.1"}}[self.mode]
            if self.mode == "authz_wildcard":
                z["wildcard"] = True
            z["challenges"].append({"type": "dns-01", "url": self.base + "/chall/1",
                                    "token": token, "status": st})
        return z

    def wrong_cert(self):
        """A certificate for DOMAIN, from our CA, but for a key of its own."""
        if self.cert_pem is None:
            cert, _ = cfutil.make_leaf(self.dir / "wrong", self.ca_file, self.ca_key,
                                       dns=(DOMAIN,), ips=(), name="wrong")
            self.cert_pem = Path(cert).read_text() + Path(self.ca_file).read_text()
        return self.cert_pem

    def _respond(self, conn, method, path):
        m = self.mode
        if m == "redirect_loop":
            conn.sendall(("HTTP/1.1 301 Moved Permanently\r\nLocation: %s%s\r\n"
                          "Content-Length: 0\r\n\r\n" % (self.base, path)).encode())
            return None
        if path == "/dir":
            return self._directory(conn)
        if path == "/nonce":
            conn.sendall(("HTTP/1.1 200 OK\r\nReplay-Nonce: %s\r\nCache-Control: no-store\r\n"
                          "Content-Length: 0\r\n\r\n" % self._nonce()).encode())
            return None
        if m == "nonce_storm" and method == "POST":
            self._send(conn, "400 Bad Request",
                       {"type": "urn:ietf:params:acme:error:badNonce", "detail": "try again"},
                       ctype="application/problem+json")
            return None
        if path == "/acct":
            self._send(conn, "201 Created", {"status": "valid"},
                       headers=["Location: " + self.base + "/acct/1"])
        elif path == "/order" and m == "evil_detail":
            self._send(conn, "403 Forbidden", {"type": "urn:ietf:params:acme:error:unauthorized"
                                               "\x1b[8m", "detail": EVIL_DETAIL},
                       ctype="application/problem+json")
        elif path == "/order":
            o = self.order_json("pending")
            if m == "wrong_types_order":
                o["authorizations"] = self.base + "/authz/1"
            self._send(conn, "201 Created", o, headers=["Location: " + self.base + "/order/1"])
        elif path == "/authz/1":
            token = {"token_slash": "abc/def", "token_dotdot": "..",
                     "token_dotdot_path": "../../../etc/cron.d/x"}.get(m, "tok_" + "A" * 40)
            self._send(conn, "200 OK", self.authz_json(token))
        elif path == "/chall/1":
            self.challenged = True
            self._send(conn, "200 OK", {"type": "http-01", "status": "valid",
                                        "url": self.base + "/chall/1", "token": "tok"})
        elif path in ("/finalize/1", "/order/1"):
            self._send(conn, "200 OK", self.order_json("valid"),
                       headers=["Location: " + self.base + "/order/1"])
        elif path == "/cert/1":
            self._send(conn, "200 OK", self.wrong_cert(), ctype="application/pem-certificate-chain")
        else:
            self._send(conn, "404 Not Found", {"type": "urn:ietf:params:acme:error:malformed"})
        return None

    def _directory(self, conn):
        m = self.mode
        good = json.dumps(self.directory_json()).encode()
        if m == "big_headers":
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            line = b"X-Junk: " + b"a" * 1000 + b"\r\n"
            for _ in range(1024):              # 1 MiB of headers
                conn.sendall(line)
            return "close"
        if m == "big_body_cl":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n")
            for _ in range(100):
                conn.sendall(b"{" * 1048576)
            return "close"
        if m == "big_body_chunked":
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = b"100000\r\n" + b" " * 0x100000 + b"\r\n"
            for _ in range(100):
                conn.sendall(chunk)
            return "close"
        if m == "trickle":
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            while not self.stopping:           # one byte a second, forever
                conn.sendall(b"X")
                time.sleep(1)
            return "close"
        if m == "truncated_tls":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(good) + good[:20])
            conn.shutdown(socket.SHUT_RDWR)    # TCP FIN, no TLS close_notify
            return "close"
        if m == "truncated_tls_eof":
            # a close-delimited body that looks whole, cut without close_notify
            conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + good)
            conn.shutdown(socket.SHUT_RDWR)
            return "close"
        if m == "invalid_json":
            self._send(conn, "200 OK", good[:-1] + b",}")
            return None
        if m == "wrong_types_dir":
            d = self.directory_json()
            d["newNonce"], d["newAccount"], d["newOrder"] = 5, [d["newAccount"]], {"url": 1}
            self._send(conn, "200 OK", d)
            return None
        self._send(conn, "200 OK", good)
        return None


# Issue 14 item 5: a problem detail built to drive a terminal: an OSC title
# change, CSI screen clear, an 8-bit CSI (U+009B), a forged line after CR/LF,
# a right-to-left override and isolates, a Arabic letter mark, DEL.
EVIL_DETAIL = ("go \x1b]0;pwned\x07 \x1b[2J\x1b[31mred \u009b2J \r\ncertfleet-agent: fake: all good"
               " \u202etxt.exe \u2066x\u2069 \u200e\u200f\u061c \x7f end")
# what must never reach a reader raw
EVIL_CHARS = ["\x1b", "\x07", "\x9b", "\u009b", "\r", "\u202e", "\u2066", "\u2069", "\u200e",
              "\u200f", "\u061c", "\x7f"]


def assert_inert(text, what):
    bad = [c for c in EVIL_CHARS if c in text]
    assert not bad, "%s holds %r raw: %r" % (what, bad, text[:600])
    assert not [l for l in text.splitlines() if l.startswith("certfleet-agent: fake")], text


CASES = [
    # mode, expected code, time bound (s)
    ("big_headers", "PROTOCOL_ERROR", 20),
    ("big_body_cl", "PROTOCOL_ERROR", 20),
    ("big_body_chunked", "PROTOCOL_ERROR", 20),
    ("trickle", "NETWORK_ERROR", 45),
    ("truncated_tls", "NETWORK_ERROR", 20),
    ("truncated_tls_eof", "NETWORK_ERROR", 20),
    ("invalid_json", "PROTOCOL_ERROR", 20),
    ("wrong_types_dir", "PROTOCOL_ERROR", 20),
    ("wrong_types_order", "PROTOCOL_ERROR", 20),
    ("token_slash", "PROTOCOL_ERROR", 20),
    ("token_dotdot", "PROTOCOL_ERROR", 20),
    ("token_dotdot_path", "PROTOCOL_ERROR", 20),
    ("redirect_loop", "CA_ERROR", 20),
    ("cert_mismatch", "CA_ERROR", 30),
    ("nonce_storm", "CA_ERROR", 30),
]


@pytest.fixture
def double_factory(tmp_path):
    made = []

    def make(mode):
        d = AcmeDouble(tmp_path / ("ca-" + mode), mode)
        made.append(d)
        return d
    yield make
    for d in made:
        d.stop()


def instrumented(cmd):
    """ASan or valgrind: memory figures are theirs, not the agent's."""
    return "asan" in str(cmd[0]) or os.environ.get("CERTFLEET_VALGRIND") == "1"


def peak_rss_kb(cmd, timeout, workdir):
    """Run cmd under GNU time; returns (exit status, peak RSS in KiB of the
    agent itself: time's fresh fork, not this Python process, is what execs
    it).  Outside sanitizer builds the address space is also capped, so an
    unbounded allocation fails instead of succeeding quietly."""
    out = Path(workdir) / "time.out"
    limit = None if instrumented(cmd) else lambda: resource.setrlimit(
        resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(out), *cmd],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=timeout, preexec_fn=limit)
    return p.returncode, int(out.read_text().split()[-1])


@pytest.mark.parametrize("mode,code,bound", CASES, ids=[c[0] for c in CASES])
def test_hostile_ca(bins, tmp_path, double_factory, mode, code, bound):
    ca = double_factory(mode)
    prefix = tmp_path / "root"
    webroot = tmp_path / "www"
    webroot.mkdir()
    args = ["issue", "-d", DOMAIN, "--server", ca.directory, "--ca-file", str(ca.ca_file),
            "--agree-tos", "--no-preflight", "--json"]
    if mode.startswith("token_"):
        args += ["--webroot", str(webroot)]     # tokens would become file names here
    else:
        args += ["--standalone", "--http-port", str(free_port())]
    cmd = [str(bins.need_agent()), "--prefix", str(prefix), *args]
    t0 = time.monotonic()
    rc, rss = peak_rss_kb(cmd, bound + 30, tmp_path / ("ca-" + mode))
    took = time.monotonic() - t0
    print("hostile %-18s exit %d  %.2fs  peak RSS %d KiB" % (mode, rc, took, rss))
    assert rc == EXIT[code], "exit %d, want %d (%s)" % (rc, EXIT[code], code)
    assert took < bound, "took %.1fs (bound %ds)" % (took, bound)
    assert rss < (MAX_RSS_KB_ASAN if instrumented(cmd) else MAX_RSS_KB), \
        "peak RSS %d KiB" % rss
    live = prefix / "etc/certfleet/live"
    assert not live.exists() or list(live.iterdir()) == []
    assert not (prefix / "etc/certfleet/archive").exists() or \
        list((prefix / "etc/certfleet/archive").rglob("*.pem")) == []
    st = json.loads((prefix / "var/lib/certfleet/state" / (DOMAIN + ".json")).read_text())
    assert st["status"] == "none", st
    assert st["lastError"]["code"] == code, st
    # nothing was written into the webroot or next to it
    assert list(webroot.rglob("*")) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["root", "www", "ca-" + mode])
    if mode == "nonce_storm":
        posts = [r for r in ca.requests if r[0] == "POST"]
        assert 2 <= len(posts) <= 25, len(posts)
    if mode == "redirect_loop":
        assert len(ca.requests) <= 3, ca.requests


def test_hostile_json_output_names_the_error(bins, tmp_path, double_factory):
    """The --json result of a hostile run carries the code, detail and hint."""
    ca = double_factory("wrong_types_dir")
    r = subprocess.run([str(bins.need_agent()), "--prefix", str(tmp_path / "root"), "issue",
                        "-d", DOMAIN, "--server", ca.directory, "--ca-file", str(ca.ca_file),
                        "--agree-tos", "--no-preflight", "--json", "--standalone",
                        "--http-port", str(free_port())],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == EXIT["PROTOCOL_ERROR"]
    out = json.loads(r.stdout)
    text = json.dumps(out)
    assert "PROTOCOL_ERROR" in text and "newNonce" in text, text


# Issue 14 item 3: the order is for DOMAIN, the CA's authorization names another
# identifier (or DOMAIN's wildcard).  Nothing may be proven for it: no hook run,
# no challenge file, no FE record, no challenge answered; CA_ERROR.
FOREIGN = ["authz_foreign", "authz_wildcard", "authz_star", "authz_ip"]


def _assert_nothing_done(ca, r, prefix, code):
    assert r.returncode == EXIT[code], (r.returncode, r.stdout, r.stderr)
    assert json.loads(r.stdout)["code"] == code, r.stdout
    assert not [q for q in ca.requests if q[1].startswith("/chall")], ca.requests
    st = json.loads((prefix / "var/lib/certfleet/state" / (DOMAIN + ".json")).read_text())
    assert st["status"] == "none" and st["lastError"]["code"] == code, st


@pytest.mark.parametrize("mode", FOREIGN)
def test_foreign_authorization_runs_no_hook(bins, tmp_path, double_factory, mode):
    ca = double_factory(mode)
    prefix, marker = tmp_path / "root", tmp_path / "hook-ran"
    hook = "echo \"$CERTBOT_DOMAIN\" >> %s" % marker
    r = subprocess.run([str(bins.need_agent()), "--prefix", str(prefix), "issue", "-d", DOMAIN,
                        "--server", ca.directory, "--ca-file", str(ca.ca_file), "--agree-tos",
                        "--no-preflight", "--json", "--preferred-challenges", "dns-01",
                        "--manual-auth-hook", hook, "--manual-cleanup-hook", hook,
                        "--dns-timeout", "2"],
                       capture_output=True, text=True, timeout=60)
    # a non-DNS identifier is refused by the parser already
    _assert_nothing_done(ca, r, prefix, "PROTOCOL_ERROR" if mode == "authz_ip" else "CA_ERROR")
    assert not marker.exists(), marker.read_text()


def test_foreign_authorization_writes_no_challenge_file(bins, tmp_path, double_factory):
    ca = double_factory("authz_foreign")
    prefix, webroot = tmp_path / "root", tmp_path / "www"
    webroot.mkdir()
    r = subprocess.run([str(bins.need_agent()), "--prefix", str(prefix), "issue", "-d", DOMAIN,
                        "--server", ca.directory, "--ca-file", str(ca.ca_file), "--agree-tos",
                        "--no-preflight", "--json", "--webroot", str(webroot)],
                       capture_output=True, text=True, timeout=60)
    _assert_nothing_done(ca, r, prefix, "CA_ERROR")
    assert "victim.example.org" in json.loads(r.stdout)["detail"]
    assert list(webroot.rglob("*")) == []


def test_foreign_authorization_adds_no_fe_record(bins, tmp_path, double_factory, feemu):
    ca = double_factory("authz_foreign_zone")   # a name inside the FE zone
    prefix = tmp_path / "root"
    env = dict(os.environ)
    env.update(feemu.env())
    r = subprocess.run([str(bins.need_agent()), "--prefix", str(prefix), "issue", "-d", DOMAIN,
                        "--server", ca.directory, "--ca-file", str(ca.ca_file), "--agree-tos",
                        "--no-preflight", "--json", "--dns", "fe", "--dns-timeout", "2"],
                       capture_output=True, text=True, timeout=60, env=env)
    _assert_nothing_done(ca, r, prefix, "CA_ERROR")
    st = feemu.state()
    assert not [e for e in st["log"] if "recordsets" in e["path"] and e["method"] != "GET"], st["log"]
    for z in st["zones"].values():
        assert z["recordsets"] == {}, z


def test_ca_text_reaches_no_terminal_raw(bins, tmp_path, double_factory):
    """Issue 14 item 5: the CA's problem detail (and type) full of escape
    sequences, C1, CR/LF and bidi controls: issue's stderr and --json, status
    and log (text and --json) show it, inert."""
    ca = double_factory("evil_detail")
    prefix = tmp_path / "root"
    agent = str(bins.need_agent())
    base = [agent, "--prefix", str(prefix)]
    issue = ["issue", "-d", DOMAIN, "--server", ca.directory, "--ca-file", str(ca.ca_file),
             "--agree-tos", "--no-preflight", "--standalone", "--http-port", str(free_port())]

    def run(*args):
        return subprocess.run(base + list(args), capture_output=True, timeout=60)

    r = run(*issue)
    assert r.returncode == 71, r       # CA_ERROR (the type is not one it knows)
    err = r.stderr.decode("utf-8")
    assert "go " in err and "pwned" in err and "txt.exe" in err, err   # the words are shown
    assert_inert(err + r.stdout.decode(), "issue's output")
    r = run(*issue, "--json")
    out = r.stdout.decode("utf-8")
    assert_inert(out, "issue --json")
    assert "pwned" in json.loads(out)["detail"]
    for args in (["status"], ["status", "--json"], ["log"], ["log", "--json"]):
        r = run(*args)
        assert r.returncode == 0, r
        text = r.stdout.decode("utf-8") + r.stderr.decode("utf-8")
        assert "pwned" in text, (args, text)
        assert_inert(text, " ".join(args))
        if "--json" in args:
            json.loads(r.stdout)

    # an activity log line written raw (by an older agent, or by hand) is shown inert too
    log = prefix / "var/lib/certfleet/activity.log"
    with open(log, "a", encoding="utf-8") as f:
        f.write(json.dumps({"time": "2026-01-01T00:00:00Z", "level": "error", "lineage": DOMAIN,
                            "event": "issue\u202e", "outcome": "failed", "code": "CA_ERROR",
                            "detail": EVIL_DETAIL}, ensure_ascii=False) + "\n")
    for args in (["log"], ["log", "--json"]):
        r = run(*args)
        assert r.returncode == 0, r
        assert_inert(r.stdout.decode("utf-8"), " ".join(args) + " of a raw line")
