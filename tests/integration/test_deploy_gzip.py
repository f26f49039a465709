"""deploy sends the agent gzip'd when the host has gzip (issue 16 item 8):
the gzip member the controller carries goes over the exec channel's stdin,
`gzip -dc` writes the agent beside its place, its SHA-256 is checked before
the rename; a host whose PATH has no gzip gets the agent itself.  Both in
one run, each host behind a small TCP relay that counts the bytes the
controller sends (what goes on the wire)."""

import os
import socket
import subprocess
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from test_fleet import Ctl, by_host, known_hosts, write_inventory


class CountingRelay:
    """127.0.0.1:port -> (host, port), counting the bytes each way."""

    def __init__(self, host, port):
        self.up = self.down = 0
        self.lock = threading.Lock()
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(8)
        self.port = self.ls.getsockname()[1]
        self.target = (host, port)
        self.threads = []
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()

    def _accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            s = socket.create_connection(self.target, timeout=30)
            for a, b, up in ((c, s, True), (s, c, False)):
                t = threading.Thread(target=self._pump, args=(a, b, up), daemon=True)
                t.start()
                self.threads.append(t)

    def _pump(self, a, b, up):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                with self.lock:
                    if up:
                        self.up += len(data)
                    else:
                        self.down += len(data)
                b.sendall(data)
        except OSError:
            pass
        finally:
            for x in (a, b):
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.ls.close()


def path_without_gzip(d):
    """A directory of links to every program in /usr/bin and /usr/sbin but gzip's."""
    d.mkdir()
    for src in ("/usr/sbin", "/usr/bin"):
        for name in os.listdir(src):
            if name in ("gzip", "gunzip", "zcat", "uncompress") or (d / name).exists():
                continue
            (d / name).symlink_to(os.path.join(src, name))
    return d


def with_path(d, path):
    """sshd_config lines that run every command with PATH=path (a ForceCommand
    wrapper: sshd takes only the first SetEnv line, and the tests' sshd has one)."""
    w = d / "with-path.sh"
    w.write_text('#!/bin/sh\nPATH=%s; export PATH\nexec /bin/bash -c "$SSH_ORIGINAL_COMMAND"\n' % path)
    w.chmod(0o755)
    return "ForceCommand %s\n" % w


def test_deploy_sends_gzip_when_the_host_has_it(bins, sshd_factory, tmp_path):
    nogz = path_without_gzip(tmp_path / "nogz")
    with_gz = sshd_factory(host="127.0.0.181")
    without = sshd_factory(host="127.0.0.182", extra_config=with_path(tmp_path, nogz))
    relays = [CountingRelay(s.host, s.port) for s in (with_gz, without)]
    # the hosts as the controller reaches them: through the relays
    via = [SimpleNamespace(host="127.0.0.1", port=r.port) for r in relays]
    inv, kh = tmp_path / "inventory", tmp_path / "known_hosts"
    write_inventory(inv, via, prefix_root=tmp_path / "hosts")
    kh.write_text("".join(s.known_hosts_line(as_host="[127.0.0.1]:%d" % r.port)
                          for s, r in zip((with_gz, without), relays)))
    ctl = Ctl(bins, tmp_path)
    args = ["-i", inv, "--known-hosts", kh, "--identity", sshd_factory.client_key.path]
    payload = subprocess.run([ctl.bin, "agent-binary"], capture_output=True, check=True).stdout
    version = subprocess.run([ctl.bin, "--version"], capture_output=True, text=True).stdout
    gzlen = int(version.split("embedded agent x86_64 ")[1].split("carried gzip'd: ")[1].split()[0])
    assert gzlen < 0.7 * len(payload)

    t0 = time.monotonic()
    p, doc = ctl.json(*args, "deploy", check=0)
    took = time.monotonic() - t0
    hosts = by_host(doc)
    for name, sent in (("h00", "gzip"), ("h01", "raw")):
        a = hosts[name]["agent"]
        assert a["installed"] is True and a["sent"] == sent and a["verified"] == "sha256sum", a
        target = tmp_path / "hosts" / name / "usr/local/bin/certfleet-agent"
        assert target.read_bytes() == payload
        assert sorted(f.name for f in target.parent.iterdir()) == ["certfleet-agent"]
    up = [r.up for r in relays]
    # on the wire: the gzip member (+ SSH framing and the rest of the session)
    # for the host with gzip, the whole agent for the other
    assert gzlen < up[0] < gzlen + 40000, up
    assert len(payload) < up[1] < len(payload) + 40000, up
    print("deploy of 2 hosts over loopback: %.3f s; controller -> host bytes: "
          "gzip %d, raw %d (agent %d, gzip'd %d)" % (took, up[0], up[1], len(payload), gzlen))

    # the same build again: nothing sent either way
    before = [r.up for r in relays]
    p, doc = ctl.json(*args, "deploy", check=0)
    for h in doc["hosts"]:
        assert h["agent"]["installed"] is False and h["agent"]["sent"] is None, h
    assert all(r.up - b < 20000 for r, b in zip(relays, before))
    for r in relays:
        r.close()


def test_deploy_gzip_that_writes_garbage_is_caught(bins, sshd_factory, tmp_path):
    """A host whose gzip writes something else: the checksum of what was
    written catches it before the rename (UPLOAD_CORRUPT, nothing replaced)."""
    bad = tmp_path / "badgz"
    bad.mkdir()
    (bad / "gzip").write_text("#!/bin/sh\ncat >/dev/null\necho not the agent\n")
    (bad / "gzip").chmod(0o755)
    s = sshd_factory(host="127.0.0.183", extra_config=with_path(tmp_path, "%s:/usr/sbin:/usr/bin" % bad))
    inv, kh = tmp_path / "inventory", tmp_path / "known_hosts"
    write_inventory(inv, [s], prefix_root=tmp_path / "hosts")
    known_hosts(kh, [s])
    target = tmp_path / "hosts/h00/usr/local/bin/certfleet-agent"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"#!/bin/sh\necho old agent\n")
    target.chmod(0o755)
    ctl = Ctl(bins, tmp_path)
    p, doc = ctl.json("-i", inv, "--known-hosts", kh, "--identity", sshd_factory.client_key.path,
                      "deploy", check=1)
    h = doc["hosts"][0]
    assert h["error"]["code"] == "UPLOAD_CORRUPT", h
    assert target.read_bytes() == b"#!/bin/sh\necho old agent\n"
    assert sorted(f.name for f in target.parent.iterdir()) == ["certfleet-agent"]
