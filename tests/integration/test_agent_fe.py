"""Issue 7, agent side: certfleet-agent obtains certificates by DNS-01 through
FlexibleEngine DNS (--dns fe) and through the curl-based FE hook scripts run
by --manual-auth-hook, against the FE API emulator (its DNS writes go to
challtestsrv, so Pebble really validates) — and renew reuses it all."""
import json
import os
import stat
from pathlib import Path

from test_issue import Agent, sans

HOOKS = Path(__file__).resolve().parent / "hooks"


def run_fe(agent, feemu, *args, check=None, env_extra=None):
    env = dict(feemu.env())
    env.update(env_extra or {})
    return agent.run(*args, env=env, check=check)


def zone_records(feemu):
    return feemu.state()["zones"][feemu.zone_id("example.test")]["recordsets"]


def test_dns_fe_wildcard_and_base_then_renew(bins, tmp_path, pebble, challtestsrv, feemu):
    a = Agent(bins, tmp_path / "root", pebble, challtestsrv)
    r = run_fe(a, feemu, "issue", "-d", "*.fe.example.test", "-d", "fe.example.test",
               "--preferred-challenges", "dns-01", "--dns", "fe", "--dns-timeout", "30",
               *a.ca_args(), check=0)
    assert "issued" in r.stdout
    assert sans(a.live("fe.example.test", "cert.pem")) == ["*.fe.example.test", "fe.example.test"]
    assert zone_records(feemu) == {}                   # every record it added is gone
    saved = json.loads((a.prefix / "etc/certfleet/renewal/fe.example.test.json").read_text())
    assert saved["dnsProvider"] == "fe" and saved["method"] == "dns-fe"
    # no secret went into the saved settings or the state
    for p in (a.prefix).rglob("*.json"):
        assert feemu.password not in p.read_text()
    # renew --all needs no flags (credentials from the environment again)
    old = a.live("fe.example.test", "cert.pem").read_text()
    run_fe(a, feemu, "renew", "--all", "--force", check=0)
    assert a.live("fe.example.test", "cert.pem").read_text() != old
    assert zone_records(feemu) == {}


def test_dns_fe_credentials_from_a_0600_file(bins, tmp_path, pebble, challtestsrv, feemu):
    a = Agent(bins, tmp_path / "root", pebble, challtestsrv)
    conf = tmp_path / "fe.conf"
    conf.write_text("".join("%s=%s\n" % kv for kv in feemu.env().items()))
    conf.chmod(0o600)
    r = a.run("issue", "-d", "file.example.test", "--dns", "fe", "--fe-config", str(conf),
              "--dns-timeout", "30", *a.ca_args(), check=0)
    assert "issued" in r.stdout
    conf.chmod(0o644)                                   # readable by others: refused
    r = a.run("issue", "-d", "file2.example.test", "--dns", "fe", "--fe-config", str(conf),
              "--json", *a.ca_args())
    assert json.loads(r.stdout)["code"] == "FE_CONFIG", r.stdout
    assert stat.S_IMODE(conf.stat().st_mode) == 0o644


def test_dns_fe_refuses_bad_combinations(bins, tmp_path, pebble, challtestsrv, feemu):
    a = Agent(bins, tmp_path / "root", pebble, challtestsrv)
    r = run_fe(a, feemu, "issue", "-d", "x.example.test", "--dns", "route53", "--json", *a.ca_args())
    assert r.returncode == 64 and "fe" in json.loads(r.stdout)["detail"]
    r = run_fe(a, feemu, "issue", "-d", "x.example.test", "--dns", "fe", "--manual-auth-hook", "true",
               "--json", *a.ca_args())
    assert r.returncode == 64
    r = run_fe(a, feemu, "issue", "-d", "x.example.test", "--dns", "fe", "--dns-zone", "a;b",
               "--json", *a.ca_args())
    assert r.returncode == 65


def test_fe_hook_scripts_through_manual_auth_hook(bins, tmp_path, pebble, challtestsrv, feemu):
    """The original authenticator.sh/cleanup.sh way, with certfleet as the runner."""
    a = Agent(bins, tmp_path / "root", pebble, challtestsrv)
    r = run_fe(a, feemu, "issue", "-d", "*.hk.example.test", "-d", "hk.example.test",
               "--preferred-challenges", "dns-01",
               "--manual-auth-hook", str(HOOKS / "fe-authenticator.sh"),
               "--manual-cleanup-hook", str(HOOKS / "fe-cleanup.sh"),
               # the scripts log in to FE themselves: they opt in to the password
               "--hook-env", "manual-auth,manual-cleanup:FE_PASSWORD",
               "--dns-timeout", "30", *a.ca_args(), check=0)
    assert "issued" in r.stdout, r.stderr
    assert sans(a.live("hk.example.test", "cert.pem")) == ["*.hk.example.test", "hk.example.test"]
    assert zone_records(feemu) == {}
