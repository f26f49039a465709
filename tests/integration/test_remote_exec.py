"""Remote execution that works on every host (issue 16): deploy without an
SFTP subsystem (the agent streamed over one exec channel's stdin, checked and
renamed on the host, cron installed, all in one command), `elb deploy
--from-host` reads with cat over exec, login shells that print banners, sudo
with `Defaults requiretty` and with a password, login shells that are dash,
and hosts whose /usr/local/bin is read-only or whose other places are
mounted noexec.  Real sshd, sudo and mounts throughout."""

import json
import os
import pwd
import re
import subprocess
import threading
from pathlib import Path

import pytest

from test_fleet import Ctl, by_host, known_hosts, write_inventory


def sessions(server):
    """The commands sshd started so far (LogLevel VERBOSE logs each)."""
    log = Path(server.log_path).read_text(errors="replace")
    return len(re.findall(r"Starting session: command", log)), "subsystem request" in log


def test_deploy_status_without_sftp_subsystem(bins, sshd_factory, tmp_path):
    s = sshd_factory(host="127.0.0.171", sftp=False)
    inv, kh = tmp_path / "inventory", tmp_path / "known_hosts"
    write_inventory(inv, [s], prefix_root=tmp_path / "hosts")
    known_hosts(kh, [s])
    ctl = Ctl(bins, tmp_path)
    args = ["-i", inv, "--known-hosts", kh, "--identity", sshd_factory.client_key.path]
    # the SFTP client really is refused by this host
    r = subprocess.run(["sftp", "-b", "-"] + s.ssh_args()[1:-1] + [s.ssh_args()[-1]], input="ls\n",
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0, r

    p, doc = ctl.json(*args, "deploy", check=0)
    h = doc["hosts"][0]
    target = tmp_path / "hosts/h00/usr/local/bin/certfleet-agent"
    payload = subprocess.run([ctl.bin, "agent-binary"], capture_output=True).stdout
    assert h["agent"]["installed"] is True and h["agent"]["cron"] is True, h
    assert h["agent"]["verified"] == "sha256sum" and h["agent"]["path"] == str(target), h
    assert target.read_bytes() == payload and os.stat(target).st_mode & 0o777 == 0o755
    assert sorted(f.name for f in target.parent.iterdir()) == ["certfleet-agent"]
    assert (tmp_path / "hosts/h00/etc/cron.d/certfleet-agent").exists()
    # check + upload + verify + rename + cron: one command, no SFTP
    assert sessions(s) == (1, False), sessions(s)

    # the same build: nothing sent, still one command
    mtime = os.stat(target).st_mtime_ns
    p, doc = ctl.json(*args, "deploy", check=0)
    assert doc["hosts"][0]["agent"]["installed"] is False and doc["hosts"][0]["agent"]["verified"] is None
    assert os.stat(target).st_mtime_ns == mtime
    assert sessions(s) == (2, False)
    p, doc = ctl.json(*args, "status", check=0)
    assert doc["hosts"][0]["agent"] == {"certificates": []}

    # another build there: replaced where it is
    target.write_bytes(b"#!/bin/sh\necho old agent\n")
    p, doc = ctl.json(*args, "deploy", check=0)
    assert doc["hosts"][0]["agent"]["installed"] is True
    assert target.read_bytes() == payload


# ---------------------------------------------------------------- users of their own

TAG = "%04d" % (os.getpid() % 10000)
PASSWORD = "pw-%s Zq7'$(id)`id`;" % TAG   # a space, a quote, $(...): never interpreted


class User:
    """A login user with the test client key authorized, a login shell, and
    optionally a sudoers entry, a password and a .bashrc."""

    def __init__(self, name, shell="/bin/bash", sudoers=None, password=None, bashrc=None):
        self.name = name
        subprocess.run(["userdel", "-r", name], capture_output=True)
        subprocess.run(["useradd", "-m", "-s", shell, name], check=True)
        if password:
            subprocess.run(["chpasswd"], input="%s:%s\n" % (name, password), text=True, check=True)
        else:
            subprocess.run(["usermod", "-p", "*", name], check=True)   # not locked, no password
        self.pw = pwd.getpwnam(name)
        self.home = Path(self.pw.pw_dir)
        self.sudoers = None
        if sudoers:
            self.sudoers = Path("/etc/sudoers.d/certfleet-test-" + name)
            self.sudoers.write_text(sudoers.replace("USER", name))
            os.chmod(self.sudoers, 0o440)
            subprocess.run(["visudo", "-cf", str(self.sudoers)], check=True, capture_output=True)
        if bashrc is not None:
            (self.home / ".bashrc").write_text(bashrc)

    def authorize(self, key):
        d = self.home / ".ssh"
        d.mkdir(mode=0o700, exist_ok=True)
        (d / "authorized_keys").write_text(key.pub + "\n")
        for p in (d, d / "authorized_keys"):
            os.chown(p, self.pw.pw_uid, self.pw.pw_gid)
        return "Match User %s\n  AuthorizedKeysFile %s/authorized_keys\n" % (self.name, d)

    def remove(self):
        if self.sudoers:
            self.sudoers.unlink(missing_ok=True)
        subprocess.run(["userdel", "-r", self.name], capture_output=True)


@pytest.fixture
def users():
    made = []

    def make(suffix, **kw):
        u = User("cfre%s%s" % (suffix, TAG), **kw)
        made.append(u)
        return u

    yield make
    for u in made:
        u.remove()


BANNER = "Welcome to prod-web\n*** authorized use only ***\n"


def test_login_noise_around_the_agent_output(bins, sshd_factory, tmp_path, users):
    """A .bashrc that prints a banner (and no newline at its end) for every
    command: deploy, status and run still read the agent's output; -v shows
    what the login shell printed."""
    u = users("n", shell="/bin/bash", bashrc="printf '%s'; printf 'no newline here'\n" % BANNER)
    # Debian's bash reads ~/.bashrc for commands sshd runs when SHLVL < 1
    extra = u.authorize(sshd_factory.client_key) + "  SetEnv SHLVL=0\n"
    s = sshd_factory(host="127.0.0.172", sftp=False, extra_config=extra)
    inv, kh = tmp_path / "inventory", tmp_path / "known_hosts"
    prefix = u.home / "hosts"     # the user's own: no root needed for this one
    write_inventory(inv, [s], prefix_root=prefix)
    inv.write_text(inv.read_text().replace("ansible_user=root", "ansible_user=" + u.name))
    prefix.mkdir()
    os.chown(prefix, u.pw.pw_uid, u.pw.pw_gid)
    known_hosts(kh, [s])
    ctl = Ctl(bins, tmp_path)
    args = ["-i", inv, "--known-hosts", kh, "--identity", sshd_factory.client_key.path]
    # the banner really is printed for commands
    r = subprocess.run(s.ssh_args(user=u.name) + ["--", "echo hi"], capture_output=True, text=True,
                       timeout=30, stdin=subprocess.DEVNULL)
    assert r.stdout.startswith("Welcome to prod-web"), r

    p, doc = ctl.json(*args, "deploy", check=0)
    assert doc["hosts"][0]["agent"]["installed"] is True, doc
    p, doc = ctl.json(*args, "status", check=0)
    assert doc["hosts"][0]["agent"] == {"certificates": []}, doc
    p = ctl.run("-v", *args, "status", check=0)
    assert "the login shell printed before the output: Welcome to prod-web" in p.stderr, p.stderr
    p, doc = ctl.json(*args, "run", "--", "--version", check=0)
    assert "Welcome" not in json.dumps(doc) and "no newline" not in json.dumps(doc), doc

