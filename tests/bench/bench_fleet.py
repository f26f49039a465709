#!/usr/bin/python3
"""bench_fleet.py — `certfleet status` on a fleet of real sshd hosts against
parallel-ssh and Ansible running the same remote command, alternating, in one
run (issue #6); then a 500-host run under a low descriptor limit.

    bench_fleet.py [--hosts 100] [--rounds 3] [--big 500] [--no-doc]

Every figure comes from /usr/bin/time (GNU time: wall seconds, and the peak
RSS of the largest process of the tree it waited for).  The remote command is
what `certfleet status` runs: the deployed agent's `status --json`.  All three
tools use the same ECDSA key, known_hosts (strict checking) and hosts.
Results: a table on stdout and the section between the fleet-bench markers of
docs/benchmarks.md (unless --no-doc).
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchdoc import write_section  # noqa: E402 (tests/bench, the script's own directory)

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))
import cfutil  # noqa: E402

CTL = REPO / "bin" / "certfleet"
START = "<!-- fleet-bench:start -->"
END = "<!-- fleet-bench:end -->"


def timed(cmd, env=None, prlimit=None):
    full = ["/usr/bin/time", "-f", "TIME %e %M"] + [str(c) for c in cmd]
    if prlimit:
        full = ["prlimit", "--nofile=%s" % prlimit, "--"] + full
    t0 = time.monotonic()
    p = subprocess.run(full, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    wall = time.monotonic() - t0
    m = re.search(r"TIME ([\d.]+) (\d+)", p.stderr)
    rss = int(m.group(2)) / 1024.0 if m else float("nan")
    return p, wall, rss


def version(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (p.stdout or p.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unavailable"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--big", type=int, default=500)
    ap.add_argument("--no-doc", action="store_true")
    ap.add_argument("--doc", default=str(REPO / "docs" / "benchmarks.md"))
    args = ap.parse_args()
    if not CTL.exists():
        sys.exit("bin/certfleet is not built (make)")
    have_pssh = shutil.which("parallel-ssh") is not None
    have_ansible = shutil.which("ansible") is not None

    work = Path(tempfile.mkdtemp(prefix="cf-benchfleet-"))
    os.chmod(work, 0o700)
    servers = []
    t_start = time.monotonic()
    try:
        key = cfutil.ClientKey.generate(work / "id_ecdsa", "ecdsa")
        print("bench: starting %d sshd ..." % args.hosts, flush=True)
        servers = cfutil.start_many_sshd(work / "sshd", args.hosts, first_host=2, client_key=key)
        prefix = work / "prefix"                       # one agent install, read by every host
        kh = work / "known_hosts"
        kh.write_text("".join(s.known_hosts_line() for s in servers))
        inv = work / "inventory"
        inv.write_text("[fleet]\n" + "".join(
            "h%03d ansible_host=%s ansible_port=%d ansible_user=root "
            "ansible_ssh_private_key_file=%s certfleet_prefix=%s\n"
            % (i, s.host, s.port, key.path, prefix) for i, s in enumerate(servers)))
        home = work / "home"
        home.mkdir()
        env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
        env.update(HOME=str(home), XDG_STATE_HOME=str(work / "state"))
        base = [CTL, "-i", inv, "--known-hosts", kh, "-j", str(args.hosts)]
        p, _, _ = timed(base + ["deploy"], env=env)
        if p.returncode != 0:
            sys.exit("bench: deploy failed:\n" + p.stdout + p.stderr)
        agent = "%s/usr/local/bin/certfleet-agent" % prefix
        remote = "%s --prefix %s status --json" % (agent, prefix)

        hostfile = work / "pssh-hosts"
        hostfile.write_text("".join("root@%s:%d\n" % (s.host, s.port) for s in servers))
        ssh_opts = ["-o", "UserKnownHostsFile=%s" % kh, "-o", "GlobalKnownHostsFile=/dev/null",
                    "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
                    "-o", "IdentitiesOnly=yes", "-i", str(key.path)]
        pssh = ["parallel-ssh", "-p", str(args.hosts), "-h", hostfile, "-t", "60",
                "-x", " ".join(ssh_opts), "-o", work / "pssh-out", remote]
        ans_env = dict(env, ANSIBLE_HOST_KEY_CHECKING="True", ANSIBLE_RETRY_FILES_ENABLED="False",
                       ANSIBLE_SSH_ARGS="-o UserKnownHostsFile=%s -o GlobalKnownHostsFile=/dev/null "
                       "-o IdentitiesOnly=yes -o ControlMaster=no" % kh,
                       ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3",
                       ANSIBLE_LOCAL_TEMP=str(work / "ansible-tmp"),
                       ANSIBLE_NOCOLOR="1")
        ansible = ["ansible", "all", "-i", inv, "-f", str(args.hosts), "-m", "command", "-a", remote]

        tools = [("certfleet status", base + ["status"], env)]
        if have_pssh:
            tools.append(("parallel-ssh -p %d" % args.hosts, pssh, env))
        if have_ansible:
            tools.append(("ansible -f %d -m command" % args.hosts, ansible, ans_env))
        results = {name: [] for name, _, _ in tools}
        for r in range(args.rounds):
            for name, cmd, e in tools:
                p, wall, rss = timed(cmd, env=e)
                ok = p.returncode == 0
                results[name].append((wall, rss, ok))
                print("round %d  %-28s %6.2f s  %6.1f MiB  %s" % (r + 1, name, wall, rss,
                                                                  "ok" if ok else "FAILED (exit %d)" % p.returncode),
                      flush=True)

        big = None
        if args.big:
            n = args.big
            binv = work / "inventory-big"
            binv.write_text("[fleet]\n" + "".join(
                "b%04d ansible_host=%s ansible_port=%d ansible_user=root "
                "ansible_ssh_private_key_file=%s certfleet_prefix=%s\n"
                % (i, servers[i % len(servers)].host, servers[i % len(servers)].port, key.path, prefix)
                for i in range(n)))
            cmd = [CTL, "--json", "-i", binv, "--known-hosts", kh, "-j", str(n), "--timeout", "60",
                   "status"]
            p, wall, rss = timed(cmd, env=env, prlimit="256:%d" % 20000)
            nok = p.stdout.count('"ok":true')
            big = (n, wall, rss, nok, p.returncode)
            print("big: %d hosts, -j %d, soft RLIMIT_NOFILE 256: %.2f s, %.1f MiB, %d ok, exit %d"
                  % (n, n, wall, rss, nok, p.returncode), flush=True)
    finally:
        for s in servers:
            s.stop(timeout=2)
        shutil.rmtree(work, ignore_errors=True)

    rows = []
    for name, _, _ in tools:
        rs = results[name]
        rows.append((name, statistics.median(w for w, _, _ in rs), statistics.median(m for _, m, _ in rs),
                     all(ok for _, _, ok in rs)))
    cf = rows[0][1]
    lines = ["| tool | wall (median) | vs certfleet | peak RSS | all hosts ok |", "|---|---:|---:|---:|---|"]
    for name, wall, rss, ok in rows:
        lines.append("| %s | %.2f s | %.1f× | %.1f MiB | %s |" % (name, wall, wall / cf, rss, "yes" if ok else "NO"))
    table = "\n".join(lines)
    print()
    print(table)
    if args.no_doc:
        return
    uname = os.uname()
    doc = [START, "", "## Fleet: `status` on %d SSH hosts (issue #6)" % args.hosts, "",
           "Generated by `make bench` (tests/bench/run_fleet.sh → tests/bench/bench_fleet.py); "
           "rerun it to refresh this section.", "",
           "- date: %s" % time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime()),
           "- machine: %s %s %s; %d CPU(s)" % (uname.sysname, uname.release, uname.machine, os.cpu_count()),
           "- hosts: %d OpenSSH servers (Debian sshd, one per 127.0.0.x address, each with its own host "
           "keys) on this machine; one ECDSA client key, strict known_hosts checking for every tool"
           % args.hosts,
           "- remote command (all tools): the deployed agent's `status --json`",
           "- tools: %s; %s; %s" % (version([str(CTL), "--version"]),
                                     version(["parallel-ssh", "--version"]) if have_pssh else "parallel-ssh unavailable",
                                     version(["ansible", "--version"]) if have_ansible else "ansible unavailable"),
           "- %d rounds, tools alternating within each round; wall and peak RSS from GNU time "
           "(largest process of the tree); whole run %.0f s" % (args.rounds, time.monotonic() - t_start),
           "", table, ""]
    if big:
        n, wall, rss, nok, rc = big
        doc += ["%d hosts (the %d servers, several inventory names each), `-j %d`, soft "
                "RLIMIT_NOFILE 256 (certfleet raises it to the hard limit): %.2f s, peak RSS %.1f MiB, "
                "%d/%d hosts ok, exit %d." % (n, args.hosts, n, wall, rss, nok, n, rc), ""]
    doc.append(END)
    write_section(args.doc, START, END, doc)


if __name__ == "__main__":
    main()
