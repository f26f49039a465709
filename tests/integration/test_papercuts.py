"""Issue 21's papercuts, each as a new user met it: directory ignoring
agent.conf, status saying "0 days" with hours left, and a DNS preflight that
did not say it ignores /etc/hosts."""
import json
import os
import subprocess

import pytest

from cfutil import ChallTestSrv
from test_issue import Agent


@pytest.fixture
def agent(bins, tmp_path, pebble, challtestsrv):
    return Agent(bins, tmp_path / "root", pebble, challtestsrv)


def test_directory_reads_agent_conf(agent):
    conf = agent.prefix / "etc/certfleet/agent.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("server = %s\nca_file = %s\n" % (agent.pebble.directory, agent.pebble.ca_file))
    r = agent.run("directory", check=0)
    d = json.loads(r.stdout)
    assert d["newOrder"].startswith(agent.pebble.url), d
    # flags still win over agent.conf
    r = agent.run("directory", "--server", "https://127.0.0.1:1/dir")
    assert r.returncode != 0 and "127.0.0.1:1" in r.stderr, r.stderr
    # --config names another file, as for issue
    other = agent.prefix.parent / "other.conf"
    other.write_text("server = %s\nca_file = %s\n" % (agent.pebble.directory, agent.pebble.ca_file))
    conf.write_text("server = https://127.0.0.1:1/dir\n")
    r = agent.run("--config", str(other), "directory", check=0)
    assert "newOrder" in r.stdout


def test_status_shows_hours_under_two_days(agent):
    agent.cts.add_a("hours.example.test", "127.0.0.1")
    agent.issue("hours.example.test", check=0)
    st = agent.status("hours.example.test")[0]["state"]
    secs = st["secondsLeft"]
    assert st["daysLeft"] == secs // 86400 and secs > 2 * 86400
    # move the clock to 20.5 hours before notAfter (the slack absorbs the
    # seconds a loaded machine takes between these runs)
    shift = "+%d" % (secs - 20 * 3600 - 1800)
    r = agent.run("status", "--json", "-d", "hours.example.test",
                  env={"CERTFLEET_TEST_TIME": shift}, check=0)
    st = json.loads(r.stdout)["certificates"][0]["state"]
    assert st["daysLeft"] == 0
    assert 20 * 3600 <= st["secondsLeft"] <= 20 * 3600 + 1800, st
    r = agent.run("status", "-d", "hours.example.test", env={"CERTFLEET_TEST_TIME": shift}, check=0)
    assert "(20 hours)" in r.stdout and "0 days" not in r.stdout, r.stdout
    r = agent.run("status", "-d", "hours.example.test",
                  env={"CERTFLEET_TEST_TIME": "+%d" % (secs - 630)}, check=0)
    assert "(10 minutes)" in r.stdout, r.stdout
    r = agent.run("status", "-d", "hours.example.test", check=0)
    assert "days)" in r.stdout


@pytest.fixture
def nxdns(tmp_path):
    """A DNS server with no default address: unknown names have no A/AAAA."""
    srv = ChallTestSrv(tmp_path / "nxdns", default_ipv4="")
    yield srv
    srv.stop()


def test_preflight_says_it_asks_dns_not_etc_hosts(bins, tmp_path, pebble, nxdns):
    agent = Agent(bins, tmp_path / "root", pebble, nxdns)
    name = "only-in-hosts.example.test"
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n10.9.8.7   %s other\n" % name.upper())
    # this machine's /etc/hosts, replaced in a private mount namespace only
    args = [str(agent.bin), "--prefix", str(agent.prefix), "issue", "-d", name, "--standalone",
            "--http-port", str(agent.pebble.http_port)] + agent.ca_args()
    script = 'mount --bind "$1" /etc/hosts && shift && exec "$@"'
    r = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", str(hosts)] + args,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 68, r.stderr          # DNS_NOT_RESOLVING
    assert "/etc/hosts maps it to 10.9.8.7" in r.stderr, r.stderr
    assert "the CA does not read /etc/hosts" in r.stderr and "--no-preflight" in r.stderr
    # without the /etc/hosts entry the detail still says what the preflight asks
    r = agent.issue("nowhere.example.test")
    assert r.returncode == 68 and "asks DNS" in r.stderr and "--no-preflight" in r.stderr, r.stderr


def test_fleet_table_shows_hours(bins, tmp_path):
    """The controller's DAYS column: hours under two days (from secondsLeft),
    whole days from agents that only send daysLeft."""
    def host(name, lineage, state):
        return {"host": name, "ok": True, "error": None, "ms": 1,
                "agent": {"certificates": [{"lineage": lineage, "state": state}]}}
    doc = {"command": "status", "time": "2026-12-04T00:00:00Z", "hosts": [
        host("short", "short.example.test", {"sslStatus": "active", "sslExpiry": "2026-12-05T00:00:00Z",
                                             "daysLeft": 0, "secondsLeft": 72000}),
        host("old", "old.example.test", {"sslStatus": "active", "sslExpiry": "2027-01-18T00:00:00Z",
                                         "daysLeft": 45}),
    ]}
    state = tmp_path / "xdg"
    (state / "certfleet").mkdir(parents=True)
    (state / "certfleet/last.json").write_text(json.dumps(doc))
    r = subprocess.run([str(bins.need_controller()), "report"], capture_output=True, text=True,
                       env=dict(os.environ, XDG_STATE_HOME=str(state)), timeout=30)
    lines = [l for l in r.stdout.splitlines() if l.startswith(("short", "old"))]
    rows = {l.split()[0]: l.split() for l in lines}
    assert rows["short"][4] == "20h" and rows["old"][4] == "45", r.stdout
    # the host with hours left sorts first
    assert lines[0].startswith("short"), r.stdout


def test_acme_server_addressed_by_ip(bins, tmp_path):
    """Issue 21 item 3: https://127.0.0.1:PORT/dir works when the server's
    certificate names 127.0.0.1 in an iPAddress SAN (BearSSL alone matches
    dNSNames only), and is refused with the name error when it does not."""
    import cfutil
    ca_cert, ca_key = cfutil.make_ca(tmp_path / "ca")
    agent = str(bins.need_agent())
    for ips, ok in ((("127.0.0.1",), True), ((), False), (("127.0.0.2",), False)):
        cert, key = cfutil.make_leaf(tmp_path / ("leaf-%d" % len(ips)) / "-".join(ips or ("none",)),
                                     ca_cert, ca_key, dns=("acme.example.test",), ips=ips)
        srv = cfutil.JsonTlsServer(cert, key, lambda: {"newNonce": "https://x/n",
                                                       "newAccount": "https://x/a",
                                                       "newOrder": "https://x/o"})
        try:
            r = subprocess.run([agent, "--prefix", str(tmp_path / "root"), "directory", "--server",
                                "https://127.0.0.1:%d/dir" % srv.port, "--ca-file", str(ca_cert)],
                               capture_output=True, text=True, timeout=60)
        finally:
            srv.stop()
        if ok:
            assert r.returncode == 0 and json.loads(r.stdout)["newOrder"] == "https://x/o", r.stderr
        else:
            assert r.returncode == 76 and "not valid for the host name" in r.stderr, (ips, r.stderr)
