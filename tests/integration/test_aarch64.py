"""The aarch64 agent (issue 18) under qemu-aarch64-static: a real certificate
from Pebble by standalone HTTP-01 and by webroot, a renewal, and status; and
a fleet where one sshd host is an aarch64 machine as far as the controller
can tell (its login runs busybox:arm64 through binfmt_misc and qemu-user:
arm64_login.py) next to x86_64 hosts.

The binary is build/aarch64-test/certfleet-agent: the release aarch64 agent's
sources built with the test-only fault points, so that under
CERTFLEET_TEST_QEMU it runs its network process without the seccomp filter
(qemu-user refuses PR_SET_SECCOMP; release builds fail closed, tested below).
The aarch64 filter itself is proven by the unit tests' BPF interpreter."""
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from test_fleet import Ctl, by_host, known_hosts, write_inventory
from test_issue import Agent, verify_chain, key_matches

ROOT = Path(__file__).resolve().parents[2]
QEMU = shutil.which("qemu-aarch64-static")
A64_TEST = ROOT / "build/aarch64-test/certfleet-agent"
A64_RELEASE = ROOT / "bin/certfleet-agent-aarch64"

BUSYBOX_DEBS = sorted(Path("/var/cache/certfleet-test").glob("busybox_*_arm64.deb"))
LOGIN = Path(__file__).resolve().parent / "arm64_login.py"
CROSS_LIB = Path("/usr/aarch64-linux-gnu/lib")          # Debian's libc6-arm64-cross

pytestmark = pytest.mark.skipif(
    not (QEMU and A64_TEST.exists()),
    reason="no aarch64 cross build (build/aarch64-test) or qemu-aarch64-static")


def elf_machine(path):
    return subprocess.run(["file", "-b", str(path)], capture_output=True, text=True).stdout


@pytest.fixture
def a64(bins, tmp_path, pebble, challtestsrv):
    wrapper = tmp_path / "certfleet-agent-aarch64"
    wrapper.write_text('#!/bin/sh\nCERTFLEET_TEST_QEMU=1 exec %s %s "$@"\n' % (QEMU, A64_TEST))
    wrapper.chmod(0o755)
    a = Agent(bins, tmp_path / "root", pebble, challtestsrv)
    a.bin = wrapper
    return a


def test_binaries_are_aarch64_static():
    for p in (A64_TEST, A64_RELEASE):
        assert "ARM aarch64" in elf_machine(p) and "statically linked" in elf_machine(p), p
    # issue 18: each agent <= 400 KiB stripped
    assert A64_RELEASE.stat().st_size <= 400 * 1024, A64_RELEASE.stat().st_size


def test_release_agent_fails_closed_without_seccomp(tmp_path, pebble, challtestsrv):
    """qemu refuses the filter: the release build must refuse to talk to the
    CA unconfined (the test build's CERTFLEET_TEST_QEMU is compiled out)."""
    r = subprocess.run([QEMU, str(A64_RELEASE), "--prefix", str(tmp_path / "root"), "issue",
                        "-d", "closed.example.test", "--standalone", "--http-port",
                        str(pebble.http_port), "--server", pebble.directory, "--ca-file",
                        str(pebble.ca_file), "--resolver", challtestsrv.dns_addr, "--agree-tos"],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, CERTFLEET_TEST_QEMU="1"))
    assert r.returncode != 0 and "seccomp" in r.stderr, r.stderr
    assert not (tmp_path / "root/etc/certfleet/live/closed.example.test").exists()


def test_issue_standalone_renew_status(a64):
    r = a64.run("--version", check=0)
    assert "certfleet-agent" in r.stdout
    a64.issue("arm.example.test", check=0)
    verify_chain(a64, "arm.example.test")
    assert key_matches(a64, "arm.example.test")
    [st] = a64.status("arm.example.test")
    assert st["state"]["sslStatus"] == "active"
    serial = st["state"]["serial"]
    r = a64.run("renew", "-d", "arm.example.test", "--force", check=0)
    [st] = a64.status("arm.example.test")
    assert st["state"]["sslStatus"] == "active" and st["state"]["serial"] != serial
    verify_chain(a64, "arm.example.test")
    r = a64.run("status", check=0)
    assert "arm.example.test" in r.stdout and "active" in r.stdout


def test_issue_webroot(a64, nginx_factory, tmp_path):
    webroot = tmp_path / "www"
    webroot.mkdir()
    nginx_factory(servers="server { listen 127.0.0.1:@PORT@; root %s; }" % webroot,
                  port=a64.pebble.http_port)
    a64.issue("armweb.example.test", method="webroot", extra=["--webroot", str(webroot)], check=0)
    verify_chain(a64, "armweb.example.test")
    assert list((webroot / ".well-known/acme-challenge").iterdir()) == []
    [st] = a64.status("armweb.example.test")
    assert st["state"]["sslStatus"] == "active"


def test_release_agent_talks_tls_and_reads_its_store(tmp_path, pebble):
    """The release aarch64 agent (size-optimised, link-time optimised) runs
    the commands that need no network process: TLS + HTTP + JSON through
    `directory`, and status/log on an empty store."""
    env = dict(os.environ)
    root = tmp_path / "root"
    r = subprocess.run([QEMU, str(A64_RELEASE), "--prefix", str(root), "directory", "--server",
                        pebble.directory, "--ca-file", str(pebble.ca_file)],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["newOrder"].startswith(pebble.url)
    r = subprocess.run([QEMU, str(A64_RELEASE), "--prefix", str(root), "status", "--json"],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["certificates"] == [], r.stdout + r.stderr


def test_controller_carries_both_agents(bins, tmp_path):
    ctl = str(bins.need_controller())
    x86 = bins.dir / "certfleet-agent"     # the agent built beside this controller
    for arch, ref in (("aarch64", A64_RELEASE), ("arm64", A64_RELEASE),
                      ("x86_64", x86), ("amd64", x86)):
        out = tmp_path / ("agent-" + arch)
        with open(out, "wb") as f:
            subprocess.run([ctl, "agent-binary", "--arch", arch], stdout=f, check=True)
        assert out.read_bytes() == ref.read_bytes(), arch
    r = subprocess.run([ctl, "agent-binary", "--arch", "riscv64"], capture_output=True, text=True)
    assert r.returncode == 101 and "ARCH_UNSUPPORTED" in r.stderr and "x86_64, aarch64" in r.stderr
    v = subprocess.run([ctl, "--version"], capture_output=True, text=True, check=True).stdout
    import hashlib
    for arch, ref in (("x86_64", x86), ("aarch64", A64_RELEASE)):
        data = ref.read_bytes()
        assert ("embedded agent %-7s: %d bytes, sha256 %s" % (arch, len(data),
                hashlib.sha256(data).hexdigest())) in v, v
    # issue 18: the controller with both agents <= 1.6 MiB
    assert (ROOT / "bin/certfleet").stat().st_size <= 1.6 * 1024 * 1024


# ---------------------------------------------------------------- a mixed fleet

@pytest.fixture(scope="module")
def arm_root(tmp_path_factory):
    """Debian's busybox for arm64 unpacked, with one symlink per applet in
    xbin/ (the aarch64 host's whole PATH) and sysroot/, the loader and
    libraries it needs from Debian's libc6-arm64-cross (arm64_login.py lays
    it over /usr/lib for the session)."""
    if not BUSYBOX_DEBS:
        pytest.fail("no busybox:arm64 package in /var/cache/certfleet-test: run "
                    "build-aux/install-deps.sh (it downloads it)", pytrace=False)
    root = tmp_path_factory.mktemp("arm64-root")
    subprocess.run(["dpkg-deb", "-x", str(BUSYBOX_DEBS[-1]), str(root)], check=True)
    assert "ARM aarch64" in elf_machine(root / "bin/busybox")
    applets = subprocess.run([QEMU, "-L", str(CROSS_LIB.parent), str(root / "bin/busybox"), "--list"],
                             capture_output=True, text=True, check=True).stdout.split()
    (root / "xbin").mkdir()
    for a in applets:
        os.symlink("../bin/busybox", root / "xbin" / a)
    (root / "sysroot/aarch64-linux-gnu").mkdir(parents=True)
    for lib in ("ld-linux-aarch64.so.1", "aarch64-linux-gnu/libc.so.6", "aarch64-linux-gnu/libresolv.so.2"):
        os.symlink(CROSS_LIB / Path(lib).name, root / "sysroot" / lib)
    return root


def global_binfmt():
    d = Path("/proc/sys/fs/binfmt_misc")
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


def test_fleet_with_an_aarch64_host(bins, sshd_factory, arm_root, tmp_path, pebble, challtestsrv):
    """Two x86_64 sshd hosts and one whose sessions run aarch64 code only
    (busybox:arm64's sh and tools, through a binfmt_misc registration in the
    session's own user namespace): deploy sends each the agent for its
    `uname -m` (the aarch64 one checked by SHA-256 there and run once under
    qemu), status gathers all three and shows the CPU with -v and in --json.
    The release aarch64 agent refuses to issue unconfined (qemu-user refuses
    seccomp); the aarch64-test build in its place obtains a certificate from
    Pebble through the fleet like the x86_64 agents; the next deploy puts the
    release build back."""
    before = global_binfmt()
    x86 = sshd_factory.many(2, first_host=196)
    arm = sshd_factory(host="127.0.0.198", sftp=False,
                       extra_config="ForceCommand exec /usr/bin/python3 %s %s %s" % (LOGIN, arm_root, QEMU))
    assert arm.ssh("uname -m", check=True).stdout.strip() == "aarch64"
    assert arm.ssh("command -v sha256sum", check=True).stdout.strip() == str(arm_root / "xbin/sha256sum")
    assert x86[0].ssh("uname -m", check=True).stdout.strip() == "x86_64"
    servers, names = x86 + [arm], ["x0.a64.test", "x1.a64.test", "arm.a64.test"]
    hosts = tmp_path / "hosts"
    inv, kh = tmp_path / "inventory", tmp_path / "known_hosts"
    write_inventory(inv, servers, prefix_root=hosts, names=names,
                    host_vars={n: "certfleet_domains=%s" % n for n in names},
                    extra_vars="certfleet_method=standalone\ncertfleet_server=%s\n"
                               "certfleet_agree_tos=yes\n" % pebble.directory)
    known_hosts(kh, servers)
    for name, s in zip(names, servers):
        challtestsrv.add_a(name, s.host)
        conf = hosts / name / "etc/certfleet/agent.conf"
        conf.parent.mkdir(parents=True)
        conf.write_text("ca-file = %s\nresolver = %s\nhttp-address = %s\nhttp-port = %d\n"
                        % (pebble.ca_file, challtestsrv.dns_addr, s.host, pebble.http_port))
    ctl = Ctl(bins, tmp_path)
    args = ["-i", inv, "--known-hosts", kh, "--identity", sshd_factory.client_key.path]
    agent = {"x86_64": Path(bins.agent).read_bytes(), "aarch64": A64_RELEASE.read_bytes()}
    cpu = {"x0.a64.test": "x86_64", "x1.a64.test": "x86_64", "arm.a64.test": "aarch64"}

    def installed(name):
        return hosts / name / "usr/local/bin/certfleet-agent"

    p, doc = ctl.json(*args, "deploy", check=0)
    for name, h in by_host(doc).items():
        a = h["agent"]
        assert h["ok"] and a["installed"] is True and a["cron"] is True, h
        assert h["arch"] == a["arch"] == cpu[name], h
        assert a["sha256"] == hashlib.sha256(agent[cpu[name]]).hexdigest() and a["verified"] == "sha256sum"
        assert installed(name).read_bytes() == agent[cpu[name]], name
    assert "ARM aarch64" in elf_machine(installed("arm.a64.test"))

    p, doc = ctl.json(*args, "status", check=0)
    assert {n: (h["ok"], h["arch"], h["agent"]) for n, h in by_host(doc).items()} == \
        {n: (True, cpu[n], {"certificates": []}) for n in names}, doc

    # the release aarch64 agent under qemu: no seccomp filter, so no issuance
    p, doc = ctl.json(*args, "issue", timeout=240)
    h = by_host(doc)
    assert h["x0.a64.test"]["ok"] and h["x1.a64.test"]["ok"], doc
    e = h["arm.a64.test"]["error"]
    assert e["code"] == "AGENT_FAILED" and "seccomp" in json.dumps(h["arm.a64.test"]), h["arm.a64.test"]
    assert not (hosts / "arm.a64.test/etc/certfleet/live/arm.a64.test").exists()

    # the aarch64-test build (the same sources, the filter skipped under qemu)
    shutil.copy(A64_TEST, installed("arm.a64.test"))
    p, doc = ctl.json(*args, "issue", "arm.a64.test", timeout=240)
    h = doc["hosts"][0]
    assert h["ok"] and h["arch"] == "aarch64" and h["agent"]["status"]["sslStatus"] == "active", h
    pem = (hosts / "arm.a64.test/etc/certfleet/live/arm.a64.test/fullchain.pem").read_text()
    san = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName"], input=pem,
                         capture_output=True, text=True).stdout
    assert "DNS:arm.a64.test" in san

    # the table with -v: each row's CPU
    rows = [l.split() for l in ctl.run("-v", *args, "status", check=0).stdout.splitlines()]
    assert rows[0][:4] == ["HOST", "ARCH", "DOMAIN", "STATUS"], rows
    assert sorted(r[:4] for r in rows[1:4]) == sorted([n, cpu[n], n, "active"] for n in names), rows

    # deploy again: the release build back where the test build was, nothing
    # sent to the x86_64 hosts
    p, doc = ctl.json(*args, "deploy", check=0)
    assert {n: h["agent"]["installed"] for n, h in by_host(doc).items()} == \
        {"x0.a64.test": False, "x1.a64.test": False, "arm.a64.test": True}, doc
    assert installed("arm.a64.test").read_bytes() == agent["aarch64"]
    assert global_binfmt() == before       # the machine's own registrations: untouched
