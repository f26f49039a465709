"""ssh_config as OpenSSH reads it (issue 13 item 4).

The oracle is OpenSSH's own `ssh -G HOST` (it prints the configuration ssh
would use, without connecting): over a corpus of configurations using
Include with globs, nested Include, Host and Match (host, originalhost,
user, localuser, all, final, negation), first-value-wins and %-tokens,
`certfleet hosts -v` must show the same effective value for every keyword
certfleet honours.  Plus what certfleet refuses, each with its file:line.
"""
import os
import pwd
import subprocess
from pathlib import Path

import pytest

SSH = "/usr/bin/ssh"

# keyword -> how certfleet's `hosts -v` column compares with ssh -G's
HONOURED = ["hostname", "port", "user", "identityfile", "certificatefile", "identitiesonly",
            "identityagent", "connecttimeout", "serveraliveinterval", "userknownhostsfile",
            "globalknownhostsfile", "stricthostkeychecking", "proxyjump", "proxycommand",
            "kexalgorithms", "ciphers", "hostkeyalgorithms"]
EXPANDED = {"userknownhostsfile", "identityagent"}     # ssh -G prints these expanded
LISTS = {"identityfile", "certificatefile"}            # one line per value
JOINED = {"userknownhostsfile", "globalknownhostsfile"}


def ssh_g(cfg, host):
    p = subprocess.run([SSH, "-G", "-F", str(cfg), host], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=20)
    assert p.returncode == 0, p.stderr
    out = {}
    for line in p.stdout.splitlines():
        k, _, v = line.partition(" ")
        out.setdefault(k, []).append(v)
    if out.get("stricthostkeychecking") == ["true"]:
        out["stricthostkeychecking"] = ["yes"]
    if out.get("stricthostkeychecking") == ["false"]:
        out["stricthostkeychecking"] = ["no"]
    return out


def certfleet_v(bins, cfg, hosts, workdir, env=None):
    inv = Path(workdir) / "inventory"
    inv.write_text("[all]\n" + "".join(h + "\n" for h in hosts))
    e = {k: v for k, v in os.environ.items() if not k.startswith("CERTFLEET_")}
    e["HOME"] = pwd.getpwuid(os.getuid()).pw_dir     # ssh takes ~ from the password file
    e.update(env or {})
    p = subprocess.run([str(bins.need_controller()), "-i", str(inv), "-F", str(cfg), "hosts", "-v"],
                       capture_output=True, text=True, env=e, stdin=subprocess.DEVNULL, timeout=30)
    assert p.returncode == 0, p.stderr
    res, cur = {}, None
    for line in p.stdout.splitlines():
        if not line.startswith("\t"):
            cur = line.split("\t")[0]
            res[cur] = {"_line": line}
            continue
        cols = line[1:].split("\t")
        kw, _, val = cols[0].partition(" ")
        res[cur].setdefault(kw, []).append((val, cols[1] if len(cols) > 1 else "",
                                            cols[2] if len(cols) > 2 else val))
    return res


def from_config(src):
    return not src.startswith("(") and not src.startswith("inventory") and not src.startswith("-")


def compare(cfg, host, mine, base):
    """certfleet's values for host against ssh -G's; base is ssh -G without config."""
    theirs = ssh_g(cfg, host)
    problems = []
    for kw in HONOURED:
        got = mine.get(kw, [])
        conf = [g for g in got if from_config(g[1])]
        vals = [g[2] if kw in EXPANDED else g[0] for g in conf]
        want = theirs.get(kw, [])
        if kw in JOINED and vals:
            vals = [" ".join(vals)]
        if kw in ("hostname", "port", "user"):
            vals = [got[0][0]] if got else []
        if vals:
            if vals != want:
                problems.append("%s %s: certfleet %r (%s), ssh -G %r" % (
                    host, kw, vals, [g[1] for g in conf], want))
        elif want != base.get(kw, []):
            problems.append("%s %s: ssh -G takes %r from the config, certfleet nothing (%r)" % (
                host, kw, want, got))
    return problems


def corpus(d):
    d = Path(d)
    (d / "conf.d").mkdir(parents=True)
    (d / "nested").mkdir()
    (d / "main").write_text("""\
# lines before the first Host apply to every host
IdentityFile /keys/top_%h
Include {d}/conf.d/*.conf
Host web* !web9*
  HostName %h.internal
  User deploy
  Port 2222
  IdentityFile "/keys/web key"
  UserKnownHostsFile ~/kh_web %d/kh_%h_%p_%r
  KexAlgorithms curve25519-sha256,ecdh-sha2-nistp256
Match originalhost alias-* user deploy
  Port 3333
Match host db*.example.com
  User dbuser
  IdentitiesOnly yes
  Ciphers aes256-gcm@openssh.com,aes128-ctr
Host db* cache
  HostName 10.0.0.5
  ConnectTimeout 7
Match final host 10.0.0.5
  Port 5432
  IdentityFile /keys/final_%h
Host *
  User fallback
  Port 22
  ServerAliveInterval 1m30s
  StrictHostKeyChecking accept-new
  GlobalKnownHostsFile /g/one /g/two
  IdentityFile ~/.ssh/all
""".replace("{d}", str(d)))
    (d / "conf.d" / "10-a.conf").write_text("""\
Host inc*
  HostName included.example
  User incuser
Match originalhost alias-*
  HostName alias-target.example
  User deploy
""")
    (d / "conf.d" / "20-b.conf").write_text("""\
Host inc1
  Port 1111
  ProxyJump jump.example:2222
Match localuser %s
  CertificateFile ~/certs/%%r-cert.pub
Include %s/nested/*
""" % (pwd.getpwuid(os.getuid()).pw_name, d))
    (d / "conf.d" / "30-c.conf").write_text("""\
Host nest
  Port 4444
""")
    (d / "conf.d" / "ignored.txt").write_text("Host *\n  Port 9\n")
    (d / "nested" / "x").write_text("""\
Host nest
  HostName nested.example
  IdentityAgent ~/agent-%h.sock
""")
    (d / "second").write_text("""\
IgnoreUnknown UseKeychain,Foo*
UseKeychain yes
FooBar 1
Host=q1
  HostName = q1.example
  HostKeyAlgorithms ssh-ed25519,ecdsa-sha2-nistp256
Host "q 3" q3
  User quoted
Match !final host q2
  User notfinal
Match user notfinal
  Port 2020
Host Upper
  Port 1234
  IdentityFile none
  UserKnownHostsFile none
Match all
  User everyone
  ProxyCommand nc %h %p
Host *
  SendEnv LANG LC_*
  HashKnownHosts yes
  ForwardAgent no
  ControlMaster auto
""")
    (d / "never.conf").write_text("Port 7777\nHost *\n  User never\n")
    (d / "third").write_text("""\
Host nomatch
  Include {d}/never.conf
Host fin*
  HostName Final-Target.example
Match final host final-target.example
  User finaluser
  Port 6000
Host final-target.example
  IdentityFile /keys/by-hostname
Match !final
  IdentityFile /keys/first-pass
Host *
  Port 1
""".replace("{d}", str(d)))
    return [(d / "third", ["fin1", "nomatch", "x"]),
            (d / "main", ["web1", "web9x", "alias-1", "db1.example.com", "dbx", "cache", "inc1",
                          "inc2", "nest", "other.example"]),
            (d / "second", ["q1", "q2", "q3", "Upper", "upper", "zz"])]


def test_effective_values_equal_ssh_G(bins, tmp_path):
    problems = []
    checked = 0
    for cfg, hosts in corpus(tmp_path):
        mine = certfleet_v(bins, cfg, hosts, tmp_path)
        for h in hosts:
            base = ssh_g("/dev/null", h)
            assert h in mine, mine.keys()
            problems += compare(cfg, h, mine[h], base)
            checked += 1
    assert checked == 19
    assert not problems, "\n".join(problems)


def test_the_differential_test_can_fail(bins, tmp_path):
    """A config certfleet reads differently from ssh would be caught: compare
    one host's certfleet view against another config's ssh -G."""
    c = corpus(tmp_path)
    cfg, other = c[1][0], c[2][0]
    mine = certfleet_v(bins, cfg, ["web1"], tmp_path)
    assert compare(other, "web1", mine["web1"], ssh_g("/dev/null", "web1"))


def hosts_v(bins, workdir, text, host="h1", env=None, check=0):
    cfg = Path(workdir) / "cfg"
    cfg.write_text(text)
    inv = Path(workdir) / "inventory"
    inv.write_text("[all]\n%s\n" % host)
    e = {k: v for k, v in os.environ.items() if not k.startswith("CERTFLEET_")}
    e.update(env or {})
    return subprocess.run([str(bins.need_controller()), "-i", str(inv), "-F", str(cfg), "hosts", "-v"],
                          capture_output=True, text=True, env=e, stdin=subprocess.DEVNULL, timeout=30)


@pytest.mark.parametrize("text,line,words", [
    ("Host h1\n  BindAddress 10.0.0.1\n", 2, ["BindAddress", "scope it"]),
    ("Host *\n  Port 2\nMatch exec \"true\"\n  Port 3\n", 3, ["Match exec", "runs no commands"]),
    ("Match canonical\n  Port 3\n", 1, ["Match canonical"]),
    ("Host h1\n  CanonicalizeHostname yes\n", 2, ["CanonicalizeHostname"]),
    ("Host h1\n  KnownHostsCommand /bin/true\n", 2, ["KnownHostsCommand"]),
    ("Host h1\n  Frobnicate yes\n", 2, ["unknown keyword", "IgnoreUnknown"]),
    ("Host h1\n  StrictHostKeyChecking no\n", 2, ["never connects", "accept-new", "ssh-keyscan"]),
    ("Host h1\n  Port 99999\n", 2, ["not a port"]),
    ("Match host h1 localnetwork 10.0.0.0/8\n  Port 3\n", 1, ["localnetwork"]),
])
def test_refused_lines_name_keyword_and_file_line(bins, tmp_path, text, line, words):
    p = hosts_v(bins, tmp_path, text)
    assert p.returncode == 0, p.stderr             # hosts lists; the host carries the error
    assert "SSH_CONFIG" in p.stdout, p.stdout
    assert "%s:%d" % (tmp_path / "cfg", line) in p.stdout, p.stdout
    for w in words:
        assert w in p.stdout, p.stdout


def test_refused_keyword_for_other_hosts_is_fine(bins, tmp_path):
    p = hosts_v(bins, tmp_path, "Host other\n  BindAddress 10.0.0.1\n  Frobnicate 1\n"
                "Host *\n  AddKeysToAgent yes\n  ForwardAgent yes\n  Port 2022\n")
    assert p.returncode == 0 and "SSH_CONFIG" not in p.stdout, p.stdout
    assert p.stdout.startswith("h1\t") and ":2022\t" in p.stdout.splitlines()[0]


def test_user_config_relative_include_and_system_config(bins, tmp_path):
    """Without -F: ~/.ssh/config (relative Include under ~/.ssh) then the
    system file, each starting active, first value wins across them."""
    home = tmp_path / "home"
    (home / ".ssh" / "inc").mkdir(parents=True)
    (home / ".ssh" / "config").write_text("Include inc/*.conf\nHost h1\n  User fromuser\n")
    (home / ".ssh" / "inc" / "a.conf").write_text("Host h1\n  Port 2201\n")
    sysconf = tmp_path / "ssh_config"
    sysconf.write_text("Host nomatch\nHost h1\n  Port 9\n  HostName sys.example\n")
    inv = tmp_path / "inventory"
    inv.write_text("[all]\nh1\n")
    e = {k: v for k, v in os.environ.items() if not k.startswith("CERTFLEET_")}
    e.update(HOME=str(home), CERTFLEET_SSH_SYSTEM_CONFIG=str(sysconf))
    p = subprocess.run([str(bins.need_controller()), "-i", str(inv), "hosts", "-v"],
                       capture_output=True, text=True, env=e, timeout=30)
    assert p.returncode == 0, p.stderr
    first = p.stdout.splitlines()[0]
    assert first.startswith("h1\tfromuser@sys.example:2201"), p.stdout
    assert "%s/.ssh/inc/a.conf:2" % home in p.stdout
    assert "%s:4" % sysconf in p.stdout
    # a group-writable file is refused, as ssh refuses it
    os.chmod(home / ".ssh" / "inc" / "a.conf", 0o664)
    p = subprocess.run([str(bins.need_controller()), "-i", str(inv), "hosts"],
                       capture_output=True, text=True, env=e, timeout=30)
    assert p.returncode == 111 and "bad owner or permissions" in p.stderr, p.stderr
    # -F names another file; CERTFLEET_SSH_CONFIG too; a missing one is an error
    p = subprocess.run([str(bins.need_controller()), "-i", str(inv), "-F", str(tmp_path / "nope"),
                        "hosts"], capture_output=True, text=True, env=e, timeout=30)
    assert p.returncode == 111 and "nope" in p.stderr, p.stderr
    e["CERTFLEET_SSH_CONFIG"] = str(sysconf)
    p = subprocess.run([str(bins.need_controller()), "-i", str(inv), "hosts"],
                       capture_output=True, text=True, env=e, timeout=30)
    assert p.stdout.startswith("h1\troot@sys.example:9") or "@sys.example:9" in p.stdout, p.stdout


def test_include_depth_limit(bins, tmp_path):
    (tmp_path / "loop").write_text("Include %s/loop\n" % tmp_path)
    p = hosts_v(bins, tmp_path, "Include %s/loop\n" % tmp_path)
    assert p.returncode == 111 and "nested more than 16" in p.stderr, p.stderr
