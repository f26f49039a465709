"""Privilege separation (docs/security.md): during a real issuance against
Pebble, the agent's network process ("certfleet-net") is confined and never
holds private key bytes, while the agent itself does.

A DNS-01 auth hook runs in the middle of the order, while the parent holds
the account key: it finds both processes, reads their /proc status and
descriptors, and scans every readable mapping of each for the account key's
private scalar.  The parent must contain it (so the scan works); the child
must not.  A deploy hook does the same for the new certificate's key.
"""
import http.server
import json
import os
import random
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from test_issue import Agent

# valgrind runs the debug agent without the seccomp filter, under its own
# process name: the tests that inspect the processes do not apply there
not_under_valgrind = pytest.mark.skipif(os.environ.get("CERTFLEET_VALGRIND") == "1",
                                        reason="inspects the processes; valgrind replaces them")


INSPECT = textwrap.dedent(r'''
    import glob, json, os, re, subprocess, sys

    def comm(pid):
        try:
            return open("/proc/%d/comm" % pid).read().strip()
        except OSError:
            return ""

    def ppid(pid):
        stat = open("/proc/%d/stat" % pid).read()
        return int(stat[stat.rindex(")") + 2:].split()[1])

    def status(pid):
        out = {}
        for line in open("/proc/%d/status" % pid):
            k, _, v = line.partition(":")
            out[k] = v.split()
        return out

    def scalar(path):
        text = subprocess.run(["openssl", "pkey", "-in", path, "-noout", "-text"],
                              capture_output=True, text=True).stdout
        m = re.search(r"priv:\s*\n((?:\s+[0-9a-f:]+\n)+)", text)
        hexs = re.sub(r"[^0-9a-f]", "", m.group(1))
        b = bytes.fromhex(hexs)
        return b.lstrip(b"\0") if len(b) > 32 else b

    def holds(pid, secret):
        with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
            for line in maps:
                f = line.split()
                if "r" not in f[1] or (len(f) > 5 and f[5] in ("[vvar]", "[vsyscall]")):
                    continue
                lo, hi = (int(x, 16) for x in f[0].split("-"))
                if hi - lo > 1 << 32:       # ASan's shadow reservations: never heap
                    continue
                for off in range(lo, hi, 1 << 24):   # 16 MiB steps, overlapping
                    try:
                        mem.seek(off)
                        if secret in mem.read(min(hi - off, (1 << 24) + 64)):
                            return True
                    except OSError:
                        pass
        return False

    prefix, which, out = sys.argv[1], sys.argv[2], sys.argv[3]
    agent = os.getpid()
    while comm(agent) != "certfleet-agent":
        agent = ppid(agent)
    nets = [int(p) for p in os.listdir("/proc") if p.isdigit()
            and comm(int(p)) == "certfleet-net" and ppid(int(p)) == agent]
    if which == "account":
        key = glob.glob(prefix + "/var/lib/certfleet/accounts/*/account.key")[0]
    else:
        key = glob.glob(prefix + "/etc/certfleet/live/*/privkey.pem")[0]
    secret = scalar(key)
    rec = {"agent": agent, "nets": nets, "secret_len": len(secret),
           "agent_holds": holds(agent, secret)}
    if nets:
        net = nets[0]
        st = status(net)
        rec.update(uid=st["Uid"], gid=st["Gid"], groups=st.get("Groups", []),
                   seccomp=st["Seccomp"], nnp=st["NoNewPrivs"],
                   fds={fd: os.readlink("/proc/%d/fd/%s" % (net, fd))
                        for fd in os.listdir("/proc/%d/fd" % net)},
                   net_holds=holds(net, secret))
    json.dump(rec, open(out, "a"))
    open(out, "a").write("\n")
    if which == "account":   # publish the TXT record as a real auth hook would
        subprocess.run(["curl", "-sf", "-X", "POST", "-d", json.dumps(
            {"host": "_acme-challenge.%s." % os.environ["CERTBOT_DOMAIN"],
             "value": os.environ["CERTBOT_VALIDATION"]}), sys.argv[4] + "/set-txt"], check=True)
''')


@not_under_valgrind
def test_network_process_is_confined_and_never_holds_keys(bins, tmp_path, pebble, challtestsrv):
    agent = Agent(bins, tmp_path / "root", pebble, challtestsrv)
    script = tmp_path / "inspect.py"
    script.write_text(INSPECT)
    out = tmp_path / "seen.jsonl"
    py = sys.executable
    auth = "%s %s %s account %s %s" % (py, script, agent.prefix, out, challtestsrv.mgmt_url)
    deploy = "%s %s %s cert %s -" % (py, script, agent.prefix, out)
    r = agent.run("issue", "-d", "privsep.example.test", "--preferred-challenges", "dns-01",
                  "--manual-auth-hook", auth, "--deploy-hook", deploy, "--dns-timeout", "20",
                  *agent.ca_args())
    assert r.returncode == 0, r.stdout + r.stderr
    seen = [json.loads(l) for l in out.read_text().splitlines()]
    assert len(seen) == 2, seen
    acct, cert = seen
    for rec in seen:
        assert len(rec["nets"]) == 1, rec            # the network process was there
        assert rec["seccomp"] == ["2"] and rec["nnp"] == ["1"], rec
        # beyond stdio: its channel and its connection to the CA, no files
        assert all(t.startswith("socket:") for fd, t in rec["fds"].items()
                   if fd not in ("0", "1", "2")), rec
        if os.geteuid() == 0:
            # a uid/gid of its own (agent/netproc.h NETPROC_ID_BASE), not nobody's
            uid = int(rec["uid"][0])
            assert 0x7a000000 <= uid < 0x7b000000, rec
            assert rec["uid"] == [str(uid)] * 4 and rec["gid"] == [str(uid)] * 4, rec
            assert rec["groups"] == [], rec
        assert rec["net_holds"] is False, rec
    # the scan finds a key where one is: the agent holds the account key
    # while it answers the challenge (the certificate key is wiped by the
    # time the deploy hook runs, so there is no positive control for it)
    assert acct["secret_len"] == 32 and acct["agent_holds"] is True, acct
    assert cert["secret_len"] == 32


def test_no_network_process_is_left_behind(bins, tmp_path, pebble, challtestsrv):
    agent = Agent(bins, tmp_path / "root", pebble, challtestsrv)
    assert agent.issue("gone.example.test").returncode == 0
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            comm = Path("/proc/%s/comm" % pid).read_text().strip()
            cmdline = Path("/proc/%s/cmdline" % pid).read_bytes()
        except OSError:
            continue
        if comm == "certfleet-net" and str(agent.prefix).encode() in cmdline:
            left.append(pid)
    assert left == []


# ---- --dns fe and the probes: network traffic from the network process only ----

def _socket_table():
    """inode -> (proto, local port, remote port, state) of every IP socket."""
    out = {}
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        try:
            lines = Path("/proc/net/" + proto).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            out[f[9]] = (proto, int(f[1].rsplit(":", 1)[1], 16), int(f[2].rsplit(":", 1)[1], 16),
                         f[3])
    return out


def _socket_inodes(pid):
    inodes = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if t.startswith("socket:["):
                inodes.add(t[8:-1])
    except OSError:
        pass
    return inodes


def _children(pid):
    kids = []
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path("/proc/%s/stat" % p).read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
            kids.append(int(p))
    return kids


def _comm(pid):
    """A process's name, or None once it has ended (a short-lived child, such
    as a hook's, can be gone between the listing and the read)."""
    try:
        return Path("/proc/%d/comm" % pid).read_text().strip()
    except OSError:
        return None


def _watch(proc):
    """Sample, until proc ends, the IP sockets of the agent (proc) and of its
    network process: {"agent": set(...), "net": set(...)} of socket tuples."""
    seen = {"agent": set(), "net": set()}
    while proc.poll() is None:
        table = _socket_table()
        owners = {"agent": [proc.pid]}
        owners["net"] = [k for k in _children(proc.pid) if _comm(k) == "certfleet-net"]
        for who, pids in owners.items():
            for pid in pids:
                for ino in _socket_inodes(pid):
                    if ino in table:
                        seen[who].add(table[ino])
        time.sleep(0.02)
    return seen


@not_under_valgrind
def test_dns_fe_traffic_comes_from_the_network_process(bins, tmp_path, pebble, challtestsrv, feemu):
    agent = Agent(bins, tmp_path / "root", pebble, challtestsrv)
    # root's 0600 files, which the network process (nobody) could not open
    secret_dir = tmp_path / "fe"
    secret_dir.mkdir(mode=0o700)
    pw = secret_dir / "password"
    pw.write_text(feemu.password + "\n")
    ca = secret_dir / "fe-ca.pem"
    ca.write_text(Path(feemu.ca_file).read_text())
    env = {k: v for k, v in feemu.env().items() if k != "FE_PASSWORD"}
    env.update(FE_PASSWORD_FILE=str(pw), FE_CA_FILE=str(ca))
    conf = secret_dir / "fe.conf"
    conf.write_text("".join("%s=%s\n" % kv for kv in env.items()))
    for p in (pw, ca, conf):
        p.chmod(0o600)
    # hold the record's creation for a while: the connection is there to see
    feemu.fault(method="POST", path="/recordsets$", action="slow", delay=2, count=1)
    cmd = [str(agent.bin), "--prefix", str(agent.prefix), "issue", "-d", "fenet.example.test",
           "--dns", "fe", "--fe-config", str(conf), "--dns-timeout", "30", *agent.ca_args()]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FE_", "USER_"))}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean)
    seen = _watch(proc)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "issued" in out, out + err
    assert feemu.state()["zones"][feemu.zone_id("example.test")]["recordsets"] == {}
    # the FE API connections were the network process's, never the agent's
    assert any(s[2] == feemu.port for s in seen["net"]), seen
    assert seen["agent"] == set(), seen


def _owner_of_connection(local_port, remote_port):
    """(pid, comm, parent pid) of the process holding the TCP socket
    local_port -> remote_port."""
    inodes = {ino for ino, t in _socket_table().items()
              if t[0].startswith("tcp") and t[1] == local_port and t[2] == remote_port}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if _socket_inodes(int(pid)) & inodes:
            stat = Path("/proc/%s/stat" % pid).read_text()
            return (int(pid), Path("/proc/%s/comm" % pid).read_text().strip(),
                    int(stat[stat.rindex(")") + 2:].split()[1]))
    return None, None, None


@not_under_valgrind
def test_preflight_probe_comes_from_the_network_process(bins, tmp_path, pebble, challtestsrv):
    """issue --webroot probes http://NAME/ (port 80, at the address --resolver
    gives) while the agent holds the account key: the connection comes from
    the network process, a child of the agent.  The name points at a loopback
    address of its own where the test listens; the CA's validation is not
    needed (it fails: nothing serves Pebble's port there)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: port 80 and the network process's descriptors")
    addr = "127.0.%d.%d" % (random.randint(100, 250), random.randint(2, 250))
    owners = []

    class Probe(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            owners.append(_owner_of_connection(self.client_address[1], 80))
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    try:
        srv = http.server.ThreadingHTTPServer((addr, 80), Probe)
    except OSError as e:
        pytest.skip("cannot listen on %s:80: %s" % (addr, e))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        challtestsrv.add_a("probe.example.test", addr)
        agent = Agent(bins, tmp_path / "root", pebble, challtestsrv)
        webroot = tmp_path / "www"
        webroot.mkdir()
        proc = subprocess.Popen([str(agent.bin), "--prefix", str(agent.prefix), "issue", "-d",
                                 "probe.example.test", "--webroot", str(webroot), *agent.ca_args()],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = proc.communicate(timeout=120)
    finally:
        srv.shutdown()
        srv.server_close()
    # the probe arrived, and its answer was reported as before
    assert "answered the probe with HTTP 404" in err, out + err
    assert len(owners) == 1, owners
    pid, comm, ppid = owners[0]
    assert comm == "certfleet-net" and ppid == proc.pid, owners


def test_the_key_leak_scan_finds_a_leak(tmp_path):
    """The scan every test ends with (conftest.no_private_key_leaks) can fail."""
    from conftest import find_key_leaks
    key = subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                          "ec_paramgen_curve:P-256"], capture_output=True, check=True).stdout
    d = tmp_path / "scan"
    d.mkdir()
    (d / "privkey.pem").write_bytes(key)
    (d / "activity.log").write_text("all fine\n")
    assert find_key_leaks(d, [b"issued"]) == []
    line = key.splitlines()[1]
    (d / "activity.log").write_bytes(b"oops " + line + b"\n")
    assert find_key_leaks(d, [b"x" + line]) == ["activity.log", "output of a certfleet run"]
    (d / "activity.log").unlink()                # or this test's own scan fails


def test_root_only_ssl_cert_file_works(bins, tmp_path, pebble, challtestsrv):
    """$SSL_CERT_FILE in a directory only root can enter: the agent reads it
    before it forks the network process, which runs as nobody."""
    agent = Agent(bins, tmp_path / "root", pebble, challtestsrv)
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    ca = private / "ca.pem"
    ca.write_text(Path(pebble.ca_file).read_text())
    ca.chmod(0o600)
    args = agent.ca_args()
    i = args.index("--ca-file")
    del args[i:i + 2]
    r = agent.run("issue", "-d", "sslcertfile.example.test", "--standalone", "--http-port",
                  str(pebble.http_port), *args, env={"SSL_CERT_FILE": str(ca)})
    assert r.returncode == 0, r.stderr


def test_verbose_output_to_a_log_file(bins, tmp_path, pebble, challtestsrv):
    """Under cron stderr is a file: the network process's debug lines and
    warnings go there (an RLIMIT_FSIZE of 0 made the first one SIGXFSZ)."""
    agent = Agent(bins, tmp_path / "root", pebble, challtestsrv)
    log = tmp_path / "cron.log"
    with open(log, "w") as f:
        r = subprocess.run([str(agent.bin), "-v", "--prefix", str(agent.prefix), "issue", "-d",
                            "cronlog.example.test", "--standalone", "--http-port",
                            str(pebble.http_port), *agent.ca_args()],
                           stdout=f, stderr=subprocess.STDOUT, timeout=120)
    text = log.read_text()
    assert r.returncode == 0, text
    assert "DNS: cronlog.example.test" in text           # a line from the network process


# ---- issue 14 item 8: the EAB MAC key stays in the parent; no core dumps ----

EAB_KEY = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"

EAB_INSPECT = textwrap.dedent(r'''
    import base64, json, os, subprocess, sys

    def comm(pid):
        try:
            return open("/proc/%d/comm" % pid).read().strip()
        except OSError:
            return ""

    def ppid(pid):
        stat = open("/proc/%d/stat" % pid).read()
        return int(stat[stat.rindex(")") + 2:].split()[1])

    def holds(pid, secrets):
        found = set()
        with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
            for line in maps:
                f = line.split()
                if "r" not in f[1] or (len(f) > 5 and f[5] in ("[vvar]", "[vsyscall]")):
                    continue
                lo, hi = (int(x, 16) for x in f[0].split("-"))
                if hi - lo > 1 << 32:
                    continue
                for off in range(lo, hi, 1 << 24):
                    try:
                        mem.seek(off)
                        chunk = mem.read(min(hi - off, (1 << 24) + 64))
                    except OSError:
                        continue
                    found |= {name for name, s in secrets.items() if s in chunk}
        return sorted(found)

    key_b64, out, mgmt = open(sys.argv[1]).read().strip(), sys.argv[2], sys.argv[3]
    raw = base64.urlsafe_b64decode(key_b64 + "=" * (-len(key_b64) % 4))
    secrets = {"raw": raw, "b64": key_b64.encode()}
    agent = os.getpid()
    while comm(agent) != "certfleet-agent":
        agent = ppid(agent)
    [net] = [int(p) for p in os.listdir("/proc") if p.isdigit()
             and comm(int(p)) == "certfleet-net" and ppid(int(p)) == agent]
    limits = open("/proc/%d/limits" % agent).read()
    core = [l.split()[4:6] for l in limits.splitlines() if l.startswith("Max core file size")]
    rec = {"net_holds": holds(net, secrets), "agent_holds": holds(agent, secrets),
           "core": core[0]}
    json.dump(rec, open(out, "w"))
    subprocess.run(["curl", "-sf", "-X", "POST", "-d", json.dumps(
        {"host": "_acme-challenge.%s." % os.environ["CERTBOT_DOMAIN"],
         "value": os.environ["CERTBOT_VALIDATION"]}), mgmt + "/set-txt"], check=True)
''')


@not_under_valgrind
def test_eab_key_stays_in_the_parent_and_no_core_dumps(bins, tmp_path, pebble_factory,
                                                       challtestsrv):
    """The EAB MAC is computed in the parent: during an EAB issuance the
    network process's memory holds neither the key's bytes nor its base64url
    text (the parent does: the scan works).  The agent is not dumpable and
    its core limit is 0 (not dumpable: the next test)."""
    if os.geteuid() != 0:
        pytest.skip("needs root (reads another process's memory)")
    p = pebble_factory(config={"externalAccountBindingRequired": True,
                               "externalAccountMACKeys": {"kid-1": EAB_KEY}})
    agent = Agent(bins, tmp_path / "root", p, challtestsrv)
    keyfile = tmp_path / "eab.key"
    keyfile.write_text(EAB_KEY + "\n")
    keyfile.chmod(0o600)
    script = tmp_path / "eab_inspect.py"
    script.write_text(EAB_INSPECT)
    out = tmp_path / "eab_seen.json"
    # the key reaches the hook as a file name: the agent's argv is the child's too
    hook = "%s %s %s %s %s" % (sys.executable, script, keyfile, out, challtestsrv.mgmt_url)
    r = agent.run("issue", "-d", "eabmem.example.test", "--preferred-challenges", "dns-01",
                  "--manual-auth-hook", hook, "--dns-timeout", "20", "--eab-kid", "kid-1",
                  "--eab-hmac-key-file", str(keyfile), *agent.ca_args())
    assert r.returncode == 0, r.stdout + r.stderr
    rec = json.loads(out.read_text())
    assert rec["net_holds"] == [], rec            # neither form of the key
    assert "raw" in rec["agent_holds"], rec       # the parent's copy: the scan works
    assert rec["core"] == ["0", "0"], rec


PEEK = textwrap.dedent(r'''
    import json, os, sys

    def comm(pid):
        try:
            return open("/proc/%d/comm" % pid).read().strip()
        except OSError:
            return ""

    def ppid(pid):
        stat = open("/proc/%d/stat" % pid).read()
        return int(stat[stat.rindex(")") + 2:].split()[1])

    agent = os.getpid()
    while comm(agent) != "certfleet-agent":
        agent = ppid(agent)
    try:
        open("/proc/%d/environ" % agent, "rb").read()
        readable = True
    except PermissionError:
        readable = False
    json.dump({"agent": agent, "uid": os.getuid(), "environ_readable": readable},
              open(sys.argv[1], "w"))
    sys.exit(1)                          # enough: end the run here
''')


@not_under_valgrind
def test_agent_is_not_dumpable(bins, tmp_path, pebble, challtestsrv):
    """Run as an ordinary user (created here), the agent's /proc/PID/environ
    and mem are not open to other processes of that user (a dumpable process's
    are): PR_SET_DUMPABLE 0, which also stops cores through a core_pattern
    pipe, where RLIMIT_CORE does not apply."""
    if os.geteuid() != 0:
        pytest.skip("needs root (creates a user)")
    import pwd
    import shutil
    import tempfile
    name = "cfd%d" % os.getpid()
    subprocess.run(["userdel", name], capture_output=True)
    subprocess.run(["useradd", "--system", "--no-create-home", "--user-group",
                    "--shell", "/usr/sbin/nologin", name], check=True)
    base = Path(tempfile.mkdtemp(prefix="cf-dump-", dir="/tmp"))
    try:
        user = pwd.getpwnam(name)
        base.chmod(0o755)
        ca = base / "ca.pem"
        shutil.copy(pebble.ca_file, ca)
        ca.chmod(0o644)
        hook = base / "peek.py"
        hook.write_text(PEEK)
        hook.chmod(0o644)
        out = base / "out"
        out.mkdir()
        prefix = base / "root"
        prefix.mkdir()
        for d in (out, prefix):
            os.chown(d, user.pw_uid, user.pw_gid)
        r = subprocess.run([str(bins.need_agent()), "--prefix", str(prefix), "issue", "-d",
                            "dump.example.test", "--preferred-challenges", "dns-01",
                            "--manual-auth-hook", "%s %s %s" % (sys.executable, hook,
                                                                  out / "seen.json"),
                            "--server", pebble.directory, "--ca-file", str(ca), "--resolver",
                            challtestsrv.dns_addr, "--agree-tos"],
                           capture_output=True, text=True, timeout=120, user=user.pw_uid,
                           group=user.pw_gid, extra_groups=[], cwd=str(base))
        rec = json.loads((out / "seen.json").read_text())
        assert rec["uid"] == user.pw_uid, rec
        assert rec["environ_readable"] is False, (rec, r.stderr)
    finally:
        shutil.rmtree(base, ignore_errors=True)
        subprocess.run(["userdel", name], capture_output=True)
        subprocess.run(["groupdel", name], capture_output=True)


@not_under_valgrind
def test_controller_is_not_dumpable(bins, tmp_path):
    """The controller holds SSH keys and FE credentials: run as an ordinary
    user (created here) and waiting on a host that never answers, another
    process of that user cannot read its /proc/PID/environ; its core limit is 0."""
    if os.geteuid() != 0:
        pytest.skip("needs root (creates a user)")
    import pwd
    import shutil
    import socket
    import tempfile
    name = "cfc%d" % os.getpid()
    subprocess.run(["userdel", name], capture_output=True)
    subprocess.run(["useradd", "--system", "--no-create-home", "--user-group",
                    "--shell", "/usr/sbin/nologin", name], check=True)
    base = Path(tempfile.mkdtemp(prefix="cf-dump-", dir="/tmp"))
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)                        # accepts, never says a word
    proc = None
    try:
        user = pwd.getpwnam(name)
        base.chmod(0o755)
        inv = base / "inventory"
        inv.write_text("mute ansible_host=127.0.0.1 ansible_port=%d\n" % silent.getsockname()[1])
        inv.chmod(0o644)
        # its own HOME: root's ~/.ssh/config is not readable by it (an error)
        proc = subprocess.Popen([str(bins.need_controller()), "-i", str(inv), "--timeout", "20",
                                 "--known-hosts", str(base / "kh"), "status"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                user=user.pw_uid, group=user.pw_gid, extra_groups=[],
                                cwd=str(base), env=dict(os.environ, HOME=str(base)))
        silent.settimeout(30)
        try:
            conn, _ = silent.accept()       # it is connected and waiting now
        except socket.timeout:
            proc.kill()
            raise AssertionError("the controller never connected: %s" % proc.communicate()[1])

        def peek():
            try:
                open("/proc/%d/environ" % proc.pid, "rb").read()
                os._exit(0)
            except PermissionError:
                os._exit(13)
        pid = os.fork()
        if pid == 0:
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            peek()
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 13   # EPERM
        limits = Path("/proc/%d/limits" % proc.pid).read_text()
        core = [l.split()[4:6] for l in limits.splitlines() if l.startswith("Max core file size")]
        assert core == [["0", "0"]], limits
        conn.close()
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        silent.close()
        shutil.rmtree(base, ignore_errors=True)
        subprocess.run(["userdel", name], capture_output=True)
        subprocess.run(["groupdel", name], capture_output=True)
