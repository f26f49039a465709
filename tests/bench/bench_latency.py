#!/usr/bin/python3
"""bench_latency.py — certfleet, parallel-ssh and Ansible over a slow link
(issue 16): N real sshd in a network namespace whose only route to the
tools' namespace goes through tests/bench/delayfwd.c, a TUN forwarder that
delays every packet by half the round-trip time each way (this kernel has no
netem) at real-time priority.

    bench_latency.py [--rtt 50] [--hosts 1,100] [--rounds 3] [--before BINARY]
                     [--tools certfleet,pssh,raw,command] [--no-doc]

Per tool and fleet size, the tools alternating within each round and each
running the same remote command (the deployed agent's `status --json`) with
the same key and strict known_hosts:
  wall       until the tool exits (median, min-max over the rounds)
  CPU        user+sys of the tool's whole process tree, ssh children and
             ControlPersist masters included (tests/bench/treelaunch.c: a
             subreaper that stops and reaps what the tool left running)
  peak RSS   largest single process of that tree (ru_maxrss)
  sshd CPU   cutime+cstime of the sshd listeners: every login's sshd and
             the remote command (the servers share the machine's cores)
  RTT/host   client flights per host counted by the forwarder (a flight: the
             near side sends after the far side has; pure ACKs do not count),
             and the connection's time at the forwarder divided by the RTT
Also `certfleet deploy` to a fresh prefix at N=1 (the first deploy's round
trips), and with --before the same figures for an older controller.
Results: a table on stdout and the section between the latency-bench markers
of docs/benchmarks.md (unless --no-doc).  Root only; never run by the tests.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchdoc import write_section  # noqa: E402 (tests/bench, the script's own directory)

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))
import cfutil  # noqa: E402

CTL = REPO / "bin" / "certfleet"
START = "<!-- latency-bench:start -->"
END = "<!-- latency-bench:end -->"


def sh(*cmd, check=True, **kw):
    return subprocess.run([str(c) for c in cmd], check=check, capture_output=True, text=True, **kw)


def host_addr(i):
    return "10.78.%d.%d" % (i // 250, i % 250 + 2)


class Net:
    """Two namespaces, a TUN in each, delayfwd between them."""

    def __init__(self, work, rtt):
        tag = "%d" % os.getpid()
        self.near, self.far = "cfbn" + tag, "cfbf" + tag
        self.work = work
        self.fwd = None
        self.lines = []
        self.cond = threading.Condition()
        try:
            self._start(work, rtt)
        except BaseException:
            self.close()
            raise

    def _start(self, work, rtt):
        for ns in (self.near, self.far):
            sh("ip", "netns", "add", ns)
        sh("ip", "-n", self.near, "tuntap", "add", "dev", "cfd0", "mode", "tun")
        sh("ip", "-n", self.far, "tuntap", "add", "dev", "cfd1", "mode", "tun")
        batch_near = ["addr add 10.77.0.1/32 dev cfd0", "link set cfd0 up", "link set lo up",
                      "route add 10.78.0.0/16 dev cfd0"]
        batch_far = ["link set cfd1 up", "link set lo up", "route add 10.77.0.0/24 dev cfd1"]
        self.run_batch(self.near, batch_near)
        self.run_batch(self.far, batch_far)
        exe = work / "delayfwd"
        sh("gcc", "-O2", "-Wall", "-o", exe, REPO / "tests" / "bench" / "delayfwd.c")
        self.fwd = subprocess.Popen([str(exe), self.near, "cfd0", self.far, "cfd1", str(rtt)],
                                    stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        threading.Thread(target=self._reader, daemon=True).start()
        self.report(first=True)

    def run_batch(self, ns, lines):
        f = self.work / ("batch-" + ns)
        f.write_text("\n".join(lines) + "\n")
        sh("ip", "-n", ns, "-batch", f)

    def add_hosts(self, n):
        self.run_batch(self.far, ["addr add %s/32 dev cfd1" % host_addr(i) for i in range(n)])

    def _reader(self):
        for line in self.fwd.stdout:
            with self.cond:
                self.lines.append(json.loads(line))
                self.cond.notify_all()

    def report(self, first=False):
        """The forwarder's counts since the last report (and start new ones)."""
        with self.cond:
            have = len(self.lines)
            if not first:
                self.fwd.send_signal(signal.SIGUSR1)
            # (the first answer waits for its queues to be locked in memory)
            if not self.cond.wait_for(lambda: len(self.lines) > have, timeout=120 if first else 30):
                raise RuntimeError("delayfwd did not answer")
            return self.lines[-1]

    def close(self):
        if self.fwd and self.fwd.poll() is None:
            self.fwd.terminate()
            try:
                self.fwd.wait(5)
            except subprocess.TimeoutExpired:
                self.fwd.kill()
        for ns in (self.near, self.far):
            sh("ip", "netns", "del", ns, check=False)


def start_sshd(work, net, n, key):
    servers = []
    for i in range(n):
        a = host_addr(i)
        servers.append(cfutil.Sshd(work / "sshd" / a, host=a, port=22, client_key=key,
                                   host_key_types=("ecdsa", "ed25519"),
                                   wrap=["ip", "netns", "exec", net.far], _defer=True))
    for s in servers:
        s.launch()
    t_end = time.monotonic() + 60
    for s in servers:
        while "Server listening on" not in s.log_path.read_text(errors="replace"):
            if time.monotonic() > t_end or not s.alive():
                raise RuntimeError("sshd on %s did not start:\n%s" % (s.host, s.log_path.read_text()))
            time.sleep(0.05)
    return servers


def launch(work, net, cmd, env, tag):
    out = work / ("rusage-" + tag)
    p = subprocess.run([str(work / "treelaunch"), "/run/netns/" + net.near, str(out)] + [str(c) for c in cmd],
                       env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=900)
    f = out.read_text().split()
    return {"wall": float(f[0]), "cpu": float(f[1]) + float(f[2]), "rss": int(f[3]) / 1024.0,
            "exit": int(f[4]), "stdout": p.stdout, "stderr": p.stderr}


def server_cpu(servers):
    """CPU seconds the sshd listeners' reaped children used (every login's
    sshd processes and the remote command): cutime + cstime."""
    ticks = 0
    for s in servers:
        try:
            st = Path("/proc/%d/stat" % s.proc.pid).read_text()
            f = st[st.rindex(")") + 2:].split()
            ticks += int(f[13]) + int(f[14])
        except (OSError, ValueError, IndexError):
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


def measured(work, net, servers, cmd, env, tag, rtt):
    """One run: the tool's figures, the forwarder's counts, the servers' CPU."""
    net.report()
    sc = server_cpu(servers)
    r = launch(work, net, cmd, env, tag)
    r["flights"], r["rtts"], r["nhosts"] = flights(net.report(), len(servers), rtt)
    time.sleep(0.5)           # the sshd of the last logins end and are reaped
    r["server_cpu"] = server_cpu(servers) - sc
    return r


def flights(rep, hosts, rtt):
    """Per-host client flights and connection time/RTT (medians over hosts)."""
    per, ms = {}, {}
    for c in rep["conns"]:
        h = c["far"].rsplit(":", 1)[0]
        per[h] = per.get(h, 0) + c["flights"]
        ms[h] = max(ms.get(h, 0.0), c["ms"])
    if not per:
        return None, None, 0
    return statistics.median(per.values()), statistics.median(ms.values()) / rtt, len(per)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rtt", type=int, default=50)
    ap.add_argument("--hosts", default="1,100")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tools", default="certfleet,pssh,raw,command")
    ap.add_argument("--before", help="an older certfleet binary, measured too")
    ap.add_argument("--no-doc", action="store_true")
    ap.add_argument("--doc", default=str(REPO / "docs" / "benchmarks.md"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_latency.py: must run as root (namespaces, TUN, SCHED_FIFO)")
    sizes = [int(x) for x in args.hosts.split(",")]
    tools = args.tools.split(",")
    if "pssh" in tools and not shutil.which("parallel-ssh"):
        print("bench: parallel-ssh not installed (Debian pssh): left out", flush=True)
        tools.remove("pssh")
    for t in ("raw", "command"):
        if t in tools and not shutil.which("ansible"):
            print("bench: ansible not installed: -m %s left out" % t, flush=True)
            tools.remove(t)
    work = Path(tempfile.mkdtemp(prefix="cf-benchlat-"))
    os.chmod(work, 0o755)
    net, servers = None, []
    results = {}          # (n, tool) -> list of run dicts
    t_start = time.monotonic()
    try:
        sh("musl-gcc", "-static", "-O2", "-o", work / "treelaunch", REPO / "tests" / "bench" / "treelaunch.c")
        net = Net(work, args.rtt)
        key = cfutil.ClientKey.generate(work / "id_ed25519", "ed25519")
        nmax = max(sizes)
        net.add_hosts(nmax)
        print("bench: starting %d sshd behind a %d ms RTT link ..." % (nmax, args.rtt), flush=True)
        servers = start_sshd(work, net, nmax, key)
        home = work / "home"
        home.mkdir()
        env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
        env.update(HOME=str(home), XDG_STATE_HOME=str(work / "state"))
        kh = work / "known_hosts"
        kh.write_text("".join(s.known_hosts_line(as_host=s.host) for s in servers))
        prefix = work / "prefix"
        ctls = [("certfleet", CTL)]
        if args.before:
            ctls.append(("certfleet (before)", Path(args.before)))

        def inventory(path, n, pfx):
            path.write_text("[fleet]\n" + "".join(
                "h%03d ansible_host=%s ansible_user=root ansible_ssh_private_key_file=%s "
                "certfleet_prefix=%s ansible_python_interpreter=/usr/bin/python3\n"
                % (i, servers[i].host, key.path, pfx) for i in range(n)))
            return path

        def ctl_cmd(binary, inv, n, *cmd):
            return [binary, "-i", inv, "--known-hosts", kh, "-j", str(n), "--timeout", "60"] + list(cmd)

        # the agent, deployed once: every "host" shares this machine's file
        # system, so one install under the shared prefix serves them all
        # (deploying to all at once would replace the file under the others)
        inv_one = inventory(work / "inventory-one", 1, prefix)
        r = launch(work, net, ctl_cmd(CTL, inv_one, 1, "deploy"), env, "deploy-one")
        net.report()
        if r["exit"] != 0:
            sys.exit("bench: deploy failed:\n" + (r["stdout"] + r["stderr"])[-3000:])
        agent = "%s/usr/local/bin/certfleet-agent" % prefix
        remote = "%s --prefix %s status --json" % (agent, prefix)

        for rnd in range(args.rounds):
            # the first deploy of one host (fresh prefix), each controller
            for ci, (name, binary) in enumerate(ctls):
                inv1 = inventory(work / "inv-dep", 1, work / ("dep-%d-%d" % (ci, rnd)))
                r = measured(work, net, servers[:1], ctl_cmd(binary, inv1, 1, "deploy"), env, "dep",
                             args.rtt)
                results.setdefault((1, name + " deploy"), []).append(r)
                print("round %d  N=1    %-28s %6.3f s  %5.1f RTT  %s" % (
                    rnd + 1, name + " deploy", r["wall"], r["flights"] or 0,
                    "ok" if r["exit"] == 0 else "exit %d" % r["exit"]), flush=True)
            for n in sizes:
                inv = inventory(work / ("inventory-%d" % n), n, prefix)
                hostfile = work / ("pssh-hosts-%d" % n)
                hostfile.write_text("".join("root@%s\n" % s.host for s in servers[:n]))
                ssh_opts = ["-o", "UserKnownHostsFile=%s" % kh, "-o", "GlobalKnownHostsFile=/dev/null",
                            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
                            "-o", "IdentitiesOnly=yes", "-i", str(key.path)]
                cp = work / ("cp-%d-%d" % (n, rnd))
                ans_env = dict(env, ANSIBLE_HOST_KEY_CHECKING="True", ANSIBLE_RETRY_FILES_ENABLED="False",
                               ANSIBLE_SSH_COMMON_ARGS="-o UserKnownHostsFile=%s -o GlobalKnownHostsFile=/dev/null "
                               "-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes" % kh,
                               ANSIBLE_SSH_CONTROL_PATH_DIR=str(cp),
                               ANSIBLE_LOCAL_TEMP=str(work / "ansible-tmp"), ANSIBLE_NOCOLOR="1",
                               ANSIBLE_FORKS=str(n))
                cmds = []
                for t in tools:
                    if t == "certfleet":
                        for name, binary in ctls:
                            cmds.append((name + " status", ctl_cmd(binary, inv, n, "status"), env))
                    elif t == "pssh":
                        cmds.append(("parallel-ssh", ["parallel-ssh", "-p", str(n), "-h", hostfile, "-t", "120",
                                                      "-x", " ".join(ssh_opts), "-o", work / "pssh-out", remote],
                                     env))
                    else:
                        cmds.append(("ansible -m " + t, ["ansible", "all", "-i", inv, "-f", str(n), "-m", t,
                                                          "-a", remote], ans_env))
                # alternate: rotate the order from round to round
                k = rnd % len(cmds)
                for name, cmd, e in cmds[k:] + cmds[:k]:
                    r = measured(work, net, servers[:n], cmd, e, "run", args.rtt)
                    results.setdefault((n, name), []).append(r)
                    print("round %d  N=%-4d %-28s %6.3f s  cpu %6.3f s  sshd %6.2f s  %6.1f MiB  %5.1f RTT/host  %s" % (
                        rnd + 1, n, name, r["wall"], r["cpu"], r["server_cpu"], r["rss"], r["flights"] or 0,
                        "ok" if r["exit"] == 0 else "exit %d: %s" % (r["exit"], (r["stderr"] or r["stdout"])[-300:])),
                        flush=True)
    finally:
        for s in servers:
            s.stop(timeout=2)
        if net:
            net.close()
        shutil.rmtree(work, ignore_errors=True)

    def med(rs, k):
        v = [r[k] for r in rs if r.get(k) is not None]
        return (statistics.median(v), min(v), max(v)) if v else (float("nan"),) * 3

    lines = ["| N | tool | wall median (min–max) | wall / RTT | CPU (tool's tree) | sshd + command CPU | "
             "peak RSS | client flights / host | connection time / RTT | exits |",
             "|---:|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for (n, name), rs in results.items():
        w, c, m, f, t = med(rs, "wall"), med(rs, "cpu"), med(rs, "rss"), med(rs, "flights"), med(rs, "rtts")
        sc = med(rs, "server_cpu")
        lines.append("| %d | %s | %.3f s (%.3f–%.3f) | %.1f | %.3f s | %.2f s | %.1f MiB | %.1f | %.1f | %s |" % (
            n, name, w[0], w[1], w[2], w[0] * 1000 / args.rtt, c[0], sc[0], m[0], f[0], t[0],
            ",".join(str(r["exit"]) for r in rs)))
    table = "\n".join(lines)
    print()
    print(table)
    if args.no_doc:
        return
    uname = os.uname()
    doc = [START, "", "## Latency: %d ms RTT (issue 16)" % args.rtt, "",
           "Generated by `make bench` (tests/bench/run_latency.sh → tests/bench/bench_latency.py); "
           "rerun it to refresh this section.", "",
           "- date: %s; %s %s, %d CPUs shared with other work" % (
               time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), uname.sysname, uname.machine,
               os.cpu_count()),
           "- link: two network namespaces joined by tests/bench/delayfwd.c (TUN, SCHED_FIFO), "
           "%d ms round trip; the sshd (Debian OpenSSH, ECDSA+Ed25519 host keys) in the far one" % args.rtt,
           "- every tool: the same Ed25519 key, strict known_hosts, remote command = the agent's "
           "`status --json`; Ansible with its default ControlPersist (cold: a new ControlPath "
           "directory per run, the masters stopped and counted at the end) and "
           "ansible_python_interpreter set (no discovery)",
           "- CPU (tool's tree): user+sys of the tool and every process it started (treelaunch.c); "
           "sshd + command CPU: what the servers' side used for the same run (cutime+cstime of the "
           "sshd listeners: each login's sshd processes and the remote command), on the same cores; "
           "peak RSS: the largest process of the tool's tree",
           "- client flights: counted per host at the forwarder (the near side sends after the far "
           "side sent); connection time: first to last packet of the host's connections, over the RTT",
           "- %d rounds, tools alternating; whole run %.0f s" % (args.rounds, time.monotonic() - t_start),
           "", table, "", END]
    write_section(args.doc, START, END, doc)


if __name__ == "__main__":
    main()
