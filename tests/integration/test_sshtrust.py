"""Host key trust as OpenSSH decides it (issue 13 item 2), with real sshd:
UserKnownHostsFile (several, ~ and %-tokens) and GlobalKnownHostsFile from
ssh_config (the global file is the test's own: nothing writes /etc/ssh),
StrictHostKeyChecking accept-new / no, @revoked, and host certificates with
@cert-authority.  Every refusal names the file, line and the command that
fixes it.
"""
import os
import subprocess
from pathlib import Path

import pytest

import cfutil
from test_fleet import Ctl, by_host


def prepare(bins, tmp_path, servers, cfg_text):
    inv = tmp_path / "inventory"
    inv.write_text("[fleet]\n" + "".join(
        "h%d ansible_host=%s ansible_port=%d ansible_user=root certfleet_prefix=%s/h%d\n"
        % (i, s.host, s.port, tmp_path, i) for i, s in enumerate(servers)))
    cfg = tmp_path / "ssh_config"
    cfg.write_text(cfg_text)
    return inv, cfg, Ctl(bins, tmp_path)


def status(ctl, inv, cfg, *extra):
    p, doc = ctl.json("-i", inv, "-F", cfg, *extra, "status", check=None)
    return by_host(doc)


def reached(h):
    return h["error"]["code"] == "AGENT_MISSING"      # logged in: the agent is not there


def test_global_and_several_user_known_hosts_files(bins, sshd_factory, tmp_path):
    a, b, c = sshd_factory.many(3, first_host=80)
    g = tmp_path / "global_known_hosts"
    g.write_text(a.known_hosts_line())                           # a: only in the global file
    (tmp_path / ("kh_%s" % b.host)).write_text(b.known_hosts_line())  # b: in the %h-named user file
    inv, cfg, ctl = prepare(bins, tmp_path, [a, b, c], (
        "Host *\n  UserKnownHostsFile ~/first_kh %s/kh_%%h\n  GlobalKnownHostsFile %s %s/nope\n"
        "  IdentityFile %s\n") % (tmp_path, g, tmp_path, a.client_key.path))
    h = status(ctl, inv, cfg)
    assert reached(h["h0"]) and reached(h["h1"]), h
    e = h["h2"]["error"]
    assert e["code"] == "UNKNOWN_HOST_KEY", e
    # names the files looked at and the commands that fix it
    assert "%s/first_kh" % ctl.home in e["detail"] and "3 other known_hosts files" in e["detail"], e
    # the type the host really offers: what ssh would record (Ed25519)
    assert "ssh-keyscan -t ed25519 -p %d %s >> %s/first_kh" % (c.port, c.host, ctl.home) in e["detail"], e
    # without its global file a is unknown too: the global file did it
    cfg.write_text(cfg.read_text().replace(str(g), str(tmp_path / "nope2")))
    assert status(ctl, inv, cfg)["h0"]["error"]["code"] == "UNKNOWN_HOST_KEY"


def test_revoked_in_global_file_names_file_and_line(bins, sshd_factory, tmp_path):
    s = sshd_factory(host="127.0.0.83")
    g = tmp_path / "global"
    g.write_text("# revoked\n\n@revoked * %s\n" % s.host_keys["ecdsa"])
    kh = tmp_path / "kh"
    kh.write_text(s.known_hosts_line())
    inv, cfg, ctl = prepare(bins, tmp_path, [s], "UserKnownHostsFile %s\nGlobalKnownHostsFile %s\n"
                          "IdentityFile %s\n" % (kh, g, s.client_key.path))
    e = status(ctl, inv, cfg)["h0"]["error"]
    assert e["code"] == "HOST_KEY_MISMATCH", e
    assert "%s line 3 marks @revoked" % g in e["detail"] and "nothing was sent" in e["detail"], e
    assert "Failed publickey" not in cfutil.tail(s.log_path, 200)
    assert "Accepted" not in cfutil.tail(s.log_path, 200)


def test_strict_host_key_checking_accept_new_and_no(bins, sshd_factory, tmp_path):
    a, b = sshd_factory.many(2, first_host=84)
    other = sshd_factory(host="127.0.0.86")
    kh = tmp_path / "kh"
    # b is known under a wrong key: accept-new must still refuse it
    kh.write_text(other.known_hosts_line(as_host=b.hostport))
    inv, cfg, ctl = prepare(bins, tmp_path, [a, b], (
        "Host 127.0.0.84\n  StrictHostKeyChecking accept-new\nHost *\n  UserKnownHostsFile %s\n"
        "  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking ask\n  IdentityFile %s\n")
        % (kh, a.client_key.path))
    h = status(ctl, inv, cfg)
    assert reached(h["h0"]), h
    assert h["h1"]["error"]["code"] == "HOST_KEY_MISMATCH", h
    assert a.hostport in kh.read_text()                      # recorded, in the first user file
    h = status(ctl, inv, cfg)
    assert reached(h["h0"]), h                               # and known from now on
    # StrictHostKeyChecking no: refused before any connection
    n = cfutil.tail(a.log_path, 400).count("Connection from")
    cfg.write_text(cfg.read_text().replace("accept-new", "no"))
    e = status(ctl, inv, cfg)["h0"]["error"]
    assert e["code"] == "SSH_CONFIG" and "never connects to a host it cannot verify" in e["detail"], e
    assert "%s:2" % cfg in e["detail"], e
    assert cfutil.tail(a.log_path, 400).count("Connection from") == n


def test_host_certificate_with_cert_authority(bins, sshd_factory, tmp_path):
    """sshd serves host certificates; known_hosts has only the CA (for the
    plain host name: the port is not part of it, as ssh matches it).  libssh2
    negotiates the *-cert-v01@openssh.com host key (vendor patch 0003) and
    certfleet checks the certificate against the CA."""
    ca = cfutil.ClientKey.generate(tmp_path / "host_ca", "ed25519")
    s = sshd_factory(host="127.0.0.87", host_ca=ca.path)
    wrong = sshd_factory(host="127.0.0.88", host_ca=ca.path, host_principals="someone.else")
    kh = tmp_path / "kh"
    kh.write_text("@cert-authority 127.0.0.8* %s\n" % " ".join(ca.pub.split()[:2]))
    inv, cfg, ctl = prepare(bins, tmp_path, [s, wrong], "UserKnownHostsFile %s\nGlobalKnownHostsFile "
                          "/dev/null\nIdentityFile %s\n" % (kh, s.client_key.path))
    # OpenSSH is the oracle: it accepts s and refuses wrong
    ok = subprocess.run(s.ssh_args(known_hosts=kh) + ["true"], capture_output=True, text=True,
                        stdin=subprocess.DEVNULL, timeout=30)
    assert ok.returncode == 0, ok.stderr
    h = status(ctl, inv, cfg)
    assert reached(h["h0"]), h
    e = h["h1"]["error"]
    assert e["code"] == "HOST_CERT_INVALID" and "principals" in e["detail"], e
    assert "%s line 1" % kh in e["detail"] and "ssh-keygen -s" in e["detail"], e
