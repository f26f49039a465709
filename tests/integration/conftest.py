"""Fixtures for the certfleet integration tests: real Pebble, challtestsrv, nginx
and OpenSSH servers on loopback, started per test (or per module) and always
stopped at teardown.  On a failing test the last lines of every live service's
log are attached to the report.

Fixtures
  bins                 session: paths of bin/certfleet-agent, bin/certfleet
                       (CERTFLEET_BIN_DIR overrides the directory, e.g. build/asan)

Memory checkers (the last section): CERTFLEET_SANITIZERS=1 for build/asan
binaries, CERTFLEET_VALGRIND=1 to run the agent under valgrind memcheck; a
test fails when a run during it left a report.
  free_port            the cfutil.free_port function
  challtestsrv         function: mock DNS (+ management API helpers)
  pebble_factory       function: pebble_factory(env=..., config=...) -> Pebble
  pebble               function: pebble_factory() with the default env
  challtestsrv_module, pebble_module   the same, one per test module
  nginx_factory        function: nginx_factory(servers=None, port=None) -> Nginx
  ssh_client_key       function: an ECDSA client key (ClientKey)
  sshd_factory         function: sshd_factory(host="127.0.0.2", ...) -> Sshd;
                       sshd_factory.many(n, first_host=2) -> [Sshd]
"""

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cfutil  # noqa: E402
from cfutil import (ChallTestSrv, ClientKey, Nginx, Pebble, Sshd,  # noqa: E402
                    start_many_sshd)

REPO_ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- reporting

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when in ("setup", "call") and rep.failed:
        for svc in cfutil.live_services():
            label = "%s (pid %s) %s" % (svc.name, svc.pid, svc.log_path)
            rep.sections.append(("log tail: " + label, svc.log_tail(60)))
            for extra_label, path in svc.extra_logs():
                rep.sections.append(("log tail: %s %s" % (extra_label, path),
                                     cfutil.tail(path, 60)))


def _workdir(tmp_path_factory, name):
    # short paths: keeps sshd/nginx paths readable and well under socket path limits
    return Path(tempfile.mkdtemp(prefix="cf-%s-" % name,
                                 dir=tmp_path_factory.getbasetemp()))


# ---------------------------------------------------------------- binaries

@pytest.fixture(scope="session")
def bins():
    # absolute: the agent writes its own path into cron lines, tests compare
    bindir = Path(os.environ.get("CERTFLEET_BIN_DIR") or REPO_ROOT / "bin").resolve()

    def need(path):
        if not (path.is_file() and os.access(path, os.X_OK)):
            pytest.fail("%s is not built (run `make` in %s)" % (path, REPO_ROOT),
                        pytrace=False)
        return path

    ns = SimpleNamespace(root=REPO_ROOT, dir=bindir,
                         agent=bindir / "certfleet-agent",
                         controller=bindir / "certfleet")
    if os.environ.get("CERTFLEET_VALGRIND") == "1":
        ns.agent = _valgrind_wrapper(ns.agent)
    ns.need_agent = lambda: need(ns.agent)
    ns.need_controller = lambda: need(ns.controller)
    return ns


@pytest.fixture(scope="session", name="free_port")
def free_port_fixture():
    return cfutil.free_port


# ---------------------------------------------------------------- DNS + ACME

def _start_challtestsrv(tmp_path_factory):
    return ChallTestSrv(_workdir(tmp_path_factory, "dns"))


@pytest.fixture
def challtestsrv(tmp_path_factory):
    srv = _start_challtestsrv(tmp_path_factory)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def challtestsrv_module(tmp_path_factory):
    srv = _start_challtestsrv(tmp_path_factory)
    yield srv
    srv.stop()


class _Factory:
    """Keeps what it made and stops all of it at teardown (reverse order)."""

    def __init__(self, make):
        self._make = make
        self.made = []

    def __call__(self, *a, **kw):
        obj = self._make(*a, **kw)
        self.made.append(obj)
        return obj

    def close(self):
        for obj in reversed(self.made):
            try:
                obj.stop()
            except Exception:  # noqa: BLE001 - stop the rest anyway
                pass


@pytest.fixture
def pebble_factory(challtestsrv, tmp_path_factory):
    """pebble_factory(env={"PEBBLE_WFE_NONCEREJECT": "50"}, config={...}) -> Pebble.

    Default env: PEBBLE_VA_NOSLEEP=1, PEBBLE_WFE_NONCEREJECT=0, any other PEBBLE_*
    of the caller's environment removed; a value of None removes a variable.
    `config` entries override the generated pebble config JSON."""
    f = _Factory(lambda env=None, config=None, key_type="ec": Pebble(
        _workdir(tmp_path_factory, "pebble"), challtestsrv.dns_addr,
        env=env, config=config, key_type=key_type))
    f.challtestsrv = challtestsrv
    yield f
    f.close()


@pytest.fixture
def pebble(pebble_factory):
    return pebble_factory()


@pytest.fixture(scope="module")
def pebble_module(challtestsrv_module, tmp_path_factory):
    p = Pebble(_workdir(tmp_path_factory, "pebble"), challtestsrv_module.dns_addr)
    yield p
    p.stop()


# ---------------------------------------------------------------- nginx

@pytest.fixture
def nginx_factory(tmp_path_factory):
    """nginx_factory(servers=None, port=None) -> Nginx (see cfutil.Nginx)."""
    f = _Factory(lambda servers=None, port=None: Nginx(
        _workdir(tmp_path_factory, "nginx"), servers=servers, port=port))
    yield f
    f.close()


# ---------------------------------------------------------------- OpenSSH

@pytest.fixture
def ssh_client_key(tmp_path_factory):
    d = _workdir(tmp_path_factory, "sshkey")
    return ClientKey.generate(d / "id_ecdsa", "ecdsa")


@pytest.fixture
def sshd_factory(tmp_path_factory, ssh_client_key):
    """sshd_factory(host="127.0.0.2", port=None, client_key=None, authorized_keys=(),
    extra_config="") -> Sshd.  The default client key (ssh_client_key, ECDSA) is
    authorized on every server this factory starts, like an operator's key on a fleet.
    sshd_factory.many(n, first_host=2, **kw) starts n servers concurrently."""
    base = _workdir(tmp_path_factory, "sshd")

    def make(host="127.0.0.2", client_key=None, **kw):
        return Sshd(base / ("%s-%d" % (host, len(f.made))), host=host,
                    client_key=client_key or ssh_client_key, **kw)

    f = _Factory(make)
    f.client_key = ssh_client_key

    def many(n, first_host=2, client_key=None, **kw):
        servers = start_many_sshd(base / ("many-%d" % len(f.made)), n, first_host=first_host,
                                  client_key=client_key or ssh_client_key, **kw)
        f.made.extend(servers)
        return servers

    f.many = many
    yield f
    f.close()


def pytest_sessionfinish(session, exitstatus):
    for svc in cfutil.live_services():
        svc.stop(timeout=2)
    _unseen_reports(session)


# ---------------------------------------------------------------- memory checkers
#
# Each checker switched on for this session writes its reports into its own
# directory (REPORT_DIRS); the autouse fixture fails the test during which a
# report appeared, whatever the exit status of the run that wrote it (a test
# expecting a failure would otherwise swallow it), and a report written
# outside any test fails the session.

REPORT_DIRS = {}     # checker -> Path
_SEEN_REPORTS = set()


def _report_dir(checker):
    d = Path(tempfile.gettempdir()) / ("cf-%s-%d" % (checker, os.getpid()))
    d.mkdir(parents=True, exist_ok=True)
    d.chmod(0o1777)   # agent processes that dropped privileges report here too
    REPORT_DIRS[checker] = d
    return d


def _reports():
    # valgrind's vg.PID.log and the sanitizers' report.PID (not the valgrind
    # wrapper script, which lives in the same directory)
    return {p for d in REPORT_DIRS.values() for p in d.iterdir()
            if p.name.startswith(("vg.", "report")) and p.is_file() and p.stat().st_size}


def _report_text(paths):
    return "\n".join("%s:\n%s" % (p, p.read_text(errors="replace")[:4000])
                     for p in sorted(paths))


def pytest_configure(config):
    """CERTFLEET_SANITIZERS=1 (make check-asan, build/asan binaries): ASan and
    UBSan stop at the first report and write it into the sanitizer report
    directory; the test sshd servers pass the options on (cfutil.Sshd), so
    agents the controller runs over SSH report there too."""
    if os.environ.get("CERTFLEET_SANITIZERS") != "1":
        return
    log = _report_dir("sanitizer") / "report"
    for var, extra in (("ASAN_OPTIONS", "detect_leaks=1"),
                       ("UBSAN_OPTIONS", "print_stacktrace=1")):
        mine = "halt_on_error=1:%s:log_path=%s" % (extra, log)
        os.environ[var] = mine + (":" + os.environ[var] if os.environ.get(var) else "")


def _valgrind_wrapper(agent):
    """CERTFLEET_VALGRIND=1 (make check-valgrind): the agent runs under
    valgrind memcheck; any error or leak (definite, indirect or possible;
    still-reachable blocks are not leaks) makes it exit 99, and each
    run's report is kept in the valgrind report directory (-q: a report is
    empty unless memcheck found something)."""
    d = _report_dir("valgrind")
    wrapper = d / "certfleet-agent"
    wrapper.write_text(
        "#!/bin/sh\n"
        "exec valgrind -q --tool=memcheck --error-exitcode=99 --leak-check=full "
        "--errors-for-leak-kinds=definite,indirect,possible "
        "--show-leak-kinds=definite,indirect,possible "
        "--track-fds=no --log-file=%s/vg.%%p.log %s \"$@\"\n" % (d, agent))
    wrapper.chmod(0o755)
    if not agent.is_file():
        pytest.fail("%s is not built (make VARIANT=debug)" % agent, pytrace=False)
    return wrapper


@pytest.fixture(autouse=True)
def _memory_reports():
    if not REPORT_DIRS:
        yield
        return
    before = _reports()
    yield
    new = _reports() - before
    _SEEN_REPORTS.update(new)
    if new:
        pytest.fail("memory checker reports:\n" + _report_text(new), pytrace=False)


def _unseen_reports(session):
    unseen = _reports() - _SEEN_REPORTS if REPORT_DIRS else set()
    if unseen:
        print("\nmemory checker reports outside any test:\n" + _report_text(unseen))
        session.exitstatus = 1


# ---------------------------------------------------------------- FlexibleEngine API emulator

@pytest.fixture
def feemu(challtestsrv, tmp_path_factory):
    """The FE API emulator (tests/integration/feemu.py) on loopback TLS, its DNS
    writes going to this test's challtestsrv; zone example.test. exists.
    feemu.env(auth="password"|"aksk") gives certfleet's environment."""
    from feemu import FeEmu
    emu = FeEmu(_workdir(tmp_path_factory, "feemu"), challtestsrv.mgmt_url)
    yield emu
    emu.stop()

# ---------------------------------------------------------------- nginx sites (issue 4)

@pytest.fixture
def nginx_site_factory(tmp_path_factory):
    """nginx_site_factory(servers=None, port=None, addr="127.0.0.1", files=None) ->
    cfutil.NginxSite: files {relative path: text} are written under the prefix first."""
    f = _Factory(lambda servers=None, port=None, addr="127.0.0.1", files=None: cfutil.NginxSite(
        _workdir(tmp_path_factory, "nginx"), servers=servers, port=port, addr=addr, files=files))
    yield f
    f.close()


# ------------------------------------------------------- secrets never leak
# Issue 8: no private key used in a test may appear in any log, activity log,
# state or settings file, hook output or JSON a test leaves behind, nor in
# anything certfleet or certfleet-agent printed.  Every test is checked: its
# tmp_path is scanned for PEM private keys (the agent's certificate and
# account keys, SSH keys, ...) and every other file there, and the captured
# output of every certfleet run, must hold none of their base64 lines.

_CF_OUTPUTS = []
_real_subprocess_run = subprocess.run


def _recording_run(*args, **kw):
    r = _real_subprocess_run(*args, **kw)
    cmd = args[0] if args else kw.get("args")
    words = cmd if isinstance(cmd, (list, tuple)) else str(cmd).split()
    if any("certfleet" in os.path.basename(str(w)) for w in words[:6]):
        for out in (r.stdout, r.stderr):
            if out:
                _CF_OUTPUTS.append(out.encode() if isinstance(out, str) else out)
    return r


subprocess.run = _recording_run


_PUBKEY_FILE = re.compile(
    rb"\A(?:(?:[^\n]* )?(?:ssh-|ecdsa-|sk-)[a-z0-9@.-]+ AAAA[A-Za-z0-9+/=]+[^\n]*\n?|\s*\n)+\Z")


def _key_lines(pem):
    lines, inside = set(), False
    for line in pem.splitlines():
        if line.startswith(b"-----BEGIN") and b"PRIVATE KEY" in line:
            inside = True
        elif line.startswith(b"-----END"):
            inside = False
        elif inside and len(line.strip()) >= 40:
            lines.add(line.strip())
    return lines


def find_key_leaks(root, outputs):
    """Where, under root or in outputs, the base64 lines of any PEM private
    key under root turn up outside PEM files."""
    secrets, others = set(), []
    for p in Path(root).rglob("*"):
        try:
            if p.is_symlink() or not p.is_file() or p.stat().st_size > (4 << 20):
                continue
            data = p.read_bytes()
        except OSError:
            continue
        if data.startswith(b"-----BEGIN"):          # a PEM file: a key's home
            secrets |= _key_lines(data)
        elif not _PUBKEY_FILE.match(data):
            # (OpenSSH .pub, authorized_keys and known_hosts files hold the
            # public blob an OpenSSH private key file also carries)
            others.append((p, data))
    return sorted({str(p.relative_to(root)) for s in secrets for p, d in others if s in d} |
                  {"output of a certfleet run" for s in secrets for o in outputs if s in o})


@pytest.fixture(autouse=True)
def no_private_key_leaks(tmp_path):
    _CF_OUTPUTS.clear()
    yield
    leaks = find_key_leaks(tmp_path, _CF_OUTPUTS)
    assert not leaks, "private key text found in: %s" % ", ".join(leaks)
