"""certfleet elb against the FE API emulator (feemu.py) and a real Pebble: DNS-01
through FE DNS (TXT served by challtestsrv, which Pebble queries), certificate
upload and listener rotation on ELB v3 and v2.0, renewal only when due, fault
handling, and no secret in any output."""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

import cfutil


def sans(pem_text):
    r = cfutil.run(["openssl", "x509", "-noout", "-ext", "subjectAltName"], input=pem_text)
    return sorted(x.strip()[4:] for x in r.stdout.splitlines()[1].split(",") if x.strip().startswith("DNS:"))


class Elb:
    """Runs bin/certfleet elb with the emulator's environment, a private state dir."""

    def __init__(self, bins, emu, pebble, challtestsrv, tmp, auth="password"):
        self.bin = bins.need_controller()
        self.emu, self.pebble, self.cts = emu, pebble, challtestsrv
        self.tmp = Path(tmp)
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "HOME": str(self.tmp / "home"), "XDG_STATE_HOME": str(self.tmp / "state")}
        self.env.update(emu.env(auth=auth))
        self.outputs = []

    def run(self, *args, check=None, env=None, timeout=120):
        e = dict(self.env)
        e.update(env or {})
        r = subprocess.run([str(self.bin), "elb", *map(str, args)], env=e, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=timeout)
        self.outputs += [r.stdout, r.stderr]
        if check is not None:
            assert r.returncode == check, "exit %d, want %d\nstdout: %s\nstderr: %s" % (
                r.returncode, check, r.stdout, r.stderr)
        return r

    def renew(self, listener, *names, extra=(), check=None, **kw):
        args = ["renew", "--listener", listener, "--server", self.pebble.directory,
                "--ca-file", self.pebble.ca_file, "--agree-tos", "--resolver",
                self.cts.dns_addr, "--dns-timeout", "20", "--json"]
        for n in names:
            args += ["-d", n]
        return self.run(*args, *extra, check=check, **kw)


@pytest.fixture
def elb(bins, feemu, pebble, challtestsrv, tmp_path):
    return Elb(bins, feemu, pebble, challtestsrv, tmp_path)


def listener_cert(emu, api, lid):
    st = emu.state()
    ref = st["listeners"][api][lid]["default_tls_container_ref"]
    return st["certs"][api].get(ref) if ref else None


def verify_against_pebble(pebble, cert_pem, tmp_path):
    chain = tmp_path / "chain.pem"
    chain.write_text(cert_pem)
    root = tmp_path / "root.pem"
    root.write_text(pebble.roots_pem())
    r = cfutil.run(["openssl", "verify", "-CAfile", root, "-untrusted", chain, chain], check=False)
    return r.returncode == 0, r.stdout + r.stderr


def test_renew_v3_rotates_then_nothing_due_then_force(elb, feemu, pebble, tmp_path):
    lid = feemu.add_listener("v3")["id"]
    r = elb.renew(lid, "www.example.test", "example.test", check=0)
    out = json.loads(r.stdout)
    assert out["outcome"] == "changed" and out["certificate_id"]
    cert = listener_cert(feemu, "v3", lid)
    assert cert["id"] == out["certificate_id"]
    assert cert["name"].startswith("www-example-test-") and cert["domain"] == "www.example.test"
    assert sans(cert["certificate"]) == ["example.test", "www.example.test"]
    ok, why = verify_against_pebble(pebble, cert["certificate"], tmp_path)
    assert ok, why
    # the TXT records are gone again
    zid = feemu.zone_id("example.test")
    assert feemu.state()["zones"][zid]["recordsets"] == {}
    # one token served the whole run
    assert len([e for e in feemu.state()["log"] if e["path"] == "/v3/auth/tokens"]) == 1
    # second run: not due, nothing uploaded
    feemu.reset_log()
    r = elb.renew(lid, "www.example.test", "example.test", check=2)
    assert json.loads(r.stdout)["outcome"] == "unchanged"
    assert not [e for e in feemu.state()["log"] if e["method"] in ("POST", "PUT", "DELETE")
                and e["path"] != "/v3/auth/tokens"]
    # --force rotates and deletes the previous certificate
    r = elb.renew(lid, "www.example.test", "example.test", extra=["--force"], check=0)
    out2 = json.loads(r.stdout)
    assert out2["certificate_id"] != out["certificate_id"]
    assert out2["previous_id"] == out["certificate_id"]
    assert out2["deleted"] == [out["certificate_id"]]
    st = feemu.state()
    assert list(st["certs"]["v3"]) == [out2["certificate_id"]]
    # the account key is private
    keys = list((tmp_path / "state" / "certfleet" / "elb" / "accounts").glob("*/account.key"))
    assert keys and all(k.stat().st_mode & 0o777 == 0o600 for k in keys)


def test_renew_v2_aksk_wildcard_and_base_share_one_txt_recordset(bins, feemu, pebble, challtestsrv,
                                                                  tmp_path):
    elb = Elb(bins, feemu, pebble, challtestsrv, tmp_path, auth="aksk")
    lid = feemu.add_listener("v2")["id"]
    r = elb.renew(lid, "*.example.test", "example.test", extra=["--elb-api", "v2"], check=0)
    out = json.loads(r.stdout)
    assert out["api"] == "v2"
    cert = listener_cert(feemu, "v2", lid)
    assert cert["id"] == out["certificate_id"] and "tenant_id" in cert
    assert sans(cert["certificate"]) == ["*.example.test", "example.test"]
    st = feemu.state()
    rs_posts = [e for e in st["log"] if e["method"] == "POST" and e["path"].endswith("/recordsets")]
    rs_puts = [e for e in st["log"] if e["method"] == "PUT" and "/recordsets/" in e["path"]]
    assert len(rs_posts) == 1 and len(rs_puts) >= 1, st["log"]
    auths = {e.get("auth") for e in st["log"]}
    assert auths == {"aksk"}, auths
    assert st["tokens"] == 0
    assert st["zones"][feemu.zone_id("example.test")]["recordsets"] == {}


def test_token_expiry_mid_run_refreshes_once(elb, feemu):
    lid = feemu.add_listener("v3")["id"]
    # the listener update meets an expired token: one new token, then success
    feemu.fault(method="PUT", path="/elb/listeners/", action="expire", count=1)
    r = elb.renew(lid, "a.example.test", check=0)
    assert json.loads(r.stdout)["outcome"] == "changed"
    st = feemu.state()
    assert len([e for e in st["log"] if e["path"] == "/v3/auth/tokens"]) == 2
    assert listener_cert(feemu, "v3", lid)["id"] == json.loads(r.stdout)["certificate_id"]
    # all tokens expired between runs: the next run gets a fresh one and works
    feemu.expire_tokens()
    elb.renew(lid, "a.example.test", extra=["--force"], check=0)


def test_upload_500_then_retry_leaves_no_orphan(elb, feemu):
    lid = feemu.add_listener("v3")["id"]
    # the upload takes effect but its reply is a 500: the copy is found and removed
    feemu.fault(method="POST", path="/elb/certificates$", action="status", status=500,
                after=True, count=1)
    # and a plain 500 on the retry, before anything is created
    feemu.fault(method="POST", path="/elb/certificates$", action="status", status=503, count=1)
    r = elb.renew(lid, "b.example.test", check=0)
    out = json.loads(r.stdout)
    st = feemu.state()
    assert list(st["certs"]["v3"]) == [out["certificate_id"]], st["certs"]["v3"].keys()
    posts = [e for e in st["log"] if e["method"] == "POST" and e["path"].endswith("/certificates")]
    assert len(posts) == 3


def test_failure_after_upload_removes_the_orphan(elb, feemu, tmp_path):
    old = feemu.add_listener("v3")
    lid = old["id"]
    elb.renew(lid, "c.example.test", check=0)
    before = listener_cert(feemu, "v3", lid)["id"]
    # the listener update fails for good: the new upload is deleted, the listener kept
    feemu.fault(method="PUT", path="/elb/listeners/", action="status", status=500, count=5)
    r = elb.renew(lid, "c.example.test", extra=["--force"], check=1)
    out = json.loads(r.stdout)
    assert out["outcome"] == "failed" and out["code"] == "FE_API_ERROR"
    st = feemu.state()
    assert list(st["certs"]["v3"]) == [before]
    assert st["listeners"]["v3"][lid]["default_tls_container_ref"] == before


def _pair(tmp_path, name, dns):
    ca, cakey = cfutil.make_ca(tmp_path / "ca")
    return cfutil.make_leaf(tmp_path / "ca", ca, cakey, dns=dns, ips=(), name=name)


def test_deploy_wrong_key_is_elb1011_and_listener_untouched(elb, feemu, tmp_path):
    c1, k1 = _pair(tmp_path, "one", ("shop.example.test",))
    c2, k2 = _pair(tmp_path, "two", ("shop.example.test",))
    lid = feemu.add_listener("v3")["id"]
    r = elb.run("deploy", "--listener", lid, "--cert", c1, "--key", k1, "--json", check=0)
    good = json.loads(r.stdout)["certificate_id"]
    r = elb.run("deploy", "--listener", lid, "--cert", c2, "--key", k1, check=1)
    assert "FE_CERT_INVALID" in r.stderr and "ELB.1011" in r.stderr, r.stderr
    st = feemu.state()
    assert st["listeners"]["v3"][lid]["default_tls_container_ref"] == good
    assert list(st["certs"]["v3"]) == [good]
    # the same with --json: code and FE code in the object
    r = elb.run("deploy", "--listener", lid, "--cert", c2, "--key", k1, "--json", check=1)
    out = json.loads(r.stdout)
    assert out["code"] == "FE_CERT_INVALID" and "ELB.1011" in out["detail"]
    # the private key is not echoed anywhere
    key_body = "".join(k1.read_text().splitlines()[1:-1])
    assert key_body[:40] not in r.stdout + r.stderr


def test_deploy_sni_keep_old_and_status(elb, feemu, tmp_path):
    c1, k1 = _pair(tmp_path, "d", ("default.example.test",))
    c2, k2 = _pair(tmp_path, "s", ("sni.example.test",))
    lid = feemu.add_listener("v3")["id"]
    d = json.loads(elb.run("deploy", "--listener", lid, "--cert", c1, "--key", k1, "--json",
                           check=0).stdout)["certificate_id"]
    s = json.loads(elb.run("deploy", "--listener", lid, "--cert", c2, "--key", k2, "--sni",
                           "--json", check=0).stdout)["certificate_id"]
    L = feemu.state()["listeners"]["v3"][lid]
    assert L["default_tls_container_ref"] == d and L["sni_container_refs"] == [s]
    # --keep-old: the superseded default stays
    d2 = json.loads(elb.run("deploy", "--listener", lid, "--cert", c1, "--key", k1, "--keep-old",
                            "--json", check=0).stdout)["certificate_id"]
    assert set(feemu.state()["certs"]["v3"]) == {d, s, d2}
    st = json.loads(elb.run("status", "--listener", lid, "--json", check=0).stdout)
    certs = {c["role"]: c for c in st["listeners"][0]["certificates"]}
    assert certs["default"]["id"] == d2 and certs["sni"]["id"] == s
    assert 25 <= certs["default"]["daysLeft"] <= 30 and certs["default"]["managed"]
    text = elb.run("status", check=0).stdout
    assert lid in text and d2 in text and "days left" in text


def test_dry_run_uploads_nothing(elb, feemu):
    lid = feemu.add_listener("v3")["id"]
    r = elb.renew(lid, "dry.example.test", extra=["--dry-run"], check=0)
    assert json.loads(r.stdout)["outcome"] == "dry-run"
    st = feemu.state()
    assert st["certs"]["v3"] == {} and st["listeners"]["v3"][lid]["default_tls_container_ref"] is None


def test_slow_and_dropped_replies_are_retried(elb, feemu):
    lid = feemu.add_listener("v3")["id"]
    feemu.fault(method="GET", path="/elb/listeners/", action="drop", count=1)
    feemu.fault(method="GET", path="/recordsets$", action="slow", delay=4, count=1)
    r = elb.renew(lid, "slow.example.test", env={"FE_TIMEOUT": "2"}, check=0)
    assert json.loads(r.stdout)["outcome"] == "changed"
    log = feemu.state()["log"]
    assert any(e.get("status") == "dropped" for e in log)


def test_fe_config_file_legacy_names_and_mode(elb, feemu, tmp_path):
    lid = feemu.add_listener("v3")["id"]
    conf = tmp_path / "fe.conf"
    env = feemu.env(legacy=True)
    conf.write_text("".join('export %s="%s"\n' % kv for kv in env.items()) +
                    "LISTENER_ID=%s\n" % lid)
    conf.chmod(0o644)
    bare = {k: "" for k in feemu.env()}
    r = elb.run("status", "--fe-config", conf, env=bare, check=1)
    assert "FE_CONFIG" in r.stderr and "0600" in r.stderr
    conf.chmod(0o600)
    r = elb.run("status", "--fe-config", conf, "--json", env=bare, check=0)
    assert json.loads(r.stdout)["listeners"][0]["id"] == lid
    # wrong password: FE_AUTH, exit 1, the password not shown
    r = elb.run("status", "--listener", lid, env={"FE_PASSWORD": "wrong-" + feemu.password},
                check=1)
    assert "FE_AUTH" in r.stderr and feemu.password not in r.stderr


def test_cron_install_and_remove(elb, feemu, tmp_path):
    cron = tmp_path / "cron.d" / "certfleet-elb"
    cron.parent.mkdir()
    elb.run("cron", "install", "--cron-file", cron, "--", "-d", "www.example.test",
            "--listener", "abc", "--fe-config", "/etc/certfleet/fe conf", check=0)
    text = cron.read_text()
    line = [ln for ln in text.splitlines() if " elb renew " in ln][0]
    fields = line.split()
    assert 0 <= int(fields[0]) < 60 and len(fields[1].split(",")) == 2 and fields[5] == "root"
    assert "'-d' 'www.example.test'" in line and "'/etc/certfleet/fe conf'" in line
    assert feemu.password not in text and cron.stat().st_mode & 0o777 == 0o644
    elb.run("cron", "remove", "--cron-file", cron, check=0)
    assert not cron.exists()


HOOKS = Path(__file__).resolve().parent / "hooks"


def test_fe_hook_scripts_create_and_remove_txt(feemu, challtestsrv):
    """The curl-based authenticator/cleanup hooks (for --manual-auth-hook) against the
    emulator: a wildcard and its base end up in one recordset, cleanup removes each."""
    env = dict(os.environ)
    env.update(feemu.env())
    name = "_acme-challenge.hook.example.test."

    def hook(script, domain, value):
        e = dict(env, CERTBOT_DOMAIN=domain, CERTBOT_VALIDATION=value)
        r = subprocess.run([str(HOOKS / script)], env=e, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        assert r.returncode == 0, r.stderr

    def txt():
        got = cfutil.dns_query("127.0.0.1", challtestsrv.dns_port, name, "TXT")
        return sorted(a[2] for a in got["answers"])

    hook("fe-authenticator.sh", "hook.example.test", "v-base")
    hook("fe-authenticator.sh", "*.hook.example.test", "v-wild")
    assert txt() == ["v-base", "v-wild"]
    assert len(feemu.state()["zones"][feemu.zone_id("example.test")]["recordsets"]) == 1
    hook("fe-cleanup.sh", "hook.example.test", "v-base")
    assert txt() == ["v-wild"]
    hook("fe-cleanup.sh", "*.hook.example.test", "v-wild")
    assert txt() == []
    assert feemu.state()["zones"][feemu.zone_id("example.test")]["recordsets"] == {}


def test_no_secret_in_outputs_logs_files_or_ps(bins, feemu, pebble, challtestsrv, tmp_path):
    elb = Elb(bins, feemu, pebble, challtestsrv, tmp_path)
    lid = feemu.add_listener("v3")["id"]
    # a run watched with ps while it works (-v: debug output too)
    e = dict(elb.env)
    args = [str(elb.bin), "-v", "elb", "renew", "--listener", lid, "-d", "ps.example.test",
            "--server", pebble.directory, "--ca-file", pebble.ca_file, "--agree-tos",
            "--resolver", challtestsrv.dns_addr]
    p = subprocess.Popen(args, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    listings = []
    while p.poll() is None:
        listings.append(subprocess.run(["ps", "-eo", "args"], stdout=subprocess.PIPE,
                                       text=True).stdout)
        time.sleep(0.05)
    out, err = p.communicate()
    assert p.returncode == 0, err
    elb.outputs += [out, err]
    # failures of every kind, verbose
    elb.run("renew", "--listener", lid, "-d", "ps.example.test", env={"FE_PASSWORD": "x"})
    elb.run("status", "--json", env={"FE_SECRET_KEY": feemu.sk + "x", "FE_ACCESS_KEY": feemu.ak})
    elb.run("status", env={"FE_ACCESS_KEY": feemu.ak, "FE_SECRET_KEY": feemu.sk,
                           "FE_PASSWORD": "", "FE_USERNAME": ""})
    feemu.fault(method="PUT", path="/elb/listeners/", action="status", status=500, count=5)
    elb.renew(lid, "ps.example.test", extra=["--force"])
    st = feemu.state()
    secrets = [feemu.password, feemu.sk] + st["token_values"]
    for c in st["certs"]["v3"].values():
        secrets.append("".join(c["private_key"].splitlines()[1:3]))
    files = [f.read_text(errors="replace") for f in (tmp_path / "state").rglob("*") if f.is_file()]
    haystacks = elb.outputs + listings + files
    assert len(st["token_values"]) >= 2
    for s in secrets:
        assert s and len(s) > 10
        for h in haystacks:
            assert s not in h


def test_zone_choice_longest_suffix_or_given(elb, feemu):
    sub = feemu.add_zone("sub.example.test")["id"]
    lid = feemu.add_listener("v3")["id"]
    feemu.reset_log()
    elb.renew(lid, "a.sub.example.test", check=0)
    writes = [e["path"] for e in feemu.state()["log"] if e["method"] == "POST" and "recordsets" in e["path"]]
    assert writes == ["/v2/zones/%s/recordsets" % sub]
    # --dns-zone: the given zone, checked to hold the name
    top = feemu.zone_id("example.test")
    feemu.reset_log()
    # (a name not validated before: Pebble reuses valid authorizations at random,
    # PEBBLE_AUTHZREUSE, and then no TXT record would be needed)
    elb.renew(lid, "b.sub.example.test", extra=["--force", "--dns-zone", top], check=0)
    writes = [e["path"] for e in feemu.state()["log"] if e["method"] == "POST" and "recordsets" in e["path"]]
    assert writes == ["/v2/zones/%s/recordsets" % top]
    r = elb.renew(lid, "www.other.test", extra=["--dns-zone", top], check=1)
    assert "not inside the DNS zone" in json.loads(r.stdout)["detail"]
    # a zone delegated for the challenge name itself is the longest suffix
    deleg = feemu.add_zone("_acme-challenge.deleg.example.test")["id"]
    feemu.reset_log()
    elb.renew(lid, "deleg.example.test", check=0)
    writes = [e["path"] for e in feemu.state()["log"] if e["method"] == "POST" and "recordsets" in e["path"]]
    assert writes == ["/v2/zones/%s/recordsets" % deleg]


def test_fe_error_codes_surface_and_nothing_is_left(bins, feemu, pebble, challtestsrv, tmp_path):
    elb = Elb(bins, feemu, pebble, challtestsrv, tmp_path)
    lid = feemu.add_listener("v3")["id"]
    feemu.fault(method="POST", path="/recordsets$", action="status", status=400, count=1,
                body={"code": "DNS.0308",
                      "message": "Attribute 'records' is invalid, records is null or empty."})
    r = elb.renew(lid, "e.example.test", check=1)
    out = json.loads(r.stdout)
    assert out["code"] == "FE_API_ERROR" and "DNS.0308" in out["detail"], out
    assert feemu.state()["zones"][feemu.zone_id("example.test")]["recordsets"] == {}
    # a wrong secret key: APIGW.0301, FE_AUTH
    aksk = Elb(bins, feemu, pebble, challtestsrv, tmp_path, auth="aksk")
    r = aksk.run("status", "--listener", lid, env={"FE_SECRET_KEY": "not-the-" + feemu.sk}, check=1)
    assert "FE_AUTH" in r.stderr and "APIGW.0301" in r.stderr and feemu.sk not in r.stderr


def test_renew_sni_then_not_due(elb, feemu, tmp_path):
    c, k = _pair(tmp_path, "d", ("default.example.test",))
    lid = feemu.add_listener("v3")["id"]
    d = json.loads(elb.run("deploy", "--listener", lid, "--cert", c, "--key", k, "--json",
                           check=0).stdout)["certificate_id"]
    out = json.loads(elb.renew(lid, "sni.example.test", "a-sni.example.test", extra=["--sni"], check=0).stdout)
    L = feemu.state()["listeners"]["v3"][lid]
    assert L["default_tls_container_ref"] == d and L["sni_container_refs"] == [out["certificate_id"]]
    assert json.loads(elb.renew(lid, "sni.example.test", "a-sni.example.test", extra=["--sni"], check=2).stdout)["outcome"] \
        == "unchanged"
    out2 = json.loads(elb.renew(lid, "sni.example.test", "a-sni.example.test", extra=["--sni", "--force"], check=0).stdout)
    L = feemu.state()["listeners"]["v3"][lid]
    assert L["sni_container_refs"] == [out2["certificate_id"]] and out2["deleted"] == [out["certificate_id"]]
    assert set(feemu.state()["certs"]["v3"]) == {d, out2["certificate_id"]}


def test_due_rule_reads_the_certificate_on_the_listener(elb, feemu, tmp_path):
    """A certificate from another CA (Pebble's ARI does not know it): the 1/3-lifetime
    rule decides; one that does not cover the names is renewed at once."""
    c, k = _pair(tmp_path, "f", ("f.example.test", "g.example.test"))
    lid = feemu.add_listener("v3")["id"]
    elb.run("deploy", "--listener", lid, "--cert", c, "--key", k, check=0)
    out = json.loads(elb.renew(lid, "f.example.test", "g.example.test", check=2).stdout)
    assert out["outcome"] == "unchanged" and 28 <= out["daysLeft"] <= 30
    out = json.loads(elb.renew(lid, "f.example.test", "h.example.test", check=0).stdout)
    assert out["outcome"] == "changed"


def test_token_expiring_on_the_server_mid_run(elb, feemu):
    """The token really expires while a request is on its way (the emulator checks
    it after a slow start): FE answers 401, one new token, the run succeeds."""
    lid = feemu.add_listener("v3")["id"]
    feemu.fault(method="GET", path="/recordsets$", action="slow", delay=3, count=1)
    e = dict(elb.env)
    p = subprocess.Popen([str(elb.bin), "elb", "renew", "--listener", lid, "-d", "x.example.test",
                          "--server", elb.pebble.directory, "--ca-file", elb.pebble.ca_file,
                          "--agree-tos", "--resolver", elb.cts.dns_addr, "--json"],
                         env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cfutil.wait_for(lambda: feemu.state()["faults"][0].get("hits") == 1, 60, "the slow request")
    feemu.expire_tokens()
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    log = feemu.state()["log"]
    assert [e["status"] for e in log if e["path"].endswith("/recordsets")
            and e["method"] == "GET"][:2] == [401, 200]
    assert len([e for e in log if e["path"] == "/v3/auth/tokens"]) == 2


class NsProxy:
    """The zone's "authoritative" name server on ADDR:53 (also the system resolver
    of a private mount namespace): answers NS for ZONE with ns1.ZONE, relays every
    other query to challtestsrv, and logs (name, type) of each query."""

    def __init__(self, addr, zone, upstream):
        import socket
        import threading
        self.zone, self.upstream, self.log = zone.rstrip("."), upstream, []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((addr, 53))
        self.sock.settimeout(0.2)
        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _answer_ns(self, msg, qend):
        import struct
        rdata = cfutil._encode_name("ns1." + self.zone)
        flags = 0x8400 | (struct.unpack(">H", msg[2:4])[0] & 0x0100)
        return (msg[:2] + struct.pack(">HHHHH", flags, 1, 1, 0, 0) + msg[12:qend] +
                struct.pack(">HHHIH", 0xC00C, 2, 1, 60, len(rdata)) + rdata)

    def _relay(self, msg):
        import socket
        host, port = self.upstream.rsplit(":", 1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(2)
            s.sendto(msg, (host, int(port)))
            return s.recv(65535)

    def _serve(self):
        import socket
        import struct
        while not self.stopped:
            try:
                msg, peer = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            name, off = cfutil._read_name(msg, 12)
            qtype = struct.unpack(">H", msg[off:off + 2])[0]
            self.log.append((name.rstrip(".").lower(), qtype))
            try:
                reply = self._answer_ns(msg, off + 4) if qtype == 2 and \
                    name.rstrip(".").lower() == self.zone else self._relay(msg)
                self.sock.sendto(reply, peer)
            except OSError:
                pass

    def close(self):
        self.stopped = True
        self.thread.join()
        self.sock.close()


def test_renew_waits_for_the_zones_authoritative_servers(elb, feemu, pebble, challtestsrv, tmp_path):
    """Without --resolver: the zone's NS through the system resolver, then the TXT
    asked of those servers themselves.  /etc/resolv.conf is replaced in a private
    mount namespace only (unshare -m), so the machine's resolver is untouched."""
    addr, name = "127.0.0.153", "authns.example.test"
    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("no private mount namespace here (unshare -m needs CAP_SYS_ADMIN)")
    proxy = NsProxy(addr, "example.test", challtestsrv.dns_addr)
    try:
        challtestsrv.add_a("ns1.example.test", addr)
        resolv = tmp_path / "resolv.conf"
        resolv.write_text("nameserver %s\n" % addr)
        lid = feemu.add_listener("v3")["id"]
        args = ["renew", "--listener", lid, "--server", pebble.directory, "--ca-file", pebble.ca_file,
                "--agree-tos", "--dns-timeout", "20", "--json", "-d", name]
        r = subprocess.run(["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/resolv.conf && exec "$@"',
                            str(resolv), str(elb.bin), "elb", *map(str, args)], env=elb.env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        assert json.loads(r.stdout)["outcome"] == "changed"
    finally:
        proxy.close()
    assert ("example.test", 2) in proxy.log, proxy.log                 # NS of the zone
    assert ("ns1.example.test", 1) in proxy.log, proxy.log             # its address
    assert ("_acme-challenge." + name, 16) in proxy.log, proxy.log     # TXT asked of it
    assert sans(listener_cert(feemu, "v3", lid)["certificate"]) == [name]


def test_renew_foreign_authorization_adds_no_txt_record(bins, feemu, pebble, challtestsrv, tmp_path):
    """Issue 14 item 3: a hostile CA answers the order for hostile.example.test
    with an authorization for victim.example.test (inside the FE zone):
    CA_ERROR, no recordset written in FE DNS, no challenge answered, listener
    untouched."""
    from test_hostile import AcmeDouble, DOMAIN
    ca = AcmeDouble(tmp_path / "double", "authz_foreign_zone")
    try:
        elb = Elb(bins, feemu, pebble, challtestsrv, tmp_path)
        lid = feemu.add_listener("v3")["id"]
        feemu.reset_log()
        r = elb.run("renew", "--listener", lid, "--server", ca.directory, "--ca-file", ca.ca_file,
                    "--agree-tos", "--resolver", challtestsrv.dns_addr, "--dns-timeout", "2",
                    "--json", "-d", DOMAIN)
        assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)   # elb: 1 on failure
        out = json.loads(r.stdout)
        assert out["code"] == "CA_ERROR" and "victim.example.test" in out["detail"], out
        st = feemu.state()
        assert not [e for e in st["log"] if "recordsets" in e["path"] and e["method"] != "GET"], \
            st["log"]
        assert st["zones"][feemu.zone_id("example.test")]["recordsets"] == {}
        assert not [q for q in ca.requests if q[1].startswith("/chall")], ca.requests
        assert listener_cert(feemu, "v3", lid) is None
    finally:
        ca.stop()


def test_cron_install_refuses_a_user_that_is_not_a_name(elb, tmp_path):
    """Issue 14 item 7: --user is the cron line's sixth field; a newline in it
    injected a line of its own (here: a root job), a space or a '%' changed the
    command.  Refused with INVALID_INPUT, nothing written."""
    cron = tmp_path / "cron.d" / "certfleet-elb"
    cron.parent.mkdir()
    bad = ["root\n* * * * * root touch /tmp/pwned", "root touch /tmp/x", "ro%ot", "", "-root",
           "r" * 33, "root\r", "ro$ot", "ro'ot", "../root"]
    for u in bad:
        r = elb.run("cron", "install", "--cron-file", cron, "--user", u, "--",
                    "-d", "www.example.test", "--listener", "abc")
        assert r.returncode == 1 and "INVALID_INPUT" in r.stderr, (u, r.stdout, r.stderr)
        assert "\n* * * * *" not in r.stderr
        assert not cron.exists(), (u, cron.read_text())
    for u in ("certfleet", "www-data", "svc.elb", "_acme", "host$"):
        elb.run("cron", "install", "--cron-file", cron, "--user", u, "--",
                "-d", "www.example.test", "--listener", "abc", check=0)
        line = [ln for ln in cron.read_text().splitlines() if " elb renew " in ln][0]
        assert line.split()[5] == u
