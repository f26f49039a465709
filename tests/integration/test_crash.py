"""Crash safety of issue/install: the agent killed at every write step, a full
disk, a read-only file system.

The kills use the test-only fault points (cf_fault() in common/fault.c,
compiled in by VARIANT=debug and VARIANT=asan only): CERTFLEET_FAULT=NAME@N
makes the agent SIGKILL itself the N-th time it reaches NAME.  For every
point, N counts up until a run no longer reaches it; after each kill the live
certificate and key still match, the state file parses, nginx -t passes and
nginx, reloaded, serves the live certificate.

The agent with fault points: CERTFLEET_FAULT_BIN_DIR (default build/debug;
`make check-faults` builds it and runs this file).  Disk-full and read-only
cases mount a small tmpfs and need root.
"""
import errno
import json
import os
import ssl
import subprocess
from pathlib import Path

import pytest

from cfutil import IS_ROOT

ROOT = Path(__file__).resolve().parents[2]
POINTS = ["atomic_write", "atomic_fsync", "atomic_rename", "install_file",
          "install_tmpdir", "install_archived", "live_symlink", "live_switch"]
IO_ERROR = 80
DOMAIN = "crash.example.test"


@pytest.fixture(scope="module")
def fault_bin():
    d = Path(os.environ.get("CERTFLEET_FAULT_BIN_DIR") or ROOT / "build/debug")
    b = d / "certfleet-agent"
    if not (b.is_file() and os.access(b, os.X_OK)):
        pytest.skip("%s not built: make VARIANT=debug build/debug/certfleet-agent "
                    "(or make check-faults)" % b)
    return b


class Agent:
    def __init__(self, binary, prefix, pebble, cts):
        self.bin, self.prefix, self.pebble, self.cts = binary, Path(prefix), pebble, cts

    def run(self, *args, env=None, timeout=120):
        return subprocess.run([str(self.bin), "--prefix", str(self.prefix), *args],
                              capture_output=True, text=True, timeout=timeout,
                              env=dict(os.environ, **(env or {})))

    def issue(self, *extra, env=None):
        return self.run("issue", "-d", DOMAIN, "--standalone", "--http-port",
                        str(self.pebble.http_port), "--server", self.pebble.directory,
                        "--ca-file", str(self.pebble.ca_file), "--resolver",
                        self.cts.dns_addr, "--agree-tos", *extra, env=env)

    def live(self, f):
        return self.prefix / "etc/certfleet/live" / DOMAIN / f

    def live_files(self):
        return {f: self.live(f).read_bytes()
                for f in ("cert.pem", "chain.pem", "fullchain.pem", "privkey.pem")}


def openssl(*args):
    return subprocess.run(["openssl", *args], capture_output=True, text=True)


def pem_to_der(pem):
    return ssl.PEM_cert_to_DER_cert(pem)


def check_consistent(agent, nginx=None, what=""):
    """The live set is whole and matching; the state record parses."""
    pub_cert = openssl("x509", "-in", str(agent.live("cert.pem")), "-noout", "-pubkey").stdout
    pub_key = openssl("pkey", "-in", str(agent.live("privkey.pem")), "-pubout").stdout
    assert pub_cert and pub_cert == pub_key, "live cert and key differ " + what
    cert = agent.live("cert.pem").read_text()
    assert agent.live("fullchain.pem").read_text().startswith(cert), what
    state = agent.prefix / "var/lib/certfleet/state" / (DOMAIN + ".json")
    json.loads(state.read_text())
    r = agent.run("status", "--json", "-d", DOMAIN)
    assert r.returncode == 0, r.stderr
    [st] = json.loads(r.stdout)["certificates"]
    assert st["state"]["sslStatus"] == "active", (what, st)
    if nginx is not None:
        nginx.reload()                      # runs nginx -t first
        served = ssl.get_server_certificate(("127.0.0.1", nginx.port), timeout=5)
        assert pem_to_der(served) == pem_to_der(cert), "nginx serves another cert " + what


def test_kill_at_every_fault_point(fault_bin, tmp_path, pebble, challtestsrv, nginx_factory):
    agent = Agent(fault_bin, tmp_path / "root", pebble, challtestsrv)
    r = agent.issue()
    assert r.returncode == 0, r.stderr
    live = agent.prefix / "etc/certfleet/live" / DOMAIN
    nginx = nginx_factory(servers="server { listen 127.0.0.1:@PORT@ ssl; "
                          "ssl_certificate %s/fullchain.pem; ssl_certificate_key %s/privkey.pem; }"
                          % (live, live))
    check_consistent(agent, nginx, "after the first issue")
    kills = {}
    for point in POINTS:
        n = 1
        while True:
            assert n < 30, "%s reached more than 30 times in one run?" % point
            r = agent.issue("--force", env={"CERTFLEET_FAULT": "%s@%d" % (point, n)})
            if r.returncode == -9:
                check_consistent(agent, nginx, "after a kill at %s@%d" % (point, n))
                n += 1
                continue
            assert r.returncode == 0, "run with %s@%d: %d\n%s" % (point, n, r.returncode, r.stderr)
            check_consistent(agent, nginx, "after a whole run (%s@%d unreached)" % (point, n))
            break
        kills[point] = n - 1
    print("fault points killed:", kills)
    assert all(kills[p] >= 1 for p in POINTS), \
        "points never reached (agent built without -DCF_FAULTS?): %s" % kills
    # the completed runs cleaned up the killed installs' and writes' leftovers
    leftovers = [str(p.relative_to(agent.prefix)) for p in agent.prefix.rglob("*")
                 if ".tmp" in p.name]
    assert leftovers == [], leftovers


def test_killed_atomic_writes_leave_no_temp_files(fault_bin, tmp_path, pebble, challtestsrv):
    agent = Agent(fault_bin, tmp_path / "root", pebble, challtestsrv)
    assert agent.issue().returncode == 0
    r = agent.issue("--force", env={"CERTFLEET_FAULT": "atomic_fsync@1"})
    assert r.returncode == -9
    assert agent.issue("--force").returncode == 0
    stale = [str(p.relative_to(agent.prefix)) for p in agent.prefix.rglob(".*.tmp-*")]
    assert stale == []


# ------------------------------------------------------------ full / read-only disks

@pytest.fixture
def small_fs(tmp_path):
    if not IS_ROOT:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", str(mnt)],
                   check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(mnt)])
        subprocess.run(["umount", "-l", str(mnt)], check=True)


def fill(mnt, leave_pages=0):
    """Fill the file system, then give back leave_pages pages."""
    filler = mnt / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    block = b"\0" * 4096
    try:
        while True:
            os.write(fd, block)
    except OSError as e:
        assert e.errno == errno.ENOSPC
    finally:
        os.close(fd)
    size = filler.stat().st_size
    os.truncate(filler, max(0, size - leave_pages * 4096))


@pytest.mark.parametrize("binary", ["bin", "fault"])
def test_disk_full_is_io_error(binary, fault_bin, small_fs, pebble, challtestsrv):
    b = ROOT / "bin/certfleet-agent" if binary == "bin" else fault_bin
    agent = Agent(b, small_fs / "root", pebble, challtestsrv)
    r = agent.issue()
    assert r.returncode == 0, r.stderr
    before = agent.live_files()
    results = []
    for leave in (0, 1, 2, 3, 4, 6, 8):
        (small_fs / "filler").unlink(missing_ok=True)
        fill(small_fs, leave)
        r = agent.issue("--force", "--json")
        results.append(r.returncode)
        assert r.returncode in (0, IO_ERROR), (leave, r.returncode, r.stdout, r.stderr)
        if r.returncode == IO_ERROR:
            assert "IO_ERROR" in r.stdout
            assert agent.live_files() == before, "live files changed on a full disk"
        else:
            before = agent.live_files()
        (small_fs / "filler").unlink()
        check_consistent(agent, what="with %d pages free" % leave)
    print("disk full, pages free 0,1,2,3,4,6,8 ->", results)
    assert results[0] == IO_ERROR
    assert results.count(IO_ERROR) >= 2
    # with the space back, issuing works again
    assert agent.issue("--force").returncode == 0
    check_consistent(agent, what="after the disk was freed")


def test_read_only_fs_is_io_error(small_fs, pebble, challtestsrv):
    agent = Agent(ROOT / "bin/certfleet-agent", small_fs / "root", pebble, challtestsrv)
    r = agent.issue()
    assert r.returncode == 0, r.stderr
    before = agent.live_files()
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    r = agent.issue("--force", "--json")
    assert r.returncode == IO_ERROR, (r.returncode, r.stdout, r.stderr)
    assert "IO_ERROR" in r.stdout and "Read-only" in r.stdout
    assert agent.live_files() == before
    subprocess.run(["mount", "-o", "remount,rw", str(small_fs)], check=True)
    check_consistent(agent, what="after the read-only run")


def test_release_binary_has_no_fault_points():
    """The fault points are compiled out of what ships (bin/, musl)."""
    data = (ROOT / "bin/certfleet-agent").read_bytes()
    assert b"CERTFLEET_FAULT" not in data
