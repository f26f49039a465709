"""certfleet-agent issue/status against a real Pebble 2.6 + challtestsrv."""
import json
import os
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from cfutil import free_port

EXIT = {"ALREADY_ACTIVE": 2, "USAGE": 64, "INVALID_INPUT": 65, "NO_DOMAIN": 66,
        "DNS_NOT_RESOLVING": 68, "ALREADY_PENDING": 75, "IO_ERROR": 80}


class Agent:
    def __init__(self, bins, prefix, pebble, cts):
        self.bin = bins.need_agent() if hasattr(bins, "need_agent") else bins.agent
        self.prefix = Path(prefix)
        self.pebble = pebble
        self.cts = cts

    def ca_args(self):
        return ["--server", self.pebble.directory, "--ca-file", str(self.pebble.ca_file),
                "--resolver", "%s" % self.cts.dns_addr, "--agree-tos"]

    def run(self, *args, timeout=120, env=None, check=None):
        cmd = [str(self.bin), "--prefix", str(self.prefix), *args]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           env=dict(os.environ, **(env or {})))
        if check is not None and r.returncode != check:
            raise AssertionError("%s -> %d (want %d)\nstdout: %s\nstderr: %s" %
                                 (" ".join(cmd), r.returncode, check, r.stdout, r.stderr))
        return r

    def issue(self, *names, extra=(), check=None, method="standalone"):
        args = ["issue"]
        for n in names:
            args += ["-d", n]
        if method == "standalone":
            args += ["--standalone", "--http-port", str(self.pebble.http_port)]
        args += self.ca_args() + list(extra)
        return self.run(*args, check=check)

    def live(self, lineage, f="fullchain.pem"):
        return self.prefix / "etc/certfleet/live" / lineage / f

    def status(self, lineage=None):
        args = ["status", "--json"] + (["-d", lineage] if lineage else [])
        r = self.run(*args, check=0)
        return json.loads(r.stdout)["certificates"]


@pytest.fixture
def agent(bins, tmp_path, pebble, challtestsrv):
    return Agent(bins, tmp_path / "root", pebble, challtestsrv)


def openssl(*args, input=None):
    return subprocess.run(["openssl", *args], capture_output=True, text=True, input=input)


def verify_chain(agent, lineage):
    root = agent.prefix.parent / "pebble-root.pem"
    root.write_text(agent.pebble.roots_pem())
    r = openssl("verify", "-CAfile", str(root), "-untrusted", str(agent.live(lineage, "chain.pem")),
                str(agent.live(lineage, "cert.pem")))
    assert r.returncode == 0 and ": OK" in r.stdout, r.stdout + r.stderr


def key_matches(agent, lineage):
    a = openssl("x509", "-in", str(agent.live(lineage, "cert.pem")), "-noout", "-pubkey").stdout
    b = openssl("pkey", "-in", str(agent.live(lineage, "privkey.pem")), "-pubout").stdout
    return a and a == b


def sans(path):
    out = openssl("x509", "-in", str(path), "-noout", "-ext", "subjectAltName").stdout
    return sorted(x.strip()[4:] for x in out.split("\n", 1)[1].split(",") if x.strip().startswith("DNS:"))


def test_issue_standalone_and_status(agent):
    r = agent.issue("www.example.test", "example.test", check=0)
    assert "issued by" in r.stdout
    lineage = "www.example.test"
    verify_chain(agent, lineage)
    assert key_matches(agent, lineage)
    assert sans(agent.live(lineage, "cert.pem")) == ["example.test", "www.example.test"]
    full = agent.live(lineage).read_text()
    assert full.startswith(agent.live(lineage, "cert.pem").read_text())
    assert full.count("BEGIN CERTIFICATE") >= 2
    assert stat.S_IMODE(os.stat(agent.live(lineage, "privkey.pem")).st_mode) == 0o600
    for d in ("etc/certfleet", "var/lib/certfleet/state", "var/lib/certfleet/accounts"):
        assert stat.S_IMODE(os.stat(agent.prefix / d).st_mode) == 0o700, d
    acct = list((agent.prefix / "var/lib/certfleet/accounts").glob("*/account.key"))
    assert len(acct) == 1 and stat.S_IMODE(acct[0].stat().st_mode) == 0o600
    [st] = agent.status()
    assert st["lineage"] == lineage
    s = st["state"]
    assert s["sslStatus"] == "active" and s["lastError"] is None
    assert 1 <= s["daysLeft"] <= 90
    assert sorted(s["domains"]) == ["example.test", "www.example.test"]
    assert s["serial"] and s["issuer"].startswith("Pebble")
    assert s["sslExpiry"].endswith("Z") and s["nextRenewal"]
    # the human form
    assert "active" in agent.run("status", check=0).stdout


def test_second_run_already_active_then_force_reuses_account(agent):
    agent.issue("a.example.test", check=0)
    acct_dir = next((agent.prefix / "var/lib/certfleet/accounts").iterdir())
    url = json.loads((acct_dir / "account.json").read_text())["url"]
    before = agent.live("a.example.test").read_bytes()
    r = agent.issue("a.example.test", check=EXIT["ALREADY_ACTIVE"])
    assert "ALREADY_ACTIVE" in r.stdout
    assert agent.live("a.example.test").read_bytes() == before
    r = agent.issue("a.example.test", extra=["--force", "--json"], check=0)
    out = json.loads(r.stdout)
    assert out["outcome"] == "issued" and out["code"] == "OK"
    assert agent.live("a.example.test").read_bytes() != before
    assert json.loads((acct_dir / "account.json").read_text())["url"] == url
    assert len(list((agent.prefix / "var/lib/certfleet/accounts").iterdir())) == 1
    # the previous version is kept in the archive
    versions = sorted(p.name for p in (agent.prefix / "etc/certfleet/archive/a.example.test").iterdir())
    assert versions[-2:] == ["0001", "0002"]


def test_lost_account_url_is_recovered(agent):
    agent.issue("r.example.test", check=0)
    acct_dir = next((agent.prefix / "var/lib/certfleet/accounts").iterdir())
    url = json.loads((acct_dir / "account.json").read_text())["url"]
    (acct_dir / "account.json").unlink()
    agent.issue("r.example.test", extra=["--force"], check=0)
    assert json.loads((acct_dir / "account.json").read_text())["url"] == url


def test_issue_webroot_through_nginx(agent, nginx_factory, tmp_path):
    webroot = tmp_path / "www"
    webroot.mkdir()
    nginx_factory(servers="server { listen 127.0.0.1:@PORT@; root %s; }" % webroot,
                  port=agent.pebble.http_port)
    agent.issue("web.example.test", method="webroot", extra=["--webroot", str(webroot)], check=0)
    verify_chain(agent, "web.example.test")
    # challenge files are removed afterwards
    assert list((webroot / ".well-known/acme-challenge").iterdir()) == []


def test_nonce_rejection_still_issues(bins, tmp_path, pebble_factory, challtestsrv):
    p = pebble_factory(env={"PEBBLE_WFE_NONCEREJECT": "50"})
    a = Agent(bins, tmp_path / "root", p, challtestsrv)
    a.issue("nonce.example.test", check=0)
    verify_chain(a, "nonce.example.test")


def test_servfail_keeps_existing_certificate(agent):
    agent.issue("sf.example.test", check=0)
    before = {f: agent.live("sf.example.test", f).read_bytes()
              for f in ("cert.pem", "chain.pem", "fullchain.pem", "privkey.pem")}
    agent.cts.set_servfail("sf.example.test")
    r = agent.issue("sf.example.test", extra=["--force", "--json"], check=EXIT["DNS_NOT_RESOLVING"])
    out = json.loads(r.stdout)
    assert out["code"] == "DNS_NOT_RESOLVING" and "SERVFAIL" in out["detail"]
    for f, data in before.items():
        assert agent.live("sf.example.test", f).read_bytes() == data
    [st] = agent.status("sf.example.test")
    assert st["state"]["sslStatus"] == "active"
    assert st["state"]["lastError"]["code"] == "DNS_NOT_RESOLVING"
    assert st["state"]["lastError"]["hint"]


def test_no_domain_and_bad_domains(agent):
    r = agent.run("issue", "--standalone", check=EXIT["NO_DOMAIN"])
    assert "NO_DOMAIN" in r.stderr
    for bad in ("a.com;rm -rf /", "$(id).example.test", "../etc", "*.example.test", "a..b.test"):
        r = agent.issue(bad, check=EXIT["INVALID_INPUT"])
        assert "INVALID_INPUT" in r.stderr
    assert not (agent.prefix / "etc").exists()


def test_already_pending(agent):
    import fcntl
    lockdir = agent.prefix / "var/lib/certfleet/locks"
    agent.run("status", check=0)   # creates nothing; issue prepares the tree
    agent.issue("lock.example.test", check=0)
    with open(lockdir / "lock.example.test.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        r = agent.issue("lock.example.test", extra=["--force"], check=EXIT["ALREADY_PENDING"])
        assert "ALREADY_PENDING" in r.stderr
    [st] = agent.status("lock.example.test")
    assert st["state"]["sslStatus"] == "active"


@pytest.mark.parametrize("kt,want", [("ec384", "384 bit"), ("rsa2048", "2048 bit"),
                                     ("rsa3072", "3072 bit"), ("rsa4096", "4096 bit")])
def test_key_types(agent, kt, want):
    name = kt + ".example.test"
    agent.issue(name, extra=["--key-type", kt], check=0)
    verify_chain(agent, name)
    assert key_matches(agent, name)
    text = openssl("x509", "-in", str(agent.live(name, "cert.pem")), "-noout", "-text").stdout
    assert want in text


def test_port_in_use(agent):
    s = socket.socket(socket.AF_INET6)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", agent.pebble.http_port))
    s.listen(1)
    try:
        r = agent.issue("busy.example.test", extra=["--no-preflight"])
        assert r.returncode == 83 and "PORT_IN_USE" in r.stderr
        assert "in use" in r.stderr and "--webroot" in r.stderr
    finally:
        s.close()
    [st] = agent.status("busy.example.test")
    assert st["state"]["sslStatus"] == "none" and st["state"]["lastError"]


def test_kill9_leaves_live_files_valid(agent):
    agent.issue("k.example.test", check=0)
    for delay in (0.05, 0.2, 0.4, 0.7, 1.0, 1.5):
        cmd = [str(agent.bin), "--prefix", str(agent.prefix), "issue", "-d", "k.example.test",
               "--standalone", "--http-port", str(agent.pebble.http_port), "--force", *agent.ca_args()]
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        assert key_matches(agent, "k.example.test"), "live cert/key mismatch after kill at %.2fs" % delay
        verify_chain(agent, "k.example.test")
        state = agent.prefix / "var/lib/certfleet/state/k.example.test.json"
        json.loads(state.read_text())
        [st] = agent.status("k.example.test")
        assert st["state"]["sslStatus"] == "active"
    # and the next run works (the killed run's port and lock are free)
    agent.issue("k.example.test", extra=["--force"], check=0)


def test_preferred_chain(bins, tmp_path, pebble_factory, challtestsrv):
    p = pebble_factory(env={"PEBBLE_ALTERNATE_ROOTS": "1"})
    a = Agent(bins, tmp_path / "root", p, challtestsrv)
    alt_root = p.roots_pem(1)
    cn = openssl("x509", "-noout", "-subject", "-nameopt", "multiline", input=alt_root).stdout
    cn = [l.split("=", 1)[1].strip() for l in cn.splitlines() if "commonName" in l][0]
    a.issue("alt.example.test", extra=["--preferred-chain", cn], check=0)
    top = a.live("alt.example.test", "fullchain.pem").read_text().split("-----END CERTIFICATE-----")[-2]
    top += "-----END CERTIFICATE-----\n"
    issuer = openssl("x509", "-noout", "-issuer", "-nameopt", "multiline", input=top).stdout
    assert cn in issuer


def test_ca_cannot_connect_is_connection_refused(agent, tmp_path):
    # webroot mode with nothing listening on the port the CA validates
    webroot = tmp_path / "www"
    webroot.mkdir()
    r = agent.issue("nobody.example.test", method="webroot",
                    extra=["--webroot", str(webroot), "--json"])
    out = json.loads(r.stdout)
    assert r.returncode == 69 and out["code"] == "CONNECTION_REFUSED", r.stdout + r.stderr
    assert "port 80" in out["hint"]
    assert list((webroot / ".well-known/acme-challenge").iterdir()) == []


def test_wrong_content_is_unauthorized(agent, nginx_factory, tmp_path):
    served, written = tmp_path / "served", tmp_path / "written"
    served.mkdir()
    written.mkdir()
    nginx_factory(servers="server { listen 127.0.0.1:@PORT@; root %s; }" % served,
                  port=agent.pebble.http_port)
    r = agent.issue("wrong.example.test", method="webroot",
                    extra=["--webroot", str(written), "--json"])
    out = json.loads(r.stdout)
    assert out["code"] == "UNAUTHORIZED" and r.returncode == 72, r.stdout + r.stderr
    assert out["status"]["sslStatus"] == "none"


def test_rejected_identifier(agent):
    r = agent.issue("blocked-domain.example", extra=["--json"])
    out = json.loads(r.stdout)
    assert out["code"] == "REJECTED_IDENTIFIER" and r.returncode == 74, r.stdout + r.stderr


def test_new_account_needs_agree_tos(agent):
    args = [a for a in agent.ca_args() if a != "--agree-tos"]
    r = agent.run("issue", "-d", "tos.example.test", "--standalone", "--http-port",
                  str(agent.pebble.http_port), *args)
    assert r.returncode == 64 and "--agree-tos" in r.stderr


def test_config_file_defaults(agent):
    conf = agent.prefix / "etc/certfleet/agent.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("# defaults\nserver = %s\nca-file = %s\nresolver = %s\nagree-tos = yes\n"
                    "http-port = %d\nkey-type = ec384\n" %
                    (agent.pebble.directory, agent.pebble.ca_file, agent.cts.dns_addr,
                     agent.pebble.http_port))
    agent.run("issue", "-d", "conf.example.test", "--standalone", check=0)
    text = openssl("x509", "-in", str(agent.live("conf.example.test", "cert.pem")), "-noout", "-text").stdout
    assert "384 bit" in text
    conf.write_text("serverr = x\n")
    r = agent.run("issue", "-d", "conf.example.test", "--standalone")
    assert r.returncode == 65 and "unknown key" in r.stderr and "agent.conf:1" in r.stderr


def test_rsa_account_key_signs_rs256(agent):
    acct = agent.prefix / "var/lib/certfleet/accounts" / ("localhost_%d" % agent.pebble.port)
    acct.mkdir(parents=True)
    r = openssl("genrsa", "-traditional", "-out", str(acct / "account.key"), "2048")
    assert r.returncode == 0, r.stderr
    os.chmod(acct / "account.key", 0o600)
    key_before = (acct / "account.key").read_bytes()
    # Pebble verifies every JWS: issuance succeeding means RS256 was accepted
    agent.issue("rs256.example.test", check=0)
    verify_chain(agent, "rs256.example.test")
    assert (acct / "account.key").read_bytes() == key_before
    assert json.loads((acct / "account.json").read_text())["url"].startswith("https://localhost:")


def test_untrusted_ca_loads_system_bundle_then_fails_clearly(agent):
    # Pebble's TLS root is in neither the built-in roots nor the system
    # bundle: the agent loads the (deferred) system bundle before giving up,
    # and says which anchors it tried.
    env = {k: v for k, v in os.environ.items() if k != "SSL_CERT_FILE"}
    r = subprocess.run([str(agent.bin), "--prefix", str(agent.prefix), "directory",
                        "--server", agent.pebble.directory], capture_output=True, text=True,
                       timeout=60, env=env)
    assert r.returncode == 76, r.stdout + r.stderr
    assert "TLS_ERROR" in r.stderr and "built-in ISRG roots" in r.stderr, r.stderr
    if os.path.exists("/etc/ssl/certs/ca-certificates.crt"):
        assert "/etc/ssl/certs/ca-certificates.crt" in r.stderr, r.stderr
    # with --ca-file the system bundle is never needed
    r = agent.run("-v", "directory", "--server", agent.pebble.directory,
                  "--ca-file", str(agent.pebble.ca_file), check=0)
    assert "system bundle" not in r.stderr
