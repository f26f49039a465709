"""Issue 14 item 6: hooks never see certfleet's secrets unless they opt in.

Every hook (pre, post, deploy, manual-auth, manual-cleanup) of a real DNS-01
issuance against Pebble dumps its environment.  The agent runs with
FE_PASSWORD, USER_PASSWORD, FE_SECRET_KEY, FE_ACCESS_KEY and
CERTFLEET_EAB_HMAC_KEY set: no dump holds any of their values, while ordinary
variables and certbot's CERTBOT_* still reach the hooks.  With
--hook-env manual-auth:FE_PASSWORD the auth hook alone gets FE_PASSWORD, and
the choice is saved for renew.  A bad --hook-env is INVALID_INPUT."""
import json
import secrets

from test_issue import Agent

HOOKS = ("pre", "post", "deploy", "auth", "cleanup")
SECRET_VARS = ("FE_PASSWORD", "USER_PASSWORD", "FE_SECRET_KEY", "FE_ACCESS_KEY",
               "CERTFLEET_EAB_HMAC_KEY")


def _hook_args(tmp_path, cts, tag):
    d = tmp_path / ("env-" + tag)
    d.mkdir()
    dump = lambda name: "env > %s/%s.env" % (d, name)
    auth = (dump("auth") + "; curl -sf -X POST -d \"{\\\"host\\\":\\\"_acme-challenge.$CERTBOT_DOMAIN.\\\","
            "\\\"value\\\":\\\"$CERTBOT_VALIDATION\\\"}\" %s/set-txt" % cts.mgmt_url)
    cleanup = (dump("cleanup") + "; curl -sf -X POST -d \"{\\\"host\\\":\\\"_acme-challenge."
               "$CERTBOT_DOMAIN.\\\"}\" %s/clear-txt" % cts.mgmt_url)
    return d, ["--preferred-challenges", "dns-01", "--manual-auth-hook", auth,
               "--manual-cleanup-hook", cleanup, "--pre-hook", dump("pre"),
               "--post-hook", dump("post"), "--deploy-hook", dump("deploy"),
               "--dns-timeout", "20"]


def _dumps(d):
    return {n: dict(l.split("=", 1) for l in (d / (n + ".env")).read_text().splitlines() if "=" in l)
            for n in HOOKS}


def test_hooks_get_no_secrets_unless_opted_in(bins, tmp_path, pebble, challtestsrv):
    a = Agent(bins, tmp_path / "root", pebble, challtestsrv)
    values = {v: "s3cr3t-%s-%s" % (v.lower(), secrets.token_hex(8)) for v in SECRET_VARS}
    env = dict(values, CERTFLEET_TEST_MARKER="plain-value")

    d, hook_args = _hook_args(tmp_path, challtestsrv, "default")
    a.run("issue", "-d", "env.example.test", *hook_args, *a.ca_args(), env=env, check=0)
    dumps = _dumps(d)
    for name, e in dumps.items():
        for v in SECRET_VARS:
            assert v not in e, (name, v)
        assert e.get("CERTFLEET_TEST_MARKER") == "plain-value", name
        raw = (d / (name + ".env")).read_text()
        assert not [s for s in values.values() if s in raw], name
    assert dumps["auth"]["CERTBOT_DOMAIN"] == "env.example.test"
    assert dumps["deploy"]["RENEWED_DOMAINS"] == "env.example.test"

    # opted in: the auth hook alone, and only the variable named
    d, hook_args = _hook_args(tmp_path, challtestsrv, "optin")
    a.run("issue", "-d", "env2.example.test", *hook_args, "--hook-env", "manual-auth:FE_PASSWORD",
          "--hook-env", "deploy,post:FE_ACCESS_KEY", *a.ca_args(), env=env, check=0)
    dumps = _dumps(d)
    assert dumps["auth"]["FE_PASSWORD"] == values["FE_PASSWORD"]
    assert dumps["deploy"]["FE_ACCESS_KEY"] == values["FE_ACCESS_KEY"]
    assert dumps["post"]["FE_ACCESS_KEY"] == values["FE_ACCESS_KEY"]
    for name, e in dumps.items():
        allowed = {"auth": {"FE_PASSWORD"}, "deploy": {"FE_ACCESS_KEY"},
                   "post": {"FE_ACCESS_KEY"}}.get(name, set())
        assert {v for v in SECRET_VARS if v in e} == allowed, (name, e.keys())
    saved = json.loads((a.prefix / "etc/certfleet/renewal/env2.example.test.json").read_text())
    assert saved["hookEnv"] == "manual-auth:FE_PASSWORD deploy,post:FE_ACCESS_KEY"
    assert not [s for s in values.values() if s in json.dumps(saved)]


def test_bad_hook_env_is_invalid_input(bins, tmp_path, pebble, challtestsrv):
    a = Agent(bins, tmp_path / "root", pebble, challtestsrv)
    for spec in ("manual-auth", "manual-auth:PATH", "bogus:FE_PASSWORD", ":FE_PASSWORD",
                 "manual-auth:", "manual-auth:FE_PASSWORD\nx", "pre:FE_PASSWORD,"):
        r = a.run("issue", "--json", "-d", "bad.example.test", "--standalone", "--hook-env", spec,
                  *a.ca_args())
        assert r.returncode == 65, (spec, r.stdout, r.stderr)
        assert json.loads(r.stdout)["code"] == "INVALID_INPUT", spec
