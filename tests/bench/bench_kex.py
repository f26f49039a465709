#!/usr/bin/python3
"""bench_kex.py — the controller's per-host SSH handshake cost (issue 13):
`certfleet status` on N local sshd, controller CPU (user+sys) and wall time
from GNU time, for

  - BEFORE (an older bin/certfleet, given with --before): default servers;
  - this build against the same default servers (it negotiates
    curve25519-sha256 + ssh-ed25519 where the old one took ecdh-sha2-nistp256
    + ecdsa-sha2-nistp256);
  - this build against servers restricted to ecdh-sha2-nistp256 +
    ecdsa-sha2-nistp256, and to curve25519-sha256 + ssh-ed25519: the
    algorithms' own difference with everything else equal.

    bench_kex.py [--hosts 20] [--rounds 5] [--before PATH] [--after PATH]

No agent is deployed: each host's status is a full SSH session (key
exchange, host key check, login, one exec) answering AGENT_MISSING.
Not run by CI; the figures go to docs/benchmarks.md by hand.
"""

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))
import cfutil  # noqa: E402


def timed(cmd):
    p = subprocess.run(["/usr/bin/time", "-f", "TIME %e %U %S"] + [str(c) for c in cmd],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True)
    m = re.search(r"TIME ([\d.]+) ([\d.]+) ([\d.]+)", p.stderr)
    return p, float(m.group(1)), float(m.group(2)) + float(m.group(3))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--before", default=None)
    ap.add_argument("--after", default=str(REPO / "bin" / "certfleet"))
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cf-bench-kex-"))
    key = cfutil.ClientKey.generate(work / "id_ecdsa", "ecdsa")
    sets = {
        "default": "",
        "ecdh-p256": "KexAlgorithms ecdh-sha2-nistp256\nHostKeyAlgorithms ecdsa-sha2-nistp256",
        "curve25519": "KexAlgorithms curve25519-sha256\nHostKeyAlgorithms ssh-ed25519",
    }
    servers, first = {}, max(2, 254 - len(sets) * a.hosts)
    try:
        for name, extra in sets.items():
            servers[name] = cfutil.start_many_sshd(work / name, a.hosts, first_host=first,
                                                   client_key=key, extra_config=extra)
            first += a.hosts
        runs = []
        if a.before:
            runs.append(("before: %s" % a.before, a.before, "default"))
        ctl = a.after
        runs += [("this build", ctl, "default"), ("this build", ctl, "ecdh-p256"),
                 ("this build", ctl, "curve25519")]
        res = {i: [] for i in range(len(runs))}
        for r in range(a.rounds):
            for i, (label, binary, sname) in enumerate(runs):
                d = work / ("run-%d-%d" % (i, r))
                d.mkdir()
                inv = d / "inventory"
                inv.write_text("[fleet]\n" + "".join(
                    "h%02d ansible_host=%s ansible_port=%d ansible_user=root "
                    "certfleet_prefix=%s/h%02d\n" % (j, s.host, s.port, d, j)
                    for j, s in enumerate(servers[sname])))
                kh = d / "known_hosts"
                kh.write_text("".join(s.known_hosts_line("ecdsa") + s.known_hosts_line("ed25519")
                                      for s in servers[sname]))
                p, wall, cpu = timed([binary, "--json", "-i", inv, "--known-hosts", kh,
                                      "--identity", key.path, "status"])
                ok = p.stdout.count('"AGENT_MISSING"')
                if ok != a.hosts:
                    print("%s on %s: only %d/%d hosts reached\n%s" % (label, sname, ok, a.hosts,
                          p.stdout[:2000]), file=sys.stderr)
                res[i].append((wall, cpu))
        print("| controller | servers | wall (median) | controller CPU (median) | CPU per host |")
        print("|---|---|---:|---:|---:|")
        for i, (label, binary, sname) in enumerate(runs):
            w = statistics.median(x[0] for x in res[i])
            c = statistics.median(x[1] for x in res[i])
            print("| %s | %d %s | %.2f s | %.3f s | %.1f ms |" % (
                label, a.hosts, sname, w, c, 1000 * c / a.hosts))
    finally:
        for ss in servers.values():
            for s in ss:
                s.stop()


if __name__ == "__main__":
    main()
