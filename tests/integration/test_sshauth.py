"""Authentication as ssh does it (issue 13 item 5) and ssh_config choosing
where and how to log in (item 4), against real sshd processes.

- IdentitiesOnly with an ssh-agent holding 7 keys and sshd MaxAuthTries 3:
  without it the host hangs up ("Too many authentication failures"),
  reported as TOO_MANY_AUTH_FAILURES with the fix; with it (and the right
  IdentityFile) only that key is offered and the login succeeds.
- User certificates: sshd trusts a user CA (TrustedUserCAKeys) and has no
  authorized key; the -cert.pub beside a key file, or CertificateFile, logs in.
- Include and Match choosing port, user and identity.
"""
import os
import subprocess
from pathlib import Path

import pytest

import cfutil
from cfutil import ClientKey
from test_fleet import Ctl, by_host, write_inventory


def keygen(path, t="ed25519"):
    return ClientKey.generate(path, t)


def sshd_log(s):
    return cfutil.tail(s.log_path, 400)


@pytest.fixture
def agent(tmp_path):
    sock = tmp_path / "agent.sock"
    p = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        cfutil.wait_for(lambda: sock.exists(), 10, "ssh-agent socket")
        yield sock
    finally:
        p.terminate()
        p.wait(timeout=10)


def ssh_add(sock, *keys):
    env = dict(os.environ, SSH_AUTH_SOCK=str(sock))
    for k in keys:
        subprocess.run(["ssh-add", "-q", str(k.path)], env=env, check=True, capture_output=True)


def test_identities_only_with_seven_agent_keys(bins, sshd_factory, tmp_path, agent):
    keys = [keygen(tmp_path / ("k%d" % i)) for i in range(7)]
    right = keys[6]
    s = sshd_factory(host="127.0.0.71", client_key=right, max_auth_tries=3)
    ssh_add(agent, *keys)                       # the right key offered last
    inv = tmp_path / "inventory"
    inv.write_text("[fleet]\nbox ansible_host=%s certfleet_prefix=%s/box\n" % (s.host, tmp_path))
    kh = tmp_path / "known_hosts"
    kh.write_text(s.known_hosts_line())
    cfg = tmp_path / "ssh_config"
    cfg.write_text("Host %s\n  Port %d\n  User root\n  UserKnownHostsFile %s\n" % (s.host, s.port, kh))
    ctl = Ctl(bins, tmp_path, env={"SSH_AUTH_SOCK": str(agent)})

    # OpenSSH itself fails the same way: the oracle for the failure
    p = subprocess.run(["ssh", "-F", str(cfg), "-o", "BatchMode=yes", "-o", "IdentityFile=none",
                        s.host, "true"], env=dict(os.environ, SSH_AUTH_SOCK=str(agent)),
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30)
    assert p.returncode == 255 and "Too many authentication failures" in p.stderr, p.stderr

    p, doc = ctl.json("-i", inv, "-F", cfg, "--known-hosts", kh, "status", check=1)
    e = doc["hosts"][0]["error"]
    assert e["code"] == "TOO_MANY_AUTH_FAILURES", e
    assert "IdentitiesOnly" in e["detail"] and "MaxAuthTries" in e["detail"], e
    assert "could not sign" not in e["detail"]

    # IdentitiesOnly + the host's IdentityFile: only that key is offered
    cfg.write_text("Host %s\n  Port %d\n  User root\n  UserKnownHostsFile %s\n"
                   "  IdentitiesOnly yes\n  IdentityFile %s\n" % (s.host, s.port, kh, right.path))
    before = sshd_log(s).count("Failed publickey")
    p, doc = ctl.json("-i", inv, "-F", cfg, "--known-hosts", kh, "status", check=1)
    assert doc["hosts"][0]["error"]["code"] == "AGENT_MISSING", doc    # logged in
    assert sshd_log(s).count("Failed publickey") == before, sshd_log(s)
    p = ctl.run("-i", inv, "-F", cfg, "hosts", "-v", check=0)
    assert "\tidentitiesonly yes\t%s:5" % cfg in p.stdout, p.stdout


def test_user_certificates(bins, sshd_factory, tmp_path):
    ed = keygen(tmp_path / "id_ed25519")                      # signed by certfleet (sshsign.c)
    ec = ClientKey.generate(tmp_path / "id_ecdsa_pem", "ecdsa", fmt="PEM")   # by libssh2
    (tmp_path / "elsewhere").mkdir()
    other = keygen(tmp_path / "elsewhere" / "id_other")
    ca = keygen(tmp_path / "ca")
    for k in (ed, ec, other):
        subprocess.run(["ssh-keygen", "-q", "-s", str(ca.path), "-I", "t", "-n", "root",
                        "-V", "-5m:+1h", str(k.pub_path)], check=True, capture_output=True)
    # CertificateFile names a certificate kept away from its key
    moved = tmp_path / "certs" / "other-cert.pub"
    moved.parent.mkdir()
    os.rename(str(other.pub_path)[:-4] + "-cert.pub", moved)
    servers = sshd_factory.many(3, first_host=72, client_key=keygen(tmp_path / "unused"),
                                trusted_user_ca=ca.pub_path)
    inv = tmp_path / "inventory"
    write_inventory(inv, servers, prefix_root=tmp_path / "hosts", names=["ed", "ec", "other"],
                    host_vars={"ed": "ansible_ssh_private_key_file=%s" % ed.path,
                               "ec": "ansible_ssh_private_key_file=%s" % ec.path,
                               "other": "ansible_ssh_private_key_file=%s" % other.path})
    kh = tmp_path / "known_hosts"
    kh.write_text("".join(s.known_hosts_line() for s in servers))
    cfg = tmp_path / "ssh_config"
    cfg.write_text("Host *\n  CertificateFile %s\n" % moved)
    ctl = Ctl(bins, tmp_path)
    p, doc = ctl.json("-i", inv, "-F", cfg, "--known-hosts", kh, "status", check=1)
    h = by_host(doc)
    for n in ("ed", "ec", "other"):
        assert h[n]["error"]["code"] == "AGENT_MISSING", h[n]   # logged in with the certificate
    for s in servers:
        assert "Accepted publickey for root" in sshd_log(s) and "CA ED25519" in sshd_log(s), sshd_log(s)
    ctl.json("-i", inv, "-F", cfg, "--known-hosts", kh, "deploy", check=0)
    p, doc = ctl.json("-i", inv, "-F", cfg, "--known-hosts", kh, "status", check=0)
    # without the certificates nothing logs in: the certificate did it
    for f in (str(ed.pub_path)[:-4] + "-cert.pub", str(ec.pub_path)[:-4] + "-cert.pub", moved):
        os.unlink(f)
    p, doc = ctl.json("-i", inv, "-F", cfg, "--known-hosts", kh, "status", check=1)
    for x in doc["hosts"]:
        assert x["error"]["code"] == "AUTH_FAILED", x


def test_include_and_match_choose_port_user_identity(bins, sshd_factory, tmp_path):
    """~/.ssh/config with Include and Match picks the port, the user and the
    key of each host; the inventory names only aliases."""
    k1, k2 = keygen(tmp_path / "k1"), keygen(tmp_path / "k2")
    a = sshd_factory(host="127.0.0.75", client_key=k1)
    b = sshd_factory(host="127.0.0.76", client_key=k2)
    ctl = Ctl(bins, tmp_path)
    ssh = ctl.home / ".ssh"
    (ssh / "conf.d").mkdir(parents=True, mode=0o700)
    (ssh / "config").write_text("Include conf.d/*.conf\nHost *\n  IdentitiesOnly yes\n")
    (ssh / "conf.d" / "a.conf").write_text(
        "Host alpha\n  HostName %s\n  Port %d\n  IdentityFile %s\n" % (a.host, a.port, k1.path))
    (ssh / "conf.d" / "b.conf").write_text(
        "Host beta\n  HostName %s\nMatch originalhost beta final\n  Port %d\n  IdentityFile %s\n"
        "Match host 127.0.0.7*\n  User root\n" % (b.host, b.port, k2.path))
    (ssh / "known_hosts").write_text(a.known_hosts_line() + b.known_hosts_line())  # the default file
    inv = tmp_path / "inventory"
    inv.write_text("[fleet]\nalpha certfleet_prefix=%s/a\nbeta certfleet_prefix=%s/b\n" % (tmp_path, tmp_path))
    p = ctl.run("-i", inv, "hosts", check=0)
    assert "alpha\troot@%s:%d\t" % (a.host, a.port) in p.stdout, p.stdout
    assert "beta\troot@%s:%d\t" % (b.host, b.port) in p.stdout, p.stdout
    p, doc = ctl.json("-i", inv, "status", check=1)
    h = by_host(doc)
    assert h["alpha"]["error"]["code"] == "AGENT_MISSING", h
    assert h["beta"]["error"]["code"] == "AGENT_MISSING", h
    assert "Failed publickey" not in sshd_log(a) + sshd_log(b)
    # and the whole way: deploy, then status
    ctl.json("-i", inv, "deploy", check=0)
    p, doc = ctl.json("-i", inv, "status", check=0)
    assert [x["ok"] for x in doc["hosts"]] == [True, True], doc


def test_algorithm_lists_narrow_never_widen(bins, sshd_factory, tmp_path):
    """KexAlgorithms/Ciphers/MACs from ssh_config narrow what certfleet
    offers: a server that only speaks ecdh-sha2-nistp384 is reached when the
    config names it first, fails when the config leaves it out, and a config
    naming only CBC gets an SSH_CONFIG error (certfleet never widens)."""
    s = sshd_factory(host="127.0.0.77", extra_config="KexAlgorithms ecdh-sha2-nistp384\n")
    inv = tmp_path / "inventory"
    inv.write_text("[fleet]\nbox ansible_host=%s ansible_port=%d ansible_user=root\n" % (s.host, s.port))
    kh = tmp_path / "kh"
    kh.write_text(s.known_hosts_line())
    cfg = tmp_path / "cfg"
    ctl = Ctl(bins, tmp_path)

    def code(text):
        cfg.write_text("IdentityFile %s\nUserKnownHostsFile %s\n%s" % (s.client_key.path, kh, text))
        p, doc = ctl.json("-i", inv, "-F", cfg, "status", check=1)
        return doc["hosts"][0]["error"]

    assert code("KexAlgorithms ecdh-sha2-nistp384,curve25519-sha256\n")["code"] == "AGENT_MISSING"
    assert code("KexAlgorithms -ecdh-sha2-nistp384\n")["code"] == "PROTOCOL_ERROR"
    e = code("Ciphers aes128-cbc,3des-cbc\n")
    assert e["code"] == "SSH_CONFIG" and "leaves none" in e["detail"], e
    assert code("Ciphers +aes128-cbc\nMACs ^hmac-sha2-512\n")["code"] == "AGENT_MISSING"
