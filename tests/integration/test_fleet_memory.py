"""The controller's memory stays bounded whatever -j is (issue 16 item 9's
follow-up): every running host's captured output counts against one budget
(SSH_OUTPUT_BUDGET, certfleet(1) under -j), so a fleet of hosts that all send
nearly the per-host stdout cap at once costs at most that, not -j times the cap.

Hundreds of inventory hosts on a few real sshd whose ForceCommand writes just
under the 1 MiB stdout cap and then holds the session open: without the budget
each one's buffer is held at once (about 1 MiB a host).  Beside them, healthy
hosts whose real agent reports hundreds of certificates are run last, when the
budget is taken: their output must arrive whole.
"""

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import cfutil

_SLOW = 2 if os.environ.get("CERTFLEET_SANITIZERS") else 1
TIMEOUT = 20 * _SLOW           # --timeout: hundreds of handshakes on a busy 2-core machine
COMMAND_TIMEOUT = 40 * _SLOW
FLOODERS = 448                 # about 450 MiB of buffers at once without the budget
# seconds each flooder holds its output before it exits: longer than the
# handshakes with all of them take, so that every buffer is held at once
HOLD = 10 * _SLOW
HEALTHY = 3
CERTS = 300                    # lineages on each healthy host (about 175 KB of status JSON)
# the budget (256 MiB) plus what 451 connections cost at rest (about 0.13
# MiB each, measured: 43 MiB for 323), with room; without the budget the
# run took about 500 MiB
RSS_LIMIT_KIB = 400 * 1024

FLOOD = "#!/bin/sh\nhead -c 1040000 /dev/zero | tr '\\0' x\nexec sleep %d\n" % HOLD

STATE = {"version": 1, "status": "active", "expiry": 1804212539,
         "issuer": "Pebble Intermediate CA 4cce54", "serial": "1b8d4181c046d616",
         "lastAttempt": 1796436540, "nextRenewal": 1801620540, "notBefore": 0,
         "ariNextCheck": 0, "revokedSerial": "", "alarm": False, "lastSuccess": 1796436541,
         "consecutiveFailures": 0, "notified": 0}


def healthy_prefix(d, agent):
    """A host whose agent keeps CERTS lineages (state records as the agent writes
    them; every other one with a CA error on record)."""
    state = d / "var/lib/certfleet/state"
    state.mkdir(parents=True)
    for i in range(CERTS):
        name = "site%03d.shop-%03d.example.com" % (i, i)
        rec = dict(STATE, domains=[name, "www." + name], failures=[1796436540] * (i % 2 * 3),
                   lastError={"code": "CA_ERROR", "detail": "urn:ietf:params:acme:error:"
                              "rateLimited: too many certificates (5) already issued for this "
                              "exact set of identifiers in the last 168h0m0s",
                              "hint": "retry later"} if i % 2 else None)
        (state / (name + ".json")).write_text(json.dumps(rec))
    path = d / "usr/local/bin/certfleet-agent"
    path.parent.mkdir(parents=True)
    path.write_bytes(agent)
    os.chmod(path, 0o755)


def test_many_hosts_flooding_at_once_stay_within_the_budget(bins, sshd_factory, tmp_path_factory):
    d = Path(tempfile.mkdtemp(prefix="cf-memory-", dir=tmp_path_factory.getbasetemp()))
    flood = d / "flood.sh"
    flood.write_text(FLOOD)
    os.chmod(flood, 0o755)
    servers = sshd_factory.many(6, first_host=180, extra_config="ForceCommand %s" % flood)
    good = sshd_factory(host="127.0.0.186")
    agent = Path(bins.need_agent()).read_bytes()
    lines = ["[fleet]"]
    for i in range(FLOODERS):
        s = servers[i % len(servers)]
        lines.append("flood%03d ansible_host=%s ansible_port=%d ansible_user=root"
                     % (i, s.host, s.port))
    for i in range(HEALTHY):
        healthy_prefix(d / ("ok%d" % i), agent)
        lines.append("ok%d ansible_host=%s ansible_port=%d ansible_user=root certfleet_prefix=%s"
                     % (i, good.host, good.port, d / ("ok%d" % i)))
    inv = d / "inventory"
    inv.write_text("\n".join(lines) + "\n")
    kh = d / "known_hosts"
    kh.write_text("".join(s.known_hosts_line("ecdsa") for s in servers + [good]))

    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    env.update({"HOME": str(d / "home"), "XDG_STATE_HOME": str(d / "state")})
    (d / "home").mkdir()
    rss = d / "rss"
    t0 = time.monotonic()
    # the default -j (512): every host at once; peak RSS from GNU time (a child
    # of this Python process would inherit the interpreter's high-water mark)
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss, bins.need_controller(),
                        "-i", inv, "--known-hosts", kh, "--identity", sshd_factory.client_key.path,
                        "--timeout", str(TIMEOUT), "--command-timeout", str(COMMAND_TIMEOUT),
                        "--json", "status"], env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=COMMAND_TIMEOUT + 60)
    secs = time.monotonic() - t0
    peak = int(rss.read_text().split()[-1])
    print("status of %d flooding + %d healthy hosts: %.1f s, peak RSS %d KiB"
          % (FLOODERS, HEALTHY, secs, peak))
    assert p.returncode == 1, p.stderr[-2000:]
    h = {x["host"]: x for x in json.loads(p.stdout)["hosts"]}
    assert len(h) == FLOODERS + HEALTHY
    for i in range(HEALTHY):
        e = h["ok%d" % i]
        assert e["ok"], e["error"]
        assert len(e["agent"]["certificates"]) == CERTS
    budget = 0
    for i in range(FLOODERS):
        e = h["flood%03d" % i]["error"]
        assert e["code"] == "BAD_AGENT_OUTPUT", e
        if "output budget" in e["detail"]:
            budget += 1
            assert "256 MiB" in e["detail"] and "bytes" in e["detail"], e
    print("%d flooders stopped by the budget" % budget)
    assert budget > 0
    # under ASan the shadow memory and quarantine are the sanitizer's
    if "asan" not in str(bins.need_controller()):
        assert peak < RSS_LIMIT_KIB, peak
