"""Issue 5: renew (ARI and the lifetime rule), hooks, DNS-01 through
certbot-style hooks, the failure budget, cron, revocation, the activity log,
profiles and EAB — against a real Pebble 2.6 (it serves ARI) and challtestsrv.

The clock is moved with CERTFLEET_TEST_TIME (+seconds), never with sleeps.
"""
import hashlib
import json
import os
import re
import subprocess
import stat
import urllib.request
from pathlib import Path

import pytest

from cfutil import JsonTlsServer, make_leaf
from test_issue import Agent, openssl, verify_chain

DAY = 86400


@pytest.fixture
def agent(bins, tmp_path, pebble, challtestsrv):
    return Agent(bins, tmp_path / "root", pebble, challtestsrv)


def tree_digest(root):
    """Path -> (sha256, mtime_ns) of every file under root; the activity log
    and the cache of the CA's ARI advice excluded."""
    out = {}
    for p in sorted(Path(root).rglob("*")):
        if "activity.log" in p.name or p.parent.name == "ari":
            continue
        if p.is_file() and not p.is_symlink():
            out[str(p)] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        elif p.is_symlink():
            out[str(p)] = ("link", os.readlink(p))
    return out


def serial_of(agent, lineage):
    return openssl("x509", "-in", str(agent.live(lineage, "cert.pem")), "-noout",
                   "-serial").stdout.strip().split("=")[1].lower()


def at(days):
    return {"CERTFLEET_TEST_TIME": "+%d" % int(days * DAY)}


def renew(agent, *args, env=None, check=None):
    pre = [a for a in args if a == "-v"]
    return agent.run(*pre, "renew", *[a for a in args if a != "-v"], env=env, check=check)


# ------------------------------------------------------------- due or not

def test_renew_not_due_exits_2_and_touches_nothing(agent):
    agent.issue("nd.example.test", check=0)
    before = tree_digest(agent.prefix)
    r = renew(agent, "--all", check=2)
    assert "not due" in r.stdout and "ARI" in r.stdout, r.stdout
    assert tree_digest(agent.prefix) == before
    r = renew(agent, "--all", "--json", check=2)
    doc = json.loads(r.stdout)
    assert doc["exit"] == 2 and doc["results"][0]["code"] == "NOT_DUE"
    assert doc["results"][0]["renewalTime"]


def test_forced_renewal_runs_deploy_hook_and_archives(agent, tmp_path):
    out = tmp_path / "deploy.env"
    hook = "env | grep ^RENEWED_ >> %s" % out
    agent.issue("fr.example.test", "www.fr.example.test", extra=["--deploy-hook", hook], check=0)
    first = serial_of(agent, "fr.example.test")
    out.unlink()
    r = renew(agent, "-d", "fr.example.test", "--force", check=0)
    assert "renewed" in r.stdout
    second = serial_of(agent, "fr.example.test")
    assert second != first
    env = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert env["RENEWED_LINEAGE"] == str(agent.prefix / "etc/certfleet/live/fr.example.test")
    assert env["RENEWED_DOMAINS"] == "fr.example.test www.fr.example.test"
    archive = agent.prefix / "etc/certfleet/archive/fr.example.test"
    versions = sorted(p.name for p in archive.iterdir())
    assert len(versions) == 2, versions
    old = openssl("x509", "-in", str(archive / versions[0] / "cert.pem"), "-noout", "-serial").stdout
    assert first in old.lower()
    verify_chain(agent, "fr.example.test")


def test_ari_window_is_used_and_replaces_is_sent(agent):
    agent.issue("ari.example.test", check=0)
    old = serial_of(agent, "ari.example.test")
    # today: the window Pebble suggests is weeks away
    r = renew(agent, "-v", "--all", check=2)
    assert "renewal window (ARI)" in r.stdout
    assert agent.pebble.log_text().count("/renewalInfo/") == 1
    chosen = r.stdout.split("chosen time ")[1].strip()
    # asked again before its Retry-After: the CA is not asked, the same time is kept
    r = renew(agent, "--all", check=2)
    assert "asked earlier" in r.stdout and chosen in r.stdout
    assert agent.pebble.log_text().count("/renewalInfo/") == 1
    # 80 days on, the window has come (Pebble's lies in the last third)
    r = renew(agent, "-v", "--all", env=at(80), check=0)
    assert "due by the CA's renewal window (ARI)" in r.stderr, r.stderr
    assert serial_of(agent, "ari.example.test") != old
    if int(old, 16).bit_length() % 8 == 0:
        # DER gives this serial a sign byte, which Pebble 2.6 cannot find
        # (one certificate in ~256; letsencrypt/pebble#550): the agent
        # orders once more without "replaces" (test_ari_fallback.py)
        assert 'the CA refused "replaces"' in r.stderr, r.stderr
    else:
        assert "is a replacement of" in agent.pebble.log_text()


class _DirProxy:
    """A TLS server whose /dir is Pebble's directory rewritten (no
    renewalInfo, optional profiles); every other URL stays Pebble's."""

    def __init__(self, pebble, workdir, drop=("renewalInfo",), profiles=None):
        cert, key = make_leaf(pebble.workdir / "listener-ca", pebble.ca_file, pebble._ca_key,
                              dns=("localhost",), ips=("127.0.0.1",), name="dirproxy")

        def doc():
            d = pebble.directory_json()
            for k in drop:
                d.pop(k, None)
            if profiles:
                d.setdefault("meta", {})["profiles"] = profiles
            return d

        self.srv = JsonTlsServer(cert, key, doc)
        self.url = "https://localhost:%d/dir" % self.srv.port

    def close(self):
        self.srv.stop()


def test_without_ari_the_lifetime_rule_applies(bins, tmp_path, pebble, challtestsrv):
    proxy = _DirProxy(pebble, tmp_path)
    try:
        a = Agent(bins, tmp_path / "root", pebble, challtestsrv)
        a.run("issue", "-d", "noari.example.test", "--standalone", "--http-port",
              str(pebble.http_port), "--server", proxy.url, "--ca-file", str(pebble.ca_file),
              "--resolver", challtestsrv.dns_addr, "--agree-tos", check=0)
        old = serial_of(a, "noari.example.test")
        # 90-day certificate: due once 30 days are left, i.e. after day 60
        r = renew(a, "--all", env=at(55), check=2)
        assert "lifetime rule" in r.stdout and "third" in r.stdout, r.stdout
        assert serial_of(a, "noari.example.test") == old
        r = renew(a, "--all", env=at(61), check=0)
        assert serial_of(a, "noari.example.test") != old
        assert "is a replacement of" not in pebble.log_text()   # no ARI: no replaces
    finally:
        proxy.close()


def test_dry_run_obtains_and_installs_nothing(agent):
    agent.issue("dry.example.test", check=0)
    before = tree_digest(agent.prefix / "etc")
    state = (agent.prefix / "var/lib/certfleet/state/dry.example.test.json").read_text()
    r = renew(agent, "--dry-run", "--server", agent.pebble.directory, "-d", "dry.example.test",
              check=0)
    assert "dry run" in r.stdout
    assert tree_digest(agent.prefix / "etc") == before
    assert (agent.prefix / "var/lib/certfleet/state/dry.example.test.json").read_text() == state
    assert agent.pebble.log_text().count("Issued certificate serial") == 2


# ------------------------------------------------------------------ hooks

def test_pre_and_post_hooks_run_once_per_run(agent, tmp_path):
    log = tmp_path / "hooks.log"
    hooks = ["--pre-hook", "echo pre >> %s" % log, "--post-hook", "echo post >> %s" % log]
    agent.issue("h1.example.test", extra=hooks, check=0)
    agent.issue("h2.example.test", extra=hooks, check=0)
    assert log.read_text().split() == ["pre", "post", "pre", "post"]
    log.unlink()
    renew(agent, "--all", "--force", check=0)
    assert log.read_text().split() == ["pre", "post"]   # two renewals, one pre, one post
    log.unlink()
    renew(agent, "--all", check=2)                      # nothing due: no hooks at all
    assert not log.exists()


def test_failing_deploy_hook_never_undoes_the_certificate(agent):
    r = agent.issue("dh.example.test", extra=["--deploy-hook", "exit 3"], check=0)
    assert "deploy hook exited with status 3" in r.stderr
    assert agent.status("dh.example.test")[0]["state"]["sslStatus"] == "active"
    log = json.loads(agent.run("log", "--json", check=0).stdout)
    assert any(e["code"] == "HOOK_FAILED" and e["event"] == "hook" for e in log)


# ---------------------------------------------------------------- DNS-01

def _hooks(tmp_path, cts):
    """certbot-style auth/cleanup scripts that drive challtestsrv by curl."""
    rec = tmp_path / "hook-calls"
    auth = tmp_path / "auth.sh"
    auth.write_text(
        "#!/bin/sh\nset -e\n"
        "echo \"auth $CERTBOT_DOMAIN $CERTBOT_VALIDATION $CERTBOT_REMAINING_CHALLENGES "
        "$CERTBOT_ALL_DOMAINS ${#CERTBOT_TOKEN}\" >> %s\n"
        "curl -sf -X POST -d \"{\\\"host\\\":\\\"_acme-challenge.$CERTBOT_DOMAIN.\\\","
        "\\\"value\\\":\\\"$CERTBOT_VALIDATION\\\"}\" %s/set-txt\n"
        "echo record-id-$CERTBOT_DOMAIN\n" % (rec, cts.mgmt_url))
    cleanup = tmp_path / "cleanup.sh"
    cleanup.write_text(
        "#!/bin/sh\n"
        "echo \"cleanup $CERTBOT_DOMAIN $CERTBOT_AUTH_OUTPUT\" >> %s\n"
        "curl -sf -X POST -d \"{\\\"host\\\":\\\"_acme-challenge.$CERTBOT_DOMAIN.\\\"}\" %s/clear-txt\n"
        % (rec, cts.mgmt_url))
    for p in (auth, cleanup):
        p.chmod(0o755)
    return rec, str(auth), str(cleanup)


def test_dns01_hooks_wildcard_and_base(agent, tmp_path):
    rec, auth, cleanup = _hooks(tmp_path, agent.cts)
    r = agent.run("issue", "-d", "*.wild.example.test", "-d", "wild.example.test",
                  "--preferred-challenges", "dns-01", "--manual-auth-hook", auth,
                  "--manual-cleanup-hook", cleanup, "--dns-timeout", "20",
                  *agent.ca_args(), check=0)
    assert "issued" in r.stdout
    from test_issue import sans
    assert sans(agent.live("wild.example.test", "cert.pem")) == ["*.wild.example.test",
                                                                 "wild.example.test"]
    calls = rec.read_text().splitlines()
    auths = [c.split() for c in calls if c.startswith("auth ")]
    cleans = [c.split() for c in calls if c.startswith("cleanup ")]
    assert len(auths) == 2 and len(cleans) == 2, calls
    assert {a[1] for a in auths} == {"wild.example.test"}          # both on one name
    assert sorted(a[3] for a in auths) == ["0", "1"]               # REMAINING_CHALLENGES
    assert all(a[4] == "*.wild.example.test,wild.example.test" for a in auths)
    assert all(int(a[5]) >= 22 for a in auths)                    # CERTBOT_TOKEN set
    assert all(c[2] == "record-id-wild.example.test" for c in cleans)   # CERTBOT_AUTH_OUTPUT
    # renew --all reuses the DNS-01 settings with no flags
    rec.unlink()
    old = serial_of(agent, "wild.example.test")
    renew(agent, "--all", "--force", check=0)
    assert serial_of(agent, "wild.example.test") != old
    # Pebble reuses valid authorizations, so the hooks may not be needed again;
    # when they ran, every auth had its cleanup
    calls = rec.read_text() if rec.exists() else ""
    assert calls.count("auth ") == calls.count("cleanup ")
    saved = json.loads((agent.prefix / "etc/certfleet/renewal/wild.example.test.json").read_text())
    assert saved["challenge"] == "dns-01" and saved["manualAuthHook"] == auth


def test_dns01_timeout_still_cleans_up(agent, tmp_path):
    rec = tmp_path / "calls"
    r = agent.run("issue", "-d", "slow.example.test", "--preferred-challenges", "dns-01",
                  "--manual-auth-hook", "echo auth >> %s" % rec,       # publishes nothing
                  "--manual-cleanup-hook", "echo cleanup >> %s" % rec,
                  "--dns-timeout", "3", "--json", *agent.ca_args())
    out = json.loads(r.stdout)
    assert out["code"] == "DNS_TIMEOUT" and r.returncode == 100, r.stdout + r.stderr
    assert rec.read_text().split() == ["auth", "cleanup"]


def test_wildcard_needs_dns01(agent):
    r = agent.issue("*.nohttp.example.test", extra=["--json"])
    assert r.returncode == 65 and "dns-01" in json.loads(r.stdout)["detail"]


# --------------------------------------------------------- failure budget

def test_five_failed_validations_then_rate_limited_without_the_ca(agent, tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    for _ in range(5):
        r = agent.issue("fail.example.test", method="webroot",
                        extra=["--webroot", str(www), "--no-preflight", "--json"])
        assert json.loads(r.stdout)["code"] == "CONNECTION_REFUSED", r.stdout
    orders = agent.pebble.log_text().count("POST /order-plz")
    # the sixth attempt is refused before any request: even a dead server is not contacted
    r = agent.run("issue", "-d", "fail.example.test", "--webroot", str(www), "--no-preflight",
                  "--server", "https://localhost:1/dir", "--ca-file", str(agent.pebble.ca_file),
                  "--json")
    out = json.loads(r.stdout)
    assert r.returncode == 70 and out["code"] == "RATE_LIMITED", r.stdout
    assert "not contacted" in out["detail"] and "try again after" in out["detail"]
    assert out["status"]["retryAfter"]
    assert agent.pebble.log_text().count("POST /order-plz") == orders
    # an hour later the budget is back
    r = agent.run("issue", "-d", "fail.example.test", "--webroot", str(www), "--no-preflight",
                  "--json", *agent.ca_args(), env={"CERTFLEET_TEST_TIME": "+3700"})
    assert json.loads(r.stdout)["code"] == "CONNECTION_REFUSED"


# ------------------------------------------------- loud failure, activity log

def test_failing_renewal_near_expiry_raises_the_alarm(agent):
    agent.issue("loud.example.test", check=0)
    # 85 days on, 5 left, and the CA unreachable
    r = agent.run("renew", "--all", "--server", "https://localhost:1/dir", env=at(85))
    assert r.returncode == 77, r.stdout + r.stderr
    assert "ERROR: renewal of loud.example.test is failing" in r.stderr
    st = agent.run("status", "--json", env=at(85), check=0)
    s = json.loads(st.stdout)["certificates"][0]["state"]
    assert s["alarm"] is True and s["lastError"]["code"] == "NETWORK_ERROR"
    assert s["sslStatus"] == "active"          # the working certificate is kept
    entries = json.loads(agent.run("log", "--json", "-d", "loud.example.test", check=0).stdout)
    assert [e["outcome"] for e in entries] == ["issued", "failed"]
    assert entries[-1]["level"] == "error"
    text = agent.run("log", "-n", "1", check=0).stdout
    assert "NETWORK_ERROR" in text and text.count("\n") == 1


def test_activity_log_rotates(agent):
    log = agent.prefix / "var/lib/certfleet/activity.log"
    agent.issue("rot.example.test", check=0)
    log.write_text(log.read_text() + ("{\"event\":\"filler\"}\n" * 60000))
    renew(agent, "--all", check=2)
    assert (agent.prefix / "var/lib/certfleet/activity.log.1").exists()
    assert log.stat().st_size < 4096
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


# -------------------------------------------------------------------- cron

def test_cron_install_is_idempotent_and_remove_cleans(agent, bins):
    agent.issue("cron.example.test", check=0)
    path = agent.prefix / "etc/cron.d/certfleet-agent"
    agent.run("cron", "install", "--cron", check=0)
    first = path.read_text()
    line = [l for l in first.splitlines() if "renew --all" in l][0]
    minute, hours = line.split()[:2]
    assert 0 <= int(minute) < 60 and len(hours.split(",")) == 2
    assert int(hours.split(",")[1]) - int(hours.split(",")[0]) == 12
    # the binary itself, also when the tests run it through valgrind
    assert " root %s --prefix %s renew --all --random-sleep 300" % (
        bins.dir / "certfleet-agent", agent.prefix) in line
    agent.run("cron", "install", "--cron", check=0)
    assert path.read_text() == first                     # same host, same bytes
    show = agent.run("cron", "show", check=0).stdout
    assert line in show and "cron.example.test" in show and "active" in show
    agent.run("cron", "install", "--systemd", check=0)
    timer = (agent.prefix / "etc/systemd/system/certfleet-agent.timer").read_text()
    assert "RandomizedDelaySec=300" in timer and ":%02d:00" % int(minute) in timer
    r = agent.run("cron", "remove", check=0)
    assert not path.exists() and "removed" in r.stdout
    assert not (agent.prefix / "etc/systemd/system/certfleet-agent.timer").exists()
    assert "nothing was installed" in agent.run("cron", "remove", check=0).stdout


# ------------------------------------------------------------------ revoke

def test_revoke_is_accepted_by_pebble(agent):
    agent.issue("rv.example.test", check=0)
    serial = serial_of(agent, "rv.example.test")
    r = agent.run("revoke", "-d", "rv.example.test", "--reason", "keyCompromise", check=0)
    assert "nginx was left as it is" in r.stdout
    assert agent.pebble.cert_status(serial)["Status"] == "Revoked"
    assert agent.status("rv.example.test")[0]["state"]["sslStatus"] == "none"
    r = renew(agent, "--all", check=2)
    assert "revoked" in r.stdout
    r = agent.run("revoke", "-d", "rv.example.test", "--reason", "bogus")
    assert r.returncode == 64


# ------------------------------------------------------- profiles and EAB

def test_unknown_profile_lists_the_offered_ones(bins, tmp_path, pebble, challtestsrv):
    proxy = _DirProxy(pebble, tmp_path, drop=(), profiles={"classic": "x", "shortlived": "y"})
    try:
        a = Agent(bins, tmp_path / "root", pebble, challtestsrv)
        r = a.run("issue", "-d", "prof.example.test", "--standalone", "--http-port",
                  str(pebble.http_port), "--server", proxy.url, "--ca-file", str(pebble.ca_file),
                  "--resolver", challtestsrv.dns_addr, "--agree-tos", "--profile", "tlsserver",
                  "--json")
        out = json.loads(r.stdout)
        assert r.returncode == 65 and "classic, shortlived" in out["detail"], r.stdout
    finally:
        proxy.close()


EAB_KEY = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"


def test_eab_binds_the_account(bins, tmp_path, pebble_factory, challtestsrv):
    p = pebble_factory(config={"externalAccountBindingRequired": True,
                               "externalAccountMACKeys": {"kid-1": EAB_KEY}})
    a = Agent(bins, tmp_path / "root", p, challtestsrv)
    r = a.issue("eab.example.test", extra=["--json"])
    assert r.returncode == 64 and "--eab-kid" in json.loads(r.stdout)["detail"], r.stdout
    # never on the command line, where ps shows it to everyone
    r = a.issue("eab.example.test", extra=["--eab-kid", "kid-1", "--eab-hmac-key", EAB_KEY])
    assert r.returncode == 64 and "--eab-hmac-key-file" in r.stdout + r.stderr, r.stdout + r.stderr
    assert EAB_KEY not in r.stdout + r.stderr
    assert "eab.example.test" not in p.log_text()
    wrong = tmp_path / "eab-wrong"
    wrong.write_text(EAB_KEY[:-4] + "AAAA\n")
    r = a.issue("eab.example.test", extra=["--eab-kid", "kid-1", "--eab-hmac-key-file", str(wrong),
                                           "--json"])
    assert r.returncode != 0                      # wrong MAC: the CA refuses
    # from the environment
    r = a.run("issue", "-d", "eab.example.test", "--standalone", "--http-port", str(p.http_port),
              "--eab-kid", "kid-1", *a.ca_args(), env={"CERTFLEET_EAB_HMAC_KEY": EAB_KEY}, check=0)
    # the HMAC key is not kept with the lineage
    saved = (a.prefix / "etc/certfleet/renewal/eab.example.test.json").read_text()
    assert EAB_KEY not in saved and "kid-1" in saved


def test_alarm_reaches_syslog(agent, tmp_path):
    """The alarm goes to the system log (/dev/log) as syslog(3) would send it:
    facility daemon, level err, tag and pid.  The agent runs in a private
    mount namespace whose /dev/log is this test's socket."""
    import socket
    agent.issue("syslog.example.test", check=0)
    sock_path = tmp_path / "log"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(sock_path))
    s.settimeout(30)
    script = r'''set -e
real=$1; shift; sock=$1; shift
mkdir -p "$real" && mount --rbind /dev "$real"
mount -t tmpfs -o mode=0755 tmpfs /dev
for d in null zero random urandom; do touch /dev/$d; mount --bind "$real/$d" /dev/$d; done
touch /dev/log && mount --bind "$sock" /dev/log
exec "$@"'''
    cmd = [str(agent.bin), "--prefix", str(agent.prefix), "renew", "--all",
           "--server", "https://localhost:1/dir"]
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh",
                        str(tmp_path / "realdev"), str(sock_path)] + cmd,
                       capture_output=True, text=True, timeout=120, env=dict(os.environ, **at(85)))
    assert r.returncode == 77, r.stdout + r.stderr
    msg = s.recv(4096).decode()
    s.close()
    assert re.match(r"^<27>certfleet-agent\[\d+\]: RENEWAL FAILING for syslog\.example\.test: "
                    r"certificate expires \S+, NETWORK_ERROR: ", msg), msg
