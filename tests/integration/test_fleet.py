"""certfleet (controller) against a fleet of real OpenSSH servers on 127.0.0.x:
inventory + deploy + status over 20+ hosts, the login methods (ECDSA key file,
PEM RSA key file, ssh-agent), strict host keys (mismatch refused with nothing
sent, unknown refused or recorded with --accept-new), a dead address reported
within the timeout while the others finish, a non-root login with
ansible_become (sudo -n), and `issue` with agents obtaining certificates from
Pebble by standalone HTTP-01.

Every host is one sshd with its own host keys; its agent lives under its own
certfleet_prefix, so the many "hosts" of one machine do not share files.
"""

import json
import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

import cfutil
from cfutil import ClientKey


def write_inventory(path, servers, extra_vars="", prefix_root=None, host_vars=None, names=None):
    lines = ["[fleet]"]
    for i, s in enumerate(servers):
        name = names[i] if names else "h%02d" % i
        v = "ansible_host=%s ansible_port=%d ansible_user=root" % (s.host, s.port)
        if prefix_root:
            v += " certfleet_prefix=%s/%s" % (prefix_root, name)
        if host_vars and name in host_vars:
            v += " " + host_vars[name]
        lines.append("%s %s" % (name, v))
    lines.append("")
    lines.append("[fleet:vars]")
    lines.append(extra_vars)
    Path(path).write_text("\n".join(lines) + "\n")


def known_hosts(path, servers, key_type="ecdsa"):
    Path(path).write_text("".join(s.known_hosts_line(key_type) for s in servers))


class Ctl:
    """Runs bin/certfleet with a private HOME and state directory."""

    def __init__(self, bins, workdir, env=None):
        self.bin = str(bins.need_controller())
        self.workdir = Path(workdir)
        self.home = self.workdir / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
        self.env.update({"HOME": str(self.home), "XDG_STATE_HOME": str(self.workdir / "state")})
        self.env.pop("CERTFLEET_INVENTORY", None)
        if env:
            self.env.update(env)

    def run(self, *args, timeout=120, check=None):
        p = subprocess.run([self.bin] + [str(a) for a in args], env=self.env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout)
        if check is not None:
            assert p.returncode == check, "exit %d\nstdout:\n%s\nstderr:\n%s" % (
                p.returncode, p.stdout, p.stderr)
        return p

    def json(self, *args, timeout=120, check=None):
        p = self.run("--json", *args, timeout=timeout, check=check)
        try:
            doc = json.loads(p.stdout)
        except ValueError:
            raise AssertionError("not JSON (exit %d):\n%s\nstderr:\n%s" % (
                p.returncode, p.stdout, p.stderr))
        return p, doc


def by_host(doc):
    return {h["host"]: h for h in doc["hosts"]}


@pytest.fixture
def fleet_dir(tmp_path_factory):
    import tempfile
    return Path(tempfile.mkdtemp(prefix="cf-fleet-", dir=tmp_path_factory.getbasetemp()))


# ---------------------------------------------------------------- deploy + status, 20 hosts

def test_deploy_then_status_on_22_hosts(bins, sshd_factory, fleet_dir):
    servers = sshd_factory.many(22, first_host=10)
    inv = fleet_dir / "inventory"
    write_inventory(inv, servers, prefix_root=fleet_dir / "hosts")
    kh = fleet_dir / "known_hosts"
    known_hosts(kh, servers)
    ctl = Ctl(bins, fleet_dir)
    key = sshd_factory.client_key.path
    common = ["-i", inv, "--known-hosts", kh, "--identity", key]

    p, doc = ctl.json(*common, "deploy", check=0)
    hosts = by_host(doc)
    assert len(hosts) == 22
    payload = subprocess.run([ctl.bin, "agent-binary"], capture_output=True).stdout
    for i in range(22):
        h = hosts["h%02d" % i]
        assert h["ok"] and h["error"] is None, h
        assert h["agent"]["installed"] is True
        target = fleet_dir / "hosts" / ("h%02d" % i) / "usr/local/bin/certfleet-agent"
        assert target.read_bytes() == payload
        assert os.stat(target).st_mode & 0o777 == 0o755
        # nothing left behind from the upload
        assert [f.name for f in target.parent.iterdir()] == ["certfleet-agent"]

    # second deploy: same build everywhere, nothing uploaded
    mtimes = {i: os.stat(fleet_dir / "hosts" / ("h%02d" % i) / "usr/local/bin/certfleet-agent").st_mtime_ns
              for i in range(22)}
    p, doc = ctl.json(*common, "deploy", check=0)
    assert all(h["agent"]["installed"] is False for h in doc["hosts"])
    for i in range(22):
        assert os.stat(fleet_dir / "hosts" / ("h%02d" % i) /
                       "usr/local/bin/certfleet-agent").st_mtime_ns == mtimes[i]

    p, doc = ctl.json(*common, "status", check=0)
    assert len(doc["hosts"]) == 22
    for h in doc["hosts"]:
        assert h["ok"], h
        assert h["agent"] == {"certificates": []}

    # the table, and report from the kept state without any network
    p = ctl.run(*common, "status", check=0)
    assert p.stdout.splitlines()[0].split()[:3] == ["HOST", "DOMAIN", "STATUS"]
    assert "22 hosts: 22 ok, 0 failed" in p.stdout
    for s in servers:
        s.stop()
    p = ctl.run("report", check=0)
    assert "h00" in p.stdout and "h21" in p.stdout
    p = ctl.run("report", "--json", check=0)
    assert len(json.loads(p.stdout)["hosts"]) == 22


def test_status_before_deploy_is_agent_missing(bins, sshd_factory, fleet_dir):
    servers = sshd_factory.many(2, first_host=40)
    inv = fleet_dir / "inventory"
    write_inventory(inv, servers, prefix_root=fleet_dir / "hosts")
    kh = fleet_dir / "known_hosts"
    known_hosts(kh, servers)
    ctl = Ctl(bins, fleet_dir)
    p, doc = ctl.json("-i", inv, "--known-hosts", kh, "--identity", sshd_factory.client_key.path,
                      "status", check=1)
    for h in doc["hosts"]:
        assert not h["ok"]
        assert h["error"]["code"] == "AGENT_MISSING", h
        assert "deploy" in h["error"]["hint"]
    p = ctl.run("-i", inv, "--known-hosts", kh, "--identity", sshd_factory.client_key.path,
                "status", check=1)
    assert "AGENT_MISSING" in p.stdout
