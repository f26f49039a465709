#!/usr/bin/env python3
"""bench_issue.py — one certificate issuance, certfleet-agent against uacme,
certbot and lego, side by side on a local Pebble (issue #3).

Run it through tests/bench/run.sh (`make bench`), which installs the clients.
Must run as root: the clients bind Pebble's HTTP-01 port, and uacme's trust
store is swapped in a private mount namespace (see "uacme and trust" below).

What it does
  * one Pebble 2.6 + pebble-challtestsrv (tests/integration/cfutil.py) with
    PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0, so every
    order really goes through HTTP-01 validation;
  * per client a work directory and an ACME account, made by one unmeasured
    warm-up issuance;
  * N rounds (default 3); in each round every client issues ONE certificate
    for a fresh name bench-<client>-<round>.example.test (the order of the
    clients rotates each round); the median of the rounds is reported;
  * per measured run: wall time, user+sys CPU and peak RSS of the client's
    process tree (wait4() in a tiny static launcher, see below) and the HTTP
    requests Pebble logged while it ran ("METHOD /path -> calling handler()");
  * per client one extra, unmeasured run under `strace -f -e trace=connect`:
    the connect() calls that reached Pebble's ACME port = TCP connections
    = TLS handshakes (full or resumed);
  * certfleet-agent once more with -v: its own "N TLS handshake(s), N HTTP
    request(s)" line as a cross-check, and /proc samples of its processes
    (VmHWM, RssAnon, RssFile) to show where the memory goes;
  * a table on stdout and docs/benchmarks.md (unless --no-doc).

Why a C launcher and not os.wait4 in this script: on Linux the exec'ing
process's RSS high-water mark before execve() is folded into the child's
ru_maxrss (fs/exec.c exec_mmap -> setmax_mm_hiwater_rss), and a fork of this
Python process carries Python's whole RSS.  Measured from Python, /bin/true
"peaks" at the size of the Python interpreter.  So the launcher is a static
binary of a few KiB, compiled here from LAUNCHER_C; it forks, execs the client,
and wait4()s it: user/sys time are the client's plus every child the client
waited for, ru_maxrss is the largest single process of that tree (not a sum).

Trust, two settings, every client measured in both:
  default trust  the store each program loads in production + Pebble's listener
                 CA: certfleet-agent reads Debian's bundle itself (besides its
                 compiled-in roots and --ca-file); uacme's libcurl-gnutls loads
                 the CApath /etc/ssl/certs, where ca-certificates.crt is
                 bind-mounted to Debian's bundle + the listener CA; certbot
                 (REQUESTS_CA_BUNDLE) and lego (LEGO_CA_CERTIFICATES) get that
                 bundle file.
  CA only        Pebble's listener CA alone: certfleet-agent --ca-file plus
                 SSL_CERT_FILE (which replaces the system bundle); uacme with
                 /etc/ssl/certs bind-mounted to a directory holding only that CA;
                 certbot/lego with the env variables pointing to that CA.
Debian bookworm's uacme 1.7.4 has no CA-file option and libcurl reads no
environment variable for one (UACME_CAINFO came in uacme 1.7.6), hence the
bind mounts: the launcher makes a private mount namespace before the clock
starts; it goes away with the process.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))

import cfutil  # noqa: E402
from cfutil import ChallTestSrv, Pebble, Service, ServiceError, tcp_open, wait_for  # noqa: E402

RUN_TIMEOUT = 90          # seconds, any single client run
SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
PEBBLE_ENV = {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0"}

GOALS_TEXT = "one TLS handshake, at most 10 requests, CPU ≤ 1/4 of uacme's, peak RSS ≤ 2 MiB"

# ---------------------------------------------------------------- the launcher

LAUNCHER_C = r"""
/* launcher [-b SRC:DST] OUT PROG [ARG...]: run PROG, write its rusage to OUT.
 * -b: first enter a private mount namespace and bind-mount SRC over DST. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int i = 1;
	if (argc > 3 && strcmp(argv[1], "-b") == 0) {
		char *src = argv[2], *dst = strchr(src, ':');
		if (!dst) { fprintf(stderr, "launcher: -b SRC:DST\n"); return 125; }
		*dst++ = 0;
		if (unshare(CLONE_NEWNS) != 0 ||
		    mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
		    mount(src, dst, NULL, MS_BIND, NULL) != 0) {
			perror("launcher: mount namespace");
			return 125;
		}
		i = 3;
	}
	if (argc < i + 2) { fprintf(stderr, "usage: launcher [-b SRC:DST] OUT PROG [ARG...]\n"); return 125; }
	const char *out = argv[i++];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = fork();
	if (pid < 0) { perror("launcher: fork"); return 125; }
	if (pid == 0) {
		execvp(argv[i], argv + i);
		perror(argv[i]);
		_exit(127);
	}
	int st = 0;
	struct rusage ru;
	while (wait4(pid, &st, 0, &ru) < 0)
		if (errno != EINTR) { perror("launcher: wait4"); return 125; }
	clock_gettime(CLOCK_MONOTONIC, &t1);
	FILE *f = fopen(out, "w");
	if (!f) { perror(out); return 125; }
	fprintf(f, "{\"wall\": %.6f, \"utime\": %ld.%06ld, \"stime\": %ld.%06ld, "
	        "\"maxrss_kib\": %ld, \"minflt\": %ld, \"majflt\": %ld, \"nvcsw\": %ld, "
	        "\"nivcsw\": %ld, \"exited\": %d, \"code\": %d}\n",
	        (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
	        (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec,
	        (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec,
	        ru.ru_maxrss, ru.ru_minflt, ru.ru_majflt, ru.ru_nvcsw, ru.ru_nivcsw,
	        WIFEXITED(st), WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	fclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
"""


def build_launcher(workdir):
    src = workdir / "launcher.c"
    src.write_text(LAUNCHER_C)
    exe = workdir / "launcher"
    tries = []
    if shutil.which("musl-gcc"):
        tries.append(["musl-gcc", "-static", "-Os", "-s", "-o", str(exe), str(src)])
    tries.append(["cc", "-static", "-Os", "-s", "-o", str(exe), str(src)])
    tries.append(["cc", "-Os", "-o", str(exe), str(src)])
    errors = []
    for cmd in tries:
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode == 0:
            return exe, cmd[0] + (" -static" if "-static" in cmd else " (dynamic)")
        errors.append("%s: %s" % (" ".join(cmd), r.stderr.strip()))
    raise ServiceError("cannot build the launcher:\n" + "\n".join(errors))


# ---------------------------------------------------------------- helpers

def sh(cmd, timeout=15):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return (r.stdout + r.stderr).strip()
    except (OSError, subprocess.SubprocessError) as e:
        return "(%s)" % e


def dpkg_version(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status} ${Version}", pkg],
                       capture_output=True, text=True)
    if r.returncode != 0 or "ok installed" not in r.stdout:
        return None
    return r.stdout.split()[-1]


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


REQ_RE = re.compile(r"^Pebble \S+ \S+ ([A-Z]+) (/[^ ]*) -> calling handler\(\)")


def pebble_requests(pebble, start, end):
    """HTTP requests Pebble logged between byte offsets START and END."""
    with open(pebble.log_path, "rb") as f:
        f.seek(start)
        text = f.read(end - start).decode(errors="replace")
    reqs = []
    for line in text.splitlines():
        m = REQ_RE.match(line)
        if m:
            path = m.group(2)
            seg = "/" + path.strip("/").split("/")[0] + ("/" if path.count("/") > 1 else "")
            reqs.append("%s %s" % (m.group(1), seg))
    return reqs


def endpoint_histogram(reqs):
    out = {}
    for r in reqs:
        out[r] = out.get(r, 0) + 1
    return out


def count_connects(strace_file, port):
    """connect() calls to PORT that reached a listener (refused ones excluded)."""
    attempts, ok, refused = 0, 0, 0
    pending = set()
    want = "port=htons(%d)" % port
    for line in Path(strace_file).read_text(errors="replace").splitlines():
        pid = line.split(" ", 1)[0]
        result = None
        if "connect(" in line and want in line:
            attempts += 1
            if "<unfinished" in line:
                pending.add(pid)
                continue
            result = line.rsplit(") = ", 1)[-1]
        elif "<... connect resumed>" in line and pid in pending:
            pending.discard(pid)
            result = line.rsplit(") = ", 1)[-1]
        else:
            continue
        if result.startswith("-1") and "EINPROGRESS" not in result:
            refused += 1
        else:
            ok += 1
    return {"attempts": attempts, "connections": ok, "failed": refused}


def proc_tree(root_pid):
    """root_pid and its descendants (via /proc/PID/task/*/children)."""
    out, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        out.append(pid)
        try:
            for t in os.listdir("/proc/%d/task" % pid):
                try:
                    kids = Path("/proc/%d/task/%s/children" % (pid, t)).read_text().split()
                    todo.extend(int(k) for k in kids)
                except OSError:
                    pass
        except OSError:
            pass
    return out


def proc_status(pid):
    d = {}
    try:
        for line in Path("/proc/%d/status" % pid).read_text().splitlines():
            k, _, v = line.partition(":")
            if k in ("Name", "VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem", "VmStk",
                     "VmData", "VmExe"):
                d[k] = v.strip() if k == "Name" else int(v.split()[0])
        # utime, stime (clock ticks) are fields 14 and 15 of /proc/PID/stat
        st = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        d["cpu_ms"] = (int(st[11]) + int(st[12])) * 1000 // tick
    except (OSError, ValueError, IndexError):
        return None
    return d


def smaps_summary(pid):
    """Rss (KiB) per mapping kind: binary, [heap], [stack], anon (bss/mmap), other."""
    out = {}
    name = None
    try:
        text = Path("/proc/%d/smaps" % pid).read_text()
    except OSError:
        return None
    for line in text.splitlines():
        parts = line.split()
        if parts and "-" in parts[0] and len(parts) >= 5 and not parts[0].endswith(":"):
            path = parts[5] if len(parts) > 5 else ""
            name = ("binary" if path.endswith("certfleet-agent") else
                    path if path.startswith("[") else "anon" if not path else "file")
        elif parts and parts[0] == "Rss:" and name:
            out[name] = out.get(name, 0) + int(parts[1])
    return out


class Sampler(threading.Thread):
    """Samples /proc/PID/status of a process tree (not used in timed runs)."""

    def __init__(self, root_pid, skip_root=True, interval=0.002):
        super().__init__(daemon=True)
        self.root, self.skip_root, self.interval = root_pid, skip_root, interval
        self.stop_ev = threading.Event()
        self.seen = {}       # pid -> {field: max}

    def run(self):
        while not self.stop_ev.is_set():
            for pid in proc_tree(self.root):
                if self.skip_root and pid == self.root:
                    continue
                st = proc_status(pid)
                if not st:
                    continue
                cur = self.seen.setdefault(pid, {})
                cur["Name"] = st.get("Name")        # the name after execve() wins
                grew = st.get("VmRSS", 0) > cur.get("VmRSS", -1)
                for k, v in st.items():
                    if k != "Name":
                        cur[k] = max(cur.get(k, 0), v)
                if grew:
                    sm = smaps_summary(pid)
                    if sm:
                        cur["smaps"] = sm
            time.sleep(self.interval)

    def stop(self):
        self.stop_ev.set()
        self.join(timeout=2)


# ---------------------------------------------------------------- running a client

class RunResult:
    def __init__(self, **kw):
        self.__dict__.update(kw)


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = Path(tempfile.mkdtemp(prefix="certfleet-bench-"))
        self.launcher = None
        self.cts = None
        self.pebble = None
        self.bundle = None       # Debian's CA bundle + Pebble's listener CA
        self.ca_dir = None       # a directory holding Pebble's listener CA alone
        self.n_launch = 0

    def run(self, client, domain, kind, strace_file=None, sample=False, extra_env=None,
            verbose=False):
        """Run CLIENT once for DOMAIN under the launcher; returns RunResult."""
        self.n_launch += 1
        tag = "%s-%s-%d" % (client.key, kind, self.n_launch)
        ru_file = self.work / "ru" / (tag + ".json")
        ru_file.parent.mkdir(exist_ok=True)
        log = self.work / "logs" / (tag + ".log")
        log.parent.mkdir(exist_ok=True)
        cmd = [str(self.launcher)]
        if client.bind:
            cmd += ["-b", "%s:%s" % client.bind]
        cmd.append(str(ru_file))
        if strace_file:
            cmd += ["strace", "-f", "-qq", "-e", "trace=connect", "-o", str(strace_file), "--"]
        cmd += client.command(domain, verbose=verbose)
        env = client.env()
        env.update(extra_env or {})
        web = client.start_webserver(self) if client.needs_webserver else None
        off0 = os.path.getsize(self.pebble.log_path)
        leftover = False
        try:
            with open(log, "wb") as lf:
                p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT,
                                     env=env, cwd=str(client.dir), start_new_session=True)
                sampler = Sampler(p.pid) if sample else None
                if sampler:
                    sampler.start()
                timer = threading.Timer(RUN_TIMEOUT, lambda: _killpg(p.pid))
                timer.start()
                try:
                    _, status, _ = os.wait4(p.pid, 0)
                except BaseException:
                    _killpg(p.pid)          # interrupted: take the client down with us
                    raise
                finally:
                    timer.cancel()
                    if sampler:
                        sampler.stop()
                p.returncode = os.waitstatus_to_exitcode(status)
                # anything of the client's still alive in its process group?
                try:
                    os.killpg(p.pid, 0)
                    leftover = True
                    _killpg(p.pid)
                except (ProcessLookupError, PermissionError):
                    pass
        finally:
            if web:
                web.stop()
        time.sleep(0.05)     # let Pebble finish writing its log lines
        off1 = os.path.getsize(self.pebble.log_path)
        ru = json.loads(ru_file.read_text()) if ru_file.exists() else None
        ok = p.returncode == 0 and ru is not None
        res = RunResult(client=client.key, domain=domain, kind=kind, ok=ok, code=p.returncode,
                        ru=ru, log=str(log), requests=pebble_requests(self.pebble, off0, off1),
                        leftover=leftover, output=Path(log).read_text(errors="replace"),
                        samples=sampler.seen if sample else None)
        if not ok:
            print("  !! %s %s (%s) failed with status %s; log %s:\n%s" %
                  (client.key, kind, domain, p.returncode, log, cfutil.tail(log, 25)), flush=True)
        return res


def _killpg(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class WebServer(Service):
    """python3 -m http.server serving uacme's webroot on Pebble's httpPort."""

    name = "http.server"

    def __init__(self, root, port, log):
        super().__init__()
        self._spawn([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory",
                     str(root), str(port)], log)
        try:
            wait_for(lambda: tcp_open("127.0.0.1", port), 10, "http.server on %d" % port,
                     proc=self.proc, log=log)
        except Exception:
            self.stop()
            raise


# ---------------------------------------------------------------- the clients

TRUST_MODES = {
    "system": "default trust store + Pebble's CA",
    "listener": "Pebble's listener CA only",
}


class Client:
    base = ""
    label = ""
    package = None
    binary = None
    needs_webserver = False
    http01 = ""
    bind = None

    def __init__(self, bench, trust):
        self.bench = bench
        self.trust = trust
        self.key = self.base + ("" if trust == "system" else "-ca")
        self.dir = bench.work / self.key
        self.dir.mkdir(parents=True, exist_ok=True)
        self.unavailable = None
        if not self.binary or not (Path(self.binary).is_file() and os.access(self.binary, os.X_OK)):
            self.unavailable = "package %s not installed" % (self.package or self.binary)

    @property
    def pebble(self):
        return self.bench.pebble

    @property
    def name(self):
        return "%s [%s]" % (self.label, "default trust" if self.trust == "system" else "CA only")

    def trust_file(self):
        """The PEM file for clients that take one: bundle or listener CA."""
        return str(self.bench.bundle if self.trust == "system" else self.pebble.ca_file)

    def env(self):
        return {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "HOME": str(self.dir), "LANG": "C.UTF-8"}

    def version(self):
        v = dpkg_version(self.package) if self.package else None
        return v or "?"

    def warm_up(self, domain):
        return [self.bench.run(self, domain, "warmup")]

    def command(self, domain, verbose=False):
        raise NotImplementedError


class CertfleetAgent(Client):
    base = "certfleet"
    label = "certfleet-agent"
    http01 = "built in (--standalone; forks a responder)"

    def __init__(self, bench, trust):
        self.binary = str(bench.args.agent)
        super().__init__(bench, trust)

    def version(self):
        out = sh([self.binary, "--version"]).splitlines()
        return out[0].replace("certfleet-agent ", "") if out else "?"

    def env(self):
        e = super().env()
        if self.trust == "listener":
            # SSL_CERT_FILE replaces the system bundle the agent otherwise loads
            e["SSL_CERT_FILE"] = str(self.pebble.ca_file)
        return e

    def command(self, domain, verbose=False):
        return [self.binary, *(["-v"] if verbose else []), "--prefix", str(self.dir / "root"),
                "issue", "-d", domain, "--standalone", "--http-port", str(self.pebble.http_port),
                "--server", self.pebble.directory, "--ca-file", str(self.pebble.ca_file),
                "--resolver", self.bench.cts.dns_addr, "--agree-tos"]


class Uacme(Client):
    base = "uacme"
    label = "uacme"
    package = "uacme"
    binary = "/usr/bin/uacme"
    needs_webserver = True
    http01 = "hook script + python3 http.server on httpPort (server not measured)"
    account_cmd = False

    def __init__(self, bench, trust):
        super().__init__(bench, trust)
        self.conf = self.dir / "conf"
        self.webroot = self.dir / "www"
        (self.webroot / ".well-known" / "acme-challenge").mkdir(parents=True, exist_ok=True)
        self.hook = self.dir / "hook.sh"
        self.hook.write_text(
            "#!/bin/sh\n# uacme hook: METHOD TYPE IDENT TOKEN AUTH (http-01 into the webroot)\n"
            "d=%s/.well-known/acme-challenge\n"
            "case \"$1:$2\" in\n"
            "  begin:http-01) printf '%%s' \"$5\" > \"$d/$4\" ;;\n"
            "  done:http-01|failed:http-01) rm -f \"$d/$4\" ;;\n"
            "  *) exit 1 ;;\n"
            "esac\n" % self.webroot)
        self.hook.chmod(0o755)
        # see the module docstring: a private mount namespace made by the launcher
        if trust == "system":
            self.bind = (str(bench.bundle), str(SYSTEM_BUNDLE))
        else:
            self.bind = (str(bench.ca_dir), str(SYSTEM_BUNDLE.parent))

    def start_webserver(self, bench):
        return WebServer(self.webroot, self.pebble.http_port, bench.work / "logs" / "http.server.log")

    def base_cmd(self):
        return [self.binary, "-c", str(self.conf), "-a", self.pebble.directory,
                "-t", "EC", "-b", "256"]

    def warm_up(self, domain):
        self.account_cmd = True
        try:
            r1 = self.bench.run(self, "(account)", "account")
        finally:
            self.account_cmd = False
        return [r1, self.bench.run(self, domain, "warmup")]

    def command(self, domain, verbose=False):
        if self.account_cmd:
            return self.base_cmd() + ["-y", "new"]
        return self.base_cmd() + ["-h", str(self.hook), "issue", domain]


class Certbot(Client):
    base = "certbot"
    label = "certbot"
    package = "certbot"
    binary = "/usr/bin/certbot"
    http01 = "built in (--standalone --http-01-port)"

    def env(self):
        e = super().env()
        e["REQUESTS_CA_BUNDLE"] = self.trust_file()
        return e

    def command(self, domain, verbose=False):
        return [self.binary, "certonly", "--standalone",
                "--http-01-port", str(self.pebble.http_port),
                "--server", self.pebble.directory,
                "--config-dir", str(self.dir / "config"), "--work-dir", str(self.dir / "work"),
                "--logs-dir", str(self.dir / "logs"),
                "--non-interactive", "--agree-tos", "--register-unsafely-without-email",
                "--key-type", "ecdsa", "--elliptic-curve", "secp256r1", "-d", domain]


class Lego(Client):
    base = "lego"
    label = "lego"
    package = "lego"
    binary = "/usr/bin/lego"
    http01 = "built in (--http --http.port :PORT)"

    def env(self):
        e = super().env()
        e["LEGO_CA_CERTIFICATES"] = self.trust_file()
        return e

    def command(self, domain, verbose=False):
        return [self.binary, "--accept-tos", "--email", "bench-lego@example.test",
                "--server", self.pebble.directory, "--path", str(self.dir / "data"),
                "--http", "--http.port", ":%d" % self.pebble.http_port,
                "--key-type", "ec256", "-d", domain, "run"]


CLIENTS = [CertfleetAgent, Uacme, Certbot, Lego]


# ---------------------------------------------------------------- the report

def machine_info():
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = "%.1f GiB" % (int(line.split()[1]) / 1024 / 1024)
    except OSError:
        pass
    osname = "?"
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                osname = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return {"date": sh(["date", "-u"]), "uname": sh(["uname", "-srm"]), "nproc": sh(["nproc"]),
            "cpu": cpu, "mem": mem, "os": osname}


def fmt(v, spec):
    return "—" if v is None else format(v, spec)


def summarize(client, measured, strace_res):
    runs = [r for r in measured if r.ok]
    s = {"client": client.label, "key": client.key, "base": client.base, "trust": client.trust,
         "version": client.version(), "unavailable": client.unavailable,
         "rounds_ok": len(runs), "rounds": len(measured), "http01": client.http01}
    if runs:
        s["wall"] = median([r.ru["wall"] for r in runs])
        s["cpu"] = median([r.ru["utime"] + r.ru["stime"] for r in runs])
        # the user/sys split shown is that of the median round (by CPU)
        mid = sorted(runs, key=lambda r: r.ru["utime"] + r.ru["stime"])[(len(runs) - 1) // 2]
        s["user"], s["sys"] = mid.ru["utime"], mid.ru["stime"]
        s["rss_mib"] = median([r.ru["maxrss_kib"] / 1024 for r in runs])
        s["requests"] = median([len(r.requests) for r in runs])
        s["requests_all"] = [len(r.requests) for r in runs]
        s["cpu_all"] = [r.ru["utime"] + r.ru["stime"] for r in runs]
        s["wall_all"] = [r.ru["wall"] for r in runs]
        s["rss_all"] = [r.ru["maxrss_kib"] for r in runs]
        s["endpoints"] = endpoint_histogram(runs[0].requests)
        s["sequence"] = runs[0].requests
        s["leftover"] = any(r.leftover for r in runs)
    s["tcp"] = strace_res
    return s


def render_table(rows):
    head = ("| client | version | wall s | user+sys CPU s | peak RSS MiB | TCP conns to ACME port "
            "(= TLS handshakes) | HTTP requests to Pebble | HTTP-01 answered by |")
    lines = [head, "|" + "---|" * 8]
    for s in rows:
        if s.get("unavailable"):
            lines.append("| %s | — | unavailable: %s | | | | | |" % (s["client"], s["unavailable"]))
            continue
        if not s.get("rounds_ok"):
            lines.append("| %s | %s | all %d measured runs failed | | | | | %s |" %
                         (s["client"], s["version"], s["rounds"], s["http01"]))
            continue
        tcp = s.get("tcp")
        tcp_s = "—" if not tcp else str(tcp["connections"]) + (
            " (+%d refused)" % tcp["failed"] if tcp["failed"] else "")
        req_all = s["requests_all"]
        req_s = "%g" % s["requests"] + ("" if min(req_all) == max(req_all)
                                         else " (%d–%d)" % (min(req_all), max(req_all)))
        lines.append("| %s | %s | %s | %s (%s user + %s sys) | %s | %s | %s | %s |" % (
            s["client"], s["version"], fmt(s["wall"], ".2f"), fmt(s["cpu"], ".3f"),
            fmt(s["user"], ".3f"), fmt(s["sys"], ".3f"), fmt(s["rss_mib"], ".1f"), tcp_s, req_s,
            s["http01"]))
    return "\n".join(lines)


def goals_for(rows, trust, verbose_line=None, sampled_kib=None):
    """[(goal, measured, status)] for certfleet-agent among ROWS of one trust mode."""
    by = {s["base"]: s for s in rows if s["trust"] == trust}
    cf = by.get("certfleet", {})
    ua = by.get("uacme", {})
    out = []
    ok_cf = bool(cf.get("rounds_ok"))
    tcp = cf.get("tcp")
    if ok_cf and tcp:
        out.append(("one TLS handshake", "%d TCP connection(s) to the ACME port%s" %
                    (tcp["connections"], " (-v: %s)" % verbose_line if verbose_line else ""),
                    "met" if tcp["connections"] == 1 else "not met"))
    else:
        out.append(("one TLS handshake", "not measured", "unknown"))
    if not ok_cf:
        for g in ("at most 10 requests", "CPU ≤ 1/4 of uacme's", "peak RSS ≤ 2 MiB"):
            out.append((g, "no successful run", "unknown"))
        return out
    mx = max(cf["requests_all"])
    out.append(("at most 10 requests", "median %g (rounds: %s)" %
                (cf["requests"], ", ".join(map(str, cf["requests_all"]))),
                ("met" if mx <= 10 else "met by the median, not in every round")
                if cf["requests"] <= 10 else "not met"))
    if ua.get("rounds_ok") and ua["cpu"]:
        ratio = cf["cpu"] / ua["cpu"]
        out.append(("CPU ≤ 1/4 of uacme's", "%.3f s vs uacme %.3f s = %.2f× (limit 0.25×)" %
                    (cf["cpu"], ua["cpu"], ratio), "met" if ratio <= 0.25 else "not met"))
    else:
        out.append(("CPU ≤ 1/4 of uacme's", "uacme: %s" % (ua.get("unavailable") or
                                                            "no successful run"), "unknown"))
    peak = cf["rss_mib"]
    meas = "ru_maxrss %.2f MiB (%d KiB)" % (peak, round(peak * 1024))
    if sampled_kib:
        # ru_maxrss of a forked child can read below its VmHWM (see Method)
        meas += "; /proc VmHWM in the -v run: %.2f MiB (%d KiB)" % (sampled_kib / 1024, sampled_kib)
        peak = max(peak, sampled_kib / 1024)
    out.append(("peak RSS ≤ 2 MiB", meas, "met" if peak <= 2.0 else "not met"))
    return out


def write_doc(path, ctx):
    rows, info, ver = ctx["rows"], ctx["machine"], ctx["versions"]
    cf = next((s for s in rows if s["key"] == "certfleet"), {})
    lines = []
    a = lines.append
    a("# Benchmarks: one certificate issuance")
    a("")
    a("Generated by `make bench` (tests/bench/run.sh → tests/bench/bench_issue.py; "
      "tests/bench/README.md); rerun it to refresh this page. Issue #3.")
    a("")
    a("- date: %s" % info["date"])
    a("- machine: %s; %s CPU(s), %s; %s memory; %s" % (info["uname"], info["nproc"], info["cpu"],
                                                       info["mem"], info["os"]))
    a("- CA: Pebble %s (Debian) + pebble-challtestsrv, with PEBBLE_VA_NOSLEEP=1 "
      "PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 and the Pebble config of "
      "tests/integration/cfutil.py (note its `retryAfter`: 1 s for authorizations and orders)"
      % ver["pebble"])
    seen = []
    for s in rows:
        if s["base"] not in seen:
            seen.append(s["base"])
    a("- clients: " + "; ".join(
        "%s %s" % (s["client"], s["version"] if not s.get("unavailable")
                   else "(unavailable: %s)" % s["unavailable"])
        for s in rows if s["trust"] == rows[0]["trust"]))
    a("- %d measured rounds (median reported); launcher built with %s; strace %s; "
      "Python %s (certbot's interpreter); whole run %.0f s" %
      (ctx["rounds"], ctx["launcher"], ver["strace"], ver["python"], ctx["elapsed"]))
    a("")
    a("## Results")
    a("")
    a("Each figure is the median over the rounds of one issuance for a new name with an "
      "existing account (the user/sys split is that of the median round). CPU (user+sys) and "
      "peak RSS cover the client's process tree (it and "
      "the processes it waited for); peak RSS is the largest single process of that tree, "
      "not a sum. Every client runs twice per round, once per trust setting:")
    a("")
    a("- **default trust**: the trust store each program loads in production, plus Pebble's "
      "listener CA. certfleet-agent: its compiled-in roots, `--ca-file` (the listener CA) and "
      "Debian's bundle /etc/ssl/certs/ca-certificates.crt, which it reads and parses on every "
      "run. uacme: libcurl-gnutls's CApath /etc/ssl/certs, in which ca-certificates.crt is "
      "bind-mounted to Debian's bundle + the listener CA. certbot: REQUESTS_CA_BUNDLE and "
      "lego: LEGO_CA_CERTIFICATES pointing to that same bundle (Debian's requests and Go "
      "read Debian's bundle by default).")
    a("- **CA only**: every client trusts Pebble's listener CA alone. certfleet-agent: "
      "`--ca-file` and SSL_CERT_FILE (which replaces the system bundle) both the listener CA; "
      "uacme: /etc/ssl/certs bind-mounted to a directory holding only the listener CA; "
      "certbot/lego: REQUESTS_CA_BUNDLE / LEGO_CA_CERTIFICATES = the listener CA.")
    a("")
    a("uacme 1.7.4 (bookworm) has no CA-file option (UACME_CAINFO arrived in 1.7.6), so its "
      "trust is set in a private mount namespace that the launcher makes before the clock "
      "starts.")
    a("")
    for trust, desc in TRUST_MODES.items():
        sub = [s for s in rows if s["trust"] == trust]
        if not sub:
            continue
        a("### %s" % ("Default trust: " + desc if trust == "system" else "CA only: " + desc))
        a("")
        a(render_table(sub))
        a("")
    a("Per round (wall s / CPU s / peak RSS KiB / requests):")
    a("")
    for s in rows:
        if s.get("rounds_ok"):
            a("- %s [%s]: %s" % (s["client"], "default trust" if s["trust"] == "system" else "CA only",
                                 "; ".join("%.2f / %.3f / %d / %d" % w for w in zip(
                                     s["wall_all"], s["cpu_all"], s["rss_all"], s["requests_all"]))))
    a("")
    a("Notes:")
    a("")
    a("- certfleet-agent's peak RSS includes the port-80 responder it forks (the larger of "
      "the two processes counts; see the breakdown below).")
    a("- uacme: the HTTP-01 answer is served by `python3 -m http.server` on Pebble's httpPort, "
      "started before and stopped after each uacme run; that server's CPU and memory are NOT "
      "in uacme's figures. uacme's hook (a `/bin/sh` script writing the token file) is, "
      "since uacme waits for it. uacme opens a new connection (and handshake) per request.")
    a("- Wall times mostly reflect each client's polling policy against Pebble's Retry-After "
      "of 1 s: certfleet-agent sleeps 1 s after the challenge and 1 s after finalize; "
      "uacme and lego wait about 5 s when their first poll finds the challenge still "
      "processing.")
    a("- All clients use EC P-256 certificate keys.")
    if any(s.get("leftover") for s in rows):
        a("- processes left running after the client exited (killed by the benchmark): " +
          ", ".join(s["client"] for s in rows if s.get("leftover")))
    a("")
    a("## Goals (issue #3) for certfleet-agent")
    a("")
    a("Goals: %s. Judged separately for each trust setting, comparing like with like." % GOALS_TEXT)
    a("")
    a("| goal | default trust: measured | status | CA only: measured | status |")
    a("|---|---|---|---|---|")
    gs, gl = ctx["goals"].get("system", []), ctx["goals"].get("listener", [])
    for i in range(max(len(gs), len(gl))):
        x = gs[i] if i < len(gs) else ("", "—", "—")
        y = gl[i] if i < len(gl) else ("", "—", "—")
        a("| %s | %s | **%s** | %s | **%s** |" % (x[0] or y[0], x[1], x[2], y[1], y[2]))
    a("")
    if cf.get("rounds_ok"):
        a("## certfleet-agent in detail")
        a("")
        cfl = next((x for x in rows if x["key"] == "certfleet-ca" and x.get("rounds_ok")), None)
        if cfl:
            a("CPU with default trust minus CPU with the listener CA only: %.3f − %.3f = "
              "%.3f s, the cost of reading and parsing Debian's CA bundle (%d KiB of PEM) that "
              "the agent loads on every run; peak RSS %.2f vs %.2f MiB." % (
                  cf["cpu"], cfl["cpu"], cf["cpu"] - cfl["cpu"],
                  SYSTEM_BUNDLE.stat().st_size // 1024 if SYSTEM_BUNDLE.exists() else 0,
                  cf["rss_mib"], cfl["rss_mib"]))
            a("")
        a("Requests Pebble logged during measured round 1 (default trust), in order:")
        a("")
        a("    " + ", ".join(cf["sequence"]))
        a("")
        v = ctx.get("verbose")
        if v:
            a("The extra `-v` run (default trust, not measured) printed `%s`; Pebble logged %d "
              "requests for that run. Its stderr:" % (v["line"], v["pebble_requests"]))
            a("")
            for l in v["stderr"].splitlines():
                a("    " + l)
            a("")
            if v.get("samples"):
                a("Its processes, sampled from /proc every 2 ms during that run (KiB; maxima "
                  "seen, a sample can miss the last moments):")
                a("")
                a("| pid | process | CPU ms | VmHWM | RssAnon | RssFile | VmStk | "
                  "Rss by mapping at its largest |")
                a("|---|---|---|---|---|---|---|---|")
                for pid, d in sorted(v["samples"].items(), key=lambda kv: int(kv[0])):
                    sm = d.get("smaps") or {}
                    a("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                        pid, d.get("Name"), d.get("cpu_ms", "?"), d.get("VmHWM", "?"),
                        d.get("RssAnon", "?"), d.get("RssFile", "?"), d.get("VmStk", "?"),
                        ", ".join("%s %d" % kv for kv in sorted(sm.items(), key=lambda kv: -kv[1])
                                  if kv[1])))
                a("")
                a("The first process is the agent, the second the port-80 responder it forks. "
                  "A forked child's RSS counts the pages it shares copy-on-write with its "
                  "parent, so the responder starts out as large as the agent was at fork().")
                a("")
    a("## Method")
    a("")
    a("1. `make bench` = `deps all`, then tests/bench/run.sh which (as root) installs the Debian "
      "packages uacme, certbot, lego and strace when missing — a client whose package cannot "
      "be installed is reported as unavailable — and runs bench_issue.py.")
    a("2. One Pebble + pebble-challtestsrv on loopback (the classes of "
      "tests/integration/cfutil.py). Every name resolves through challtestsrv to 127.0.0.1; "
      "Pebble's VA fetches http://NAME:httpPort/.well-known/acme-challenge/TOKEN. With "
      "PEBBLE_AUTHZREUSE=0 no authorization is reused: every order is validated.")
    a("3. Each client (per trust setting) has its own work/config directory and account. One "
      "unmeasured warm-up issuance per client creates the account (uacme: `uacme new`, then "
      "an issuance).")
    a("4. %d rounds; in each, every client issues one certificate for a new name "
      "bench-CLIENT-ROUND.example.test; the order of the clients rotates from round to round. "
      "The tables show the median of the rounds." % ctx["rounds"])
    a("5. Wall time, user+sys CPU and peak RSS come from a tiny static launcher (C, built by "
      "the benchmark) that forks, execs the client and `wait4()`s it. Not Python's "
      "`os.wait4`: Linux folds the RSS high-water mark of the image that calls execve() into "
      "the new program's ru_maxrss, and a fork of the Python benchmark is tens of MiB — "
      "a Python-spawned /bin/true \"peaks\" at the interpreter's size. ru_maxrss is the "
      "maximum over the process and the children it waited for. On this kernel it can read "
      "~0.1–0.2 MiB below the VmHWM a forked child showed in /proc (a 600 KiB test program "
      "whose child reached VmHWM 952 kB gave ru_maxrss 864 KiB), hence the /proc samples of "
      "the -v run, taken into account for the RSS goal. The kernel splits a process's CPU "
      "time into user and sys by sampling ticks, so for runs of a few tens of ms only the "
      "sum is precise.")
    a("6. HTTP requests: the lines `METHOD /path -> calling handler()` Pebble logged between "
      "the start and the end of the client's measured run (its log bracketed by byte offsets).")
    a("7. TCP connections: a separate, unmeasured run per client under "
      "`strace -f -qq -e trace=connect`, counting the connect() calls to Pebble's ACME port "
      "that did not fail (refused attempts, e.g. to ::1 where Pebble does not listen, would be "
      "shown apart). Each connection is one TLS handshake (a resumed one counts too).")
    a("8. certfleet-agent once more with `-v` (unmeasured): its own handshake/request count as "
      "a cross-check, and a /proc breakdown of its processes.")
    a("")
    a("Earlier figures for this machine type, method unknown: uacme 0.39 s wall / 18.5 MiB "
      "peak, certbot 3.3 s / 61 MiB, lego 7.6 s / 22 MiB. uacme's are close to its default-trust row.")
    a("")
    # keep the fleet benchmark's section (tests/bench/bench_fleet.py writes it)
    keep = ""
    if Path(path).exists():
        old = Path(path).read_text()
        start, end = "<!-- fleet-bench:start -->", "<!-- fleet-bench:end -->"
        if start in old and end in old:
            keep = "\n" + old[old.index(start):old.index(end) + len(end)] + "\n"
    Path(path).write_text("\n".join(lines) + keep)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "3")))
    ap.add_argument("--agent", default=str(REPO / "bin" / "certfleet-agent"))
    ap.add_argument("--doc", default=str(REPO / "docs" / "benchmarks.md"))
    ap.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks.md")
    ap.add_argument("--clients", default="certfleet,uacme,certbot,lego",
                    help="comma-separated subset of certfleet,uacme,certbot,lego")
    ap.add_argument("--trust", default="system,listener",
                    help="comma-separated subset of system (default trust) and listener (CA only)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--json", help="also write the raw results here")
    args = ap.parse_args()

    if os.geteuid() != 0:
        sys.exit("bench_issue.py: must run as root (binds Pebble's HTTP-01 port, mount namespace)")
    if not shutil.which("strace"):
        print("warning: strace not found; TCP connections will not be counted", flush=True)
    if not (Path(args.agent).is_file() and os.access(args.agent, os.X_OK)):
        sys.exit("bench_issue.py: %s is not built (run make)" % args.agent)

    # SIGTERM/SIGHUP -> SystemExit, so the finally below and cfutil's atexit stop everything
    def _term(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGHUP, _term)

    t_start = time.monotonic()
    bench = Bench(args)
    try:
        bench.launcher, launcher_desc = build_launcher(bench.work)
        print("work directory: %s" % bench.work, flush=True)
        bench.cts = ChallTestSrv(bench.work / "challtestsrv")
        bench.pebble = Pebble(bench.work / "pebble", bench.cts.dns_addr, env=PEBBLE_ENV)
        bench.ca_dir = bench.work / "trust-listener-ca"
        bench.ca_dir.mkdir()
        shutil.copy(bench.pebble.ca_file, bench.ca_dir / "pebble-listener-ca.pem")
        bench.bundle = bench.work / "ca-bundle.pem"
        sysb = SYSTEM_BUNDLE.read_text() if SYSTEM_BUNDLE.exists() else ""
        bench.bundle.write_text(sysb + ("\n" if sysb and not sysb.endswith("\n") else "") +
                                Path(bench.pebble.ca_file).read_text())
        print("pebble: %s (httpPort %d)" % (bench.pebble.directory, bench.pebble.http_port),
              flush=True)

        wanted = [c.strip() for c in args.clients.split(",") if c.strip()]
        trusts = [t.strip() for t in args.trust.split(",") if t.strip() in TRUST_MODES]
        clients = [cls(bench, t) for t in trusts for cls in CLIENTS if cls.base in wanted]
        for c in clients:
            if c.unavailable:
                print("%-34s unavailable: %s" % (c.name, c.unavailable), flush=True)

        # warm-up: account + one issuance each, not measured
        for c in clients:
            if c.unavailable:
                continue
            rs = c.warm_up("bench-%s-warmup.example.test" % c.key)
            if not all(r.ok for r in rs):
                c.unavailable = "warm-up failed (log: %s)" % rs[-1].log
            print("warm-up %-34s %s" % (c.name, "ok" if not c.unavailable else c.unavailable),
                  flush=True)

        active = [c for c in clients if not c.unavailable]
        measured = {c.key: [] for c in clients}
        for rnd in range(1, args.rounds + 1):
            k = (rnd - 1) % len(active) if active else 0
            for c in active[k:] + active[:k]:
                r = bench.run(c, "bench-%s-%d.example.test" % (c.key, rnd), "round%d" % rnd)
                measured[c.key].append(r)
                if r.ok:
                    print("round %d %-34s wall %5.2f s  cpu %6.3f s  maxrss %5.1f MiB  "
                          "requests %d" % (rnd, c.name, r.ru["wall"], r.ru["utime"] + r.ru["stime"],
                                           r.ru["maxrss_kib"] / 1024, len(r.requests)), flush=True)

        # strace runs (TCP connections), not measured
        strace_res = {}
        if shutil.which("strace"):
            for c in active:
                sf = bench.work / ("strace-%s.txt" % c.key)
                r = bench.run(c, "bench-%s-strace.example.test" % c.key, "strace", strace_file=sf)
                if r.ok and sf.exists():
                    strace_res[c.key] = count_connects(sf, bench.pebble.port)
                    print("strace  %-34s %s" % (c.name, strace_res[c.key]), flush=True)

        # certfleet-agent -v (cross-check, memory breakdown), not measured
        verbose = None
        cfa = next((c for c in active if c.base == "certfleet"), None)
        if cfa:
            r = bench.run(cfa, "bench-%s-verbose.example.test" % cfa.key, "verbose", verbose=True,
                          sample=True)
            m = re.search(r"(\d+) TLS handshake\(s\), (\d+) HTTP request\(s\)[^\n]*", r.output)
            verbose = {"line": m.group(0) if m else "(no count line printed)", "trust": cfa.trust,
                       "pebble_requests": len(r.requests), "stderr": r.output.strip(),
                       "samples": r.samples, "ok": r.ok}
            print("verbose %s: %s; Pebble logged %d" %
                  (cfa.name, verbose["line"], verbose["pebble_requests"]), flush=True)

        rows = [summarize(c, measured.get(c.key, []), strace_res.get(c.key)) for c in clients]
        goals = {}
        for t in trusts:
            mine = verbose if verbose and verbose["trust"] == t else None
            hwm = max((d.get("VmHWM", 0) for d in (mine or {}).get("samples", {}).values()),
                      default=None) if mine and mine.get("samples") else None
            goals[t] = goals_for(rows, t, mine["line"] if mine else None, hwm)
        versions = {"pebble": dpkg_version("pebble") or "?",
                    "strace": dpkg_version("strace") or "?",
                    "python": platform.python_version()}
        ctx = {"rows": rows, "goals": goals, "machine": machine_info(), "versions": versions,
               "rounds": args.rounds, "launcher": launcher_desc, "verbose": verbose,
               "elapsed": time.monotonic() - t_start}

        for t in trusts:
            print("\n%s:" % TRUST_MODES[t])
            print(render_table([s for s in rows if s["trust"] == t]))
        for t in trusts:
            print("\ncertfleet-agent goals, %s (%s):" % (TRUST_MODES[t], GOALS_TEXT))
            for name, meas, st in goals[t]:
                print("  %-22s %-8s %s" % (name, st, meas))
        if not args.no_doc:
            write_doc(args.doc, ctx)
            print("\nwrote %s" % args.doc)
        if args.json:
            Path(args.json).write_text(json.dumps(ctx, indent=2, default=str))
        print("bench: %.0f s" % (time.monotonic() - t_start))
        return 0
    finally:
        for svc in list(cfutil.live_services()):
            svc.stop()
        if args.keep:
            print("kept %s" % bench.work)
        else:
            shutil.rmtree(bench.work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
