"""Issue 14 item 8: `status` never makes a concurrent `issue` fail with
ALREADY_PENDING.  It used to take the lineage's lock (and write its pid into
the lock file) to see whether a run was active; now it looks the lock up in
/proc/locks without taking it.

strace slows status down where it matters: every flock and pwrite it makes
waits 3 s (the old status then held the lock all that time) and every openat
0.3 s, open too (so the new status is still running when issue starts).  issue --force
started while status runs must install a new certificate."""
import os
import subprocess
import time

from test_issue import Agent

DOMAIN = "statuslock.example.test"


def test_issue_while_status_runs(bins, tmp_path, pebble, challtestsrv):
    a = Agent(bins, tmp_path / "root", pebble, challtestsrv)
    a.issue(DOMAIN, check=0)
    serial = a.status(DOMAIN)[0]["state"]["serial"]
    t0 = time.monotonic()
    st = subprocess.Popen(["strace", "-o", str(tmp_path / "strace.out"),
                           "-e", "trace=flock,pwrite64,open,openat",
                           "-e", "inject=flock,pwrite64:delay_exit=3000000",
                           "-e", "inject=open,openat:delay_exit=1000000",
                           str(a.bin), "--prefix", str(a.prefix), "status", "-d", DOMAIN],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          # LeakSanitizer cannot run under ptrace (the asan build)
                          env=dict(os.environ, LSAN_OPTIONS="detect_leaks=0",
                                   ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") +
                                   ":detect_leaks=0"))
    try:
        # the old status had the lock from its third open (about 3 s) for 6 s;
        # the new one is reading /proc/locks and then nginx's record by then
        time.sleep(3.5)
        assert st.poll() is None, "status ended before issue started"
        issue = subprocess.Popen([str(a.bin), "--prefix", str(a.prefix), "issue", "-d", DOMAIN,
                                  "--standalone", "--http-port", str(pebble.http_port),
                                  *a.ca_args(), "--force"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        overlap = st.poll() is None
        iout, ierr = issue.communicate(timeout=120)
    finally:
        out, err = st.communicate(timeout=60)
    print("status took %.1f s" % (time.monotonic() - t0))
    assert issue.returncode == 0, (issue.returncode, iout, ierr)
    assert overlap, "status ended within 0.5 s of issue's start; the test proved nothing"
    assert st.returncode == 0, err
    assert DOMAIN in out
    assert a.status(DOMAIN)[0]["state"]["serial"] != serial
    trace = (tmp_path / "strace.out").read_text()
    assert "flock(" not in trace and "pwrite64(" not in trace, trace


def test_status_still_sees_a_running_run(bins, tmp_path):
    """The lock looked up in /proc/locks: a "pending" record whose lock a run
    holds stays pending; without a holder it is a killed run's leftover."""
    import fcntl
    import json
    import os
    prefix = tmp_path / "root"
    (prefix / "var/lib/certfleet/state").mkdir(parents=True)
    (prefix / "var/lib/certfleet/locks").mkdir(parents=True)
    (prefix / "var/lib/certfleet/state" / (DOMAIN + ".json")).write_text(
        json.dumps({"status": "pending", "domains": [DOMAIN]}))
    lock = prefix / "var/lib/certfleet/locks" / (DOMAIN + ".lock")

    def status():
        r = subprocess.run([str(bins.need_agent()), "--prefix", str(prefix), "status", "--json"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r
        return json.loads(r.stdout)["certificates"][0]["state"]["sslStatus"]

    with open(lock, "w") as f:
        assert status() == "none"
        fcntl.flock(f, fcntl.LOCK_EX)
        assert status() == "pending"
        fcntl.flock(f, fcntl.LOCK_UN)
    os.unlink(lock)
    assert status() == "none"
    assert not lock.exists()      # status creates nothing
