"""The test environment itself: real Pebble/challtestsrv/nginx/sshd fixtures, and
the agent's first contact with an ACME server (directory, TLS trust, names)."""

import json
import os
import subprocess
from pathlib import Path

import pytest

import cfutil


def agent(bins, *args, env=None, timeout=30):
    exe = bins.need_agent()
    e = dict(os.environ)
    e.pop("SSL_CERT_FILE", None)
    e.pop("SSL_CERT_DIR", None)
    e.update(env or {})
    return subprocess.run([str(exe), *map(str, args)], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=e, timeout=timeout)


def explain(r):
    return "exit %d\nstdout: %s\nstderr: %s" % (r.returncode, r.stdout, r.stderr)


# ---------------------------------------------------------------- agent vs Pebble

def test_pebble_directory_via_agent(bins, pebble, tmp_path):
    r = agent(bins, "--prefix", tmp_path, "directory",
              "--server", pebble.directory, "--ca-file", pebble.ca_file)
    assert r.returncode == 0, explain(r)
    d = json.loads(r.stdout)
    for key in ("newNonce", "newAccount", "newOrder", "revokeCert", "keyChange"):
        assert key in d, "%s missing from directory: %s" % (key, r.stdout)
    assert "renewalInfo" in d, "Pebble 2.6 advertises ARI: %s" % r.stdout
    assert d["newOrder"].startswith("https://localhost:%d/" % pebble.port)
    # the same document Pebble serves (what the fixture fetched with Python's ssl)
    assert d == pebble.directory_json()


def test_agent_refuses_untrusted_ca(bins, pebble, tmp_path):
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    other_ca, _ = cfutil.make_ca(tmp_path / "other", cn="certfleet unrelated CA")
    # an unrelated CA in SSL_CERT_FILE: the TLS handshake is refused
    r = agent(bins, "--prefix", tmp_path / "p", "directory", "--server", pebble.directory,
              env={"SSL_CERT_FILE": str(other_ca)})
    assert r.returncode != 0, "trusted Pebble with an unrelated CA\n" + explain(r)
    assert "TLS_ERROR" in r.stderr, explain(r)
    assert r.stdout.strip() == "", explain(r)
    # an empty SSL_CERT_FILE trusts nothing: refused, either as a TLS failure or
    # (what the agent does) as unusable input naming the file, before connecting
    r = agent(bins, "--prefix", tmp_path / "p", "directory", "--server", pebble.directory,
              env={"SSL_CERT_FILE": str(empty)})
    assert r.returncode != 0, "trusted Pebble with an empty SSL_CERT_FILE\n" + explain(r)
    assert "TLS_ERROR" in r.stderr or \
        ("INVALID_INPUT" in r.stderr and str(empty) in r.stderr), explain(r)
    assert r.stdout.strip() == "", explain(r)
    # an unrelated CA given explicitly is refused as well
    r = agent(bins, "--prefix", tmp_path / "p", "directory", "--server", pebble.directory,
              "--ca-file", other_ca)
    assert r.returncode != 0 and "TLS_ERROR" in r.stderr, explain(r)
    # and the right CA through SSL_CERT_FILE is honoured
    r = agent(bins, "--prefix", tmp_path / "p", "directory", "--server", pebble.directory,
              env={"SSL_CERT_FILE": str(pebble.ca_file)})
    assert r.returncode == 0, explain(r)
    assert "newOrder" in json.loads(r.stdout)


def test_agent_ip_url_checked_against_ip_sans(bins, pebble, tmp_path):
    # Pebble's listener certificate: SAN DNS:localhost, IP:127.0.0.1, trusted CA.
    # BearSSL verifies DNS names only; the agent checks an IP-literal URL against
    # the certificate's iPAddress names itself (issue 21 item 3), so this works;
    # test_papercuts has the refusal of an address the certificate does not name.
    url = "https://127.0.0.1:%d/dir" % pebble.port
    r = agent(bins, "--prefix", tmp_path, "directory", "--server", url,
              "--ca-file", pebble.ca_file)
    assert r.returncode == 0, explain(r)
    # the chain is still verified: without Pebble's CA it is refused
    r = agent(bins, "--prefix", tmp_path, "directory", "--server", url)
    assert r.returncode != 0 and "TLS_ERROR" in r.stderr, explain(r)
    # control: same server, same CA, by its DNS name -> accepted
    r = agent(bins, "--prefix", tmp_path, "directory", "--server", pebble.directory,
              "--ca-file", pebble.ca_file)
    assert r.returncode == 0, explain(r)


def test_agent_name_not_in_certificate(bins, pebble, tmp_path, free_port):
    # A DNS name that resolves to Pebble but is not in its certificate.
    # /etc/hosts maps the machine's own hostname to 127.0.0.1 here; fall back to a
    # name that certainly resolves to loopback.
    import socket
    name = socket.gethostname()
    try:
        resolves = socket.gethostbyname(name).startswith("127.")
    except OSError:
        resolves = False
    if not resolves or name == "localhost":
        pytest.skip("no second loopback DNS name on this machine")
    url = "https://%s:%d/dir" % (name, pebble.port)
    r = agent(bins, "--prefix", tmp_path, "directory", "--server", url,
              "--ca-file", pebble.ca_file)
    assert r.returncode != 0 and "TLS_ERROR" in r.stderr, explain(r)


# ---------------------------------------------------------------- fixtures themselves

def test_pebble_fixture(pebble):
    d = pebble.directory_json()
    assert {"newNonce", "newAccount", "newOrder", "renewalInfo"} <= set(d)
    root = pebble.roots_pem()
    inter = pebble.intermediates_pem()
    assert root.startswith("-----BEGIN CERTIFICATE-----"), root
    assert inter.startswith("-----BEGIN CERTIFICATE-----"), inter
    subj = cfutil.run(["openssl", "x509", "-noout", "-subject"], input=root).stdout
    assert "Pebble Root CA" in subj, subj
    # the listener CA the agent is given is not Pebble's issuing root
    assert Path(pebble.ca_file).read_text() != root
    assert pebble.log_path.exists()
    env = pebble.env
    assert env["PEBBLE_VA_NOSLEEP"] == "1" and env["PEBBLE_WFE_NONCEREJECT"] == "0"
    assert "PEBBLE_VA_ALWAYS_VALID" not in env


def test_pebble_factory_env(pebble_factory):
    p = pebble_factory(env={"PEBBLE_WFE_NONCEREJECT": "50"})
    assert p.env["PEBBLE_WFE_NONCEREJECT"] == "50"
    assert "Configured to reject 50% of good nonces" in p.log_text(), p.log_text()


def test_challtestsrv_dns(challtestsrv):
    host, port = challtestsrv.host, challtestsrv.dns_port
    challtestsrv.add_a("www.fleet.test", "10.1.2.3")
    r = cfutil.dns_query(host, port, "www.fleet.test", "A")
    assert r is not None, "no DNS reply"
    assert r["rcode"] == 0
    assert [a[2] for a in r["answers"] if a[1] == 1] == ["10.1.2.3"], r

    # names without a mock get the default IPv4 (127.0.0.1) and no AAAA
    r = cfutil.dns_query(host, port, "other.fleet.test", "A")
    assert [a[2] for a in r["answers"]] == ["127.0.0.1"], r
    r = cfutil.dns_query(host, port, "other.fleet.test", "AAAA")
    assert r["answers"] == [], r

    challtestsrv.set_txt("_acme-challenge.www.fleet.test", "token-value-1")
    r = cfutil.dns_query(host, port, "_acme-challenge.www.fleet.test", "TXT")
    assert [a[2] for a in r["answers"] if a[1] == 16] == ["token-value-1"], r
    challtestsrv.clear_txt("_acme-challenge.www.fleet.test")
    r = cfutil.dns_query(host, port, "_acme-challenge.www.fleet.test", "TXT")
    assert r["answers"] == [], r

    challtestsrv.set_servfail("broken.fleet.test")
    r = cfutil.dns_query(host, port, "broken.fleet.test", "A")
    assert r["rcode"] == 2, r           # SERVFAIL
    challtestsrv.clear_servfail("broken.fleet.test")
    r = cfutil.dns_query(host, port, "broken.fleet.test", "A")
    assert r["rcode"] == 0 and r["answers"], r

    challtestsrv.clear_a("www.fleet.test")
    r = cfutil.dns_query(host, port, "www.fleet.test", "A")
    assert [a[2] for a in r["answers"]] == ["127.0.0.1"], r


def curl(*args, timeout=15):
    return cfutil.run(["curl", "-sS", "--max-time", "10", *args], timeout=timeout, check=False)


def test_nginx_serves(nginx_factory):
    ng = nginx_factory()
    (ng.prefix / "html" / "hello.txt").write_text("hello from nginx\n")
    r = curl("-f", ng.url("/hello.txt"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello from nginx\n"
    r = curl("-o", "/dev/null", "-w", "%{http_code}", ng.url("/missing"))
    assert r.stdout == "404"

    # a site of our own, then reload
    site = """
    server {
        listen 127.0.0.1:@PORT@;
        server_name _;
        location = /site { return 200 "site @PORT@\\n"; }
        location / { return 301 https://$host$request_uri; }
    }
"""
    old_workers = ng.worker_pids()
    ng.reload(site)
    assert ng.worker_pids() - old_workers
    r = curl(ng.url("/site"))
    assert r.stdout == "site %d\n" % ng.port, r
    r = curl("-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", ng.url("/x?y=1"))
    assert r.stdout == "301 https://127.0.0.1/x?y=1", r.stdout

    # a broken config is refused by reload and the old one keeps serving
    good_conf = ng.conf.read_text()
    with pytest.raises(cfutil.ServiceError):
        ng.reload("server { listen 127.0.0.1:@PORT@; bogus_directive on; }")
    assert ng.conf.read_text() == good_conf
    r = curl(ng.url("/site"))
    assert r.stdout == "site %d\n" % ng.port

    pid = ng.pid
    ng.stop()
    assert not ng.alive()
    assert not cfutil.tcp_open("127.0.0.1", ng.port)
    assert not Path("/proc/%d" % pid).exists()


def test_sshd_answers(sshd_factory, tmp_path):
    a = sshd_factory(host="127.0.0.2")
    r = a.ssh("echo hello")
    assert r.returncode == 0, r.stderr + a.log_tail()
    assert r.stdout == "hello\n"

    b = sshd_factory(host="127.0.0.3")
    assert b.host_keys["ecdsa"] != a.host_keys["ecdsa"]
    assert b.host_keys["rsa"] != a.host_keys["rsa"]
    assert b.ssh("id -u").stdout.strip() == "0"

    # a's known_hosts does not know b at all: refused
    r = b.ssh("echo hello", known_hosts=a.known_hosts)
    assert r.returncode == 255 and r.stdout == "", r
    assert "Host key verification failed" in r.stderr, r.stderr

    # b's name but a's keys: a changed host key, refused
    forged = tmp_path / "forged_known_hosts"
    forged.write_text(a.known_hosts_line("ecdsa", as_host=b.hostport) +
                      a.known_hosts_line("rsa", as_host=b.hostport))
    r = b.ssh("echo hello", known_hosts=forged)
    assert r.returncode == 255 and r.stdout == "", r
    assert "HOST IDENTIFICATION HAS CHANGED" in r.stderr or \
        "Host key verification failed" in r.stderr, r.stderr

    # a key that is not authorized is refused
    other = cfutil.ClientKey.generate(tmp_path / "id_other", "ecdsa")
    r = a.ssh("echo hello", key=other)
    assert r.returncode == 255 and "Permission denied" in r.stderr, r.stderr


def test_sshd_many(sshd_factory):
    servers = sshd_factory.many(20, first_host=10)
    assert len({s.host for s in servers}) == 20
    assert len({s.host_keys["ecdsa"] for s in servers}) == 20
    procs = [(s, subprocess.Popen(s.ssh_args() + ["--", "echo $SSH_CONNECTION"],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)) for s in servers]
    for s, p in procs:
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
        # SSH_CONNECTION: client_ip client_port server_ip server_port
        assert out.split()[2:] == [s.host, str(s.port)], out


def test_ca_file_without_final_newline_and_truncated(bins, pebble, tmp_path):
    """The agent's trust loader keeps a bundle's last certificate even when
    the file does not end in a newline, and refuses a truncated bundle."""
    import subprocess
    pem = open(pebble.ca_file).read().rstrip("\n")
    nonl = tmp_path / "ca-nonl.pem"
    nonl.write_text(pem)
    r = subprocess.run([str(bins.agent), "directory", "--server", pebble.directory,
                        "--ca-file", str(nonl)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    cut = tmp_path / "ca-cut.pem"
    cut.write_text(pem[: pem.rindex("\n", 0, len(pem) // 2) + 1])   # whole lines, no END
    r = subprocess.run([str(bins.agent), "directory", "--server", pebble.directory,
                        "--ca-file", str(cut)], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "truncated" in r.stderr, r.stderr
