"""Issue 14 item 4: the network process ran as uid 65534, shared with every
other "nobody" daemon, and the agent waited on it for ever: any nobody
process could SIGSTOP it and the run hung holding the lineage lock (cron
runs then got ALREADY_PENDING).

During a real DNS-01 issuance against Pebble, an auth hook (run by the agent
while the network process is alive) finds the certfleet-net child, tries to
signal it from a process running as 65534, then stops it from a process
running as the child's own uid (what a compromised peer sharing the uid
would do).  The agent must end the run with NETWORK_ERROR at once (it looks
for a stopped child while it waits, and every exchange has a deadline),
kill and reap the child, and release the lock: the next run issues.
"""
import json
import os
import sys
import textwrap
import time

import pytest

from test_issue import Agent

NETWORK_ERROR = 77

not_under_valgrind = pytest.mark.skipif(os.environ.get("CERTFLEET_VALGRIND") == "1",
                                        reason="inspects the processes; valgrind replaces them")

HOOK = textwrap.dedent(r'''
    import json, os, signal, sys, time

    def comm(pid):
        try:
            return open("/proc/%d/comm" % pid).read().strip()
        except OSError:
            return ""

    def stat_fields(pid):
        s = open("/proc/%d/stat" % pid).read()
        return s[s.rindex(")") + 2:].split()

    def ids(pid, key):
        for line in open("/proc/%d/status" % pid):
            if line.startswith(key + ":"):
                return [int(x) for x in line.split()[1:]]

    def as_id(uid, gid, fn):
        """Run fn in a child that became uid/gid; its exit: 0 done, 13 EPERM."""
        pid = os.fork()
        if pid == 0:
            try:
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)
                fn()
                os._exit(0)
            except PermissionError:
                os._exit(13)
            except BaseException:
                os._exit(1)
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

    out = sys.argv[1]
    agent = os.getpid()
    while comm(agent) != "certfleet-agent":
        agent = int(stat_fields(agent)[1])
    [net] = [int(p) for p in os.listdir("/proc") if p.isdigit()
             and comm(int(p)) == "certfleet-net" and int(stat_fields(int(p))[1]) == agent]
    uid, gid = ids(net, "Uid"), ids(net, "Gid")
    rec = {"agent": agent, "net": net, "uid": uid, "gid": gid}
    rec["nobody_signal"] = as_id(65534, 65534, lambda: os.kill(net, 0))
    rec["peer_stop"] = as_id(uid[0], gid[0], lambda: os.kill(net, signal.SIGSTOP))
    if rec["peer_stop"] != 0:
        os.kill(net, signal.SIGSTOP)        # root stops it: the deadline must still hold
    while stat_fields(net)[0] != "T":
        time.sleep(0.01)
    rec["stopped_at"] = time.time()
    with open(out, "w") as f:
        json.dump(rec, f)
''')


@not_under_valgrind
def test_stopped_network_process_ends_the_run(bins, tmp_path, pebble, challtestsrv):
    if os.geteuid() != 0:
        pytest.skip("needs root (the network process changes uid only then)")
    agent = Agent(bins, tmp_path / "root", pebble, challtestsrv)
    script = tmp_path / "stop.py"
    script.write_text(HOOK)
    seen = tmp_path / "seen.json"
    hook = "%s %s %s" % (sys.executable, script, seen)
    r = agent.run("issue", "-d", "stop.example.test", "--preferred-challenges", "dns-01",
                  "--manual-auth-hook", hook, "--dns-timeout", "60", "--json",
                  *agent.ca_args(), timeout=90)
    ended = time.time()
    rec = json.loads(seen.read_text())
    # its own uid and gid, not nobody's; a nobody process cannot signal it
    assert rec["uid"] == [rec["uid"][0]] * 4 and rec["gid"] == rec["uid"], rec
    assert rec["uid"][0] not in (0, 65534), rec
    assert rec["nobody_signal"] == 13, rec
    # stopped: the run ends at once with NETWORK_ERROR, not at --dns-timeout
    out = json.loads(r.stdout)
    assert r.returncode == NETWORK_ERROR and out["code"] == "NETWORK_ERROR", r.stdout + r.stderr
    assert "stopped" in out["detail"], out
    assert ended - rec["stopped_at"] < 10, (ended - rec["stopped_at"], rec)
    # killed and reaped
    with pytest.raises(ProcessLookupError):
        os.kill(rec["net"], 0)
    # the lineage lock is free: the next run issues
    r = agent.issue("stop.example.test", extra=["--json"])
    assert r.returncode == 0 and json.loads(r.stdout)["code"] == "OK", r.stdout + r.stderr
