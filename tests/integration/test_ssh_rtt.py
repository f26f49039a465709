"""Fewer round trips to log in (issue 16 items 5 and 7), against real sshd.

- A key file signs its first USERAUTH_REQUEST: sshd logs no "Postponed
  publickey" (the answer to an unsigned "would you accept this key?" query)
  before "Accepted publickey"; an ssh-agent key is still asked about first.
  A refused key file is reported as refused, not as a signing failure, and
  a key file libssh2 cannot sign with (DSA) as "could not sign", not as
  refused (with the query first, sshd's PK_OK made it look refused).
- The first USERAUTH_REQUEST follows the SERVICE_REQUEST without waiting for
  SERVICE_ACCEPT: seen by a proxy in front of sshd that reads the packet
  boundaries (AES-GCM leaves the packet length in clear).  When that proxy
  hangs up on such an early request, as a server that objects would, the
  controller connects again without it and logs in.
"""
import os
import select
import time
import socket
import struct
import subprocess
import threading

import cfutil
from cfutil import ClientKey
from test_fleet import Ctl
from test_sshauth import agent, ssh_add, sshd_log  # noqa: F401 (agent: a fixture)


def status(ctl, tmp_path, host, port, kh, *extra, cfg_extra=""):
    inv = tmp_path / "inventory"
    inv.write_text("[fleet]\nbox ansible_host=%s ansible_port=%d ansible_user=root "
                   "certfleet_prefix=%s/box\n" % (host, port, tmp_path))
    cfg = tmp_path / "ssh_config"
    cfg.write_text("Host %s\n  UserKnownHostsFile %s\n%s" % (host, kh, cfg_extra))
    p, doc = ctl.json("-i", inv, "-F", cfg, "--timeout", "20", *extra, "status", check=1)
    return doc["hosts"][0]


def test_key_file_signs_at_once_agent_key_asks(bins, sshd_factory, tmp_path, agent):  # noqa: F811
    ed = ClientKey.generate(tmp_path / "id_ed25519", "ed25519")      # signed by sshsign.c
    ec = ClientKey.generate(tmp_path / "id_ecdsa", "ecdsa", fmt="PEM")   # by libssh2
    wrong = ClientKey.generate(tmp_path / "id_wrong", "ed25519")
    dsa = tmp_path / "id_dsa"
    subprocess.run(["ssh-keygen", "-q", "-t", "dsa", "-N", "", "-f", str(dsa)], check=True,
                   capture_output=True)
    s = sshd_factory(host="127.0.0.81", client_key=ed,
                     authorized_keys=[ec.pub, (tmp_path / "id_dsa.pub").read_text()],
                     extra_config="PubkeyAcceptedAlgorithms +ssh-dss\n")
    kh = tmp_path / "known_hosts"
    kh.write_text(s.known_hosts_line())
    ctl = Ctl(bins, tmp_path)
    for key in (ed, ec):
        before = sshd_log(s)
        h = status(ctl, tmp_path, s.host, s.port, kh, "--identity", key.path)
        assert h["error"]["code"] == "AGENT_MISSING", h      # logged in
        log = sshd_log(s)[len(before):]
        assert "Accepted publickey" in log, log
        assert "Postponed publickey" not in log, log         # no query first

    # a refused key file: "refused", as with the query
    h = status(ctl, tmp_path, s.host, s.port, kh, "--identity", wrong.path)
    assert h["error"]["code"] == "AUTH_FAILED", h
    assert "%s (refused)" % wrong.path in h["error"]["detail"], h
    assert "could not sign" not in h["error"]["detail"], h

    # a key the host would take but libssh2 cannot sign with
    h = status(ctl, tmp_path, s.host, s.port, kh, "--identity", dsa)
    assert h["error"]["code"] == "AUTH_FAILED", h
    assert "%s (could not sign" % dsa in h["error"]["detail"], h

    # an ssh-agent key is asked about before it signs
    ssh_add(agent, ed)
    before = sshd_log(s)
    ctl_agent = Ctl(bins, tmp_path / "with-agent", env={"SSH_AUTH_SOCK": str(agent)})
    h = status(ctl_agent, tmp_path, s.host, s.port, kh)
    assert h["error"]["code"] == "AGENT_MISSING", h
    log = sshd_log(s)[len(before):]
    assert "Postponed publickey" in log and "Accepted publickey" in log, log


class PacketProxy:
    """127.0.0.1:port -> an sshd, one thread a connection.  Per connection it
    records whether the client's second encrypted packet (USERAUTH_REQUEST,
    after SERVICE_REQUEST) arrived before the server had sent anything since
    the first: True, early.  object_early: such a connection is cut before
    that packet is passed on."""

    def __init__(self, target, object_early):
        self.target = target
        self.object_early = object_early
        self.early = []
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(8)
        self.port = self.ls.getsockname()[1]
        self.stop = False
        self.t = threading.Thread(target=self._accept, daemon=True)
        self.t.start()

    def _accept(self):
        self.ls.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.ls.accept()
            except socket.timeout:
                continue
            threading.Thread(target=self._conn, args=(c,), daemon=True).start()

    def _conn(self, c):
        s = socket.create_connection(self.target)
        buf, phase, nenc, server_since, early = b"", "banner", 0, False, None
        try:
            while True:
                r, _, _ = select.select([c, s], [], [], 30)
                if not r:
                    return
                if s in r:
                    d = s.recv(65536)
                    if not d:
                        return
                    if nenc >= 1:
                        server_since = True
                    c.sendall(d)
                if c in r:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                    while True:
                        if phase == "banner":
                            if b"\r\n" not in buf:
                                break
                            buf = buf[buf.index(b"\r\n") + 2:]
                            phase = "clear"
                        elif phase == "clear":
                            if len(buf) < 6 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
                                break
                            n = struct.unpack(">I", buf[:4])[0]
                            if buf[5] == 21:                  # NEWKEYS
                                phase = "enc"
                            buf = buf[4 + n:]
                        else:
                            if len(buf) < 4 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0] + 16:
                                break
                            buf = buf[4 + struct.unpack(">I", buf[:4])[0] + 16:]
                            nenc += 1
                            if nenc == 1:
                                server_since = False
                            elif nenc == 2 and early is None:
                                early = not server_since
                                self.early.append(early)
                                if early and self.object_early:
                                    return
                    s.sendall(d)
        finally:
            c.close()
            s.close()

    def close(self):
        self.stop = True
        self.t.join(5)
        self.ls.close()


def test_userauth_request_before_service_accept(bins, sshd_factory, tmp_path):
    key = ClientKey.generate(tmp_path / "id_ed25519", "ed25519")
    s = sshd_factory(host="127.0.0.82", client_key=key)
    for object_early, seen in ((False, [True]), (True, [True, False])):
        work = tmp_path / ("object-%d" % object_early)
        work.mkdir()
        proxy = PacketProxy((s.host, s.port), object_early)
        try:
            kh = work / "known_hosts"
            kh.write_text(s.known_hosts_line(as_host="[127.0.0.1]:%d" % proxy.port))
            before = sshd_log(s)
            h = status(Ctl(bins, work), work, "127.0.0.1", proxy.port, kh, "--identity", key.path,
                       cfg_extra="  Ciphers aes128-gcm@openssh.com\n")
            assert h["error"]["code"] == "AGENT_MISSING", h     # logged in
            assert proxy.early == seen, (proxy.early, sshd_log(s)[len(before):])
        finally:
            proxy.close()


def concurrent_logins(bins, tmp_path, n, cfg_text, window=3.0):
    """certfleet status on n inventory names whose connections all reach one
    listener that accepts and says nothing for WINDOW seconds (so every
    connection started then is still waiting), then hangs up on every
    connection; returns how many it accepted within the window."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1024)
    port = ls.getsockname()[1]
    held, stop = [], threading.Event()
    t0 = time.monotonic()

    def accept():
        ls.settimeout(0.05)
        while not stop.is_set():
            try:
                held.append((ls.accept()[0], time.monotonic()))
            except socket.timeout:
                pass
            if time.monotonic() - t0 > window:
                for c, _ in held:
                    c.close()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        inv = tmp_path / "inventory"
        inv.write_text("[fleet]\n" + "".join("h%03d ansible_host=127.0.0.1 ansible_port=%d "
                                             "ansible_user=root\n" % (i, port) for i in range(n)))
        kh = tmp_path / "known_hosts"
        kh.write_text("")
        cfg = tmp_path / "ssh_config"
        cfg.write_text(cfg_text % {"port": port})
        t0 = time.monotonic()
        p, doc = Ctl(bins, tmp_path).json("-i", inv, "-F", cfg, "--known-hosts", kh, "--timeout",
                                          "20", "status")
        assert p.returncode != 0 and len(doc["hosts"]) == n, p.stderr[-2000:]
        assert not any(h.get("ok") for h in doc["hosts"]), doc["hosts"][0]
        return len([c for c, when in held if when - t0 < window])
    finally:
        stop.set()
        t.join(5)
        for c, _ in held:
            c.close()
        ls.close()


def test_default_jobs_one_wave_for_300_hosts(bins, tmp_path):
    """Issue 16 item 9: with the default -j, 300 hosts are connected to at
    once (the old default, 50, made six waves of them)."""
    assert concurrent_logins(bins, tmp_path, 300, "") == 300


def test_default_jobs_50_through_a_proxycommand(bins, tmp_path):
    """Hosts reached through a ProxyCommand (a process and, mostly, a login at
    a jump host each) keep the default at 50."""
    cfg = "Host *\n  ProxyCommand nc 127.0.0.1 %(port)d\n"
    assert concurrent_logins(bins, tmp_path, 60, cfg) == 50
