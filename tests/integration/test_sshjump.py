"""Jump hosts (issue 13 item 3): ProxyJump (one hop, chains, from ~/.ssh/config and from
the inventory's ansible_ssh_common_args / ansible_ssh_extra_args), ProxyCommand, one
shared session per jump host, and the failures (unknown jump host key, jump host down,
target unreachable from it) named after the jump host.

The network, all in namespaces this module creates:

    this machine --veth-- cfjb<pid>: the jump host's sshd (10.X.Y.2:22)
                          cfjb<pid> --veth-- cfjt<pid>: the targets' sshds (10.X.Y.6:22,
                                                        :2201, :2202; 127.0.0.1:2222)

This machine has a route to 10.X.Y.0/30 only (and an `unreachable` route for
10.X.Y.4/30, so a direct attempt fails at once and nothing leaves by a default
route): a target is reached only through the jump host.  A direct host on
127.0.0.x is in every run too, so each run mixes direct and jumped hosts.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

import cfutil
from cfutil import ClientKey, Sshd

PID = os.getpid()
NS_B = "cfjb%d" % PID
NS_T = "cfjt%d" % PID
_A = 100 + PID % 100
_B = (PID // 100) % 250 + 1
NET = "10.%d.%d" % (_A, _B)
HOST_IP, BASTION_IP, BSIDE_IP, TARGET_IP = (NET + ".1", NET + ".2", NET + ".5", NET + ".6")


def sh(*cmd, check=True):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=check)


class NsSshd(Sshd):
    """An sshd started inside a network namespace (ready when it says it listens)."""

    def __init__(self, workdir, ns, **kw):
        self.ns = ns
        super().__init__(workdir, _defer=True, rsa_bits=1024, **kw)

    def _spawn(self, cmd, log_path, env=None, cwd=None):
        return super()._spawn(["ip", "netns", "exec", self.ns] + list(cmd), log_path, env, cwd)

    def _banner(self):
        return self.log_path is not None and self.log_path.exists() and \
            "Server listening on" in self.log_path.read_text(errors="replace")

    def kh_line(self, key_type="ecdsa"):
        name = self.host if self.port == 22 else "[%s]:%d" % (self.host, self.port)
        return "%s %s\n" % (name, self.host_keys[key_type])

    def log(self):
        return self.log_path.read_text(errors="replace")

    def accepted(self):
        return self.log().count("Accepted publickey")

    def connections(self):
        return self.log().count("Connection from")


def _netns_up():
    veth = ("cfh%d" % PID, "cfb%d" % PID, "cfc%d" % PID, "cft%d" % PID)
    cmds = [
        ["ip", "netns", "add", NS_B], ["ip", "netns", "add", NS_T],
        ["ip", "link", "add", veth[0], "type", "veth", "peer", "name", veth[1]],
        ["ip", "link", "set", veth[1], "netns", NS_B],
        ["ip", "addr", "add", HOST_IP + "/30", "dev", veth[0]],
        ["ip", "link", "set", veth[0], "up"],
        ["ip", "route", "add", "unreachable", NET + ".4/30"],
        ["ip", "-n", NS_B, "addr", "add", BASTION_IP + "/30", "dev", veth[1]],
        ["ip", "-n", NS_B, "link", "set", veth[1], "up"],
        ["ip", "-n", NS_B, "link", "set", "lo", "up"],
        ["ip", "-n", NS_B, "link", "add", veth[2], "type", "veth", "peer", "name", veth[3]],
        ["ip", "-n", NS_B, "link", "set", veth[3], "netns", NS_T],
        ["ip", "-n", NS_B, "addr", "add", BSIDE_IP + "/30", "dev", veth[2]],
        ["ip", "-n", NS_B, "link", "set", veth[2], "up"],
        ["ip", "-n", NS_T, "addr", "add", TARGET_IP + "/30", "dev", veth[3]],
        ["ip", "-n", NS_T, "link", "set", veth[3], "up"],
        ["ip", "-n", NS_T, "link", "set", "lo", "up"],
    ]
    for c in cmds:
        sh(*c)
    return veth


def _netns_down(veth):
    sh("ip", "route", "del", "unreachable", NET + ".4/30", check=False)
    sh("ip", "link", "del", veth[0], check=False)
    sh("ip", "netns", "del", NS_B, check=False)
    sh("ip", "netns", "del", NS_T, check=False)


class Net:
    pass


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    base = tmp_path_factory.mktemp("jump")
    os.chmod(base, 0o755)
    key = ClientKey.generate(base / "id_ecdsa", "ecdsa")
    veth = _netns_up()
    servers = []
    try:
        n = Net()
        n.base, n.key = base, key
        n.bastion = NsSshd(base / "bastion", NS_B, host=BASTION_IP, port=22, client_key=key)
        n.t1 = NsSshd(base / "t1", NS_T, host=TARGET_IP, port=22, client_key=key)
        n.t2 = NsSshd(base / "t2", NS_T, host=TARGET_IP, port=2201, client_key=key)
        n.t3 = NsSshd(base / "t3", NS_T, host=TARGET_IP, port=2202, client_key=key)
        # only reachable from inside cfjt: a second hop (t1) is needed
        n.inner = NsSshd(base / "inner", NS_T, host="127.0.0.1", port=2222, client_key=key)
        host = cfutil.random_loopback()
        n.direct = Sshd(base / "direct", host=host, client_key=key, rsa_bits=1024, _defer=True)
        servers = [n.bastion, n.t1, n.t2, n.t3, n.inner, n.direct]
        for s in servers:
            s.launch()
        for s in servers:
            s.wait_ready()
        n.known_hosts = "".join(s.kh_line() for s in servers[:5]) + n.direct.known_hosts_line()
        yield n
    finally:
        for s in servers:
            s.stop()
        _netns_down(veth)


class Ctl:
    """bin/certfleet with its own HOME (~/.ssh/config), inventory and known_hosts."""

    def __init__(self, bins, net, tmp_path, ssh_config="", inventory="", known_hosts=None):
        self.bin = str(bins.need_controller())
        self.dir = tmp_path
        home = tmp_path / "home"
        (home / ".ssh").mkdir(parents=True)
        (home / ".ssh" / "config").write_text(ssh_config)
        self.inv = tmp_path / "inventory"
        self.inv.write_text(inventory)
        self.kh = tmp_path / "known_hosts"
        self.kh.write_text(net.known_hosts if known_hosts is None else known_hosts)
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("SSH_AUTH_SOCK", "CERTFLEET_INVENTORY")}
        self.env.update({"HOME": str(home), "XDG_STATE_HOME": str(tmp_path / "state")})
        self.key = net.key.path

    def run(self, *args, timeout=60):
        v = ["-v"] if os.environ.get("CFJ_VERBOSE") else []
        try:
            return subprocess.run([self.bin] + v + ["-i", self.inv, "--known-hosts", self.kh,
                                   "--identity", self.key, "--timeout", "20"] + [str(a) for a in args],
                                  env=self.env, stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            print("STDERR", e.stderr)
            raise

    def json(self, *args, check=None):
        p = self.run("--json", *args)
        if check is not None and p.returncode != check:
            print("STDOUT", p.stdout)
            print("STDERR", p.stderr)
        if check is not None:
            assert p.returncode == check, (p.returncode, p.stdout, p.stderr)
        try:
            doc = json.loads(p.stdout)
        except ValueError:
            raise AssertionError("not JSON (exit %d):\n%s\n%s" % (p.returncode, p.stdout, p.stderr))
        return p, {h["host"]: h for h in doc["hosts"]}


def host_line(name, s=None, prefix=None, extra=""):
    v = name
    if s is not None:
        v += " ansible_host=%s ansible_port=%d" % (s.host, s.port)
    v += " ansible_user=root"
    if prefix:
        v += " certfleet_prefix=%s/%s" % (prefix, name)
    return v + (" " + extra if extra else "")


def deploy_status(ctl, names):
    """deploy then status: every host in names ok, the agent reachable through the jump."""
    p, hosts = ctl.json("deploy", check=0)
    for n in names:
        assert hosts[n]["ok"], hosts[n]
        assert hosts[n]["agent"]["installed"] is True, hosts[n]
    p, hosts = ctl.json("status", check=0)
    for n in names:
        assert hosts[n]["ok"] and hosts[n]["agent"] == {"certificates": []}, hosts[n]


# ---------------------------------------------------------------- ProxyJump, one hop

def test_proxyjump_one_hop_from_ssh_config(bins, net, tmp_path):
    cfg = ("Host bastion\n  HostName %s\n  User root\n\n"
           "Host t1\n  HostName %s\n  ProxyJump bastion\n" % (BASTION_IP, TARGET_IP))
    pre = tmp_path / "hosts"
    inv = "\n".join(["[fleet]", host_line("t1", prefix=pre), host_line("d", net.direct, pre),
                     # the same target, straight: no route from here
                     host_line("straight", net.t1, pre)]) + "\n"
    ctl = Ctl(bins, net, tmp_path, cfg, inv)
    before = net.bastion.accepted()
    p, hosts = ctl.json("deploy", check=1)
    assert hosts["t1"]["ok"] and hosts["t1"]["agent"]["installed"] is True, hosts["t1"]
    assert hosts["d"]["ok"], hosts["d"]
    assert hosts["straight"]["error"]["code"] == "NETWORK_ERROR", hosts["straight"]
    assert (pre / "t1/usr/local/bin/certfleet-agent").read_bytes() == \
        subprocess.run([ctl.bin, "agent-binary"], capture_output=True).stdout
    p, hosts = ctl.json("status", "t1:d", check=0)
    assert hosts["t1"]["agent"] == {"certificates": []}
    assert net.bastion.accepted() == before + 2     # one login per run
    # the target saw the connection come from the jump host
    assert "Connection from %s" % BSIDE_IP in net.t1.log()


# ---------------------------------------------------------------- chains and sharing

def test_two_hop_chain_and_shared_jump_session(bins, net, tmp_path):
    """bastion -> t1 -> inner (127.0.0.1 inside cfjt): a chain of two; t2, t3 and t1
    behind the same bastion: one TCP connection and one login on the bastion for all."""
    cfg = ("Host bastion\n  HostName %s\n  User root\n\n"
           "Host hop2\n  HostName %s\n  User root\n\n"
           "Host %s\n  ProxyJump bastion\n" % (BASTION_IP, TARGET_IP, TARGET_IP))
    pre = tmp_path / "hosts"
    inv = "\n".join(["[fleet]", host_line("t1", net.t1, pre), host_line("t2", net.t2, pre),
                     host_line("t3", net.t3, pre), host_line("d", net.direct, pre),
                     host_line("inner", net.inner, pre, "ansible_ssh_common_args='-J bastion,hop2'")]) + "\n"
    ctl = Ctl(bins, net, tmp_path, cfg, inv)
    b_acc, b_conn, t1_acc = net.bastion.accepted(), net.bastion.connections(), net.t1.accepted()
    deploy_status(ctl, ["t1", "t2", "t3", "d", "inner"])
    # two runs (deploy, status): each one connection and one login on the bastion for
    # the four hosts behind it (t1, t2, t3 and the chain through hop2 = t1)
    assert net.bastion.connections() - b_conn == 2
    assert net.bastion.accepted() - b_acc == 2
    # t1 as a host and t1 as the chain's second hop are two logins (as with ssh)
    assert net.t1.accepted() - t1_acc == 4
    assert "Connection from 127.0.0.1" in net.inner.log()
    assert "Connection from %s" % BSIDE_IP in net.t2.log()


def test_jump_host_unknown_key_nothing_sent_behind_it(bins, net, tmp_path):
    cfg = "Host %s\n  ProxyJump root@%s\n" % (TARGET_IP, BASTION_IP)
    inv = "\n".join(["[fleet]", host_line("t1", net.t1), host_line("t2", net.t2),
                     host_line("d", net.direct)]) + "\n"
    kh = "".join(s.kh_line() for s in (net.t1, net.t2)) + net.direct.known_hosts_line()
    ctl = Ctl(bins, net, tmp_path, cfg, inv, known_hosts=kh)
    b_acc, t_conn = net.bastion.accepted(), net.t1.connections() + net.t2.connections()
    b_conn = net.bastion.connections()
    p, hosts = ctl.json("status")
    assert p.returncode == 1
    # an unknown host is asked for what OpenSSH would record: its Ed25519 key
    fp = subprocess.run(["ssh-keygen", "-lf", str(net.bastion.hostkey_paths["ed25519"]) + ".pub"],
                        capture_output=True, text=True).stdout.split()[1]
    for n in ("t1", "t2"):
        e = hosts[n]["error"]
        assert e["code"] == "UNKNOWN_HOST_KEY", e
        assert e["detail"].startswith("via jump host %s: UNKNOWN_HOST_KEY: " % BASTION_IP), e
        assert fp in e["detail"]
    assert hosts["d"]["error"]["code"] == "AGENT_MISSING"     # the direct host went on
    # one attempt for both, no login, nothing reached the targets
    assert net.bastion.connections() - b_conn == 1
    assert net.bastion.accepted() == b_acc
    assert net.t1.connections() + net.t2.connections() == t_conn
    assert ctl.kh.read_text() == kh
    # --accept-new records the jump host's key under its own name, as for any host
    p = ctl.run("--json", "--accept-new", "status")
    hosts = {h["host"]: h for h in json.loads(p.stdout)["hosts"]}
    for n in ("t1", "t2", "d"):
        assert hosts[n]["error"]["code"] == "AGENT_MISSING", hosts[n]
    assert ctl.kh.read_text().startswith(kh)
    added = ctl.kh.read_text()[len(kh):].splitlines()
    # recorded as ssh records a new host: by its Ed25519 key
    assert len(added) == 1 and added[0].startswith(BASTION_IP + " ssh-ed25519 "), added
    assert added[0].split()[2] == net.bastion.host_keys["ed25519"].split()[1]


def test_jump_host_down_and_target_unreachable_from_it(bins, net, tmp_path):
    cfg = ("Host deadbastion\n  HostName %s\n  Port 2999\n  User root\n\n"
           "Host bastion\n  HostName %s\n  User root\n" % (BASTION_IP, BASTION_IP))
    inv = "\n".join(["[fleet]",
                     host_line("t1", net.t1, extra="ansible_ssh_common_args='-J deadbastion'"),
                     host_line("t2", net.t2, extra="ansible_ssh_common_args='-J deadbastion'"),
                     # nothing listens on that port of the target
                     "nolisten ansible_host=%s ansible_port=2998 ansible_user=root "
                     "ansible_ssh_common_args='-o ProxyJump=bastion'" % TARGET_IP,
                     host_line("t3", net.t3, extra="ansible_ssh_common_args='-o ProxyJump=bastion'"),
                     host_line("d", net.direct)]) + "\n"
    ctl = Ctl(bins, net, tmp_path, cfg, inv)
    p, hosts = ctl.json("status")
    assert p.returncode == 1
    for n in ("t1", "t2"):
        e = hosts[n]["error"]
        assert e["code"] == "CONNECTION_REFUSED", e
        assert e["detail"].startswith("via jump host deadbastion: CONNECTION_REFUSED: "), e
    e = hosts["nolisten"]["error"]
    assert e["code"] == "PROXY_FAILED", e
    assert "via jump host bastion: it could not open a connection to %s port 2998" % TARGET_IP \
        in e["detail"], e
    # the same bastion session went on carrying t3
    assert hosts["t3"]["error"]["code"] == "AGENT_MISSING", hosts["t3"]
    assert hosts["d"]["error"]["code"] == "AGENT_MISSING"


# ---------------------------------------------------------------- ProxyCommand

def _our_nc():
    """nc processes still running for this module's network (none once certfleet is done)."""
    out = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and (d / "comm").read_text().strip() == "nc" and \
                    (NET + ".").encode() in (d / "cmdline").read_bytes():
                out.append(d.name)
        except OSError:
            pass
    return out


def test_proxycommand(bins, net, tmp_path):
    mark = tmp_path / "injected"
    cfg = ("Host pc1\n  HostName %s\n  ProxyCommand ip netns exec %s nc %%h %%p\n\n"
           "Host pc2\n  HostName %s\n  Port 2201\n  ProxyCommand exec ip netns exec %s nc %%h %%p\n\n"
           "Host pcfail\n  HostName %s\n"
           "  ProxyCommand sh -c 'echo cannot reach %%h port %%p as %%r >&2; exit 3'\n\n"
           "Host inj\n  HostName a;touch${IFS}%s\n  ProxyCommand nc %%h %%p\n\n"
           "Host badtok\n  HostName %s\n  ProxyCommand nc %%h %%p %%C\n\n"
           # the jump host itself reached by its own ProxyCommand (as ssh -W would)
           "Host ncbastion\n  HostName %s\n  User root\n  ProxyCommand nc %%h %%p\n\n"
           "Host pc3\n  HostName %s\n  Port 2202\n  ProxyJump ncbastion\n\n"
           # none: no proxy for the direct host, whatever comes after
           "Host %s\n  ProxyCommand none\n\nHost *\n  ProxyCommand false\n"
           % (TARGET_IP, NS_B, TARGET_IP, NS_B, TARGET_IP, mark, TARGET_IP, BASTION_IP, TARGET_IP,
              net.direct.host))
    pre = tmp_path / "hosts"
    inv = "\n".join(["[fleet]", host_line("pc1", prefix=pre), host_line("pc2", prefix=pre),
                     host_line("pc3", prefix=pre), host_line("d", net.direct, pre)]) + "\n"
    ctl = Ctl(bins, net, tmp_path, cfg, inv)
    b_acc = net.bastion.accepted()
    deploy_status(ctl, ["pc1", "pc2", "pc3", "d"])
    assert net.bastion.accepted() - b_acc == 2
    assert "Connection from %s" % BSIDE_IP in net.t2.log()
    # every command was ended (it replaced its shell, as with OpenSSH's exec) and reaped
    cfutil.wait_for(lambda: _our_nc() == [], 2, "the ProxyCommand processes to end")

    (tmp_path / "inventory").write_text("[fleet]\npcfail ansible_user=root\ninj\nbadtok\n")
    p, hosts = ctl.json("status")
    assert p.returncode == 1
    e = hosts["pcfail"]["error"]
    assert e["code"] == "PROXY_FAILED", e
    assert "exited 3: cannot reach %s port 22 as root" % TARGET_IP in e["detail"], e
    e = hosts["inj"]["error"]
    assert e["code"] == "INVALID_INPUT" and "may not be put into a shell command" in e["detail"], e
    assert not mark.exists()
    e = hosts["badtok"]["error"]
    assert e["code"] == "SSH_OPTION_UNSUPPORTED" and "%C" in e["detail"], e


# ---------------------------------------------------------------- the inventory's ssh arguments

def test_inventory_ssh_args(bins, net, tmp_path):
    # ssh_config would send everything through a dead jump host: the inventory's
    # arguments come first, as ssh's command line does
    cfg = "Host %s %s\n  ProxyJump root@%s:2999\n" % (TARGET_IP, net.direct.host, BASTION_IP)
    pre = tmp_path / "hosts"
    pc = "ip netns exec %s nc %%h %%p" % NS_B
    inv = "\n".join([
        "[behind]",
        host_line("t1", net.t1, pre),
        host_line("t2", net.t2, pre, "ansible_ssh_extra_args='-J root@%s'" % BASTION_IP),
        host_line("t3", net.t3, pre, "ansible_ssh_common_args=\"-o 'ProxyCommand %s' "
                  "-o ControlMaster=auto -C\"" % pc),
        "[direct]",
        host_line("d", net.direct, pre, "ansible_ssh_common_args='-o ProxyJump=none'"),
        "[refused]",
        host_line("shk", net.t1, extra="ansible_ssh_common_args='-o StrictHostKeyChecking=no'"),
        host_line("ukh", net.t1, extra="ansible_ssh_extra_args='-o UserKnownHostsFile=/dev/null'"),
        host_line("port", net.t1, extra="ansible_ssh_common_args='-p 2222'"),
        host_line("quote", net.t1, extra="ansible_ssh_common_args=\"-o 'ProxyJump=x\""),
        "[behind:vars]",
        # group-wide; t2's -J in extra args comes after it: common args win
        "ansible_ssh_common_args='-o ProxyJump=root@%s -o ServerAliveInterval=5'" % BASTION_IP,
        ""])
    ctl = Ctl(bins, net, tmp_path, cfg, inv)
    b_acc = net.bastion.accepted()
    p, hosts = ctl.json("deploy", "behind:direct", check=0)
    assert all(h["agent"]["installed"] for h in hosts.values()), hosts
    p, hosts = ctl.json("status", check=1)
    for n in ("t1", "t2", "t3", "d"):
        assert hosts[n]["ok"], hosts[n]
    # t3 went by its ProxyCommand: one bastion login a run for t1 and t2
    assert net.bastion.accepted() - b_acc == 2
    e = hosts["shk"]["error"]
    assert e["code"] == "SSH_OPTION_UNSUPPORTED", e
    assert "StrictHostKeyChecking=no" in e["detail"] and "ansible_ssh_common_args" in e["detail"]
    e = hosts["ukh"]["error"]
    assert e["code"] == "SSH_OPTION_UNSUPPORTED" and "UserKnownHostsFile" in e["detail"], e
    assert "ansible_ssh_extra_args" in e["detail"]
    e = hosts["port"]["error"]
    assert e["code"] == "SSH_OPTION_UNSUPPORTED" and "-p" in e["detail"], e
    e = hosts["quote"]["error"]
    assert e["code"] == "INVALID_INPUT" and "quote" in e["detail"], e
    for n in ("shk", "ukh", "port", "quote"):
        assert hosts[n]["ms"] == 0 or hosts[n]["agent"] is None


def test_jump_host_loop_refused(bins, net, tmp_path):
    # the jump host matches its own Host * block: ssh says "jumphost loop", so do we
    cfg = "Host *\n  ProxyJump root@%s\n" % BASTION_IP
    ctl = Ctl(bins, net, tmp_path, cfg, "[fleet]\n%s\n" % host_line("t1", net.t1))
    p, hosts = ctl.json("status", check=1)
    e = hosts["t1"]["error"]
    assert e["code"] == "INVALID_INPUT" and "more than 8 jump hosts" in e["detail"], e
    assert hosts["t1"]["ms"] == 0




def test_jump_host_connection_lost(bins, net, tmp_path):
    """The jump host's transport ends after its login (its ProxyCommand passes the
    first 6000 bytes it receives only): the hosts behind it fail naming it."""
    cfg = ("Host cutbastion\n  HostName %s\n  User root\n"
           "  ProxyCommand nc %%h %%p | (dd bs=1 count=4500 2>/dev/null; kill 0)\n\n"
           "Host %s\n  ProxyJump cutbastion\n" % (BASTION_IP, TARGET_IP))
    pre = tmp_path / "hosts"
    inv = "\n".join(["[fleet]", host_line("t1", net.t1, pre), host_line("t2", net.t2, pre),
                     host_line("d", net.direct, pre)]) + "\n"
    ctl = Ctl(bins, net, tmp_path, cfg, inv)
    p, hosts = ctl.json("deploy", check=1)
    assert hosts["d"]["ok"], hosts["d"]
    for n in ("t1", "t2"):
        e = hosts[n]["error"]
        assert e["code"] == "PROXY_FAILED", e
        assert e["detail"].startswith("via jump host cutbastion: the connection to it was lost"), e


def test_jump_host_gone_silent(bins, net, tmp_path):
    """The jump host's transport stops carrying anything (without an end): the hosts
    behind it time out, and the message says which jump host they were behind."""
    cfg = ("Host mutebastion\n  HostName %s\n  User root\n"
           "  ProxyCommand nc %%h %%p | (dd bs=1 count=4500 2>/dev/null; sleep 30)\n\n"
           "Host %s\n  ProxyJump mutebastion\n" % (BASTION_IP, TARGET_IP))
    inv = "[fleet]\n%s\n%s\n" % (host_line("t1", net.t1), host_line("d", net.direct))
    ctl = Ctl(bins, net, tmp_path, cfg, inv)
    p, hosts = ctl.json("--timeout", "2", "--command-timeout", "4", "status", check=1)
    assert hosts["d"]["error"]["code"] == "AGENT_MISSING", hosts["d"]
    e = hosts["t1"]["error"]
    assert e["code"] in ("CONNECT_TIMEOUT", "TIMEOUT"), e
    assert e["detail"].startswith("via jump host mutebastion: "), e
    cfutil.wait_for(lambda: _our_nc() == [], 2, "the ProxyCommand processes to end")
