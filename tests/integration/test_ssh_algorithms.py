"""certfleet against real OpenSSH servers restricted to single modern algorithms
(issue 13 item 1): curve25519 key exchange, Ed25519 host and user keys,
AES-GCM ciphers, a hardened host with nothing else, known_hosts written by a
first `ssh` contact (Ed25519 only), --accept-new recording what OpenSSH
would, and a server with no algorithm in common.

Each server is one sshd whose sshd_config allows only the algorithm under
test, so a successful login proves that algorithm was used.  All servers of a
test start at once and one `certfleet status` talks to all of them.
"""

import subprocess
from pathlib import Path

import pytest

import cfutil
from cfutil import ClientKey
from test_fleet import Ctl, by_host, write_inventory


@pytest.fixture
def work(tmp_path_factory):
    import tempfile
    return Path(tempfile.mkdtemp(prefix="cf-algo-", dir=tmp_path_factory.getbasetemp()))


def start(sshd_factory, specs):
    """Start one sshd per spec (host, kwargs) concurrently; returns them in order."""
    servers = [sshd_factory(host=h, _defer=True, **kw) for h, kw in specs]
    for s in servers:
        s.launch()
    for s in servers:
        s.wait_ready()
    return servers


def fingerprint(pubfile):
    return subprocess.run(["ssh-keygen", "-lf", str(pubfile)], capture_output=True,
                          text=True, check=True).stdout.split()[1]


def status(ctl, inv, kh, key, *extra, check=1):
    p, doc = ctl.json("-i", inv, "--known-hosts", kh, "--identity", key, *extra, "status",
                      check=check)
    return by_host(doc)


def reached(h):
    """Logged in and ran the agent's status (none deployed): the SSH part worked."""
    return h["error"] is not None and h["error"]["code"] == "AGENT_MISSING"


# ---------------------------------------------------------------- one algorithm each

def test_single_algorithm_servers(sshd_factory, bins, work):
    ed_user = ClientKey.generate(work / "id_ed25519", "ed25519")
    specs = [
        ("127.0.0.120", dict(extra_config="KexAlgorithms curve25519-sha256")),
        ("127.0.0.121", dict(extra_config="KexAlgorithms curve25519-sha256@libssh.org")),
        ("127.0.0.122", dict(extra_config="HostKeyAlgorithms ssh-ed25519",
                             host_key_types=("ed25519",))),
        ("127.0.0.123", dict(extra_config="PubkeyAcceptedAlgorithms ssh-ed25519",
                             client_key=ed_user)),
        ("127.0.0.124", dict(extra_config="Ciphers aes128-gcm@openssh.com")),
        ("127.0.0.129", dict(extra_config="Ciphers aes256-gcm@openssh.com")),
        ("127.0.0.130", dict(extra_config="Ciphers chacha20-poly1305@openssh.com")),
    ]
    servers = start(sshd_factory, specs)
    inv = work / "inventory"
    write_inventory(inv, servers, prefix_root=work / "hosts",
                    host_vars={"h03": "ansible_ssh_private_key_file=%s" % ed_user.path})
    kh = work / "known_hosts"
    # as a first `ssh` contact writes it: the Ed25519 key only
    kh.write_text("".join(s.known_hosts_line("ed25519") for s in servers))
    ctl = Ctl(bins, work)
    hosts = status(ctl, inv, kh, sshd_factory.client_key.path)
    assert len(hosts) == len(specs)
    for name, h in hosts.items():
        assert reached(h), (name, h)


# ---------------------------------------------------------------- hardened + old-style, together

HARDENED = """\
KexAlgorithms curve25519-sha256
Ciphers aes256-gcm@openssh.com,aes128-gcm@openssh.com
MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com
HostKeyAlgorithms ssh-ed25519
PubkeyAcceptedAlgorithms ssh-ed25519
"""


def test_hardened_and_old_style_hosts_deploy_and_status(sshd_factory, bins, work):
    """Hosts hardened as ssh-audit/Mozilla recommend (curve25519, AES-GCM,
    Ed25519 host and user keys only) next to default ones known by their ECDSA
    key: one deploy (the agent goes up over SFTP, through AES-GCM) and one
    status over all of them."""
    ed_user = ClientKey.generate(work / "id_ed25519", "ed25519")
    hard = [("127.0.0.%d" % (131 + i), dict(extra_config=HARDENED, host_key_types=("ed25519",),
                                            client_key=ed_user)) for i in range(3)]
    old = [("127.0.0.%d" % (134 + i), {}) for i in range(3)]
    servers = start(sshd_factory, hard + old)
    names = ["hard%d" % i for i in range(3)] + ["old%d" % i for i in range(3)]
    inv = work / "inventory"
    write_inventory(inv, servers, prefix_root=work / "hosts", names=names,
                    host_vars={n: "ansible_ssh_private_key_file=%s" % ed_user.path
                               for n in names[:3]})
    kh = work / "known_hosts"
    kh.write_text("".join(s.known_hosts_line("ed25519") for s in servers[:3]) +
                  "".join(s.known_hosts_line("ecdsa") for s in servers[3:]))
    ctl = Ctl(bins, work)
    key = sshd_factory.client_key.path
    p, doc = ctl.json("-i", inv, "--known-hosts", kh, "--identity", key, "deploy", check=0)
    payload = subprocess.run([ctl.bin, "agent-binary"], capture_output=True).stdout
    for h in doc["hosts"]:
        assert h["ok"] and h["agent"]["installed"] is True, h
        target = work / "hosts" / h["host"] / "usr/local/bin/certfleet-agent"
        assert target.read_bytes() == payload
    p, doc = ctl.json("-i", inv, "--known-hosts", kh, "--identity", key, "status", check=0)
    assert len(doc["hosts"]) == 6
    for h in doc["hosts"]:
        assert h["ok"] and h["agent"] == {"certificates": []}, h
    # the hardened servers really allowed nothing else
    for s in servers[:3]:
        r = subprocess.run(["ssh", "-F", "/dev/null", "-p", str(s.port), "-o", "BatchMode=yes",
                            "-o", "Ciphers=aes128-ctr", "-o", "StrictHostKeyChecking=no",
                            "-o", "UserKnownHostsFile=/dev/null", s.host, "true"],
                           capture_output=True, text=True, timeout=20)
        assert r.returncode != 0 and "no matching cipher" in r.stderr, r.stderr


# ---------------------------------------------------------------- known_hosts as ssh writes it

def test_ed25519_known_hosts_and_accept_new(sshd_factory, bins, work):
    known, unknown, ed_only = start(sshd_factory, [
        ("127.0.0.125", {}), ("127.0.0.126", {}),
        ("127.0.0.127", dict(host_key_types=("ed25519",)))])
    other = sshd_factory.many(1, first_host=128)[0]
    inv = work / "inventory"
    write_inventory(inv, [known, unknown, ed_only], prefix_root=work / "hosts")
    kh = work / "known_hosts"
    # known: only its Ed25519 line; ed_only: known by an ECDSA key it does not have
    kh.write_text(known.known_hosts_line("ed25519") +
                  other.known_hosts_line("ecdsa", as_host=ed_only.hostport))
    ctl = Ctl(bins, work)
    key = sshd_factory.client_key.path
    for extra in ([], ["--accept-new"]):
        hosts = status(ctl, inv, kh, key, *extra)
        assert reached(hosts["h00"]), hosts["h00"]
        e = hosts["h02"]["error"]
        assert e["code"] == "UNKNOWN_HOST_KEY", e
        # the command names the key type the host really offers
        assert "ssh-keyscan -t ed25519 -p %d %s" % (ed_only.port, ed_only.host) in e["detail"]
        assert "ssh_host_ed25519_key.pub" in e["detail"]
        assert fingerprint(str(ed_only.hostkey_paths["ed25519"]) + ".pub") in e["detail"]
        e = hosts["h01"]["error"]
        if extra:
            assert reached(hosts["h01"]), e
            # nothing suggests the option just given
            for h in hosts.values():
                if h["error"]["code"] != "AGENT_MISSING":
                    assert "--accept-new" not in h["error"]["detail"] + h["error"]["hint"], h
        else:
            assert e["code"] == "UNKNOWN_HOST_KEY"
            assert fingerprint(str(unknown.hostkey_paths["ed25519"]) + ".pub") in e["detail"]
            assert "ssh_host_ed25519_key.pub" in e["detail"] and "--accept-new" in e["detail"]
    # --accept-new recorded the Ed25519 key, as OpenSSH would have
    assert unknown.known_hosts_line("ed25519") in kh.read_text()
    assert unknown.known_hosts_line("ecdsa") not in kh.read_text()
    r = unknown.ssh("true", known_hosts=kh)
    assert r.returncode == 0, r.stderr
    hosts = status(ctl, inv, kh, key)
    assert reached(hosts["h01"])


# ---------------------------------------------------------------- nothing in common

def test_no_common_algorithm_names_both_sides(sshd_factory, bins, work):
    specs = [
        ("127.0.0.137", dict(extra_config="KexAlgorithms sntrup761x25519-sha512@openssh.com")),
        ("127.0.0.138", dict(extra_config="HostKeyAlgorithms ssh-rsa")),
        ("127.0.0.139", dict(extra_config="Ciphers aes256-cbc")),
        ("127.0.0.140", dict(extra_config="Ciphers aes128-ctr\nMACs umac-128-etm@openssh.com")),
        ("127.0.0.141", {}),
    ]
    servers = start(sshd_factory, specs)
    inv = work / "inventory"
    write_inventory(inv, servers, prefix_root=work / "hosts")
    kh = work / "known_hosts"
    kh.write_text("".join(s.known_hosts_line("ed25519") + s.known_hosts_line("rsa")
                          for s in servers))
    ctl = Ctl(bins, work)
    hosts = status(ctl, inv, kh, sshd_factory.client_key.path)
    want = {
        "h00": ("no key exchange algorithm in common", "sntrup761x25519-sha512@openssh.com",
                "curve25519-sha256", "KexAlgorithms"),
        "h01": ("no host key algorithm in common", "offers ssh-rsa;", "rsa-sha2-512",
                "HostKeyAlgorithms"),
        "h02": ("no cipher (client to server) in common", "offers aes256-cbc;",
                "aes256-gcm@openssh.com", "Ciphers"),
        "h03": ("no MAC in common", "offers umac-128-etm@openssh.com;",
                "hmac-sha2-256-etm@openssh.com", "MACs"),
    }
    for name, parts in want.items():
        e = hosts[name]["error"]
        assert e["code"] == "SSH_NO_COMMON_ALGORITHM", (name, e)
        for part in parts:
            assert part in e["detail"], (name, part, e["detail"])
        assert "sshd_config" in e["hint"]
    assert reached(hosts["h04"])
    # the table names it too; certfleet(1) lists the code with its class's status
    assert "SSH_NO_COMMON_ALGORITHM \\fR(109)" in (
        Path(__file__).resolve().parents[2] / "docs" / "certfleet.1").read_text()
    p = ctl.run("-i", inv, "--known-hosts", kh, "--identity", sshd_factory.client_key.path,
                "status", check=1)
    assert "SSH_NO_COMMON_ALGORITHM" in p.stdout


# ---------------------------------------------------------------- host certificates

def test_host_certificate_negotiated_when_a_ca_is_trusted(sshd_factory, bins, work):
    """A @cert-authority line for the host (and no key of its own): certfleet
    asks for host certificates; libssh2 verifies the key exchange with the
    certified key and hands the certificate over; certfleet checks it against
    the CA (sshtrust.c) and logs in."""
    ca = ClientKey.generate(work / "ca", "ed25519")
    specs = [("127.0.0.142", dict(host_key_types=("ed25519",))),
             ("127.0.0.143", dict(host_key_types=("ecdsa",))),
             ("127.0.0.144", dict(host_key_types=("rsa",))),
             ("127.0.0.145", {})]
    servers = [sshd_factory(host=h, _defer=True, **kw) for h, kw in specs]
    cfutil.wait_keygen([p for s in servers for p in s._keygen])
    certs = {}
    for s, t in zip(servers, ("ed25519", "ecdsa", "rsa", "ed25519")):
        pub = str(s.hostkey_paths[t]) + ".pub"
        subprocess.run(["ssh-keygen", "-q", "-s", str(ca.path), "-I", "host-" + s.host, "-h",
                        "-n", s.host, "-V", "-5m:+1h", pub], check=True, capture_output=True)
        cert = str(s.hostkey_paths[t]) + "-cert.pub"
        s.extra_config = "HostCertificate %s" % cert
        certs[s.host] = Path(cert).read_text().split()[0]
    for s in servers:
        s.launch()
    for s in servers:
        s.wait_ready()
    inv = work / "inventory"
    write_inventory(inv, servers, prefix_root=work / "hosts")
    kh = work / "known_hosts"
    # the CA for all four; the fourth is also known by its own key
    kh.write_text("@cert-authority [127.0.0.14?]:* %s\n" % ca.pub +
                  servers[3].known_hosts_line("ed25519"))
    ctl = Ctl(bins, work)
    hosts = status(ctl, inv, kh, sshd_factory.client_key.path)
    # each certificate type is negotiated and checked against the CA
    # (sshtrust.c): the hosts are reached (logged in, no agent there yet)
    for name, s in zip(("h00", "h01", "h02"), servers):
        assert reached(hosts[name]), (name, hosts[name])
        assert [l for l in cfutil.tail(s.log_path, 200).splitlines() if "Accepted" in l], name
    assert {certs[s.host] for s in servers[:3]} == {
        "ssh-ed25519-cert-v01@openssh.com", "ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "ssh-rsa-cert-v01@openssh.com"}
    # known by its own key: asked for that, not for the certificate it also has
    assert reached(hosts["h03"]), hosts["h03"]
