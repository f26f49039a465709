"""certfleet elb deploy --from-host: the certificate an agent obtained from Pebble
on a real sshd fleet host is read over SFTP by the controller and uploaded to a
listener of the FE emulator (which checks that the key matches).  Also: no
certificate for the name there, a key that does not belong to the certificate,
an expired certificate, an unknown host key, and the option rules.  The private
key's text must never appear in anything the controller prints or keeps."""

import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

import cfutil
from test_fleet import BECOME_USER, Ctl, become_user, write_inventory  # noqa: F401 (fixture)

NAME = "fromhost.example.test"


def fingerprint(pem_text):
    r = cfutil.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256"], input=pem_text)
    return r.stdout.strip()


def serial(pem_text):
    r = cfutil.run(["openssl", "x509", "-noout", "-serial"], input=pem_text)
    return r.stdout.strip().split("=", 1)[1].lower().lstrip("0")


def key_lines(pem_text):
    """The base64 lines of a PEM key: what a leak would show."""
    return [l for l in pem_text.splitlines() if l and not l.startswith("-----")]


def listener_cert(emu, lid):
    st = emu.state()
    ref = st["listeners"]["v3"][lid]["default_tls_container_ref"]
    return st["certs"]["v3"].get(ref) if ref else None


def cert_posts(emu):
    return [e for e in emu.state()["log"] if e["method"] == "POST" and e["path"].endswith("/certificates")]


class Fleet:
    """One fleet host with an agent under its own prefix, a controller that can
    reach it and the FE emulator."""

    def __init__(self, bins, sshd, client_key, feemu, workdir, host="127.0.0.150"):
        self.dir = Path(workdir)
        self.server = sshd(host=host)
        self.prefix = self.dir / "hosts" / "h00"
        self.inv = self.dir / "inventory"
        self.kh = self.dir / "known_hosts"
        self.kh.write_text(self.server.known_hosts_line())
        self.ctl = Ctl(bins, self.dir, env=feemu.env())
        self.args = ["-i", self.inv, "--known-hosts", self.kh, "--identity", client_key.path]
        self.outputs = []

    def inventory(self, extra_vars=""):
        write_inventory(self.inv, [self.server], prefix_root=self.dir / "hosts",
                        host_vars={"h00": "certfleet_domains=%s" % NAME}, extra_vars=extra_vars)

    def run(self, *args, check=None, env=None):
        if env:
            self.ctl.env.update(env)
        try:
            p = self.ctl.run(*self.args, *args, check=check, timeout=180)
        finally:
            for k in env or ():
                self.ctl.env.pop(k)
        self.outputs += [p.stdout, p.stderr]
        return p

    def deploy_from_host(self, lid, *extra, check=None, env=None):
        p = self.run("elb", "deploy", "--listener", lid, "--from-host", "h00", "--json", *extra,
                     check=check, env=env)
        return p, json.loads(p.stdout) if p.stdout.strip() else None

    def live(self, file):
        return (self.prefix / "etc/certfleet/live" / NAME / file).read_text()


@pytest.fixture
def fleet(bins, sshd_factory, feemu, tmp_path):
    return Fleet(bins, sshd_factory, sshd_factory.client_key, feemu, tmp_path)


def issue_on_host(fleet, pebble, challtestsrv):
    s = fleet.server
    fleet.inventory("certfleet_method=standalone\ncertfleet_server=%s\ncertfleet_agree_tos=yes\n"
                    "certfleet_email=ops@example.test\n" % pebble.directory)
    challtestsrv.add_a(NAME, s.host)
    conf = fleet.prefix / "etc/certfleet/agent.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("ca-file = %s\nresolver = %s\nhttp-address = %s\nhttp-port = %d\n"
                    % (pebble.ca_file, challtestsrv.dns_addr, s.host, pebble.http_port))
    fleet.run("deploy", check=0)
    p = fleet.run("--json", "issue", check=0)
    assert json.loads(p.stdout)["hosts"][0]["agent"]["status"]["sslStatus"] == "active"


def test_deploy_from_host_uploads_the_hosts_certificate(fleet, feemu, pebble, challtestsrv):
    issue_on_host(fleet, pebble, challtestsrv)
    chain, key = fleet.live("fullchain.pem"), fleet.live("privkey.pem")
    lid = feemu.add_listener("v3")["id"]

    p, out = fleet.deploy_from_host(lid, "-d", NAME, check=0)
    assert out["outcome"] == "changed" and out["fromHost"] == "h00", out
    assert out["serial"].lstrip("0") == serial(chain)
    cert = listener_cert(feemu, lid)
    assert cert["id"] == out["certificate_id"] and cert["domain"] == NAME
    # the very certificate and key the agent holds; the emulator checked the pair
    # (openssl: the key's public half is the certificate's) before accepting it
    assert fingerprint(cert["certificate"]) == fingerprint(chain)
    assert cert["certificate"].strip() == chain.strip()
    assert cert["private_key"] == key
    assert [e["status"] for e in cert_posts(feemu)] == [201]

    # the text table says where it came from
    fleet.run("elb", "deploy", "--listener", lid, "--from-host", "h00", "-d", NAME, "--keep-old",
              check=0)
    assert "from h00, serial" in fleet.outputs[-2]
    assert len(feemu.state()["certs"]["v3"]) == 2
    # the fleet options after the command name too (their getopt values once
    # collided with elb's own: --known-hosts was --json, --timeout --listener)
    p = fleet.ctl.run("elb", "deploy", "--listener", lid, "--from-host", "h00", "-d", NAME,
                      "--keep-old", "--timeout", "30", *fleet.args, check=0, timeout=180)
    assert "from h00, serial" in p.stdout and not p.stdout.startswith("{"), p.stdout
    assert len(feemu.state()["certs"]["v3"]) == 3

    # a name the host has no certificate for: nothing uploaded
    feemu.reset_log()
    p, out = fleet.deploy_from_host(lid, "-d", "other.example.test", check=1)
    assert out["code"] == "NO_HOST_CERT", out
    assert "etc/certfleet/live/other.example.test/fullchain.pem does not exist" in out["detail"]
    assert out["hint"].startswith("that host holds no unexpired certificate")

    # the same certificate, seen from 100 days later: expired
    p, out = fleet.deploy_from_host(lid, "-d", NAME, check=1,
                                    env={"CERTFLEET_TEST_TIME": "+%d" % (100 * 86400)})
    assert out["code"] == "NO_HOST_CERT" and "expired on" in out["detail"], out

    # a key that is not the certificate's: refused before any upload
    other = subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                            "ec_paramgen_curve:P-256"], capture_output=True, text=True).stdout
    keyfile = (fleet.prefix / "etc/certfleet/live" / NAME / "privkey.pem").resolve()
    keyfile.write_text(other)
    p, out = fleet.deploy_from_host(lid, "-d", NAME, check=1)
    assert out["code"] == "FE_CERT_INVALID" and "does not belong" in out["detail"], out
    assert cert_posts(feemu) == []
    keyfile.write_text(key)

    # the key's text is nowhere in what the controller printed or kept
    kept = [f.read_text(errors="replace") for d in (fleet.dir / "state", fleet.dir / "home")
            if d.exists() for f in d.rglob("*") if f.is_file()]
    activity = fleet.prefix / "var/lib/certfleet/activity.log"
    kept.append(activity.read_text())
    for line in key_lines(key) + key_lines(other):
        for text in fleet.outputs + kept:
            assert line not in text


def test_from_host_refusals(fleet, feemu):
    fleet.inventory()
    lid = feemu.add_listener("v3")["id"]
    # the option rules, before anything is contacted
    p = fleet.run("elb", "deploy", "--listener", lid, "--from-host", "h00", "-d", NAME,
                  "--cert", "/dev/null", check=1)
    assert "USAGE: --from-host and --cert/--key are mutually exclusive" in p.stderr
    p = fleet.run("elb", "deploy", "--listener", lid, "--from-host", "h00", check=1)
    assert "USAGE: --from-host needs one -d DOMAIN" in p.stderr
    p = fleet.run("elb", "deploy", "--listener", lid, "--key", "/dev/null", check=1)
    assert "--from-host HOST -d DOMAIN" in p.stderr
    assert cert_posts(feemu) == []
    # a name that is not a domain never reaches a path
    p, out = fleet.deploy_from_host(lid, "-d", "../../etc/shadow", check=1)
    assert out["code"] == "INVALID_INPUT", out

    # a host whose key is unknown: refused after the key exchange, nothing sent
    fleet.kh.write_text("")
    p, out = fleet.deploy_from_host(lid, "-d", NAME, check=1)
    assert out["code"] == "UNKNOWN_HOST_KEY", out
    assert out["detail"].startswith("h00: ") and "--accept-new" in out["detail"]
    log = cfutil.tail(fleet.server.log_path, 200)
    assert "Accepted" not in log and "subsystem request for sftp" not in log
    # and one whose key changed
    kf = fleet.dir / "otherkey"
    subprocess.run(["ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", str(kf)], check=True)
    pub = " ".join(Path(str(kf) + ".pub").read_text().split()[:2])
    fleet.kh.write_text("%s %s\n" % (fleet.server.hostport, pub))
    p, out = fleet.deploy_from_host(lid, "-d", NAME, check=1)
    assert out["code"] == "HOST_KEY_MISMATCH" and "nothing was sent" in out["detail"], out
    assert "Accepted" not in cfutil.tail(fleet.server.log_path, 200)

    # known host, but no agent files there at all
    fleet.kh.write_text(fleet.server.known_hosts_line())
    p, out = fleet.deploy_from_host(lid, "-d", NAME, check=1)
    assert out["code"] == "NO_HOST_CERT", out
    # a host the inventory does not have
    p = fleet.run("elb", "deploy", "--listener", lid, "--from-host", "nosuch", "-d", NAME, check=1)
    assert 'no hosts match "nosuch"' in p.stderr
    assert cert_posts(feemu) == []


def test_login_that_cannot_read_the_key_is_explained(bins, sshd_factory, feemu, tmp_path, become_user):
    """The files are read with cat over exec as the login user, who may not
    read the agent's 0700 directory: the refusal says so (and names
    ansible_become) instead of pretending the host has no certificate; with
    ansible_become the read goes through sudo and gets inside."""
    key = sshd_factory.client_key
    ssh_dir = Path(become_user.pw_dir) / ".ssh"
    ssh_dir.mkdir(mode=0o700)
    (ssh_dir / "authorized_keys").write_text(key.pub + "\n")
    for p in (ssh_dir, ssh_dir / "authorized_keys"):
        os.chown(p, become_user.pw_uid, become_user.pw_gid)
    extra = "Match User %s\n  AuthorizedKeysFile %s/authorized_keys\n" % (BECOME_USER, ssh_dir)
    fleet = Fleet(bins, lambda host: sshd_factory(host=host, extra_config=extra), key, feemu, tmp_path,
                  host="127.0.0.151")
    fleet.inventory()
    fleet.inv.write_text(fleet.inv.read_text().replace("ansible_user=root", "ansible_user=%s" % BECOME_USER))
    live = fleet.prefix / "etc/certfleet/live" / NAME
    live.mkdir(parents=True)
    os.chmod(fleet.prefix / "etc/certfleet", 0o700)
    lid = feemu.add_listener("v3")["id"]
    p, out = fleet.deploy_from_host(lid, "-d", NAME, check=1)
    assert out["code"] == "IO_ERROR", out
    assert "%s may not read" % BECOME_USER in out["detail"]
    assert "permission denied" in out["detail"] and "ansible_become=true" in out["detail"]
    fleet.inv.write_text(fleet.inv.read_text().replace(
        "ansible_user=%s" % BECOME_USER, "ansible_user=%s ansible_become=true" % BECOME_USER))
    p, out = fleet.deploy_from_host(lid, "-d", NAME, check=1)
    assert out["code"] == "NO_HOST_CERT", out
    assert "fullchain.pem does not exist" in out["detail"]
    assert cert_posts(feemu) == []


def test_from_host_without_sftp_and_with_a_banner(bins, sshd_factory, feemu, tmp_path):
    """A host with no SFTP subsystem whose login prints a banner around every
    command: the files are read with cat over exec, the banner cut off (the
    key's buffer never holds more than the frame allows), and the pair is
    uploaded.  The key is never on any process's command line."""
    force = tmp_path / "banner.sh"
    force.write_text("#!/bin/sh\nprintf 'Welcome to prod-web\\n'\nsh -c \"$SSH_ORIGINAL_COMMAND\"\n"
                     "r=$?; printf 'bye\\n'; exit $r\n")
    os.chmod(force, 0o755)
    fleet = Fleet(bins, lambda host: sshd_factory(host=host, sftp=False,
                                                  extra_config="ForceCommand %s" % force),
                  sshd_factory.client_key, feemu, tmp_path, host="127.0.0.152")
    fleet.inventory()
    live = fleet.prefix / "etc/certfleet/live" / NAME
    live.mkdir(parents=True)
    cfutil.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", live / "privkey.pem", "-out", live / "fullchain.pem", "-days", "30",
                "-subj", "/CN=%s" % NAME, "-addext", "subjectAltName=DNS:%s" % NAME], check=True)
    os.chmod(live / "privkey.pem", 0o600)
    chain, key = fleet.live("fullchain.pem"), fleet.live("privkey.pem")
    lid = feemu.add_listener("v3")["id"]
    secret = key_lines(key)[1].encode()
    seen, stop = [], threading.Event()

    def watch():
        while not stop.is_set():
            for d in os.listdir("/proc"):
                try:
                    with open("/proc/%s/cmdline" % d, "rb") as f:
                        if secret in f.read():
                            seen.append(d)
                except OSError:
                    pass

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    try:
        p, out = fleet.deploy_from_host(lid, "-d", NAME, check=0)
    finally:
        stop.set()
        t.join()
    assert out["outcome"] == "changed" and out["fromHost"] == "h00", out
    cert = listener_cert(feemu, lid)
    assert cert["certificate"].strip() == chain.strip() and cert["private_key"] == key
    assert seen == []
    log = cfutil.tail(fleet.server.log_path, 400)
    assert "subsystem" not in log
    for line in key_lines(key):
        assert all(line not in text for text in fleet.outputs + [log])
