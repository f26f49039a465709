"""ansible_connection=local: the agent runs on this machine as a child
process (no SSH, no shell) in the same poll loop as the SSH hosts, with the
same result gathering, caps and --command-timeout."""
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from test_fleet import Ctl, by_host, known_hosts


def install_agent(bins, prefix):
    d = Path(prefix) / "usr/local/bin"
    d.mkdir(parents=True, exist_ok=True)
    shutil.copy(bins.agent, d / "certfleet-agent")
    os.chmod(d / "certfleet-agent", 0o755)


def test_local_and_ssh_hosts_in_one_run(bins, sshd_factory, tmp_path):
    bins.need_agent()
    srv = sshd_factory(host="127.0.0.2")
    inv = tmp_path / "inventory.yml"
    inv.write_text(f"""all:
  hosts:
    remote1:
      ansible_host: {srv.host}
      ansible_port: {srv.port}
      ansible_user: root
      certfleet_prefix: {tmp_path}/remote1
    me:
      ansible_connection: local
      certfleet_prefix: {tmp_path}/me
    me-missing:
      ansible_connection: local
      certfleet_prefix: {tmp_path}/nothing-here
""")
    kh = tmp_path / "known_hosts"
    known_hosts(kh, [srv])
    install_agent(bins, tmp_path / "remote1")
    install_agent(bins, tmp_path / "me")
    ctl = Ctl(bins, tmp_path)
    common = ["-i", inv, "--known-hosts", kh, "--identity", sshd_factory.client_key.path]

    p, doc = ctl.json(*common, "status")
    hosts = by_host(doc)
    assert hosts["remote1"]["ok"], hosts["remote1"]
    assert hosts["me"]["ok"] and hosts["me"]["agent"] == {"certificates": []}, hosts["me"]
    e = hosts["me-missing"]["error"]
    assert e["code"] == "AGENT_MISSING" and "nothing-here" in e["detail"], e

    # the local agent really ran here, in its prefix
    assert (tmp_path / "me").exists()
    # hosts shows the connection
    doc = json.loads(ctl.run(*common, "hosts", "--json", check=0).stdout)
    conn = {h["host"]: h["connection"] for h in doc["hosts"]}
    assert conn == {"remote1": "ssh", "me": "local", "me-missing": "local"}
    assert "me\tlocal\t" in ctl.run(*common, "hosts", check=0).stdout

    # commands that do not run on local hosts say so for those hosts only
    p, doc = ctl.json(*common, "deploy")
    hosts = by_host(doc)
    assert hosts["remote1"]["ok"], hosts["remote1"]
    assert hosts["me"]["error"]["code"] == "INVENTORY_ERROR"
    assert "local" in hosts["me"]["error"]["detail"]


def test_local_timeout_and_no_shell(bins, tmp_path):
    """A local agent that hangs is killed at --command-timeout; the prefix is
    an argument, never shell text."""
    prefix = tmp_path / "p"
    d = prefix / "usr/local/bin"
    d.mkdir(parents=True)
    fake = d / "certfleet-agent"
    fake.write_text("#!/bin/sh\necho started >&2\nexec sleep 30\n")
    fake.chmod(0o755)
    inv = tmp_path / "hosts"
    inv.write_text(f"slow ansible_connection=local certfleet_prefix={prefix}\n")
    ctl = Ctl(bins, tmp_path)
    t0 = time.monotonic()
    p, doc = ctl.json("-i", inv, "--command-timeout", "2", "status")
    assert time.monotonic() - t0 < 15
    e = by_host(doc)["slow"]["error"]
    assert e["code"] == "TIMEOUT", e
    assert "not finished within 2 s" in e["detail"]


def test_implicit_localhost(bins, tmp_path):
    inv = tmp_path / "hosts"
    inv.write_text("web1\n")
    ctl = Ctl(bins, tmp_path)
    doc = json.loads(ctl.run("-i", inv, "hosts", "--json", "localhost", check=0).stdout)
    assert [(h["host"], h["connection"]) for h in doc["hosts"]] == [("localhost", "local")]
    # not part of "all"
    doc = json.loads(ctl.run("-i", inv, "hosts", "--json", check=0).stdout)
    assert [h["host"] for h in doc["hosts"]] == ["web1"]
    # a listed localhost is an ordinary (SSH) host, as in Ansible
    inv.write_text("localhost\n")
    doc = json.loads(ctl.run("-i", inv, "hosts", "--json", "localhost", check=0).stdout)
    assert doc["hosts"][0]["connection"] == "ssh"
