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

