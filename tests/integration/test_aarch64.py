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
