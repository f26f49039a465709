"""ansible_connection=local: the agent runs on this machine as a child
process (no SSH, no shell) in the same poll loop as the SSH hosts, with the
same result gathering, caps and --command-timeout.  deploy runs the same
script it runs over SSH with /bin/sh (certfleet_prefix, certfleet_agent_path,
ansible_become with sudo's password on its stdin), and `elb deploy
--from-host` reads a local host's certificate files the same way."""
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from test_fleet import Ctl, by_host, known_hosts
from test_remote_exec import PASSWORD, SUDO_PASSWD, SUDO_PASSWD_TTY, ArgvWatch, users  # noqa: F401 (fixture)


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

    # deploy too: the local hosts through /bin/sh, the SSH host over SSH
    p, doc = ctl.json(*common, "deploy")
    hosts = by_host(doc)
    assert all(h["ok"] for h in hosts.values()), doc
    assert hosts["remote1"]["agent"]["installed"] is False      # the same build was there
    assert hosts["me"]["agent"]["installed"] is False
    assert hosts["me-missing"]["agent"]["installed"] is True
    assert (tmp_path / "nothing-here/usr/local/bin/certfleet-agent").read_bytes() == \
        Path(bins.agent).read_bytes()


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


def test_deploy_to_local_hosts(bins, tmp_path):
    """deploy to ansible_connection=local hosts: the agent checked (SHA-256),
    run once and renamed into place under certfleet_prefix, or at
    certfleet_agent_path; its cron entry in the prefix; nothing uploaded the
    second time; status then runs it.  Nothing outside the test's directories."""
    me, pinned = tmp_path / "me", tmp_path / "pinned"
    mine = pinned / "srv/tools/cf-agent"
    inv = tmp_path / "hosts"
    inv.write_text("me ansible_connection=local certfleet_prefix=%s\n"
                   "pinned ansible_connection=local certfleet_prefix=%s certfleet_agent_path=%s\n"
                   % (me, pinned, mine))
    ctl = Ctl(bins, tmp_path)
    payload = subprocess.run([ctl.bin, "agent-binary"], capture_output=True, check=True).stdout

    p, doc = ctl.json("-i", inv, "deploy", check=0)
    h = by_host(doc)
    where = me / "usr/local/bin/certfleet-agent"
    a = h["me"]["agent"]
    assert a["installed"] is True and a["path"] == str(where), h["me"]
    assert a["arch"] == platform.machine() and a["verified"] == "sha256sum" and a["cron"] is True, a
    assert h["me"]["arch"] == platform.machine()
    assert where.read_bytes() == payload and os.stat(where).st_mode & 0o777 == 0o755
    assert [f.name for f in where.parent.iterdir()] == ["certfleet-agent"]   # no temporary file
    cron = (me / "etc/cron.d/certfleet-agent").read_text()
    assert str(where) in cron and "renew" in cron, cron
    assert h["pinned"]["agent"]["path"] == str(mine) and mine.read_bytes() == payload, h["pinned"]
    assert not (pinned / "usr/local/bin/certfleet-agent").exists()

    mtime = os.stat(where).st_mtime_ns
    p, doc = ctl.json("-i", inv, "deploy", check=0)
    assert [x["agent"]["installed"] for x in doc["hosts"]] == [False, False], doc
    assert os.stat(where).st_mtime_ns == mtime
    p = ctl.run("-i", inv, "deploy", check=0)
    assert "agent up to date" in p.stdout and str(mine) in p.stdout, p.stdout

    p, doc = ctl.json("-i", inv, "status", check=0)
    assert [x["agent"] for x in doc["hosts"]] == [{"certificates": []}] * 2, doc
    assert [x["arch"] for x in doc["hosts"]] == [platform.machine()] * 2, doc
    # -v: the CPU column (this machine's for a local host)
    rows = ctl.run("-v", "-i", inv, "status", check=0).stdout.splitlines()
    assert rows[0].split()[:3] == ["HOST", "ARCH", "DOMAIN"], rows
    assert rows[1].split()[:2] == ["me", platform.machine()], rows
    assert ctl.run("-i", inv, "status", check=0).stdout.split()[:2] == ["HOST", "DOMAIN"]

    # a local host whose places cannot be used: said per directory, nothing left
    ro = tmp_path / "ro"
    ro.mkdir()
    inv.write_text("blocked ansible_connection=local certfleet_prefix=%s certfleet_agent_path=%s/bin/x/agent\n"
                   % (ro, ro))
    (ro / "bin").write_text("a file, not a directory\n")
    p, doc = ctl.json("-i", inv, "deploy", check=1)
    e = doc["hosts"][0]["error"]
    assert e["code"] == "NO_AGENT_PATH" and "%s/bin/x: cannot create it" % ro in e["detail"], e


@pytest.fixture
def shared_dir():
    """A directory another user can traverse (pytest's are root's, 0700)."""
    d = Path(tempfile.mkdtemp(prefix="cf-local-", dir="/tmp"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_deploy_to_local_host_with_become_password(bins, shared_dir, users):
    """The controller run by an ordinary user; the local host has
    ansible_become with a sudo password: deploy and status go through
    `sudo -S` with the password on sudo's stdin (never in any process's
    command line); the agent lands root-owned where the user cannot write;
    a wrong password is refused by sudo and said so."""
    u = users("l", shell="/bin/sh", sudoers=SUDO_PASSWD, password=PASSWORD)
    prefix = shared_dir / "me"
    prefix.mkdir(mode=0o755)
    inv = shared_dir / "hosts"
    line = 'me ansible_connection=local ansible_become=true ansible_become_password="%s" certfleet_prefix=%s\n'
    inv.write_text(line % (PASSWORD, prefix))
    inv.chmod(0o644)
    home = shared_dir / "home"
    home.mkdir()
    os.chown(home, u.pw.pw_uid, u.pw.pw_gid)
    ctl = str(bins.need_controller())

    def run(*args):
        p = subprocess.run([ctl, "-i", str(inv), "--json"] + list(args), capture_output=True,
                           text=True, timeout=120, user=u.pw.pw_uid, group=u.pw.pw_gid,
                           extra_groups=[], cwd=str(home), stdin=subprocess.DEVNULL,
                           env={"PATH": os.environ["PATH"], "HOME": str(home)})
        outputs.extend([p.stdout, p.stderr])
        return json.loads(p.stdout)["hosts"][0]

    outputs = []
    watch = ArgvWatch(PASSWORD)
    try:
        h = run("deploy")
        assert h["ok"] and h["agent"]["installed"] is True, (h, outputs)
        target = prefix / "usr/local/bin/certfleet-agent"
        assert os.stat(target).st_uid == 0 and os.stat(prefix / "etc/cron.d/certfleet-agent").st_uid == 0
        h = run("status")
        assert h["ok"] and h["agent"] == {"certificates": []}, h
    finally:
        seen = watch.stop()
    assert watch.scans > 3 and seen == [], seen
    for text in outputs:
        assert PASSWORD not in text and "Zq7" not in text, text

    inv.write_text(line % ("wrong-one", prefix))
    for cmd in ("deploy", "status"):
        e = run(cmd)["error"]
        assert e["code"] == "AGENT_FAILED" and "refused the password" in e["detail"], (cmd, e)
    # requiretty: a local command has no terminal, and sudo says so
    u.sudoers.write_text(SUDO_PASSWD_TTY.replace("USER", u.name))
    inv.write_text(line % (PASSWORD, prefix))
    e = run("status")["error"]
    assert e["code"] == "AGENT_FAILED" and "without a terminal" in e["detail"], e
    # without become the user may not write the root-owned prefix
    inv.write_text("me ansible_connection=local certfleet_prefix=%s/other\n" % prefix)
    e = run("deploy")["error"]
    assert e["code"] == "NO_AGENT_PATH" and "cannot create it" in e["detail"], e


def test_elb_deploy_from_local_host(bins, tmp_path, pebble, challtestsrv, feemu):
    """One inventory covers the controller's own box: deploy, issue (Pebble,
    standalone) and `elb deploy --from-host` on an ansible_connection=local
    host; the certificate and key read locally reach the FE emulator's
    listener; the key's text never appears in anything printed."""
    name = "localbox.example.test"
    prefix = tmp_path / "me"
    addr = "127.0.0.%d" % (100 + os.getpid() % 50)
    inv = tmp_path / "inventory"
    inv.write_text("me ansible_connection=local certfleet_prefix=%s certfleet_domains=%s "
                   "certfleet_method=standalone certfleet_server=%s certfleet_agree_tos=yes\n"
                   % (prefix, name, pebble.directory))
    conf = prefix / "etc/certfleet/agent.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("ca-file = %s\nresolver = %s\nhttp-address = %s\nhttp-port = %d\n"
                    % (pebble.ca_file, challtestsrv.dns_addr, addr, pebble.http_port))
    challtestsrv.add_a(name, addr)
    ctl = Ctl(bins, tmp_path, env=feemu.env())
    outputs = []
    for cmd in ("deploy", "issue"):
        p, doc = ctl.json("-i", inv, cmd, check=0)
        outputs += [p.stdout, p.stderr]
    assert doc["hosts"][0]["agent"]["status"]["sslStatus"] == "active", doc
    live = prefix / "etc/certfleet/live" / name
    chain, key = (live / "fullchain.pem").read_text(), (live / "privkey.pem").read_text()
    lid = feemu.add_listener("v3")["id"]
    p = ctl.run("-i", inv, "elb", "deploy", "--listener", lid, "--from-host", "me", "-d", name,
                "--json", check=0)
    outputs += [p.stdout, p.stderr]
    out = json.loads(p.stdout)
    assert out["outcome"] == "changed" and out["fromHost"] == "me", out
    st = feemu.state()
    cert = st["certs"]["v3"][st["listeners"]["v3"][lid]["default_tls_container_ref"]]
    assert cert["certificate"].strip() == chain.strip() and cert["private_key"] == key
    body = [l for l in key.splitlines() if l and not l.startswith("-----")]
    for text in outputs:
        assert not any(l in text for l in body)
    # a name the local host has no certificate for
    p = ctl.run("-i", inv, "elb", "deploy", "--listener", lid, "--from-host", "me", "-d",
                "other.example.test", check=None)
    assert p.returncode != 0 and "NO_HOST_CERT" in p.stdout + p.stderr, p.stdout + p.stderr
