"""Privilege separation (docs/security.md): during a real issuance against
Pebble, the agent's network process ("certfleet-net") is confined and never
holds private key bytes, while the agent itself does.

A DNS-01 auth hook runs in the middle of the order, while the parent holds
the account key: it finds both processes, reads their /proc status and
descriptors, and scans every readable mapping of each for the account key's
private scalar.  The parent must contain it (so the scan works); the child
must not.  A deploy hook does the same for the new certificate's key.
"""
import json
import os
import sys
import textwrap
from pathlib import Path

from test_issue import Agent

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
            assert rec["uid"] == ["65534"] * 4 and rec["gid"] == ["65534"] * 4, rec
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
