"""Issue 14 item 1: webroot mode must not follow the web user's symlinks as root.

The attacks run as an unprivileged user this module creates (useradd, removed
at teardown) who owns the site, as www-data usually does:
  (a) .well-known or .well-known/acme-challenge is a symlink to a directory
      of root's: nothing is created or deleted there, INVALID_INPUT names it;
  (b) acme-challenge is swapped for a symlink to a root-only file (renameat2
      RENAME_EXCHANGE in a loop) while the agent creates it: the file's mode
      never changes;
  (c) the stale-temp sweep through a symlinked directory deletes nothing of root's.
Legitimate setups keep working: a webroot owned by that user (the challenge
directory is then created as that user), a webroot reached through a
root-owned symlink.  Against a real Pebble and nginx.
"""
import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from test_issue import Agent, verify_chain

INVALID_INPUT = 65

RACER_C = r"""
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

/* Swap acme-challenge and lnk in DIR for ever (RENAME_EXCHANGE). */
int
main(int argc, char **argv)
{
	int wk = argc == 2 ? open(argv[1], O_RDONLY | O_DIRECTORY) : -1;

	if (wk < 0 || write(1, "ready\n", 6) != 6)
		return 1;
	for (;;)
		renameat2(wk, "acme-challenge", wk, "lnk", RENAME_EXCHANGE);
}
"""


@pytest.fixture(scope="module")
def webuser():
    if os.geteuid() != 0:
        pytest.skip("needs root (creates a user)")
    name = "cfw%d" % os.getpid()
    subprocess.run(["userdel", name], capture_output=True)
    subprocess.run(["useradd", "--system", "--no-create-home", "--user-group",
                    "--shell", "/usr/sbin/nologin", name], check=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], capture_output=True)
        subprocess.run(["groupdel", name], capture_output=True)


@pytest.fixture
def base():
    """A directory the test user can reach (pytest's temp dirs are 0700)."""
    d = Path(tempfile.mkdtemp(prefix="cf-webroot-", dir="/tmp"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def agent(bins, tmp_path, pebble_module, challtestsrv_module):
    return Agent(bins, tmp_path / "root", pebble_module, challtestsrv_module)


def as_user(user, fn):
    """Run fn() in a child that has become user (so what it makes is theirs)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            fn()
            os._exit(0)
        except BaseException:  # noqa: BLE001 - report through the exit status
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def wait_stopped(pid):
    for _ in range(2000):
        with open("/proc/%d/stat" % pid) as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "T":
                return
        time.sleep(0.001)
    raise AssertionError("pid %d did not stop" % pid)


def site_of(base, user):
    site = base / "site"
    site.mkdir(mode=0o755)
    os.chown(site, user.pw_uid, user.pw_gid)
    return site


def root_dir(base):
    """A directory of root's with a root-only file and a root temp file in it."""
    r = base / "rootonly"
    r.mkdir(mode=0o700)
    (r / "secret").write_text("root's\n")
    (r / "secret").chmod(0o600)
    (r / ".secret.tmp-AbC123").write_text("root's temp\n")   # what the sweep removes
    return r


def snapshot(d):
    return sorted((p.name, p.stat().st_mode, p.read_bytes()) for p in d.iterdir())


def webroot_issue(agent, name, webroot):
    return agent.issue(name, method="webroot",
                       extra=["--webroot", str(webroot), "--no-preflight", "--json"])


@pytest.mark.parametrize("where", [".well-known", ".well-known/acme-challenge"])
def test_symlink_in_webroot_is_refused(agent, webuser, base, where):
    site = site_of(base, webuser)
    target = root_dir(base)
    before = snapshot(target)
    link = site / where

    def plant():
        link.parent.mkdir(exist_ok=True)
        os.symlink(str(target), str(link))
    as_user(webuser, plant)
    r = webroot_issue(agent, "sym%d.example.test" % len(where), site)
    out = json.loads(r.stdout)
    assert r.returncode == INVALID_INPUT and out["code"] == "INVALID_INPUT", r.stdout + r.stderr
    assert str(link) in out["detail"] and "symbolic link" in out["detail"], out
    # nothing created, changed or swept in root's directory
    assert snapshot(target) == before
    assert target.stat().st_mode & 0o7777 == 0o700


def test_sweep_through_symlink_deletes_nothing_of_roots(agent, webuser, base):
    """The sweep of killed writers' temp files ran in whatever acme-challenge
    resolved to: root's .NAME.tmp-XXXXXX files there were deleted."""
    site = site_of(base, webuser)
    target = base / "rootdir"
    target.mkdir(mode=0o755)          # readable, so a follower could also write here
    (target / ".state.json.tmp-Zz9Yx8").write_text("root's\n")
    (target / ".state.json.tmp-Zz9Yx8").chmod(0o600)
    before = snapshot(target)
    as_user(webuser, lambda: ((site / ".well-known").mkdir(),
                              os.symlink(str(target), str(site / ".well-known/acme-challenge"))))
    r = webroot_issue(agent, "sweep.example.test", site)
    assert r.returncode == INVALID_INPUT, r.stdout + r.stderr
    assert snapshot(target) == before


def test_rename_exchange_race_never_changes_a_mode(agent, webuser, base, tmp_path):
    """Between mkdir(acme-challenge) and chmod(acme-challenge) the web user
    swaps the new directory for a symlink to a root-only file; chmod by path
    made that file 0755 (world-readable /etc/shadow).  The window is widened
    as the review did: .well-known is a chain of 38 symlinks padded with
    "a/../" components, so every lookup through it is slow.  Four attempts in
    five use the chain, the others a plain .well-known directory."""
    site = site_of(base, webuser)
    wk = site / "w"                      # where the swapping happens
    target = base / "shadow"
    target.write_text("root:$6$secret:19000:0:99999:7:::\n")
    target.chmod(0o600)

    def prepare():
        wk.mkdir()
        os.symlink(str(target), str(wk / "lnk"))
        (site / "ch").mkdir()
        (site / "ch" / "a").mkdir()
        for i in range(38):        # "a/.." costs a lookup each: slower than "./"
            os.symlink("a/../" * 800 + ("s%d" % (i + 1) if i < 37 else "../w"),
                       str(site / "ch" / ("s%d" % i)))
    as_user(webuser, prepare)
    src = tmp_path / "racer.c"
    src.write_text(RACER_C)
    subprocess.run(["cc", "-O2", "-o", str(base / "racer"), str(src)], check=True)
    racer = subprocess.Popen([str(base / "racer"), str(wk)], user=webuser.pw_uid,
                             group=webuser.pw_gid, extra_groups=[], stdout=subprocess.PIPE)
    try:
        assert racer.stdout.readline() == b"ready\n"
        outcomes = []
        for i in range(8):
            # the symlink back at "lnk", no acme-challenge: the agent creates it
            racer.send_signal(signal.SIGSTOP)
            wait_stopped(racer.pid)
            for n in ("acme-challenge", "lnk"):
                if (wk / n).is_dir() and not (wk / n).is_symlink():
                    shutil.rmtree(wk / n)
            if (wk / "acme-challenge").is_symlink():
                (wk / "acme-challenge").rename(wk / "lnk")
            wl = site / ".well-known"
            if wl.is_symlink():
                wl.unlink()
            elif wl.exists():
                wl.rmdir()
            if i % 5 != 4:
                as_user(webuser, lambda: os.symlink("ch/s0", str(wl)))
            else:
                wk.rename(wl)            # the racer's descriptor follows it
            racer.send_signal(signal.SIGCONT)
            # the agent at the lowest priority, so a busy machine still runs the racer
            r = subprocess.run(["nice", "-n", "19", str(agent.bin), "--prefix", str(agent.prefix),
                                "issue", "-d", "race%d.example.test" % i, "--webroot", str(site),
                                "--no-preflight", "--json", *agent.ca_args()],
                               capture_output=True, text=True, timeout=120)
            outcomes.append(json.loads(r.stdout)["code"])
            mode = stat.S_IMODE(target.stat().st_mode)
            if i % 5 == 4:
                wl.rename(wk)
            assert mode == 0o600, "attempt %d: %s became %o" % (i, target, mode)
            assert target.stat().st_uid == 0 and "secret" in target.read_text()
        print("outcomes:", outcomes)
    finally:
        racer.kill()
        racer.wait()


def test_webroot_owned_by_web_user_works(agent, webuser, base, nginx_factory):
    site = site_of(base, webuser)
    nginx_factory(servers="server { listen 127.0.0.1:@PORT@; root %s; }" % site,
                  port=agent.pebble.http_port)
    r = webroot_issue(agent, "owned.example.test", site)
    assert r.returncode == 0, r.stdout + r.stderr
    verify_chain(agent, "owned.example.test")
    chal = site / ".well-known/acme-challenge"
    # made by the site's owner, not by root; the token is gone again
    for d in (site / ".well-known", chal):
        st = d.stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == \
            (webuser.pw_uid, webuser.pw_gid, 0o755), d
    assert list(chal.iterdir()) == []


def test_webroot_through_root_owned_symlink_works(agent, base, nginx_factory):
    real = base / "srv-site"
    real.mkdir(mode=0o755)
    link = base / "site"
    link.symlink_to(real)
    nginx_factory(servers="server { listen 127.0.0.1:@PORT@; root %s; }" % real,
                  port=agent.pebble.http_port)
    r = webroot_issue(agent, "linked.example.test", link)
    assert r.returncode == 0, r.stdout + r.stderr
    assert list((real / ".well-known/acme-challenge").iterdir()) == []


def test_webroot_through_users_symlink_is_refused(agent, webuser, base):
    """A symlink on the way to the webroot that the web user owns (in a
    directory of theirs) is not followed either."""
    home = site_of(base, webuser)              # the user's directory
    target = root_dir(base)
    before = snapshot(target)
    as_user(webuser, lambda: os.symlink(str(target), str(home / "www")))
    r = webroot_issue(agent, "via.example.test", home / "www")
    out = json.loads(r.stdout)
    assert r.returncode == INVALID_INPUT and str(home / "www") in out["detail"], r.stdout
    assert snapshot(target) == before
