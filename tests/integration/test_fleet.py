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


# ---------------------------------------------------------------- host keys

def _setup(bins, fleet_dir, servers, kh_lines=None, **kw):
    inv = fleet_dir / "inventory"
    write_inventory(inv, servers, prefix_root=fleet_dir / "hosts", **kw)
    kh = fleet_dir / "known_hosts"
    kh.write_text(kh_lines if kh_lines is not None else "".join(s.known_hosts_line() for s in servers))
    return inv, kh, Ctl(bins, fleet_dir)


def _sshd_auth_lines(server):
    return [l for l in cfutil.tail(server.log_path, 200).splitlines()
            if "publickey" in l or "Accepted" in l or "Starting session" in l]


def test_host_key_mismatch_refused_and_nothing_sent(bins, sshd_factory, fleet_dir):
    good, bad = sshd_factory.many(2, first_host=44)
    # known_hosts holds another server's ECDSA key under bad's name
    other = sshd_factory(host="127.0.0.46")
    lines = good.known_hosts_line() + other.known_hosts_line(as_host=bad.hostport)
    inv, kh, ctl = _setup(bins, fleet_dir, [good, bad], kh_lines=lines)
    before = kh.read_text()
    key = sshd_factory.client_key.path
    for extra in ([], ["--accept-new"]):          # never overridable
        p, doc = ctl.json("-i", inv, "--known-hosts", kh, "--identity", key, *extra, "status", check=1)
        h = by_host(doc)
        assert h["h00"]["error"]["code"] == "AGENT_MISSING"      # reached, authenticated
        e = h["h01"]["error"]
        assert e["code"] == "HOST_KEY_MISMATCH"
        fp = subprocess.run(["ssh-keygen", "-lf", str(bad.hostkey_paths["ecdsa"]) + ".pub"],
                            capture_output=True, text=True).stdout.split()[1]
        assert fp in e["detail"] and "nothing was sent" in e["detail"]
        assert "ssh-keygen -R" in e["detail"]
    assert kh.read_text() == before
    # the mismatching server saw a key exchange and nothing else
    assert _sshd_auth_lines(bad) == []
    assert _sshd_auth_lines(good) != []
    assert not (fleet_dir / "hosts" / "h01").exists()


def test_unknown_host_refused_then_accept_new_records(bins, sshd_factory, fleet_dir):
    servers = sshd_factory.many(3, first_host=47)
    inv, kh, ctl = _setup(bins, fleet_dir, servers, kh_lines=servers[0].known_hosts_line())
    key = sshd_factory.client_key.path
    args = ["-i", inv, "--known-hosts", kh, "--identity", key]
    p, doc = ctl.json(*args, "status", check=1)
    h = by_host(doc)
    assert h["h00"]["error"]["code"] == "AGENT_MISSING"
    for name, s in (("h01", servers[1]), ("h02", servers[2])):
        e = h[name]["error"]
        assert e["code"] == "UNKNOWN_HOST_KEY", e
        # offered (and recorded below) the Ed25519 key, as to OpenSSH
        fp = subprocess.run(["ssh-keygen", "-lf", str(s.hostkey_paths["ed25519"]) + ".pub"],
                            capture_output=True, text=True).stdout.split()[1]
        assert fp in e["detail"] and "--accept-new" in e["detail"]
        assert _sshd_auth_lines(s) == []
    p, doc = ctl.json(*args, "--accept-new", "status", check=1)
    assert all(x["error"]["code"] == "AGENT_MISSING" for x in doc["hosts"])
    text = kh.read_text()
    for s in servers[1:]:
        assert s.known_hosts_line("ed25519") in text
    # OpenSSH itself now trusts what was recorded
    r = servers[1].ssh("true", known_hosts=kh)
    assert r.returncode == 0, r.stderr
    p, doc = ctl.json(*args, "status", check=1)
    assert all(x["error"]["code"] == "AGENT_MISSING" for x in doc["hosts"])


def test_ed25519_only_known_hosts_works(bins, sshd_factory, fleet_dir):
    s = sshd_factory(host="127.0.0.50")
    inv, kh, ctl = _setup(bins, fleet_dir, [s], kh_lines=s.known_hosts_line("ed25519"))
    p, doc = ctl.json("-i", inv, "--known-hosts", kh, "--identity", sshd_factory.client_key.path,
                      "status", check=1)
    assert doc["hosts"][0]["error"]["code"] == "AGENT_MISSING"
    assert kh.read_text() == s.known_hosts_line("ed25519")
    # known by its RSA key only: certfleet asks for the RSA host key and logs in
    kh.write_text(s.known_hosts_line("rsa"))
    p, doc = ctl.json("-i", inv, "--known-hosts", kh, "--identity", sshd_factory.client_key.path,
                      "status", check=1)
    assert doc["hosts"][0]["error"]["code"] == "AGENT_MISSING"


# ---------------------------------------------------------------- dead hosts

def test_dead_address_within_timeout_while_others_finish(bins, sshd_factory, fleet_dir):
    servers = sshd_factory.many(6, first_host=52)
    hung = servers[2]
    os.kill(hung.pid, signal.SIGSTOP)      # TCP still accepted by the kernel, no SSH banner
    try:
        inv, kh, ctl = _setup(bins, fleet_dir, servers)
        # and an address where nothing listens at all
        refused_port = cfutil.free_port("127.0.0.58")
        with open(inv, "a") as f:
            f.write("[fleet]\nh99 ansible_host=127.0.0.58 ansible_port=%d certfleet_prefix=%s/h99\n"
                    % (refused_port, fleet_dir))
        key = sshd_factory.client_key.path
        t0 = time.monotonic()
        p, doc = ctl.json("-i", inv, "--known-hosts", kh, "--identity", key, "--timeout", "3",
                          "deploy", check=1)
        elapsed = time.monotonic() - t0
    finally:
        os.kill(hung.pid, signal.SIGCONT)
    h = by_host(doc)
    assert h["h02"]["error"]["code"] == "CONNECT_TIMEOUT", h["h02"]
    assert "3 s" in h["h02"]["error"]["detail"]
    assert h["h99"]["error"]["code"] == "CONNECTION_REFUSED"
    for name in ("h00", "h01", "h03", "h04", "h05"):
        assert h[name]["ok"], h[name]
        assert h[name]["ms"] < 3000
    assert h["h02"]["ms"] >= 2900
    assert elapsed < 8, elapsed
    # problems first in the table
    p = ctl.run("-i", inv, "--known-hosts", kh, "--identity", key, "--timeout", "2", "status", check=1)
    os.kill(hung.pid, signal.SIGCONT)
    rows = p.stdout.splitlines()[1:]
    assert rows[0].split()[0] in ("h02", "h99") and rows[1].split()[0] in ("h02", "h99")


# ---------------------------------------------------------------- login methods

def test_login_methods_key_files_and_ssh_agent(bins, sshd_factory, fleet_dir):
    keys = fleet_dir / "keys"
    keys.mkdir()
    ecdsa = sshd_factory.client_key                                   # OpenSSH format
    ecdsa_pem = ClientKey.generate(keys / "id_ecdsa_pem", "ecdsa", fmt="PEM")
    rsa_pem = ClientKey.generate(keys / "id_rsa_pem", "rsa", fmt="PEM", bits=2048)
    ed25519 = ClientKey.generate(keys / "id_ed25519", "ed25519")          # OpenSSH format
    rsa_openssh = ClientKey.generate(keys / "id_rsa", "rsa", bits=3072)   # OpenSSH format
    agent_ed = ClientKey.generate(keys / "id_agent_ed25519", "ed25519")
    agent_rsa = ClientKey.generate(keys / "id_agent_rsa", "rsa", bits=2048)
    assert "OPENSSH PRIVATE KEY" in Path(rsa_openssh.path).read_text()
    names = ["ecdsa", "ecdsapem", "rsapem", "ed25519", "rsaopenssh", "agented", "agentrsa"]
    auth = [ecdsa, ecdsa_pem, rsa_pem, ed25519, rsa_openssh, agent_ed, agent_rsa]
    servers = [sshd_factory(host="127.0.0.%d" % (60 + i), client_key=k) for i, k in enumerate(auth)]
    hv = {"ecdsa": "ansible_ssh_private_key_file=%s" % ecdsa.path,
          "ecdsapem": "ansible_ssh_private_key_file=%s" % ecdsa_pem.path,
          "rsapem": "ansible_ssh_private_key_file=%s" % rsa_pem.path,
          "ed25519": "ansible_ssh_private_key_file=%s" % ed25519.path,
          "rsaopenssh": "ansible_ssh_private_key_file=%s" % rsa_openssh.path}
    inv, kh, ctl = _setup(bins, fleet_dir, servers, names=names, host_vars=hv)

    sock = fleet_dir / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        cfutil.wait_for(lambda: sock.exists(), 10, "ssh-agent socket")
        env = dict(os.environ, SSH_AUTH_SOCK=str(sock))
        for k in (agent_ed, agent_rsa):
            subprocess.run(["ssh-add", "-q", str(k.path)], env=env, check=True,
                           capture_output=True)
        # without the agent: the agent-only hosts fail with the keys that were tried
        p, doc = ctl.json("-i", inv, "--known-hosts", kh, "deploy", check=1)
        h = by_host(doc)
        for n in ("ecdsa", "ecdsapem", "rsapem", "ed25519", "rsaopenssh"):
            assert h[n]["ok"], h[n]
        for n in ("agented", "agentrsa"):
            assert h[n]["error"]["code"] == "AUTH_FAILED"
            assert "tried" in h[n]["error"]["detail"]
        ctl.env["SSH_AUTH_SOCK"] = str(sock)
        p, doc = ctl.json("-i", inv, "--known-hosts", kh, "deploy", check=0)
        p, doc = ctl.json("-i", inv, "--known-hosts", kh, "status", check=0)
        assert [x["ok"] for x in doc["hosts"]] == [True] * 7
    finally:
        agent.terminate()
        agent.wait(timeout=10)
    for s, k in zip(servers, auth):
        fp = subprocess.run(["ssh-keygen", "-lf", str(k.pub_path)], capture_output=True,
                            text=True).stdout.split()[1]
        assert any("Accepted publickey" in l and fp in l for l in _sshd_auth_lines(s)), s.host


def test_encrypted_key_without_agent_is_explained(bins, sshd_factory, fleet_dir):
    s = sshd_factory(host="127.0.0.66")
    enc = fleet_dir / "id_enc"
    subprocess.run(["ssh-keygen", "-q", "-t", "ecdsa", "-N", "secret-pass", "-f", str(enc)], check=True)
    inv, kh, ctl = _setup(bins, fleet_dir, [s])
    p, doc = ctl.json("-i", inv, "--known-hosts", kh, "--identity", enc, "status", check=1)
    e = doc["hosts"][0]["error"]
    assert e["code"] == "AUTH_FAILED"
    assert str(enc) in e["detail"] and "encrypted" in e["detail"] and "ssh-add" in e["detail"]


# ---------------------------------------------------------------- become

BECOME_USER = "cfbecome"


@pytest.fixture
def become_user():
    subprocess.run(["userdel", "-r", BECOME_USER], capture_output=True)
    subprocess.run(["useradd", "-m", "-s", "/bin/sh", BECOME_USER], check=True)
    subprocess.run(["usermod", "-p", "*", BECOME_USER], check=True)   # not locked, no password
    sudoers = Path("/etc/sudoers.d/certfleet-test-" + BECOME_USER)
    sudoers.write_text("%s ALL=(root) NOPASSWD: ALL\n" % BECOME_USER)
    os.chmod(sudoers, 0o440)
    pw = pwd.getpwnam(BECOME_USER)
    try:
        yield pw
    finally:
        sudoers.unlink()
        subprocess.run(["userdel", "-r", BECOME_USER], capture_output=True)


def test_non_root_user_with_ansible_become(bins, sshd_factory, fleet_dir, become_user):
    key = sshd_factory.client_key
    ssh_dir = Path(become_user.pw_dir) / ".ssh"
    ssh_dir.mkdir(mode=0o700)
    (ssh_dir / "authorized_keys").write_text(key.pub + "\n")
    os.chown(ssh_dir, become_user.pw_uid, become_user.pw_gid)
    os.chown(ssh_dir / "authorized_keys", become_user.pw_uid, become_user.pw_gid)
    os.chmod(ssh_dir / "authorized_keys", 0o600)
    extra = "Match User %s\n  AuthorizedKeysFile %s/authorized_keys\n" % (BECOME_USER, ssh_dir)
    servers = sshd_factory.many(2, first_host=68, extra_config=extra)
    hv = {"h00": "ansible_become=true", "h01": ""}
    inv, kh, ctl = _setup(bins, fleet_dir, servers, host_vars=hv)
    text = inv.read_text().replace("ansible_user=root", "ansible_user=" + BECOME_USER)
    inv.write_text(text)
    args = ["-i", inv, "--known-hosts", kh, "--identity", key.path]
    p, doc = ctl.json(*args, "deploy", check=1)
    h = by_host(doc)
    assert h["h00"]["ok"], h["h00"]
    target = fleet_dir / "hosts" / "h00" / "usr/local/bin/certfleet-agent"
    st = os.stat(target)
    assert st.st_uid == 0 and st.st_mode & 0o777 == 0o755
    assert list(Path(become_user.pw_dir).glob(".certfleet-agent.tmp.*")) == []
    # without become the user cannot write the root-owned prefix
    assert h["h01"]["error"]["code"] in ("IO_ERROR",), h["h01"]
    p, doc = ctl.json(*args, "status", "h00", check=0)
    assert doc["hosts"][0]["agent"] == {"certificates": []}
    # sudo without NOPASSWD: a clear refusal
    Path("/etc/sudoers.d/certfleet-test-" + BECOME_USER).write_text(
        "%s ALL=(root) ALL\n" % BECOME_USER)
    p, doc = ctl.json(*args, "status", "h00", check=1)
    e = doc["hosts"][0]["error"]
    assert e["code"] == "AGENT_FAILED" and "NOPASSWD" in e["detail"], e


# ---------------------------------------------------------------- issue against Pebble

def test_issue_on_fleet_with_pebble_standalone(bins, sshd_factory, fleet_dir, pebble, challtestsrv):
    n = 6
    servers = sshd_factory.many(n, first_host=72)
    names = ["web%d.fleet.test" % i for i in range(n)]
    hv = {name: "certfleet_domains=%s" % name for name in names}
    extra = ("certfleet_method=standalone\ncertfleet_server=%s\ncertfleet_agree_tos=yes\n"
             "certfleet_email=ops@fleet.test\n" % pebble.directory)
    inv, kh, ctl = _setup(bins, fleet_dir, servers, names=names, host_vars=hv, extra_vars=extra)
    for name, s in zip(names, servers):
        challtestsrv.add_a(name, s.host)
        # host-specific agent defaults: where its responder listens, whom to trust
        conf = fleet_dir / "hosts" / name / "etc/certfleet/agent.conf"
        conf.parent.mkdir(parents=True)
        conf.write_text("ca-file = %s\nresolver = %s\nhttp-address = %s\nhttp-port = %d\n"
                        % (pebble.ca_file, challtestsrv.dns_addr, s.host, pebble.http_port))
    args = ["-i", inv, "--known-hosts", kh, "--identity", sshd_factory.client_key.path]
    ctl.run(*args, "deploy", check=0)
    p, doc = ctl.json(*args, "issue", timeout=180)
    assert p.returncode == 0, p.stdout + p.stderr
    for name in names:
        h = by_host(doc)[name]
        assert h["ok"], h
        assert h["agent"]["lineage"] == name
        assert h["agent"]["status"]["sslStatus"] == "active"
        cert = fleet_dir / "hosts" / name / "etc/certfleet/live" / name / "fullchain.pem"
        out = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName"],
                             input=cert.read_text(), capture_output=True, text=True).stdout
        assert "DNS:" + name in out
    p = ctl.run(*args, "status", check=0)
    rows = [l.split() for l in p.stdout.splitlines()[1:n + 1]]
    assert sorted(r[1] for r in rows) == sorted(names)
    assert all(r[2] == "active" and 85 <= int(r[4]) <= 90 for r in rows), p.stdout
    # report reads what status kept; --expiring filters by days left
    def report_rows(*a, check):
        return [l for l in ctl.run("report", *a, check=check).stdout.splitlines() if "fleet.test" in l]
    assert report_rows("--expiring", "30", check=0) == []
    assert len(report_rows("--expiring", "100", check=1)) == n
    # renew with nothing due: each agent exits 2 (NOT_DUE), which is success
    p, doc = ctl.json(*args, "renew", timeout=180)
    assert p.returncode in (0, 2), p.stdout + p.stderr
    assert all(h["ok"] for h in doc["hosts"]), doc
    # a domain that fails validation is refused before anything is sent
    inv.write_text(inv.read_text().replace("certfleet_domains=web0.fleet.test",
                                           "certfleet_domains='web0.fleet.test;reboot'"))
    p, doc = ctl.json(*args, "issue", "web0.fleet.test", check=1)
    e = doc["hosts"][0]["error"]
    assert e["code"] == "INVALID_INPUT" and "reboot" in e["detail"]


def test_run_validates_arguments_and_hosts_lists(bins, sshd_factory, fleet_dir):
    servers = sshd_factory.many(2, first_host=80)
    inv, kh, ctl = _setup(bins, fleet_dir, servers)
    args = ["-i", inv, "--known-hosts", kh, "--identity", sshd_factory.client_key.path]
    p = ctl.run(*args, "run", "--", "status", "$(reboot)")
    assert p.returncode == 65 and "nothing was sent" in p.stderr
    assert _sshd_auth_lines(servers[0]) == []
    ctl.run(*args, "deploy", check=0)
    p, doc = ctl.json(*args, "run", "h01", "--", "version")
    assert p.returncode == 0, p.stderr
    assert len(doc["hosts"]) == 1 and doc["hosts"][0]["output"].startswith("certfleet-agent ")
    p = ctl.run("-i", inv, "hosts", "fleet:!h00", check=0)
    assert p.stdout.startswith("h01\troot@%s:%d\t" % (servers[1].host, servers[1].port))
    assert len(p.stdout.splitlines()) == 1


def test_progress_line_on_a_terminal(bins, sshd_factory, fleet_dir):
    import pty
    import re
    servers = sshd_factory.many(3, first_host=84)
    inv, kh, ctl = _setup(bins, fleet_dir, servers)
    master, slave = pty.openpty()
    try:
        p = subprocess.run([ctl.bin, "-i", str(inv), "--known-hosts", str(kh), "--identity",
                            str(sshd_factory.client_key.path), "status"], env=ctl.env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                           text=True, timeout=60)
        os.close(slave)
        slave = None
        err = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            err += chunk
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    assert p.returncode == 1
    assert re.search(rb"\[ ?\d/3\] \d ok, \d failed, \d running", err), err
    assert b"running" not in p.stdout.encode()
    assert "3 hosts: 0 ok, 3 failed" in p.stdout


def test_ssh_config_and_hashed_known_hosts(bins, sshd_factory, fleet_dir):
    s = sshd_factory(host="127.0.0.88")
    inv, kh, ctl = _setup(bins, fleet_dir, [s])
    # the inventory names only an alias; ~/.ssh/config says where and how
    inv.write_text("[fleet]\nbox-alias certfleet_prefix=%s/box\n" % fleet_dir)
    ssh_dir = ctl.home / ".ssh"
    ssh_dir.mkdir(mode=0o700)
    (ssh_dir / "config").write_text(
        "Host other\n  Port 1\nHost box-*\n  HostName %s\n  Port %d\n  User root\n"
        "  IdentityFile %s\nHost *\n  User nobody\n" % (s.host, s.port, sshd_factory.client_key.path))
    # known_hosts hashed by ssh-keygen -H, in the default place
    (ssh_dir / "known_hosts").write_text(kh.read_text())
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(ssh_dir / "known_hosts")], check=True,
                   capture_output=True)
    assert s.host not in (ssh_dir / "known_hosts").read_text()
    p = ctl.run("-i", inv, "hosts", check=0)
    assert p.stdout.startswith("box-alias\troot@%s:%d\t" % (s.host, s.port))
    p, doc = ctl.json("-i", inv, "status", check=1)
    assert doc["hosts"][0]["error"]["code"] == "AGENT_MISSING", doc
