"""Remote execution that works on every host (issue 16): deploy without an
SFTP subsystem (the agent streamed over one exec channel's stdin, checked and
renamed on the host, cron installed, all in one command), `elb deploy
--from-host` reads with cat over exec, login shells that print banners, sudo
with `Defaults requiretty` and with a password, login shells that are dash,
and hosts whose /usr/local/bin is read-only or whose other places are
mounted noexec.  Real sshd, sudo and mounts throughout."""

import json
import os
import pwd
import re
import subprocess
import threading
from pathlib import Path

import pytest

from test_fleet import Ctl, by_host, known_hosts, write_inventory


def sessions(server):
    """The commands sshd started so far (LogLevel VERBOSE logs each)."""
    log = Path(server.log_path).read_text(errors="replace")
    return len(re.findall(r"Starting session: command", log)), "subsystem request" in log


def test_deploy_status_without_sftp_subsystem(bins, sshd_factory, tmp_path):
    s = sshd_factory(host="127.0.0.171", sftp=False)
    inv, kh = tmp_path / "inventory", tmp_path / "known_hosts"
    write_inventory(inv, [s], prefix_root=tmp_path / "hosts")
    known_hosts(kh, [s])
    ctl = Ctl(bins, tmp_path)
    args = ["-i", inv, "--known-hosts", kh, "--identity", sshd_factory.client_key.path]
    # the SFTP client really is refused by this host
    r = subprocess.run(["sftp", "-b", "-"] + s.ssh_args()[1:-1] + [s.ssh_args()[-1]], input="ls\n",
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0, r

    p, doc = ctl.json(*args, "deploy", check=0)
    h = doc["hosts"][0]
    target = tmp_path / "hosts/h00/usr/local/bin/certfleet-agent"
    payload = subprocess.run([ctl.bin, "agent-binary"], capture_output=True).stdout
    assert h["agent"]["installed"] is True and h["agent"]["cron"] is True, h
    assert h["agent"]["verified"] == "sha256sum" and h["agent"]["path"] == str(target), h
    assert target.read_bytes() == payload and os.stat(target).st_mode & 0o777 == 0o755
    assert sorted(f.name for f in target.parent.iterdir()) == ["certfleet-agent"]
    assert (tmp_path / "hosts/h00/etc/cron.d/certfleet-agent").exists()
    # check + upload + verify + rename + cron: one command, no SFTP
    assert sessions(s) == (1, False), sessions(s)

    # the same build: nothing sent, still one command
    mtime = os.stat(target).st_mtime_ns
    p, doc = ctl.json(*args, "deploy", check=0)
    assert doc["hosts"][0]["agent"]["installed"] is False and doc["hosts"][0]["agent"]["verified"] is None
    assert os.stat(target).st_mtime_ns == mtime
    assert sessions(s) == (2, False)
    p, doc = ctl.json(*args, "status", check=0)
    assert doc["hosts"][0]["agent"] == {"certificates": []}

    # another build there: replaced where it is
    target.write_bytes(b"#!/bin/sh\necho old agent\n")
    p, doc = ctl.json(*args, "deploy", check=0)
    assert doc["hosts"][0]["agent"]["installed"] is True
    assert target.read_bytes() == payload


# ---------------------------------------------------------------- users of their own

TAG = "%04d" % (os.getpid() % 10000)
PASSWORD = "pw-%s Zq7'$(id)`id`;" % TAG   # a space, a quote, $(...): never interpreted


class User:
    """A login user with the test client key authorized, a login shell, and
    optionally a sudoers entry, a password and a .bashrc."""

    def __init__(self, name, shell="/bin/bash", sudoers=None, password=None, bashrc=None):
        self.name = name
        subprocess.run(["userdel", "-r", name], capture_output=True)
        subprocess.run(["useradd", "-m", "-s", shell, name], check=True)
        if password:
            subprocess.run(["chpasswd"], input="%s:%s\n" % (name, password), text=True, check=True)
        else:
            subprocess.run(["usermod", "-p", "*", name], check=True)   # not locked, no password
        self.pw = pwd.getpwnam(name)
        self.home = Path(self.pw.pw_dir)
        self.sudoers = None
        if sudoers:
            self.sudoers = Path("/etc/sudoers.d/certfleet-test-" + name)
            self.sudoers.write_text(sudoers.replace("USER", name))
            os.chmod(self.sudoers, 0o440)
            subprocess.run(["visudo", "-cf", str(self.sudoers)], check=True, capture_output=True)
        if bashrc is not None:
            (self.home / ".bashrc").write_text(bashrc)

    def authorize(self, key):
        d = self.home / ".ssh"
        d.mkdir(mode=0o700, exist_ok=True)
        (d / "authorized_keys").write_text(key.pub + "\n")
        for p in (d, d / "authorized_keys"):
            os.chown(p, self.pw.pw_uid, self.pw.pw_gid)
        return "Match User %s\n  AuthorizedKeysFile %s/authorized_keys\n" % (self.name, d)

    def remove(self):
        if self.sudoers:
            self.sudoers.unlink(missing_ok=True)
        subprocess.run(["userdel", "-r", self.name], capture_output=True)


@pytest.fixture
def users():
    made = []

    def make(suffix, **kw):
        u = User("cfre%s%s" % (suffix, TAG), **kw)
        made.append(u)
        return u

    yield make
    for u in made:
        u.remove()


BANNER = "Welcome to prod-web\n*** authorized use only ***\n"


def test_login_noise_around_the_agent_output(bins, sshd_factory, tmp_path, users):
    """A .bashrc that prints a banner (and no newline at its end) for every
    command, on stdout and on stderr: deploy, status and run still read the
    agent's output, and a failing agent's own message is the one reported;
    -v shows what the login shell printed."""
    u = users("n", shell="/bin/bash", bashrc="printf '%s'; printf 'no newline here'; "
              "printf 'Last login: never\\n' >&2\n" % BANNER)
    # Debian's bash reads ~/.bashrc for commands sshd runs when SHLVL < 1
    extra = u.authorize(sshd_factory.client_key) + "  SetEnv SHLVL=0\n"
    s = sshd_factory(host="127.0.0.172", sftp=False, extra_config=extra)
    inv, kh = tmp_path / "inventory", tmp_path / "known_hosts"
    prefix = u.home / "hosts"     # the user's own: no root needed for this one
    write_inventory(inv, [s], prefix_root=prefix)
    inv.write_text(inv.read_text().replace("ansible_user=root", "ansible_user=" + u.name))
    prefix.mkdir()
    os.chown(prefix, u.pw.pw_uid, u.pw.pw_gid)
    known_hosts(kh, [s])
    ctl = Ctl(bins, tmp_path)
    args = ["-i", inv, "--known-hosts", kh, "--identity", sshd_factory.client_key.path]
    # the banner really is printed for commands
    r = subprocess.run(s.ssh_args(user=u.name) + ["--", "echo hi"], capture_output=True, text=True,
                       timeout=30, stdin=subprocess.DEVNULL)
    assert r.stdout.startswith("Welcome to prod-web"), r

    p, doc = ctl.json(*args, "deploy", check=0)
    assert doc["hosts"][0]["agent"]["installed"] is True, doc
    p, doc = ctl.json(*args, "status", check=0)
    assert doc["hosts"][0]["agent"] == {"certificates": []}, doc
    p = ctl.run("-v", *args, "status", check=0)
    assert "the login shell printed before the output: Welcome to prod-web" in p.stderr, p.stderr
    assert "the login shell printed on stderr: Last login: never" in p.stderr, p.stderr
    p, doc = ctl.json(*args, "run", "--", "--version", check=0)
    assert "Welcome" not in json.dumps(doc) and "no newline" not in json.dumps(doc), doc
    p, doc = ctl.json(*args, "run", "--", "no-such-command", check=1)
    e = doc["hosts"][0]["error"]
    assert e["code"] == "AGENT_FAILED" and "USAGE: unknown command 'no-such-command'" in e["detail"], e
    assert "Last login" not in json.dumps(doc), doc


class ArgvWatch:
    """Reads every process's command line while a test runs: the sudo
    password must never be in one."""

    def __init__(self, secret):
        self.secret = secret.encode()
        self.seen = []
        self.scans = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            for d in os.listdir("/proc"):
                if not d.isdigit():
                    continue
                try:
                    with open("/proc/%s/cmdline" % d, "rb") as f:
                        c = f.read()
                except OSError:
                    continue
                if self.secret in c:
                    self.seen.append(c)
            self.scans += 1

    def stop(self):
        self._stop.set()
        self._t.join()
        return self.seen


SUDO_NOPASSWD_TTY = "USER ALL=(root) NOPASSWD: ALL\nDefaults:USER requiretty\n"
SUDO_PASSWD = "USER ALL=(root) ALL\nDefaults:USER !lecture\n"
SUDO_PASSWD_TTY = "USER ALL=(root) ALL\nDefaults:USER requiretty, !lecture\n"


def test_become_requiretty_and_passwords(bins, sshd_factory, tmp_path, users):
    key = sshd_factory.client_key
    tty = users("t", shell="/bin/dash", sudoers=SUDO_NOPASSWD_TTY)
    pw1 = users("p", shell="/bin/bash", sudoers=SUDO_PASSWD, password=PASSWORD)
    pw2 = users("q", shell="/bin/dash", sudoers=SUDO_PASSWD_TTY, password=PASSWORD)
    extra = "".join(u.authorize(key) for u in (tty, pw1, pw2))
    s = sshd_factory(host="127.0.0.173", sftp=False, extra_config=extra)
    inv, kh = tmp_path / "inventory", tmp_path / "known_hosts"
    pwfile = tmp_path / "sudo-password"
    pwfile.write_text(PASSWORD + "\n")
    os.chmod(pwfile, 0o600)
    known_hosts(kh, [s])
    line = "%s ansible_host=%s ansible_port=%d ansible_user=%s ansible_become=true certfleet_prefix=%s/%s %s\n"
    hosts = {
        "tty": (tty, ""),
        "pw-inventory": (pw1, 'ansible_become_password="%s"' % PASSWORD),
        "pw-file-tty": (pw2, ""),
    }
    inv.write_text("[fleet]\n" + "".join(line % (n, s.host, s.port, u.name, tmp_path / "hosts", n, v)
                                         for n, (u, v) in hosts.items()))
    ctl = Ctl(bins, tmp_path, env={"CERTFLEET_BECOME_PASSWORD_FILE": str(pwfile)})
    args = ["-i", inv, "--known-hosts", kh, "--identity", key.path]
    watch = ArgvWatch(PASSWORD)
    outputs = []
    try:
        p, doc = ctl.json(*args, "deploy", check=0)
        outputs += [p.stdout, p.stderr]
        h = by_host(doc)
        for n in hosts:
            assert h[n]["ok"] and h[n]["agent"]["installed"] is True, h[n]
            target = tmp_path / "hosts" / n / "usr/local/bin/certfleet-agent"
            assert os.stat(target).st_uid == 0, n
        p = ctl.run("-v", *args, "status", check=0)
        outputs += [p.stdout, p.stderr]
        # a pty only where sudo wants one: first without, then again with
        ptys = re.findall(r"^certfleet: (\S+): \(with a pty\)", p.stderr, re.M)
        assert sorted(ptys) == ["pw-file-tty", "tty"], p.stderr
        p, doc = ctl.json(*args, "status", check=0)
        outputs += [p.stdout, p.stderr]
        assert all(x["agent"] == {"certificates": []} for x in doc["hosts"]), doc
        # the agent's stderr stays apart from its JSON, even through a pty
        p, doc = ctl.json(*args, "run", "--", "status", "--no-such-option", check=1)
        outputs += [p.stdout, p.stderr]
        for x in doc["hosts"]:
            assert x["error"]["code"] == "AGENT_FAILED" and "no-such-option" in x["error"]["detail"], x
    finally:
        seen = watch.stop()
    assert watch.scans > 3
    assert seen == [], seen
    logs = Path(s.log_path).read_text(errors="replace")
    for text in outputs + [logs]:
        assert PASSWORD not in text and "Zq7" not in text

    # a wrong password, none, and become methods/users sudo cannot do
    ctl.env.pop("CERTFLEET_BECOME_PASSWORD_FILE")
    inv.write_text(inv.read_text().replace(PASSWORD, "wrong-one"))
    p, doc = ctl.json(*args, "status", check=1)
    h = by_host(doc)
    assert h["tty"]["ok"]
    e = h["pw-inventory"]["error"]
    assert e["code"] == "AGENT_FAILED" and "refused the password" in e["detail"], e
    e = h["pw-file-tty"]["error"]
    assert e["code"] == "AGENT_FAILED" and "sudo wants a password" in e["detail"], e
    assert "NOPASSWD" in e["detail"] and "--become-password-file" in e["detail"], e
    p, doc = ctl.json(*args, "deploy", "pw-file-tty", check=1)
    e = doc["hosts"][0]["error"]
    assert e["code"] == "AGENT_FAILED" and "sudo wants a password" in e["detail"], e
    inv.write_text(inv.read_text().replace("ansible_become=true", "ansible_become=true ansible_become_method=su", 1)
                   .replace('ansible_become_password="wrong-one"',
                            'ansible_become_password="%s" ansible_become_user=daemon' % PASSWORD))
    p, doc = ctl.json(*args, "status", check=1)
    h = by_host(doc)
    e = h["tty"]["error"]
    assert e["code"] == "INVALID_INPUT" and "ansible_become_method" in e["detail"] and "su" in e["detail"], e
    e = h["pw-inventory"]["error"]
    # sudo -u daemon: this user may only become root, and sudo says so
    assert e["code"] == "AGENT_FAILED" and "daemon" in e["detail"], e

    # a password file others may read is refused before anything is sent
    os.chmod(pwfile, 0o644)
    p = ctl.run(*args, "--become-password-file", pwfile, "status", check=1)
    assert "chmod 600" in p.stderr and PASSWORD not in p.stderr + p.stdout, p.stderr


# ---------------------------------------------------------------- where the agent goes

def mount_ns(script):
    """Run sshd in its own mount namespace after SCRIPT (mounts only its
    sessions see)."""
    return ["unshare", "-m", "--propagation", "private", "sh", "-c",
            "set -e; %s; exec \"$@\"" % script, "sh"]


def test_read_only_and_noexec_places(bins, sshd_factory, tmp_path):
    """/usr/local/bin read-only (a read-only bind mount), /opt/certfleet/bin on a
    noexec mount: deploy puts the agent in /var/lib/certfleet/bin and says so,
    status finds it there, cron names it.  With every place unusable:
    NO_AGENT_PATH naming each and why; certfleet_agent_path then works alone."""
    hosts = tmp_path / "hosts"
    ro, nx = hosts / "h00/usr/local/bin", hosts / "h00/opt/certfleet/bin"
    all_ro = [hosts / "h01" / d for d in ("usr/local/bin", "opt/certfleet/bin", "var/lib/certfleet/bin")]
    for d in [ro, nx] + all_ro:
        d.mkdir(parents=True)
    (hosts / "h01/srv/tools").mkdir(parents=True)
    script = "; ".join(["mount --bind %s %s; mount -o remount,bind,ro %s" % (d, d, d) for d in [ro] + all_ro[:2]]
                       + ["mount -t tmpfs -o noexec,size=8m tmpfs %s" % d for d in (nx, all_ro[2])])
    s = sshd_factory(host="127.0.0.174", sftp=False, wrap=mount_ns(script))
    inv, kh = tmp_path / "inventory", tmp_path / "known_hosts"
    write_inventory(inv, [s, s], prefix_root=hosts)
    known_hosts(kh, [s])
    ctl = Ctl(bins, tmp_path)
    args = ["-i", inv, "--known-hosts", kh, "--identity", sshd_factory.client_key.path]
    assert s.ssh("touch %s/x" % ro).returncode != 0      # the mounts are there for sessions

    p, doc = ctl.json(*args, "deploy", check=1)
    h = by_host(doc)
    where = hosts / "h00/var/lib/certfleet/bin/certfleet-agent"
    assert h["h00"]["ok"] and h["h00"]["agent"]["path"] == str(where), h["h00"]
    assert where.exists() and not (ro / "certfleet-agent").exists()
    cron = (hosts / "h00/etc/cron.d/certfleet-agent").read_text()
    assert str(where) in cron, cron
    e = h["h01"]["error"]
    assert e["code"] == "NO_AGENT_PATH", e
    assert "%s: not writable" % all_ro[0] in e["detail"], e
    assert "%s: not writable" % all_ro[1] in e["detail"], e
    assert "%s: cannot run files there (noexec)" % all_ro[2] in e["detail"], e
    for d in all_ro:
        assert list(d.iterdir()) == [], d     # no probe or temporary file left
    p, doc = ctl.json(*args, "status", "h00", check=0)
    assert doc["hosts"][0]["agent"] == {"certificates": []}
    p = ctl.run(*args, "deploy", "h00", check=0)    # the table says where, too
    assert "agent up to date  " in p.stdout and str(where) in p.stdout, p.stdout

    # certfleet_agent_path: that place alone, for deploy and every command
    mine = hosts / "h01/srv/tools/cf-agent"
    inv.write_text(inv.read_text().replace("certfleet_prefix=%s/h01" % hosts,
                                           "certfleet_prefix=%s/h01 certfleet_agent_path=%s" % (hosts, mine)))
    p, doc = ctl.json(*args, "deploy", "h01", check=0)
    assert doc["hosts"][0]["agent"]["path"] == str(mine) and mine.exists(), doc
    p, doc = ctl.json(*args, "status", "h01", check=0)
    assert doc["hosts"][0]["agent"] == {"certificates": []}
    mine.unlink()
    p, doc = ctl.json(*args, "status", "h01", check=1)
    e = doc["hosts"][0]["error"]
    assert e["code"] == "AGENT_MISSING" and str(mine) in e["detail"], e


def test_deploy_picks_the_agent_for_the_hosts_cpu(bins, sshd_factory, tmp_path):
    """uname -m decides which carried agent is sent: a host that says aarch64
    (a uname on its PATH says so; this machine cannot run it, binfmt_misc has
    no qemu here) gets the aarch64 build: its SHA-256 matches on the host,
    its trial run fails, so nothing is replaced (AGENT_WONT_RUN); a CPU
    the controller carries no agent for is ARCH_UNSUPPORTED, nothing sent."""
    arm = bins.need_controller().parent / "certfleet-agent-aarch64"
    if not arm.exists():
        pytest.skip("no aarch64 agent built (make builds it with the cross tool chain)")
    fake = {}
    for name, m in (("arm", "aarch64"), ("mips", "mips64")):
        d = tmp_path / ("bin-" + name)
        d.mkdir()
        (d / "uname").write_text("#!/bin/sh\n[ \"$1\" = -m ] && { echo %s; exit 0; }\nexec /bin/uname \"$@\"\n" % m)
        os.chmod(d / "uname", 0o755)
        fake[name] = sshd_factory(host="127.0.0.%d" % (175 + len(fake)), sftp=False,
                                  extra_config='ForceCommand PATH=%s:/usr/bin:/bin exec sh -c '
                                               '"$SSH_ORIGINAL_COMMAND"' % d)
    inv, kh = tmp_path / "inventory", tmp_path / "known_hosts"
    write_inventory(inv, list(fake.values()), prefix_root=tmp_path / "hosts", names=list(fake))
    known_hosts(kh, list(fake.values()))
    ctl = Ctl(bins, tmp_path)
    args = ["-i", inv, "--known-hosts", kh, "--identity", sshd_factory.client_key.path]
    assert fake["arm"].ssh("uname -m").stdout.strip() == "aarch64"
    p, doc = ctl.json("-v", *args, "deploy", check=1)
    h = by_host(doc)
    e = h["arm"]["error"]
    assert e["code"] == "AGENT_WONT_RUN" and "does not run on arm" in e["detail"], e
    assert not (tmp_path / "hosts/arm/usr/local/bin/certfleet-agent").exists()
    assert list((tmp_path / "hosts/arm/usr/local/bin").iterdir()) == []
    e = h["mips"]["error"]
    assert e["code"] == "ARCH_UNSUPPORTED" and "mips64 host" in e["detail"] and "aarch64" in e["detail"], e
    # the aarch64 bytes were the ones sent: a short read or another build
    # would have been UPLOAD_CORRUPT, not a failed trial run
    assert "UPLOAD_CORRUPT" not in p.stdout
    # status on the mips host: no agent there because none exists for it,
    # which is what it says (not "install it with deploy")
    p, doc = ctl.json(*args, "status", "mips", check=1)
    e = by_host(doc)["mips"]["error"]
    assert e["code"] == "ARCH_UNSUPPORTED" and "mips64 host" in e["detail"], e


def test_digest_without_sha256sum(bins, sshd_factory, tmp_path):
    """A minimal host without sha256sum: openssl dgst checks the upload; with
    neither, its exact size does (the SSH channel already protects the bytes
    in transit) and the JSON says which."""
    tools = ["sh", "uname", "mkdir", "chmod", "head", "rm", "mv", "tr", "wc", "cat"]
    servers = {}
    for name, extra in (("openssl", ["openssl"]), ("bare", [])):
        d = tmp_path / ("bin-" + name)
        d.mkdir()
        for t in tools + extra:
            os.symlink(subprocess.run(["sh", "-c", "command -v " + t], capture_output=True,
                                      text=True, check=True).stdout.strip(), d / t)
        servers[name] = sshd_factory(host="127.0.0.%d" % (177 + len(servers)), sftp=False,
                                     extra_config='ForceCommand PATH=%s exec %s/sh -c '
                                                  '"$SSH_ORIGINAL_COMMAND"' % (d, d))
    inv, kh = tmp_path / "inventory", tmp_path / "known_hosts"
    write_inventory(inv, list(servers.values()), prefix_root=tmp_path / "hosts", names=list(servers))
    known_hosts(kh, list(servers.values()))
    ctl = Ctl(bins, tmp_path)
    args = ["-i", inv, "--known-hosts", kh, "--identity", sshd_factory.client_key.path]
    assert servers["bare"].ssh("command -v sha256sum openssl; echo $?").stdout.strip() in ("1", "127")
    p, doc = ctl.json(*args, "deploy", check=0)
    h = by_host(doc)
    assert h["openssl"]["agent"]["verified"] == "openssl", h
    assert h["bare"]["agent"]["verified"] == "size", h
    payload = subprocess.run([ctl.bin, "agent-binary"], capture_output=True).stdout
    for name in servers:
        assert (tmp_path / "hosts" / name / "usr/local/bin/certfleet-agent").read_bytes() == payload
