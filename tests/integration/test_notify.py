"""Issue 19, the agent's half of item 2 and item 3: Prometheus metrics
(`status --prometheus`, the textfile agent.conf's prometheus-file names,
rewritten atomically after every run) checked by Debian's promtool and
scraped into values after an issuance, a failing renewal and the recovery;
and the notify hook: once per change of state (failed, expiring,
recovered), never a secret in its environment, and never a change to the
run's result when it fails.

Against a real Pebble; the clock is moved with CERTFLEET_TEST_TIME."""
import datetime
import json
import os
import re
import secrets
import stat
import subprocess
import time

from cfutil import JsonTlsServer, make_leaf
from test_issue import Agent, openssl

DAY = 86400
SECRET_VARS = ("FE_PASSWORD", "USER_PASSWORD", "FE_SECRET_KEY", "FE_ACCESS_KEY",
               "CERTFLEET_EAB_HMAC_KEY")
PROM = "/metrics/certfleet.prom"   # under --prefix
STATUSES = ("active", "due", "expiring", "expired", "failing")


def at(days):
    return {"CERTFLEET_TEST_TIME": "+%d" % int(days * DAY)}


def make_agent(bins, tmp_path, pebble, cts, hook_body="exit 0"):
    """An agent whose agent.conf names the metrics file and a notify hook
    that appends its environment (one block per call) to tmp_path/events."""
    a = Agent(bins, tmp_path / "root", pebble, cts)
    (a.prefix / "metrics").mkdir(parents=True)
    conf = a.prefix / "etc/certfleet/agent.conf"
    conf.parent.mkdir(parents=True)
    hook = tmp_path / "notify.sh"
    hook.write_text("#!/bin/sh\n{ echo '----'; env; } >> %s\n%s\n" % (tmp_path / "events", hook_body))
    hook.chmod(0o755)
    # both spellings of the keys are accepted (as for every other key)
    conf.write_text("prometheus_file = %s\nnotify-hook = %s\n" % (PROM, hook))
    return a


def events(tmp_path):
    p = tmp_path / "events"
    if not p.exists():
        return []
    out = []
    for block in p.read_text().split("----\n")[1:]:
        out.append(dict(l.split("=", 1) for l in block.splitlines() if "=" in l))
    return out


def scrape(text):
    """{(name, lineage[, status]): value} of the exposition text."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        m = re.fullmatch(r'(\w+)\{lineage="([^"]*)"(?:,status="(\w+)")?\} (-?\d+)', line)
        assert m, line
        key = (m[1], m[2]) + ((m[3],) if m[3] else ())
        out[key] = int(m[4])
    return out


def promtool(text):
    # exit 0 and nothing said: no parse error (exit 1) and no lint (exit 3)
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert r.returncode == 0 and not (r.stdout + r.stderr).strip(), (r.returncode, r.stdout + r.stderr)


def same_scrape(m1, m2):
    """Equal but for the remaining seconds, which move with the clock."""
    rem = lambda m: {k: v for k, v in m.items() if k[0] == "certfleet_certificate_remaining_seconds"}
    rest = lambda m: {k: v for k, v in m.items() if k[0] != "certfleet_certificate_remaining_seconds"}
    r1, r2 = rem(m1), rem(m2)
    return rest(m1) == rest(m2) and r1.keys() == r2.keys() and \
        all(abs(r1[k] - r2[k]) <= 60 for k in r1)


def not_after(a, lineage):
    out = openssl("x509", "-in", str(a.live(lineage, "cert.pem")), "-noout", "-startdate",
                  "-enddate").stdout
    f = lambda k: int(datetime.datetime.strptime(re.search(k + r"=(.*)", out)[1].strip(),
                                                  "%b %d %H:%M:%S %Y %Z")
                      .replace(tzinfo=datetime.timezone.utc).timestamp())
    return f("notBefore"), f("notAfter")


def status_of(m, lineage):
    return [s for s in STATUSES if m[("certfleet_certificate_status", lineage, s)] == 1]


def test_metrics_and_notify_through_failure_and_recovery(bins, tmp_path, pebble, challtestsrv):
    a = make_agent(bins, tmp_path, pebble, challtestsrv)
    prom = a.prefix / PROM.lstrip("/")
    values = {v: "s3cr3t-%s-%s" % (v.lower(), secrets.token_hex(6)) for v in SECRET_VARS}
    L = "pm.example.test"
    t0 = int(time.time())

    # issued: metrics written by the issue run itself; no event yet
    a.issue(L, "www.pm.example.test", check=0)
    text = prom.read_text()
    promtool(text)
    assert stat.S_IMODE(prom.stat().st_mode) == 0o644
    nb, na = not_after(a, L)
    life = na - nb
    m = scrape(text)
    assert m[("certfleet_certificate_expiry_timestamp_seconds", L)] == na
    left = m[("certfleet_certificate_remaining_seconds", L)]
    assert na - int(time.time()) <= left <= na - t0, (left, na)
    assert t0 <= m[("certfleet_last_success_timestamp_seconds", L)] <= time.time()
    assert t0 <= m[("certfleet_last_attempt_timestamp_seconds", L)] <= time.time()
    assert m[("certfleet_next_renewal_timestamp_seconds", L)] == na - life // 3
    assert m[("certfleet_consecutive_failures", L)] == 0
    assert status_of(m, L) == ["active"]
    for fam in ("certificate_expiry_timestamp_seconds", "consecutive_failures", "certificate_status"):
        assert "# HELP certfleet_%s " % fam in text and "# TYPE certfleet_%s gauge" % fam in text
    # status --prometheus prints the same; promtool accepts it
    out = a.run("status", "--prometheus", check=0).stdout
    promtool(out)
    assert same_scrape(scrape(out), m)
    assert events(tmp_path) == []

    # 61 days on (in the last third) the CA is unreachable: renew fails, the
    # hook is told once, without a secret even with --hook-env all:...
    success = m[("certfleet_last_success_timestamp_seconds", L)]
    bad = ["--server", "https://localhost:1/dir", "--hook-env", "all:FE_PASSWORD"]
    r = a.run("renew", "--all", *bad, env=dict(values, **at(61)))
    assert r.returncode == 77, r.stdout + r.stderr
    m = scrape(prom.read_text())
    promtool(prom.read_text())
    assert status_of(m, L) == ["failing"]
    assert m[("certfleet_consecutive_failures", L)] == 1
    assert m[("certfleet_last_success_timestamp_seconds", L)] == success
    assert m[("certfleet_last_attempt_timestamp_seconds", L)] >= t0 + 61 * DAY
    assert m[("certfleet_certificate_expiry_timestamp_seconds", L)] == na
    ev = events(tmp_path)
    assert [e["CERTFLEET_EVENT"] for e in ev] == ["failed"]
    e = ev[0]
    assert e["CERTFLEET_LINEAGE"] == L
    assert e["CERTFLEET_DOMAINS"] == "pm.example.test www.pm.example.test"
    assert e["CERTFLEET_STATUS"] == "failing"
    assert e["CERTFLEET_ERROR_CODE"] == "NETWORK_ERROR" and e["CERTFLEET_ERROR_HINT"]
    assert e["CERTFLEET_NOT_AFTER"] == datetime.datetime.fromtimestamp(
        na, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert int(e["CERTFLEET_DAYS_LEFT"]) == (na - int(time.time()) - 61 * DAY) // DAY
    raw = (tmp_path / "events").read_text()
    for v in SECRET_VARS:
        assert v not in e
    assert not [s for s in values.values() if s in raw]

    # the next cron run fails the same way: no second message; the metrics
    # file is replaced by a rename (a reader holding the old one keeps it)
    keep = tmp_path / "old.prom"
    os.link(prom, keep)
    before = keep.read_text()
    r = a.run("renew", "--all", *bad, env=dict(values, **at(62)))
    assert r.returncode == 77
    assert keep.read_text() == before
    assert prom.stat().st_ino != keep.stat().st_ino
    assert stat.S_IMODE(prom.stat().st_mode) == 0o644
    assert sorted(p.name for p in prom.parent.iterdir()) == ["certfleet.prom"]
    m = scrape(prom.read_text())
    assert m[("certfleet_consecutive_failures", L)] == 2
    assert len(events(tmp_path)) == 1

    # fixed: the operator renews by hand (today's clock, so that the new
    # certificate looks new), the hook hears it has recovered
    a.run("renew", "--all", "--force", env=values, check=0)
    m = scrape(prom.read_text())
    promtool(prom.read_text())
    assert same_scrape(scrape(a.run("status", "--prometheus", check=0).stdout), m)
    nb2, na2 = not_after(a, L)
    assert na2 > na
    assert status_of(m, L) == ["active"]
    assert m[("certfleet_consecutive_failures", L)] == 0
    assert m[("certfleet_certificate_expiry_timestamp_seconds", L)] == na2
    assert m[("certfleet_last_success_timestamp_seconds", L)] > success
    ev = events(tmp_path)
    assert [e["CERTFLEET_EVENT"] for e in ev] == ["failed", "recovered"]
    assert ev[1]["CERTFLEET_STATUS"] == "active" and ev[1]["CERTFLEET_ERROR_CODE"] == ""
    raw = (tmp_path / "events").read_text()
    assert not [s for s in values.values() if s in raw]
    # and says so in the status JSON the controller reads
    st = a.status(L)[0]["state"]
    assert st["consecutiveFailures"] == 0 and st["lastSuccess"]
    log = json.loads(a.run("log", "--json", check=0).stdout)
    assert [e["detail"] for e in log if e["event"] == "notify"] == ["failed", "recovered"]


class _LateAri:
    """Pebble's directory with renewalInfo pointing here, where every
    certificate's suggested window lies 85 to 86 days from now: a CA that
    wants renewals late in the lifetime."""

    def __init__(self, pebble):
        cert, key = make_leaf(pebble.workdir / "listener-ca", pebble.ca_file, pebble._ca_key,
                              dns=("localhost",), ips=("127.0.0.1",), name="lateari")
        now = time.time()
        iso = lambda t: datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ")

        def doc():
            # one document for every GET: the directory, and the window
            d = pebble.directory_json()
            d["renewalInfo"] = "https://localhost:%d/ari" % self.srv.port
            d["suggestedWindow"] = {"start": iso(now + 85 * DAY), "end": iso(now + 86 * DAY)}
            return d

        self.srv = JsonTlsServer(cert, key, doc)
        self.url = "https://localhost:%d/dir" % self.srv.port


def test_expiring_once_and_a_failing_hook_changes_nothing(bins, tmp_path, pebble, challtestsrv):
    a = make_agent(bins, tmp_path, pebble, challtestsrv, hook_body="exit 3")
    L = "ex.example.test"
    a.issue(L, check=0)
    late = _LateAri(pebble)
    try:
        srv = ["--server", late.url]
        # 50 days on: not due, not in the last third: nothing to say
        r = a.run("renew", "--all", *srv, env=at(50), check=2)
        assert "not due" in r.stdout and events(tmp_path) == []
        # 65 days on the CA still says later, but a third of the life is left
        r = a.run("renew", "--all", *srv, env=at(65), check=2)   # the hook's exit 3 changes nothing
        assert "renewal window (ARI)" in r.stdout, r.stdout
        assert "notify hook exited with status 3" in r.stderr
        ev = events(tmp_path)
        assert [e["CERTFLEET_EVENT"] for e in ev] == ["expiring"]
        assert ev[0]["CERTFLEET_STATUS"] == "due" and ev[0]["CERTFLEET_LINEAGE"] == L
        assert ev[0]["CERTFLEET_ERROR_CODE"] == ""
        log = json.loads(a.run("log", "--json", check=0).stdout)
        assert any(e["event"] == "notify" and e["code"] == "HOOK_FAILED" for e in log)
        # told once, even though the hook failed
        a.run("renew", "--all", *srv, env=at(66), check=2)
        assert len(events(tmp_path)) == 1
        m = scrape((a.prefix / PROM.lstrip("/")).read_text())
        assert status_of(m, L) == ["due"]
    finally:
        late.srv.stop()
    # renewed at last: recovered (the Pebble directory, whose window has come)
    a.run("renew", "--all", "--server", pebble.directory, env=at(80), check=0)
    assert [e["CERTFLEET_EVENT"] for e in events(tmp_path)] == ["expiring", "recovered"]


def test_prometheus_options(bins, tmp_path, pebble, challtestsrv):
    a = Agent(bins, tmp_path / "root", pebble, challtestsrv)
    for bad in ("metrics.prom", "/a/../b.prom", "/dir/"):
        r = a.run("status", "--prometheus-file", bad)
        assert r.returncode == 64 and "--prometheus-file" in r.stderr, r.stderr
        r = a.run("renew", "--all", "--prometheus-file", bad)
        assert r.returncode == 64, r.stderr
    # on the command line, without agent.conf; no lineage yet: HELP/TYPE only
    (a.prefix / "m").mkdir(parents=True)
    a.run("status", "--prometheus-file", "/m/x.prom", check=0)
    text = (a.prefix / "m/x.prom").read_text()
    promtool(text)
    assert scrape(text) == {} and text.count("# TYPE ") == 7
    # a directory that is not there: a warning, the command's result stands
    r = a.run("status", "--prometheus-file", "/nowhere/x.prom", check=0)
    assert "Prometheus file not written" in r.stderr


def test_failed_early_then_expiring_when_the_last_third_comes(bins, tmp_path, pebble, challtestsrv):
    a = make_agent(bins, tmp_path, pebble, challtestsrv)
    L = "esc.example.test"
    a.issue(L, check=0)
    bad = ["--server", "https://localhost:1/dir"]
    # a forced renewal fails early in the life: failed
    assert a.run("renew", "--all", "--force", *bad, env=at(10)).returncode == 77
    ev = events(tmp_path)
    assert [e["CERTFLEET_EVENT"] for e in ev] == ["failed"]
    assert ev[0]["CERTFLEET_STATUS"] == "failing" and 78 <= int(ev[0]["CERTFLEET_DAYS_LEFT"]) <= 80
    # not due at day 30: nothing; due and failing again at day 61, now in
    # the last third: expiring (once)
    a.run("renew", "--all", *bad, env=at(30), check=2)
    assert len(events(tmp_path)) == 1
    assert a.run("renew", "--all", *bad, env=at(61)).returncode == 77
    assert a.run("renew", "--all", *bad, env=at(62)).returncode == 77
    ev = events(tmp_path)
    assert [e["CERTFLEET_EVENT"] for e in ev] == ["failed", "expiring"]
    assert ev[1]["CERTFLEET_ERROR_CODE"] == "NETWORK_ERROR"
    m = scrape((a.prefix / PROM.lstrip("/")).read_text())
    assert m[("certfleet_consecutive_failures", L)] == 3
    assert ("certfleet_certificate_expiry_timestamp_seconds", L) in m
    # revoke rewrites the file too: a revoked certificate is no live one
    a.run("revoke", "-d", L, check=0)
    m = scrape((a.prefix / PROM.lstrip("/")).read_text())
    assert ("certfleet_certificate_expiry_timestamp_seconds", L) not in m


def test_first_issuance_failing_has_no_certificate_samples(bins, tmp_path, pebble, challtestsrv):
    a = make_agent(bins, tmp_path, pebble, challtestsrv)
    www = tmp_path / "www"
    www.mkdir()
    # nothing serves the webroot: the CA cannot validate
    r = a.issue("nocert.example.test", method="webroot", extra=["--webroot", str(www), "--no-preflight"])
    assert r.returncode == 69, r.stdout + r.stderr
    text = a.run("status", "--prometheus", check=0).stdout
    promtool(text)
    m = scrape(text)
    L = "nocert.example.test"
    assert m[("certfleet_consecutive_failures", L)] == 1
    assert status_of(m, L) == ["failing"]
    assert ("certfleet_last_attempt_timestamp_seconds", L) in m
    for fam in ("certificate_expiry_timestamp_seconds", "certificate_remaining_seconds",
                "last_success_timestamp_seconds", "next_renewal_timestamp_seconds"):
        assert ("certfleet_" + fam, L) not in m, fam
    ev = events(tmp_path)
    assert [e["CERTFLEET_EVENT"] for e in ev] == ["failed"]
    assert ev[0]["CERTFLEET_NOT_AFTER"] == "" and ev[0]["CERTFLEET_DAYS_LEFT"] == ""
    assert ev[0]["CERTFLEET_ERROR_CODE"] == "CONNECTION_REFUSED"
