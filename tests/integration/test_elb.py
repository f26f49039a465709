"""certfleet elb against the FE API emulator (feemu.py) and a real Pebble: DNS-01
through FE DNS (TXT served by challtestsrv, which Pebble queries), certificate
upload and listener rotation on ELB v3 and v2.0, renewal only when due, fault
handling, and no secret in any output."""

import json
import os
import subprocess
import ssl
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
