"""certfleet (controller) against hostile SSH hosts mixed with healthy ones in one
fleet run (issue 8): an agent that floods stdout or stderr without end, never
exits, prints garbage, cut-off, wrong-type, deeply nested, oversized or
value-bomb JSON, exits at once without output, or kills its own SSH session;
and "SSH servers" that accept TCP but never send a banner, send endless
garbage instead of a banner, or send garbage after a valid banner.

What must hold: the controller finishes within --command-timeout (plus a little),
its peak RSS stays under 64 MiB while hosts flood, each hostile host is
reported with its own error code and a printable detail, the healthy hosts
report normally, and the exit status is 1 (some hosts failed, certfleet(1)).

The hostile agents are shell scripts installed where the controller runs the
agent (<certfleet_prefix>/usr/local/bin/certfleet-agent) on real OpenSSH
servers; the hostile "SSH servers" are plain Python socket listeners; deploy
meets sshd whose ForceCommand floods the SFTP subsystem.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import cfutil

# (doubled under the sanitizers: an ASan controller's handshakes with every
# host at once on a busy 2-core machine took over 5 s)
_SLOW = 2 if os.environ.get("CERTFLEET_SANITIZERS") else 1
TIMEOUT = 5 * _SLOW            # --timeout: connect + handshake + login (the test machine may be busy)
COMMAND_TIMEOUT = 8 * _SLOW    # --command-timeout: everything, per host
RSS_LIMIT_KIB = 64 * 1024


def rss_ok(bins, rss):
    """The bound holds for the release controller; under ASan (make
    check-asan) the shadow memory and quarantine are the sanitizer's, not
    the controller's, so only the other checks apply there."""
    return rss < RSS_LIMIT_KIB or "asan" in str(bins.need_controller())

# name -> agent script body (after "#!/bin/sh")
AGENTS = {
    "flood-out": "exec yes 'certfleet flood certfleet flood certfleet flood'",
    "flood-err": "exec yes 'certfleet flood on stderr' >&2",
    "hang": "exec sleep 30",
    "garbage": r"printf '\033[2J\033]0;pwned\007not JSON at all {{{\n'",
    "truncated": "printf '{\"certificates\": [{\"lineage\": \"a.example'",
    "wrong-type": "echo '[1, 2, 3]'",
    "wrong-member": "echo '{\"certificates\": \"all good\"}'",
    "deep": "head -c 300000 /dev/zero | tr '\\0' '['",
    # valid JSON, under the byte cap, but 30,000 values
    "value-bomb": "printf '{\"certificates\": [], \"x\": ['; "
                  "head -c 30000 /dev/zero | tr '\\0' '0' | sed 's/0/0,/g'; printf '0]}'",
    # valid JSON of 40 MiB, then a normal exit
    "huge": "printf '{\"certificates\": [], \"x\": \"'; head -c 41943040 /dev/zero | tr '\\0' a; "
            "printf '\"}'",
    "empty": "exit 0",
    # every process of the session (the agent runs below sh -c, not exec'd
    # by the login shell: its parent alone is not the session)
    "kill-session": "kill -9 0; sleep 5",
    # valid status JSON whose strings would drive a terminal
    "escapes": "printf '%s\\n' '{\"certificates\": [{\"lineage\": \"\\u001b[31mevil.example\", "
               "\"state\": {\"sslStatus\": \"\\u001b]0;owned\\u0007active\", \"lastError\": "
               "{\"code\": \"X\\u009b2J\", \"hint\": \"\\u001b[2J\"}}}]}'",
    # valid status JSON whose strings reorder or hide what a terminal shows (issue 14
    # item 5): raw UTF-8 RLO, isolate and C1 CSI, and the same as \\u escapes
    "bidi": r"""printf '{"certificates": [{"lineage": "bidi\342\200\256lmth.example.test", """
            r""""state": {"sslStatus": "active\302\233", "lastError": {"code": "E\342\201\246X", """
            r""""hint": "\\u202egnp.exe \\u0085 \\u061c \\u2069end"}}}]}\n'""",
    # a binary-garbage failure message on stderr
    "err-garbage": r"printf 'certfleet-agent: CA_ERROR: \033[31mred\033[0m \377\376 bad\n' >&2; exit 71",
}
HEALTHY = ["ok1", "ok2", "ok3", "ok4"]

LISTENER = r'''
import socket, sys, threading, time
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((host, port))
srv.listen(16)
print("ready", flush=True)
held = []
def serve(c):
    try:
        if mode == "silent":
            held.append(c)
            return
        if mode == "garbage-banner":
            line = b"x" * 200 + b"\r\n"
            while True:
                c.sendall(line * 64)
        if mode == "garbage-nonl":
            while True:
                c.sendall(b"\xff" * 65536)
        if mode == "bad-packets":
            c.sendall(b"SSH-2.0-OpenSSH_9.9 hostile\r\n")
            junk = bytes(range(256)) * 256
            while True:
                c.sendall(junk)
        if mode == "trickle":
            for b in b"SSH-2.0-OpenSSH_9.9 trickle\r\n" * 100:
                c.sendall(bytes([b]))
                time.sleep(0.5)
    except OSError:
        pass
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
'''
LISTENERS = ["silent", "garbage-banner", "garbage-nonl", "bad-packets", "trickle"]


class Listener(cfutil.Service):
    name = "listener"

    def __init__(self, workdir, mode, host):
        super().__init__()
        self.host, self.port = host, cfutil.free_port(host)
        script = Path(workdir) / "listener.py"
        script.write_text(LISTENER)
        self._spawn([sys.executable, str(script), mode, host, str(self.port)],
                    Path(workdir) / ("listener-%s.log" % mode))
        cfutil.wait_for(lambda: "ready" in Path(self.log_path).read_text(), 10,
                        "listener %s" % mode, proc=self.proc, log=self.log_path)


def make_fleet(d, agent, servers):
    """Inventory, known_hosts and listeners for the hostile fleet under D: every
    sshd-side host gets its own certfleet_prefix on one of SERVERS (AGENT: the
    real agent's bytes for the healthy ones).  Returns (inventory, known_hosts,
    listeners)."""
    listeners = []
    try:
        for i, mode in enumerate(LISTENERS):
            listeners.append(Listener(d, mode, "127.0.0.%d" % (170 + i)))
    except Exception:
        for lst in listeners:
            lst.stop()
        raise
    lines = ["[fleet]"]
    for i, name in enumerate(HEALTHY + sorted(AGENTS)):
        s = servers[i % len(servers)]
        prefix = d / "hosts" / name
        path = prefix / "usr/local/bin/certfleet-agent"
        path.parent.mkdir(parents=True)
        if name in AGENTS:
            path.write_text("#!/bin/sh\n%s\n" % AGENTS[name])
        else:
            path.write_bytes(agent)
        os.chmod(path, 0o755)
        lines.append("%s ansible_host=%s ansible_port=%d ansible_user=root "
                     "certfleet_prefix=%s" % (name, s.host, s.port, prefix))
    for mode, lst in zip(LISTENERS, listeners):
        lines.append("ssh-%s ansible_host=%s ansible_port=%d ansible_user=root"
                     % (mode, lst.host, lst.port))
    inv = d / "inventory"
    inv.write_text("\n".join(lines) + "\n")
    kh = d / "known_hosts"
    kh.write_text("".join(s.known_hosts_line("ecdsa") for s in servers))
    return inv, kh, listeners


@pytest.fixture
def hostile_fleet(bins, sshd_factory, tmp_path_factory):
    """Two real sshd serve every sshd-side host; one listener per hostile SSH
    server.  Returns (workdir, inventory, known_hosts)."""
    d = Path(tempfile.mkdtemp(prefix="cf-hostile-", dir=tmp_path_factory.getbasetemp()))
    servers = sshd_factory.many(2, first_host=160)
    inv, kh, listeners = make_fleet(d, Path(bins.need_agent()).read_bytes(), servers)
    yield d, inv, kh
    for lst in listeners:
        lst.stop()


def run_ctl(bins, workdir, *args):
    """Run the controller; returns (exit status, stdout, stderr, seconds, peak RSS KiB).
    The peak RSS comes from GNU time (a child forked from this Python process
    would inherit the interpreter's RSS high-water mark across exec)."""
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    env.update({"HOME": str(workdir / "home"), "XDG_STATE_HOME": str(workdir / "state")})
    (workdir / "home").mkdir(exist_ok=True)
    rss = workdir / "rss"
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss, bins.need_controller()] +
                       [str(a) for a in args], env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=COMMAND_TIMEOUT + 30)
    secs = time.monotonic() - t0
    return p.returncode, p.stdout, p.stderr, secs, int(rss.read_text().split()[-1])


def common_args(bins, sshd_factory, inv, kh):
    return ["-i", inv, "--known-hosts", kh, "--identity", sshd_factory.client_key.path,
            "-j", "50", "--timeout", TIMEOUT, "--command-timeout", COMMAND_TIMEOUT]


def assert_printable(text, what):
    bad = [c for c in text if ord(c) < 0x20 and c not in "\n\t" or 0x7f <= ord(c) <= 0x9f or
           c in "\u061c\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e"
                "\u2066\u2067\u2068\u2069"]
    assert not bad, "%s has control characters %r: %r" % (what, bad[:5], text[:300])


def check_hostile_hosts(h):
    """The per-host outcomes every fleet command must show."""
    assert h["flood-out"]["error"]["code"] == "BAD_AGENT_OUTPUT", h["flood-out"]
    assert "stdout" in h["flood-out"]["error"]["detail"]
    # stderr is drained (kept up to its cap): an endless flood ends at the deadline
    assert h["flood-err"]["error"]["code"] == "TIMEOUT", h["flood-err"]
    assert "stderr" in h["flood-err"]["error"]["detail"]
    assert h["hang"]["error"]["code"] == "TIMEOUT", h["hang"]
    assert h["hang"]["ms"] >= COMMAND_TIMEOUT * 1000 - 100
    assert h["huge"]["error"]["code"] == "BAD_AGENT_OUTPUT", h["huge"]
    assert h["kill-session"]["error"]["code"] in ("NETWORK_ERROR", "AGENT_FAILED"), h["kill-session"]
    # no SSH server behind the port
    assert h["ssh-silent"]["error"]["code"] == "CONNECT_TIMEOUT", h["ssh-silent"]
    assert "handshake" in h["ssh-silent"]["error"]["detail"]
    assert h["ssh-trickle"]["error"]["code"] == "CONNECT_TIMEOUT", h["ssh-trickle"]
    for name in ("ssh-garbage-banner", "ssh-garbage-nonl", "ssh-bad-packets"):
        assert h[name]["error"]["code"] in ("PROTOCOL_ERROR", "CONNECT_TIMEOUT"), h[name]
        assert h[name]["agent"] is None
    ec = h["err-garbage"]["error"]
    assert ec["code"] == "AGENT_FAILED" and ec["agentCode"] == "CA_ERROR", ec
    for name, e in h.items():
        if e["error"]:
            assert_printable(e["error"]["detail"], "detail of " + name)
            assert len(e["error"]["detail"]) < 1300


def test_status_with_hostile_hosts(bins, sshd_factory, hostile_fleet):
    d, inv, kh = hostile_fleet
    args = common_args(bins, sshd_factory, inv, kh)
    rc, out, err, secs, rss = run_ctl(bins, d, *args, "--json", "status")
    print("status --json: %.1f s, peak RSS %d KiB" % (secs, rss))
    doc = json.loads(out)
    h = {x["host"]: x for x in doc["hosts"]}
    assert len(h) == len(HEALTHY) + len(AGENTS) + len(LISTENERS)
    assert rc == 1, err
    for name in HEALTHY:
        assert h[name]["ok"] and h[name]["error"] is None, h[name]
        assert h[name]["agent"] == {"certificates": []}
    check_hostile_hosts(h)
    assert h["escapes"]["ok"], h["escapes"]
    assert h["bidi"]["ok"], h["bidi"]
    # the JSON carries them escaped (\\u202e): decoded the same, shown inert by a viewer
    assert h["bidi"]["agent"]["certificates"][0]["lineage"] == "bidi\u202elmth.example.test"
    assert_printable(out.decode("utf-8"), "status --json")
    for name in ("garbage", "truncated", "wrong-type", "wrong-member", "deep", "value-bomb",
                 "empty"):
        assert h[name]["error"]["code"] == "BAD_AGENT_OUTPUT", h[name]
        assert h[name]["agent"] is None
    assert secs < COMMAND_TIMEOUT + 4, secs
    assert rss_ok(bins, rss), rss

    # the table: every host has its row, nothing from a host reaches the terminal raw
    rc, out, err, secs, rss = run_ctl(bins, d, *args, "status")
    print("status: %.1f s, peak RSS %d KiB" % (secs, rss))
    text = out.decode()
    assert rc == 1
    assert_printable(text, "the table")
    for name in list(h):
        assert any(line.startswith(name + " ") for line in text.splitlines()), name
    n = len(h)
    nok = len(HEALTHY) + 2    # escapes, bidi
    assert "%d hosts: %d ok, %d failed" % (n, nok, n - nok) in text
    assert rss_ok(bins, rss), rss

    # report reads the kept state back: every host there too
    rc, out, err, secs, rss = run_ctl(bins, d, "report", "--json")
    assert rc == 1, err
    assert len(json.loads(out)["hosts"]) == n
    assert_printable(out.decode("utf-8"), "report --json")
    rc, out, err, secs, rss = run_ctl(bins, d, "report")
    assert rc == 1, err
    assert_printable(out.decode(), "report")


def test_run_with_hostile_hosts(bins, sshd_factory, hostile_fleet):
    d, inv, kh = hostile_fleet
    args = common_args(bins, sshd_factory, inv, kh)
    rc, out, err, secs, rss = run_ctl(bins, d, *args, "--json", "run", "--", "status", "--json")
    print("run --json: %.1f s, peak RSS %d KiB" % (secs, rss))
    doc = json.loads(out)
    h = {x["host"]: x for x in doc["hosts"]}
    assert rc == 1
    for name in HEALTHY:
        assert h[name]["ok"], h[name]
        assert h[name]["agent"] == {"certificates": []}
    check_hostile_hosts(h)
    # `run` takes any output: text is kept as text, nothing at all is fine
    assert h["garbage"]["ok"] and "not JSON at all" in h["garbage"]["output"]
    assert h["empty"]["ok"] and h["empty"]["agent"] is None
    assert secs < COMMAND_TIMEOUT + 4, secs
    assert rss_ok(bins, rss), rss

    rc, out, err, secs, rss = run_ctl(bins, d, *args, "run", "--", "status", "--json")
    text = out.decode()
    assert rc == 1
    assert_printable(text, "run's output")
    assert "not JSON at all" in text


# An sshd whose ForceCommand runs what the controller asked, except that the
# SFTP subsystem answers with an endless stream (text, or a valid SFTP version
# reply followed by zeros): deploy does not use SFTP, so these are healthy.  And
# hosts that answer the deploy command itself with hostility: an endless
# stream, or a request for the upload and then never a read of stdin.
FORCE = {
    "sftp-flood": ("sftp|*sftp-server*", "exec yes"),
    "sftp-zeros": ("sftp|*sftp-server*",
                   r"printf '\000\000\000\005\002\000\000\000\003'; exec cat /dev/zero"),
    "deploy-flood": ("*certfleet-agent.tmp*", "exec yes"),
    "deploy-stall": ("*certfleet-agent.tmp*",
                     "T=${SSH_ORIGINAL_COMMAND#*T=}; T=${T%%%%;*}; printf '%%s:upload x\\n' \"$T\"; "
                     "exec sleep 600"),
}


def test_deploy_to_hosts_with_hostile_sftp_and_exec(bins, sshd_factory, tmp_path_factory):
    d = Path(tempfile.mkdtemp(prefix="cf-hostile-", dir=tmp_path_factory.getbasetemp()))
    servers = {"healthy": sshd_factory(host="127.0.0.165")}
    for i, (name, (pattern, body)) in enumerate(sorted(FORCE.items())):
        script = d / (name + ".sh")
        script.write_text("#!/bin/sh\ncase \"$SSH_ORIGINAL_COMMAND\" in\n"
                          "%s) %s ;;\n"
                          "*) exec sh -c \"$SSH_ORIGINAL_COMMAND\" ;;\nesac\n" % (pattern, body))
        os.chmod(script, 0o755)
        servers[name] = sshd_factory(host="127.0.0.%d" % (166 + i),
                                     extra_config="ForceCommand %s" % script)
    inv = d / "inventory"
    inv.write_text("[fleet]\n" + "".join(
        "%s ansible_host=%s ansible_port=%d ansible_user=root certfleet_prefix=%s/%s\n"
        % (name, s.host, s.port, d, name) for name, s in servers.items()))
    kh = d / "known_hosts"
    kh.write_text("".join(s.known_hosts_line("ecdsa") for s in servers.values()))
    rc, out, err, secs, rss = run_ctl(bins, d, *common_args(bins, sshd_factory, inv, kh),
                                      "--json", "deploy")
    print("deploy --json: %.1f s, peak RSS %d KiB" % (secs, rss))
    h = {x["host"]: x for x in json.loads(out)["hosts"]}
    assert rc == 1
    for name in ("healthy", "sftp-flood", "sftp-zeros"):
        assert h[name]["ok"] and h[name]["agent"]["installed"] is True, h[name]
    e = h["deploy-flood"]["error"]
    assert e["code"] == "BAD_AGENT_OUTPUT" and "stopped" in e["detail"], e
    e = h["deploy-stall"]["error"]
    assert e["code"] == "TIMEOUT" and "written to its stdin" in e["detail"], e
    for name in ("deploy-flood", "deploy-stall"):
        # nothing half-uploaded was installed as the agent
        assert not (d / name / "usr/local/bin/certfleet-agent").exists()
    assert secs < COMMAND_TIMEOUT + 4, secs
    assert rss_ok(bins, rss), rss
