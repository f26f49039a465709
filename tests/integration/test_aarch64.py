"""The aarch64 agent (issue 18) under qemu-aarch64-static: a real certificate
from Pebble by standalone HTTP-01 and by webroot, a renewal, and status.

The binary is build/aarch64-test/certfleet-agent: the release aarch64 agent's
sources built with the test-only fault points, so that under
CERTFLEET_TEST_QEMU it runs its network process without the seccomp filter
(qemu-user refuses PR_SET_SECCOMP; release builds fail closed, tested below).
The aarch64 filter itself is proven by the unit tests' BPF interpreter."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from test_issue import Agent, verify_chain, key_matches

ROOT = Path(__file__).resolve().parents[2]
QEMU = shutil.which("qemu-aarch64-static")
A64_TEST = ROOT / "build/aarch64-test/certfleet-agent"
A64_RELEASE = ROOT / "bin/certfleet-agent-aarch64"

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
