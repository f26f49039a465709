"""Issue 20: `certfleet-agent import certbot` against lineages the real certbot
(Debian's package) obtained from Pebble: by standalone (two names, ECDSA, with
pre/post/deploy hooks), by webroot (RSA, served by a small HTTP server) and by
manual DNS hooks (P-384, the hooks drive challtestsrv's management API).

certbot is slow to start: the lineages are made once for the module, and the
tests that change them run in file order on one prefix; the bad-input tests
work on copies.
"""
import http.server
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from cfutil import Pebble
from test_issue import Agent, openssl

SA, WR, DNS = "sa.certbot.test", "wr.certbot.test", "dns.certbot.test"


class Webroot:
    """A plain HTTP server for a webroot on Pebble's HTTP-01 port."""

    def __init__(self, root, port):
        handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(root))  # noqa: E731
        http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.t = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.t.start()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


def certbot(env, *args, check=0):
    r = subprocess.run(["certbot", *args, "--config-dir", env.cb, "--work-dir", env.work,
                        "--logs-dir", env.logs, "--non-interactive"],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, REQUESTS_CA_BUNDLE=str(env.pebble.ca_file)))
    assert check is None or r.returncode == check, r.stdout + r.stderr
    return r


@pytest.fixture(scope="module")
def pebble_module(challtestsrv_module, tmp_path_factory):
    """Pebble that never reuses an authorization: every renewal validates
    again, by the method it carried over."""
    p = Pebble(tmp_path_factory.mktemp("pebble"), challtestsrv_module.dns_addr,
               env={"PEBBLE_AUTHZREUSE": "0"})
    yield p
    p.stop()


@pytest.fixture(scope="module")
def cb(tmp_path_factory, pebble_module, challtestsrv_module, bins):
    """Three certbot lineages under PREFIX/etc/letsencrypt, made once."""
    base = tmp_path_factory.mktemp("certbot")
    env = type("Env", (), {})()
    env.base, env.pebble, env.cts = base, pebble_module, challtestsrv_module
    env.prefix = base / "root"
    env.cb = str(env.prefix / "etc/letsencrypt")
    env.work, env.logs = str(base / "work"), str(base / "logs")
    env.www = base / "www"
    (env.www / ".well-known/acme-challenge").mkdir(parents=True)
    env.hooklog = base / "hooks.log"
    auth, cleanup = base / "auth.sh", base / "cleanup.sh"
    post = ("curl -sf -o /dev/null -X POST -d \"{\\\"host\\\":\\\"_acme-challenge.$CERTBOT_DOMAIN.\\\","
            "\\\"value\\\":\\\"$CERTBOT_VALIDATION\\\"}\" %s/%%s\n" % challtestsrv_module.mgmt_url)
    auth.write_text("#!/bin/sh\necho auth $CERTBOT_DOMAIN >> %s\n" % env.hooklog + post % "set-txt")
    cleanup.write_text("#!/bin/sh\necho cleanup $CERTBOT_DOMAIN >> %s\n" % env.hooklog + post % "clear-txt")
    for f in (auth, cleanup):
        f.chmod(0o755)
    common = ["certonly", "--server", pebble_module.directory, "--agree-tos",
              "--register-unsafely-without-email", "--no-eff-email"]
    log = env.hooklog
    certbot(env, *common, "--standalone", "--http-01-port", str(pebble_module.http_port),
            "-d", SA, "-d", "www." + SA,
            "--pre-hook", "echo pre >> %s" % log, "--post-hook", "echo post >> %s" % log,
            "--deploy-hook", "echo deploy $RENEWED_LINEAGE >> %s" % log)
    w = Webroot(env.www, pebble_module.http_port)
    try:
        certbot(env, *common, "--webroot", "-w", str(env.www), "-d", WR,
                "--key-type", "rsa", "--rsa-key-size", "2048")
    finally:
        w.stop()
    certbot(env, *common, "--manual", "--preferred-challenges", "dns",
            "--manual-auth-hook", str(auth), "--manual-cleanup-hook", str(cleanup),
            "-d", DNS, "--key-type", "ecdsa", "--elliptic-curve", "secp384r1")
    # certbot's Debian timer and cron entry, as the package installs them
    for src, dst in (("/lib/systemd/system/certbot.timer", "lib/systemd/system/certbot.timer"),
                     ("/etc/cron.d/certbot", "etc/cron.d/certbot")):
        (env.prefix / dst).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, env.prefix / dst)
    env.bins = bins
    env.agent = Agent(bins, env.prefix, pebble_module, challtestsrv_module)
    return env


def imp(env, *args, prefix=None, check=None):
    a = Agent(env.bins, prefix or env.prefix, env.pebble, env.cts)
    return a.run("import", "certbot", "--ca-file", str(env.pebble.ca_file),
                 "--resolver", env.cts.dns_addr, *args, check=check)


def serial(path):
    out = openssl("x509", "-in", str(path), "-noout", "-serial").stdout
    return out.strip().split("=")[1].lower()


def new_accounts(env):
    return env.pebble.log_text().count("/sign-me-up")


# ----------------------------------------------------------------- import

def test_dry_run_plans_and_changes_nothing(cb):
    r = imp(cb, "--dry-run", check=0)
    for name in (SA, WR, DNS):
        assert name + ":" in r.stdout
    assert '"method":"standalone"' in r.stdout and '"method":"webroot"' in r.stdout
    assert '"method":"manual"' in r.stdout and '"keyType":"rsa2048"' in r.stdout
    assert '"keyType":"ec384"' in r.stdout
    assert "account -> " in r.stdout
    assert not (cb.prefix / "etc/certfleet").exists()
    assert not (cb.prefix / "var/lib/certfleet/accounts").exists()


def test_import_is_byte_identical_and_active(cb):
    r = imp(cb, check=0)
    assert r.stdout.count("imported: serial") == 3, r.stdout + r.stderr
    live = cb.prefix / "etc/certfleet/live"
    for name in (SA, WR, DNS):
        for f in ("cert", "chain", "fullchain", "privkey"):
            ours = (live / name / ("%s.pem" % f)).read_bytes()
            theirs = (Path(cb.cb) / "live" / name / ("%s.pem" % f)).read_bytes()
            assert ours == theirs, (name, f)
        assert oct((live / name / "privkey.pem").stat().st_mode & 0o777) == "0o600"
    for name in (SA, WR, DNS):
        [c] = cb.agent.status(name)
        c = c["state"]
        assert c["sslStatus"] == "active", c
        assert c["serial"] == serial(Path(cb.cb) / "live" / name / "cert.pem")
    assert sorted(cb.agent.status(SA)[0]["state"]["domains"]) == [SA, "www." + SA]
    # the account: certbot's key and URL
    acct = list((cb.prefix / "var/lib/certfleet/accounts").glob("*/account.json"))
    assert len(acct) == 1
    regr = list(Path(cb.cb).glob("accounts/*/*/*/regr.json"))
    assert json.loads(acct[0].read_text())["url"] == json.loads(regr[0].read_text())["uri"]
    assert oct(acct[0].with_name("account.key").stat().st_mode & 0o777) == "0o600"


def test_second_import_exits_2_and_force_imports_again(cb):
    r = imp(cb, check=2)
    assert r.stdout.count("already managed by certfleet") == 3
    r = imp(cb, "--force", "-d", WR, check=0)
    archive = cb.prefix / "etc/certfleet/archive" / WR
    assert sorted(p.name for p in archive.iterdir()) == ["0001", "0002"]
    assert (archive / "0002/privkey.pem").read_bytes() == \
        (Path(cb.cb) / "live" / WR / "privkey.pem").read_bytes()
    assert cb.agent.run("import", "--help", check=0).stdout.startswith("usage: certfleet-agent import certbot")
    assert "usage: certfleet-agent import certbot" in cb.agent.run("import", "acme.sh", check=64).stderr


def test_renew_force_reuses_methods_hooks_and_account(cb):
    before = new_accounts(cb)
    cb.hooklog.write_text("")
    old = {n: serial(cb.prefix / "etc/certfleet/live" / n / "cert.pem") for n in (SA, WR, DNS)}
    cb.agent.run("renew", "--force", "-d", SA, check=0)         # standalone, on certbot's port
    w = Webroot(cb.www, cb.pebble.http_port)
    try:
        cb.agent.run("renew", "--force", "-d", WR, check=0)     # certbot's webroot
    finally:
        w.stop()
    # certbot's DNS hooks.  Pebble reuses a valid authorization when
    # rand.Intn(100) > PEBBLE_AUTHZREUSE, so even at 0 one order in a
    # hundred needs no challenge and runs no hook (seen once in CI): then
    # the next renewal must run them
    for _ in range(3):
        cb.agent.run("renew", "--force", "-d", DNS, check=0)
        if "auth %s" % DNS in cb.hooklog.read_text():
            break
    for n in (SA, WR, DNS):
        assert serial(cb.prefix / "etc/certfleet/live" / n / "cert.pem") != old[n]
    log = cb.hooklog.read_text()
    assert "pre\n" in log and "post\n" in log
    assert "deploy %s" % (cb.prefix / "etc/certfleet/live" / SA) in log
    assert "auth %s" % DNS in log and "cleanup %s" % DNS in log
    assert new_accounts(cb) == before, "a new account was registered"
    key = openssl("pkey", "-in", str(cb.prefix / "etc/certfleet/live" / WR / "privkey.pem"),
                  "-noout", "-text").stdout
    assert "2048 bit" in key
    key = openssl("pkey", "-in", str(cb.prefix / "etc/certfleet/live" / DNS / "privkey.pem"),
                  "-noout", "-text").stdout
    assert "P-384" in key


def test_disable_certbot_and_undo(cb):
    r = imp(cb, "--disable-certbot", check=0)
    moved = Path(cb.cb) / "renewal.certfleet-disabled"
    assert sorted(p.name for p in moved.glob("*.conf")) == sorted(n + ".conf" for n in (SA, WR, DNS))
    assert "systemctl unmask certbot.timer" in (moved / "README").read_text()
    timer = cb.prefix / "etc/systemd/system/certbot.timer"
    assert os.readlink(timer) == "/dev/null", r.stdout
    assert not (cb.prefix / "etc/cron.d/certbot").exists()
    assert (cb.prefix / "etc/cron.d/certbot.certfleet-disabled").exists()
    r = certbot(cb, "renew", "--force-renewal", "--no-random-sleep-on-renew")
    assert "No renewals were attempted" in r.stdout + r.stderr
    imp(cb, "--disable-certbot", check=2)
    # undo, as the README says
    for p in moved.glob("*.conf"):
        p.rename(Path(cb.cb) / "renewal" / p.name)
    timer.unlink()
    (cb.prefix / "etc/cron.d/certbot.certfleet-disabled").rename(cb.prefix / "etc/cron.d/certbot")
    r = certbot(cb, "certificates")
    for n in (SA, WR, DNS):
        assert "Certificate Name: " + n in r.stdout


# ----------------------------------------------------------------- bad input

@pytest.fixture
def copy(cb, tmp_path):
    """A copy of certbot's directory (before any import) under a new prefix."""
    prefix = tmp_path / "root"
    shutil.copytree(cb.cb, prefix / "etc/letsencrypt", symlinks=True)
    for conf in (prefix / "etc/letsencrypt").glob("renewal*/*.conf"):
        conf.rename(prefix / "etc/letsencrypt/renewal" / conf.name)
        conf = prefix / "etc/letsencrypt/renewal" / conf.name
        conf.write_text(conf.read_text().replace(cb.cb, str(prefix / "etc/letsencrypt")))
    yield prefix
    # certbot's JWK holds the account key's numbers, which an imported
    # account.key's base64 lines may spell too: not a leak of ours
    shutil.rmtree(prefix / "etc/letsencrypt/accounts")


def nothing_imported(prefix, name):
    return not any((prefix / p).exists() for p in (
        "etc/certfleet/live/" + name, "etc/certfleet/renewal/%s.json" % name,
        "var/lib/certfleet/state/%s.json" % name))


def test_unknown_key_is_refused(cb, copy):
    conf = copy / "etc/letsencrypt/renewal" / (SA + ".conf")
    conf.write_text(conf.read_text().replace("[renewalparams]", "[renewalparams]\nfrobnicate = 1"))
    r = imp(cb, "-d", SA, prefix=copy, check=107)
    assert "CERTBOT_UNSUPPORTED" in r.stderr and 'unknown key "frobnicate"' in r.stderr
    assert nothing_imported(copy, SA)


def test_missing_archive_file_is_refused(cb, copy):
    for p in (copy / "etc/letsencrypt/archive" / WR).glob("chain1.pem"):
        p.unlink()
    r = imp(cb, "-d", WR, prefix=copy, check=108)
    assert "CERTBOT_LINEAGE" in r.stderr and "chain1.pem" in r.stderr
    assert nothing_imported(copy, WR)


def test_key_not_matching_cert_is_refused(cb, copy):
    key = copy / "etc/letsencrypt/archive" / DNS / "privkey1.pem"
    key.write_text(openssl("genpkey", "-algorithm", "EC", "-pkeyopt",
                           "ec_paramgen_curve:P-384").stdout)
    r = imp(cb, "-d", DNS, prefix=copy, check=108)
    assert "is not the key of cert1.pem" in r.stderr
    assert nothing_imported(copy, DNS)


def test_bad_lineage_name_is_refused(cb, copy):
    ren = copy / "etc/letsencrypt/renewal"
    shutil.copy(ren / (SA + ".conf"), ren / "bad_name.certbot.test.conf")
    r = imp(cb, prefix=copy, check=65)
    assert "bad_name.certbot.test" in r.stderr and "INVALID_INPUT" in r.stderr
    assert nothing_imported(copy, "bad_name.certbot.test")
    # the good lineages are imported all the same
    assert r.stdout.count("imported: serial") == 3


@pytest.mark.parametrize("target", ["/etc/passwd", "../../../../outside/cert1.pem",
                                    "../../archive/%s/../../../outside/cert1.pem" % SA])
def test_live_symlink_leaving_the_directory_is_refused(cb, copy, target):
    (copy / "outside").mkdir(exist_ok=True)
    shutil.copy(copy / "etc/letsencrypt/archive" / SA / "cert1.pem", copy / "outside/cert1.pem")
    link = copy / "etc/letsencrypt/live" / SA / "cert.pem"
    link.unlink()
    link.symlink_to(target)
    r = imp(cb, "-d", SA, prefix=copy, check=108)
    assert "points at" in r.stderr or "symbolic link" in r.stderr, r.stderr
    assert nothing_imported(copy, SA)


# ----------------------------------------------------------------- through the controller

def test_controller_runs_import_and_shows_the_lineages(cb, copy, bins, sshd_factory, tmp_path):
    from test_fleet import Ctl, write_inventory
    [s] = sshd_factory.many(1, first_host=160)
    inv, kh = tmp_path / "inventory", tmp_path / "known_hosts"
    write_inventory(inv, [s])
    inv.write_text(inv.read_text().replace("ansible_user=root", "ansible_user=root certfleet_prefix=%s" % copy))
    kh.write_text(s.known_hosts_line())
    ctl = Ctl(bins, tmp_path / "ctl")
    args = ["-i", inv, "--known-hosts", kh, "--identity", sshd_factory.client_key.path]
    ctl.run(*args, "deploy", check=0)
    p, doc = ctl.json(*args, "run", "h00", "--", "import", "certbot", "--dry-run", check=0)
    out = doc["hosts"][0]["output"]
    assert all(n + ":" in out for n in (SA, WR, DNS)) and "settings -> " in out, out
    assert not list((copy / "etc/certfleet/live").glob("*"))
    ctl.run(*args, "run", "h00", "--", "import", "certbot", check=0)
    p, doc = ctl.json(*args, "status", check=0)
    certs = doc["hosts"][0]["agent"]["certificates"]
    assert sorted(c["lineage"] for c in certs) == sorted([SA, WR, DNS])
    assert all(c["state"]["sslStatus"] == "active" for c in certs), certs
