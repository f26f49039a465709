"""Input validation: injection attempts in domains, paths and options (and in
agent.conf, where a NUL byte can be written) are refused with INVALID_INPUT
(exit 65) before any network request or file write.

"No network": --server points at a TCP listener and --resolver at a UDP
socket of this test, and both must have seen nothing.  "No file": the
--prefix directory must not exist afterwards.
"""
import json
import socket
import subprocess

import pytest

INVALID_INPUT, USAGE = 65, 64

BAD_DOMAINS = [
    "a.com;rm -rf /", "a.com && touch /tmp/pwned", "a.com|id", "$(touch /tmp/pwned).example.com",
    "${IFS}.example.com", "`id`.example.com", "a.com\nb.com", "a.com\r\nHost: evil",
    "a.com\tb", " a.example.com", "a .example.com", "../etc/passwd", "a/../../b.com", "a.com/..",
    "..", ".", "a..b.com", "-a.com", "a-.com", "ab--cd.com", "x" * 64 + ".com",
    ".".join(["a" * 63] * 4) + ".com",            # 260 characters
    "bücher.example", "exаmple.com",              # U-label; Cyrillic 'а' homograph
    "ex\u200bample.com", "ｅｘａｍｐｌｅ.com",       # zero-width space; full-width letters
    "*.example.com", "a.*.example.com", "1.2.3.4", "[::1]", "example.com:443",
    "user@example.com", "'a.com'", '"a.com"', "a.com#x", "a%2e%2e.com", "a\\b.com", "com", "",
    "example.com..",
]

BAD_OPTIONS = [
    # (extra arguments, accepted exit statuses)
    (["--server", "https://localhost:1;rm -rf //dir"], (INVALID_INPUT,)),
    (["--server", "https://a.com/$(id)\n"], (INVALID_INPUT,)),
    (["--server", "http://localhost/dir"], (INVALID_INPUT,)),
    (["--server", "https://user@localhost/dir"], (INVALID_INPUT,)),
    (["--server", "file:///etc/passwd"], (INVALID_INPUT,)),
    (["--resolver", "1.2.3.4;rm -rf /"], (INVALID_INPUT,)),
    (["--resolver", "$(id)"], (INVALID_INPUT,)),
    (["--http-address", "0.0.0.0;rm -rf /"], (INVALID_INPUT,)),
    (["--http-address", "localhost"], (INVALID_INPUT,)),
    (["--email", "a@b.com;rm -rf /"], (INVALID_INPUT,)),
    (["--email", "a@b.com\nBcc: x@y.z"], (INVALID_INPUT,)),
    (["--email", "\"a\"@b.com"], (INVALID_INPUT,)),
    (["--webroot", "relative/../www"], (USAGE,)),
    (["--webroot", "/nonexistent/$(id)"], (INVALID_INPUT,)),
    (["--key-type", "ec256;rm -rf /"], (USAGE,)),
    (["--http-port", "80;rm"], (USAGE,)),
]


class Tripwire:
    """A TCP listener (the CA) and a UDP socket (the resolver) that must stay untouched."""

    def __init__(self):
        self.tcp = socket.socket()
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(4)
        self.tcp.setblocking(False)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp.setblocking(False)
        self.server = "https://localhost:%d/dir" % self.tcp.getsockname()[1]
        self.resolver = "127.0.0.1:%d" % self.udp.getsockname()[1]

    def touched(self):
        hits = []
        try:
            c, _ = self.tcp.accept()
            c.close()
            hits.append("tcp")
        except BlockingIOError:
            pass
        try:
            self.udp.recv(512)
            hits.append("udp")
        except BlockingIOError:
            pass
        return hits

    def close(self):
        self.tcp.close()
        self.udp.close()


@pytest.fixture
def trip():
    t = Tripwire()
    yield t
    t.close()


def run(bins, prefix, *args, config=None):
    cmd = [str(bins.need_agent()), "--prefix", str(prefix)]
    if config:
        cmd += ["--config", str(config)]
    return subprocess.run(cmd + list(args), capture_output=True, timeout=60)


def issue_args(trip, *names, extra=()):
    args = ["issue"]
    for n in names:
        args += ["-d", n]
    return args + ["--standalone", "--http-port", "1", "--server", trip.server,
                   "--resolver", trip.resolver, "--agree-tos", *extra]


def assert_refused(r, prefix, trip, codes=(INVALID_INPUT,)):
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode in codes, (r.returncode, err)
    if INVALID_INPUT in codes and r.returncode == INVALID_INPUT:
        assert "INVALID_INPUT" in err, err
    assert not prefix.exists(), "files written under the prefix"
    assert trip.touched() == [], "network contacted"


@pytest.mark.parametrize("name", BAD_DOMAINS, ids=range(len(BAD_DOMAINS)))
def test_bad_domain_refused(bins, tmp_path, trip, name):
    prefix = tmp_path / "root"
    r = run(bins, prefix, *issue_args(trip, name))
    # a single label ("com") has its own code: SINGLE_LABEL_NAME (103)
    assert_refused(r, prefix, trip, codes=(103,) if name.isalnum() else (INVALID_INPUT,))
    # the detail quotes the input safely: no raw control characters
    err = r.stderr.decode("utf-8", "replace")
    first = err.split("\n")[0]
    assert not any(ord(c) < 0x20 for c in first), repr(first)


def test_bad_domain_among_good_ones(bins, tmp_path, trip):
    prefix = tmp_path / "root"
    r = run(bins, prefix, *issue_args(trip, "ok.example.com", "b.example.com;id"))
    assert_refused(r, prefix, trip)


@pytest.mark.parametrize("extra,codes", BAD_OPTIONS, ids=range(len(BAD_OPTIONS)))
def test_bad_option_refused(bins, tmp_path, trip, extra, codes):
    prefix = tmp_path / "root"
    args = issue_args(trip, "ok.example.com")
    for i in range(0, len(extra), 2):            # replace or add
        if extra[i] in args:
            args[args.index(extra[i]) + 1] = extra[i + 1]
        else:
            args += [extra[i], extra[i + 1]]
    if "--webroot" in extra:
        args.remove("--standalone")
    r = run(bins, prefix, *args)
    assert_refused(r, prefix, trip, codes)


@pytest.mark.parametrize("prefix_name", ["r;rm -rf", "r$(id)", "r`id`", "r\nx", "r'x", "a/../b",
                                         "r{x}", "r#x", 'r"x'])
def test_bad_prefix_refused(bins, tmp_path, trip, prefix_name):
    prefix = tmp_path / prefix_name
    r = run(bins, prefix, *issue_args(trip, "ok.example.com"))
    assert r.returncode == INVALID_INPUT, r.stderr
    assert not prefix.exists() and not (tmp_path / "b").exists()
    assert trip.touched() == []


@pytest.mark.parametrize("conf", [
    b"email = a@b.example\0x\n",                         # NUL inside a value
    b"webroot = /tmp\0/../../etc\n",
    b"server = https://localhost:1/dir\0\n",
    b"email = ok@b.example\nresolver = 1.2.3.4\0",      # last line, no newline
    b"server = https://localhost:1;id/dir\n",
    b"resolver = 1.2.3.4;id\n",
    b"http-address = 0.0.0.0 ; id\n",
    b"email = a@b.example\nunknown-key = 1\n",
])
def test_agent_conf_injection_refused(bins, tmp_path, trip, conf):
    cfg = tmp_path / "agent.conf"
    cfg.write_bytes(conf)
    prefix = tmp_path / "root"
    # only the domain on the command line: everything else from the file
    r = run(bins, prefix, "issue", "-d", "ok.example.com", "--standalone", config=cfg)
    assert_refused(r, prefix, trip)


def test_normalisation_uppercase_and_trailing_dot(bins, tmp_path):
    """Accepted names are normalised before they reach a path: the lineage
    and state file are lowercase without the trailing dot."""
    prefix = tmp_path / "root"
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()                          # nobody listens: NETWORK_ERROR
    r = run(bins, prefix, "issue", "-d", "WWW.Example.COM.", "-d", "www.example.com",
            "-d", "xn--bcher-kva.Example.COM", "--standalone", "--no-preflight",
            "--server", "https://localhost:%d/dir" % port, "--agree-tos", "--json")
    assert r.returncode == 77, r.stderr
    states = sorted(p.name for p in (prefix / "var/lib/certfleet/state").iterdir()
                    if not p.name.startswith("."))
    assert states == ["www.example.com.json"]
    st = json.loads((prefix / "var/lib/certfleet/state/www.example.com.json").read_text())
    assert st["domains"] == ["www.example.com", "xn--bcher-kva.example.com"]
