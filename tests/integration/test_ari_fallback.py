"""The ARI "replaces" fallback (agent/issue.c run_acme): a renewal names the
certificate it succeeds ("replaces", RFC 9773); a CA that refuses the order
for it is asked once more without it, with one warning.  Real Pebble 2.6,
no stand-in for the CA: each refusal below is one Pebble really gives.

Why it matters: Pebble 2.6 itself answers HTTP 500 "could not find order
resulting in the given certificate serial number" to a correct "replaces"
for one certificate in about 256 it issues (it stores the serial as
big.Int.Bytes() and looks it up as the DER bytes the client sends, sign byte
included: letsencrypt/pebble#550); that was test_renew's flake.  Let's
Encrypt refuses "replaces" for a certificate already replaced (409), or one
issued to another account (403 unauthorized).
"""
import hashlib
import json
import os
import shutil

import pytest

from cfutil import wait_for
from test_issue import Agent, openssl

WARNING = 'the CA refused "replaces"'
NEW_ORDER = "POST /order-plz"


@pytest.fixture
def agent(bins, tmp_path, pebble, challtestsrv):
    return Agent(bins, tmp_path / "a", pebble, challtestsrv)


def serial_of(agent, lineage):
    return openssl("x509", "-in", str(agent.live(lineage, "cert.pem")), "-noout",
                   "-serial").stdout.strip().split("=")[1].lower()


def etc_digest(agent):
    """Every file and link under etc/certfleet: certificates, keys, settings."""
    out = {}
    for p in sorted((agent.prefix / "etc/certfleet").rglob("*")):
        if p.is_symlink():
            out[str(p)] = os.readlink(p)
        elif p.is_file():
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def renew_forced(agent, lineage, check):
    return agent.run("-v", "renew", "-d", lineage, "--force", "--json", check=check)


def log_since(pebble, mark):
    return pebble.log_text()[mark:]


def test_replaces_of_an_already_replaced_certificate_is_retried_without_it(agent, bins, tmp_path):
    # A second server holding a copy of the same lineage and account (or a
    # backup restored after a renewal): once one copy has renewed, the CA
    # refuses the other's "replaces" (Pebble: 409 "already has a
    # replacement order").
    ln = "shared.example.test"
    agent.issue(ln, check=0)
    first = serial_of(agent, ln)
    shutil.copytree(agent.prefix, tmp_path / "b", symlinks=True)
    other = Agent(bins, tmp_path / "b", agent.pebble, agent.cts)
    r = renew_forced(agent, ln, check=0)
    assert WARNING not in r.stderr or "could not find order" in r.stderr, r.stderr
    if WARNING not in r.stderr:
        # Pebble marks the replaced order once it has issued, in a goroutine
        # of its own after the order turned valid: wait for it
        wait_for(lambda: "has been marked as replaced" in agent.pebble.log_text(), 10,
                 "Pebble marking %s replaced" % first)
    mark = len(agent.pebble.log_text())
    r = renew_forced(other, ln, check=0)
    assert json.loads(r.stdout)["results"][0]["outcome"] == "renewed", r.stdout
    assert r.stderr.count(WARNING) == 1, r.stderr
    # the refusal's own words are in the warning (the 500 is pebble#550)
    assert ("already has a replacement order" in r.stderr or
            "could not find order" in r.stderr), r.stderr
    theirs = serial_of(other, ln)
    assert theirs not in (first, serial_of(agent, ln))
    log = log_since(agent.pebble, mark)
    # one order refused with "replaces", one created without it
    assert log.count(NEW_ORDER) == 2, log
    assert log.count("Added order") == 1 and "is a replacement of" not in log, log
    assert "Issued certificate serial %s " % theirs in log, log
    st = other.status(ln)[0]["state"]
    assert st["sslStatus"] == "active" and st["lastError"] is None


def test_replaces_refused_for_a_new_account_is_retried_without_it(agent):
    # The account is new (its directory was lost, the server reinstalled
    # with /etc/certfleet kept): the CA refuses to let another account's
    # order replace the certificate (Pebble and Let's Encrypt: 403
    # unauthorized), which is no reason to leave the certificate to expire.
    ln = "newacct.example.test"
    agent.issue(ln, check=0)
    first = serial_of(agent, ln)
    shutil.rmtree(agent.prefix / "var/lib/certfleet/accounts")
    mark = len(agent.pebble.log_text())
    r = renew_forced(agent, ln, check=0)
    assert r.stderr.count(WARNING) == 1, r.stderr
    assert ("did not request the certificate being replaced" in r.stderr or
            "could not find order" in r.stderr), r.stderr
    assert serial_of(agent, ln) != first
    log = log_since(agent.pebble, mark)
    assert log.count("POST /sign-me-up") == 1, log   # the new account
    assert log.count(NEW_ORDER) == 2 and log.count("Added order") == 1, log
    assert "is a replacement of" not in log, log


def test_fallback_refused_too_fails_cleanly(agent):
    # The CA lost its state (Pebble restarted at the same address: new
    # issuing CA, no accounts): the order with "replaces" is refused, the
    # one without it too; the run fails with the CA's error and its code,
    # and nothing live changes.
    ln = "lost.example.test"
    agent.issue(ln, check=0)
    first = serial_of(agent, ln)
    before = etc_digest(agent)
    agent.pebble.restart()
    mark = len(agent.pebble.log_text())
    r = renew_forced(agent, ln, check=71)      # CA_ERROR's exit status
    assert r.stderr.count(WARNING) == 1, r.stderr
    res = json.loads(r.stdout)["results"][0]
    assert res["outcome"] == "failed" and res["code"] == "CA_ERROR", res
    assert "accountDoesNotExist" in res["detail"], res
    log = log_since(agent.pebble, mark)
    assert log.count(NEW_ORDER) == 2 and "Added order" not in log, log
    assert etc_digest(agent) == before
    assert serial_of(agent, ln) == first
    st = agent.status(ln)[0]["state"]
    assert st["sslStatus"] == "active" and st["lastError"]["code"] == "CA_ERROR"
