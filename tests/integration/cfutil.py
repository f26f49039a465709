"""Helpers for the certfleet integration tests.

Everything here drives REAL programs on loopback: pebble, pebble-challtestsrv,
nginx, OpenSSH's sshd/ssh, openssl.  No mocks.  Every wait has a deadline;
every process started here is recorded so it can be stopped at teardown (and,
as a last resort, at interpreter exit).
"""

import atexit
import json
import os
import random
import signal
import socket
import ssl
import struct
import subprocess
import time
import urllib.request
from pathlib import Path

PEBBLE = "/usr/bin/pebble"
CHALLTESTSRV = "/usr/bin/pebble-challtestsrv"
NGINX = "/usr/sbin/nginx"
SSHD = "/usr/sbin/sshd"          # sshd must be started by absolute path (it re-execs)
SSH = "/usr/bin/ssh"
SSH_KEYGEN = "/usr/bin/ssh-keygen"
OPENSSL = "/usr/bin/openssl"

IS_ROOT = os.geteuid() == 0


class ServiceError(RuntimeError):
    pass


# --------------------------------------------------------------------------
# small utilities

def free_port(host="127.0.0.1", kind=socket.SOCK_STREAM):
    """A port that is free on HOST right now (TCP by default).

    For a UDP+TCP service (DNS) pass kind=None: the port is checked free for both.
    """
    for _ in range(50):
        kinds = [socket.SOCK_STREAM, socket.SOCK_DGRAM] if kind is None else [kind]
        s = socket.socket(socket.AF_INET, kinds[0])
        try:
            s.bind((host, 0))
            port = s.getsockname()[1]
            ok = True
            for k in kinds[1:]:
                t = socket.socket(socket.AF_INET, k)
                try:
                    t.bind((host, port))
                except OSError:
                    ok = False
                finally:
                    t.close()
            if ok:
                return port
        finally:
            s.close()
    raise ServiceError("no free port found on %s" % host)


def wait_for(pred, timeout, what, interval=0.05, proc=None, log=None):
    """Poll PRED() until it returns a truthy value; raise after TIMEOUT seconds.

    If PROC (a Popen) exits meanwhile, fail at once with the tail of LOG.
    """
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - report the last one
            last_exc = e
        if proc is not None and proc.poll() is not None:
            raise ServiceError("%s: process exited with status %s while waiting\n%s"
                               % (what, proc.returncode, tail(log) if log else ""))
        if time.monotonic() >= deadline:
            raise ServiceError("timed out after %.1fs waiting for %s (last error: %r)\n%s"
                               % (timeout, what, last_exc, tail(log) if log else ""))
        time.sleep(interval)


def tail(path, lines=60):
    try:
        data = Path(path).read_text(errors="replace").splitlines()
    except OSError as e:
        return "(cannot read %s: %s)" % (path, e)
    return "\n".join(data[-lines:])


def run(cmd, timeout=30, check=True, **kw):
    """subprocess.run with text I/O, captured output and a timeout."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("text", True)
    r = subprocess.run([str(c) for c in cmd], timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise ServiceError("command failed (%d): %s\nstdout: %s\nstderr: %s"
                           % (r.returncode, " ".join(map(str, cmd)), r.stdout, r.stderr))
    return r


def tcp_open(host, port, timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------
# process bookkeeping

# Every process we start, so a crashed test run still stops them at exit.
_LIVE = {}           # id(Service) -> Service


class Service:
    """A process we started, with its log file; stop() is idempotent."""

    name = "service"

    def __init__(self):
        self.proc = None
        self.log_path = None
        self._log_fh = None

    def _spawn(self, cmd, log_path, env=None, cwd=None):
        self.log_path = Path(log_path)
        self._log_fh = open(self.log_path, "ab", buffering=0)
        self.proc = subprocess.Popen(
            [str(c) for c in cmd], stdin=subprocess.DEVNULL, stdout=self._log_fh,
            stderr=subprocess.STDOUT, env=env, cwd=cwd,
            start_new_session=True)   # own process group: we can stop its children too
        _LIVE[id(self)] = self
        return self.proc

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=5):
        p = self.proc
        if p is not None:
            pgid = p.pid          # start_new_session: process group id == our child's pid
            if p.poll() is None:
                try:
                    os.killpg(pgid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    pass
            # whatever is left in the group (nginx workers, sshd session children)
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if p.poll() is None:
                try:
                    p.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    pass
        if self._log_fh:
            self._log_fh.close()
            self._log_fh = None
        _LIVE.pop(id(self), None)

    def log_tail(self, lines=60):
        return tail(self.log_path, lines) if self.log_path else ""

    def extra_logs(self):
        """Other log files worth showing on failure: list of (label, path)."""
        return []


def live_services():
    return list(_LIVE.values())


@atexit.register
def _stop_everything():
    for s in list(_LIVE.values()):
        try:
            s.stop(timeout=2)
        except Exception:  # noqa: BLE001
            pass


# --------------------------------------------------------------------------
# certificates with openssl

_CA_CNF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = {cn}
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
"""

_LEAF_EXT = """\
[v3_leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,{ku}
extendedKeyUsage = {eku}
subjectAltName = {san}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def _newkey_args(key_type):
    if key_type == "ec":
        return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    if key_type == "rsa":
        return ["-newkey", "rsa:2048"]
    raise ValueError(key_type)


def make_ca(directory, cn=None, key_type="ec", days=30):
    """A throwaway CA: returns (cert_path, key_path)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    cn = cn or "certfleet test CA %08x" % random.getrandbits(32)
    cnf = d / "ca.cnf"
    cnf.write_text(_CA_CNF.format(cn=cn))
    cert, key = d / "ca.pem", d / "ca.key"
    run([OPENSSL, "req", "-x509", "-config", cnf, "-extensions", "v3_ca",
         *_newkey_args(key_type), "-nodes", "-keyout", key, "-out", cert,
         "-days", str(days), "-sha256"])
    return cert, key


def make_leaf(directory, ca_cert, ca_key, dns=("localhost",), ips=("127.0.0.1",),
              key_type="ec", days=30, name="server", eku="serverAuth"):
    """A server certificate signed by the CA: returns (cert_path, key_path).
    eku: the extendedKeyUsage value (a test of a client-only certificate
    passes "clientAuth")."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    cn = dns[0] if dns else (ips[0] if ips else "server")
    cnf = d / (name + ".cnf")
    cnf.write_text("[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = %s\n" % cn)
    san = ",".join(["DNS:" + n for n in dns] + ["IP:" + i for i in ips])
    ku = "digitalSignature" if key_type == "ec" else "digitalSignature,keyEncipherment"
    ext = d / (name + ".ext")
    ext.write_text(_LEAF_EXT.format(ku=ku, san=san, eku=eku))
    key, csr, cert = d / (name + ".key"), d / (name + ".csr"), d / (name + ".pem")
    run([OPENSSL, "req", "-new", "-config", cnf, *_newkey_args(key_type), "-nodes",
         "-keyout", key, "-out", csr])
    run([OPENSSL, "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key,
         "-set_serial", str(random.getrandbits(63)), "-days", str(days), "-sha256",
         "-extfile", ext, "-extensions", "v3_leaf", "-out", cert])
    return cert, key


# --------------------------------------------------------------------------
# pebble-challtestsrv

class ChallTestSrv(Service):
    """pebble-challtestsrv as a mock DNS server (DNS only) with its management API."""

    name = "challtestsrv"

    def __init__(self, workdir, default_ipv4="127.0.0.1", timeout=10):
        super().__init__()
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.dns_port = free_port(self.host, kind=None)
        self.mgmt_port = free_port(self.host)
        self.dns_addr = "%s:%d" % (self.host, self.dns_port)
        self.mgmt_url = "http://%s:%d" % (self.host, self.mgmt_port)
        cmd = [CHALLTESTSRV,
               "-dns01", self.dns_addr,
               "-management", "%s:%d" % (self.host, self.mgmt_port),
               "-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "",
               "-defaultIPv4", default_ipv4, "-defaultIPv6", ""]
        self._spawn(cmd, self.workdir / "challtestsrv.log")
        try:
            # management answers, and the DNS socket answers a query
            wait_for(lambda: tcp_open(self.host, self.mgmt_port), timeout,
                     "challtestsrv management API", proc=self.proc, log=self.log_path)
            wait_for(lambda: dns_query(self.host, self.dns_port, "ready.invalid", "A",
                                       timeout=0.3) is not None,
                     timeout, "challtestsrv DNS", proc=self.proc, log=self.log_path)
        except Exception:
            self.stop()
            raise

    def post(self, path, body):
        data = json.dumps(body).encode()
        req = urllib.request.Request(self.mgmt_url + path, data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            if r.status != 200:
                raise ServiceError("challtestsrv %s -> HTTP %d" % (path, r.status))
            return r.read()

    @staticmethod
    def _fqdn(host):
        return host if host.endswith(".") else host + "."

    def add_a(self, host, ip):
        ips = [ip] if isinstance(ip, str) else list(ip)
        self.post("/add-a", {"host": self._fqdn(host), "addresses": ips})

    def clear_a(self, host):
        self.post("/clear-a", {"host": self._fqdn(host)})

    def add_aaaa(self, host, ip):
        ips = [ip] if isinstance(ip, str) else list(ip)
        self.post("/add-aaaa", {"host": self._fqdn(host), "addresses": ips})

    def clear_aaaa(self, host):
        self.post("/clear-aaaa", {"host": self._fqdn(host)})

    def add_caa(self, host, policies):
        """policies: list of {"tag": "issue", "value": "..."}"""
        self.post("/add-caa", {"host": self._fqdn(host), "policies": policies})

    def clear_caa(self, host):
        self.post("/clear-caa", {"host": self._fqdn(host)})

    def set_txt(self, host, value):
        self.post("/set-txt", {"host": self._fqdn(host), "value": value})

    def clear_txt(self, host):
        self.post("/clear-txt", {"host": self._fqdn(host)})

    def set_servfail(self, host):
        self.post("/set-servfail", {"host": self._fqdn(host)})

    def clear_servfail(self, host):
        self.post("/clear-servfail", {"host": self._fqdn(host)})

    def set_default_ipv4(self, ip):
        self.post("/set-default-ipv4", {"ip": ip})

    def dns_history(self, host):
        return json.loads(self.post("/dns-request-history", {"host": self._fqdn(host)}) or b"[]")


# --------------------------------------------------------------------------
# raw DNS (UDP) client, enough to check challtestsrv answers

_QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "TXT": 16, "AAAA": 28, "CAA": 257}


def _encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            b = label.encode("idna") if any(ord(c) > 127 for c in label) else label.encode()
            out += bytes([len(b)]) + b
    return out + b"\0"


def _read_name(msg, off):
    labels, jumped, end = [], False, None
    for _ in range(128):
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if not jumped:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            jumped = True
            continue
        if n == 0:
            off += 1
            break
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n
    return ".".join(labels) + ".", (end if jumped else off)


def dns_query(server, port, name, qtype="A", timeout=2.0):
    """One UDP query. Returns {"rcode": int, "answers": [(name, type, value)]}
    or None when no reply came within TIMEOUT."""
    qt = _QTYPES[qtype] if isinstance(qtype, str) else qtype
    qid = random.getrandbits(16)
    msg = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + _encode_name(name) + \
        struct.pack(">HH", qt, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.sendto(msg, (server, port))
        deadline = time.monotonic() + timeout
        while True:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                resp, _ = s.recvfrom(65535)
            except socket.timeout:
                return None
            if len(resp) >= 12 and struct.unpack(">H", resp[:2])[0] == qid:
                break
    finally:
        s.close()
    _, flags, qd, an, _, _ = struct.unpack(">HHHHHH", resp[:12])
    off = 12
    for _ in range(qd):
        _, off = _read_name(resp, off)
        off += 4
    answers = []
    for _ in range(an):
        rname, off = _read_name(resp, off)
        rtype, _rclass, _ttl, rdlen = struct.unpack(">HHIH", resp[off:off + 10])
        off += 10
        rdata = resp[off:off + rdlen]
        if rtype == 1 and rdlen == 4:
            value = socket.inet_ntop(socket.AF_INET, rdata)
        elif rtype == 28 and rdlen == 16:
            value = socket.inet_ntop(socket.AF_INET6, rdata)
        elif rtype == 16:
            parts, i = [], 0
            while i < len(rdata):
                ln = rdata[i]
                parts.append(rdata[i + 1:i + 1 + ln].decode("utf-8", "replace"))
                i += 1 + ln
            value = "".join(parts)
        elif rtype == 5:
            value, _ = _read_name(resp, off)
        else:
            value = rdata
        answers.append((rname, rtype, value))
        off += rdlen
    return {"rcode": flags & 0xF, "answers": answers}


# --------------------------------------------------------------------------
# pebble

DEFAULT_PEBBLE_ENV = {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}


class Pebble(Service):
    """Pebble ACME test server with its own listener CA.

    directory   https://localhost:<port>/dir
    ca_file     PEM of the CA that signed Pebble's listener certificate (--ca-file)
    http_port   port Pebble's VA connects to for HTTP-01 (tests' responders bind it)
    tls_port    port for TLS-ALPN-01
    mgmt_url    https://localhost:<mgmt port>
    log_path    pebble's stdout+stderr
    """

    name = "pebble"

    def __init__(self, workdir, dns_addr, env=None, config=None, key_type="ec",
                 timeout=20):
        super().__init__()
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.dns_addr = dns_addr
        self.ca_file, self._ca_key = make_ca(self.workdir / "listener-ca",
                                             cn="certfleet test Pebble listener CA",
                                             key_type=key_type)
        self.cert_file, self.key_file = make_leaf(
            self.workdir / "listener-ca", self.ca_file, self._ca_key,
            dns=("localhost",), ips=("127.0.0.1",), key_type=key_type, name="localhost")
        self.port = free_port()
        self.mgmt_port = free_port()
        self.http_port = free_port()
        self.tls_port = free_port()
        cfg = {
            "listenAddress": "127.0.0.1:%d" % self.port,
            "managementListenAddress": "127.0.0.1:%d" % self.mgmt_port,
            "certificate": str(self.cert_file),
            "privateKey": str(self.key_file),
            "httpPort": self.http_port,
            "tlsPort": self.tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
            "domainBlocklist": ["blocked-domain.example"],
            "retryAfter": {"authz": 1, "order": 1},
            "certificateValidityPeriod": 7776000,   # 90 days, as Let's Encrypt
        }
        cfg.update(config or {})
        self.config = cfg
        self.config_path = self.workdir / "pebble-config.json"
        self.config_path.write_text(json.dumps({"pebble": cfg}, indent=2))

        self.env = dict(os.environ)
        for k in list(self.env):
            if k.startswith("PEBBLE_"):
                del self.env[k]          # PEBBLE_VA_ALWAYS_VALID etc. must not leak in
        self.env.update(DEFAULT_PEBBLE_ENV)
        for k, v in (env or {}).items():
            if v is None:
                self.env.pop(k, None)
            else:
                self.env[k] = str(v)

        self.url = "https://localhost:%d" % self.port
        self.directory = self.url + "/dir"
        self.mgmt_url = "https://localhost:%d" % self.mgmt_port
        self._ssl = ssl.create_default_context(cafile=str(self.ca_file))
        self._start(timeout)

    def _start(self, timeout):
        self._spawn([PEBBLE, "-config", self.config_path, "-dnsserver", self.dns_addr],
                    self.workdir / "pebble.log", env=self.env, cwd=self.workdir)
        try:
            wait_for(lambda: self.get_json(self.directory, timeout=1), timeout,
                     "pebble directory at " + self.directory, interval=0.1,
                     proc=self.proc, log=self.log_path)
            wait_for(lambda: self.get(self.mgmt_url + "/roots/0", timeout=1), timeout,
                     "pebble management API", interval=0.1,
                     proc=self.proc, log=self.log_path)
        except Exception:
            self.stop()
            raise

    def restart(self, timeout=20):
        """Stop and start again at the same addresses, as a CA that lost
        its state: Pebble keeps everything in memory, so its accounts,
        orders and issuing CA are new (the listener certificate is kept)."""
        self.stop()
        self._start(timeout)

    # --- HTTP helpers (verify against the listener CA, by name "localhost")
    def get(self, url, timeout=5):
        with urllib.request.urlopen(url, context=self._ssl, timeout=timeout) as r:
            return r.read()

    def get_json(self, url, timeout=5):
        return json.loads(self.get(url, timeout=timeout))

    def directory_json(self):
        return self.get_json(self.directory)

    def roots_pem(self, index=0):
        """Pebble's issuing root (regenerated on every launch)."""
        return self.get(self.mgmt_url + "/roots/%d" % index).decode()

    def intermediates_pem(self, index=0):
        return self.get(self.mgmt_url + "/intermediates/%d" % index).decode()

    def cert_status(self, serial_hex):
        return self.get_json(self.mgmt_url + "/cert-status-by-serial/" + serial_hex)

    def log_text(self):
        return Path(self.log_path).read_text(errors="replace")


# --------------------------------------------------------------------------
# nginx

_NGINX_CONF = """\
# generated by tests/integration/cfutil.py
{user}worker_processes 1;
daemon off;
master_process on;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log info;
lock_file {prefix}/nginx.lock;

events {{
    worker_connections 256;
}}

http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {prefix}/logs/access.log;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    sendfile on;
    keepalive_timeout 5;

{servers}

    include {prefix}/conf.d/*.conf;
    include {prefix}/sites-enabled/*;
}}
"""

DEFAULT_NGINX_SERVER = """\
    server {
        listen 127.0.0.1:@PORT@;
        server_name _;
        root @PREFIX@/html;
        location / { try_files $uri $uri/ =404; }
    }
"""


class Nginx(Service):
    """nginx under its own prefix; master is our child (daemon off) so teardown is sure.

    prefix/conf/nginx.conf    the main config (prefix/conf.d/*.conf and
                              prefix/sites-enabled/* are included inside http{})
    prefix/html               default document root
    prefix/logs/{error,access}.log
    The server-block text may use @PORT@ and @PREFIX@ (nginx syntax is full of
    braces, so no str.format there); it may also be a callable(nginx) -> str.
    """

    name = "nginx"

    def __init__(self, prefix, servers=None, port=None, timeout=10):
        super().__init__()
        self.prefix = Path(prefix)
        for sub in ("conf", "conf.d", "sites-enabled", "logs", "html", "tmp"):
            (self.prefix / sub).mkdir(parents=True, exist_ok=True)
        # workers run as root (when we are root) so they can read pytest's 0700 temp dirs
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.conf = self.prefix / "conf" / "nginx.conf"
        self.error_log = self.prefix / "logs" / "error.log"
        self.access_log = self.prefix / "logs" / "access.log"
        self.pid_file = self.prefix / "nginx.pid"
        self.write_conf(servers)
        self.test_config()
        self._spawn(self._cmd(), self.prefix / "logs" / "nginx.stderr", cwd=self.prefix)
        try:
            wait_for(self._ready, timeout, "nginx on port %d" % self.port,
                     proc=self.proc, log=self.error_log)
        except Exception:
            self.stop()
            raise

    def _cmd(self, *extra):
        return [NGINX, "-p", str(self.prefix) + "/", "-c", str(self.conf), *extra]

    def render(self, servers):
        if servers is None:
            servers = DEFAULT_NGINX_SERVER
        if callable(servers):
            servers = servers(self)
        servers = servers.replace("@PORT@", str(self.port)).replace("@PREFIX@", str(self.prefix))
        return _NGINX_CONF.format(user="user root;\n" if IS_ROOT else "",
                                  prefix=self.prefix, servers=servers)

    def write_conf(self, servers=None):
        self.conf.write_text(self.render(servers))

    def test_config(self, check=True):
        """nginx -t on the current config; returns CompletedProcess."""
        return run(self._cmd("-t"), timeout=15, check=check)

    def _ready(self):
        return (self.pid_file.exists() and self.pid_file.read_text().strip() == str(self.proc.pid)
                and self.worker_pids() and tcp_open(self.host, self.port))

    def worker_pids(self):
        """Worker processes of our master (children in /proc)."""
        if not self.alive():
            return set()
        out = set()
        try:
            kids = Path("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)).read_text()
            out = {int(x) for x in kids.split()}
        except OSError:
            for d in Path("/proc").iterdir():
                if d.name.isdigit():
                    try:
                        st = (d / "stat").read_text()
                        if int(st.rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                            out.add(int(d.name))
                    except (OSError, ValueError, IndexError):
                        pass
        return out

    def reload(self, servers=None, timeout=10):
        """Optionally rewrite the config, then `nginx -s reload` and wait until the
        master has started new workers (raises if it keeps the old config)."""
        if servers is not None:
            previous = self.conf.read_text()
            self.write_conf(servers)
            try:
                self.test_config()
            except ServiceError:
                self.conf.write_text(previous)     # leave a working config behind
                raise
        else:
            self.test_config()
        before = self.worker_pids()
        run(self._cmd("-s", "reload"), timeout=15)
        # done when new workers run and the old ones (which still accept on the
        # listening sockets until told to quit) have gone
        wait_for(lambda: self.worker_pids() and not (self.worker_pids() & before), timeout,
                 "nginx reload (new workers, old ones gone)", proc=self.proc,
                 log=self.error_log)

    def stop(self, timeout=5):
        if self.alive():
            # graceful quit first, the base class escalates
            try:
                self.proc.send_signal(signal.SIGQUIT)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        super().stop(timeout)

    def url(self, path="/"):
        return "http://%s:%d%s" % (self.host, self.port, path)

    def extra_logs(self):
        return [("nginx error.log", self.error_log)]


# --------------------------------------------------------------------------
# OpenSSH

def _sanitizer_env():
    """The sanitizer options of this session (conftest's CERTFLEET_SANITIZERS=1)
    as ' NAME=VALUE' words for sshd's SetEnv (only its first SetEnv line counts):
    the agents the controller runs over SSH never see sshd's own environment."""
    return "".join(" %s=%s" % (k, os.environ[k])
                   for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS") if os.environ.get(k))


_SSHD_CONFIG = """\
# generated by tests/integration/cfutil.py
ListenAddress {host}:{port}
{hostkeys}
PidFile none
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthenticationMethods publickey
AuthorizedKeysFile {authorized_keys}
UseDNS no
LogLevel VERBOSE
MaxStartups 200:30:400
MaxSessions 50
X11Forwarding no
PrintMotd no
AcceptEnv LANG LC_*
# Debian bash sources ~/.bashrc for ssh commands unless SHLVL>=1; this machine's
# root .bashrc runs `pyenv init` (~1 s a connection). Keep sessions independent of it.
SetEnv SHLVL=1{sanitizer_env}
{subsystem}
{extra}
"""


def ssh_keygen(path, key_type="ecdsa", bits=None, fmt=None, comment="certfleet-test"):
    """Start ssh-keygen (returns Popen) so several keys can be made in parallel."""
    path = Path(path)
    for p in (path, Path(str(path) + ".pub")):
        if p.exists():
            p.unlink()
    cmd = [SSH_KEYGEN, "-q", "-t", key_type, "-N", "", "-C", comment, "-f", str(path)]
    if bits:
        cmd += ["-b", str(bits)]
    if fmt:
        cmd += ["-m", fmt]
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_keygen(procs, timeout=60):
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        if p.returncode != 0:
            raise ServiceError("ssh-keygen failed: %s %s" % (out, err))


class ClientKey:
    """An SSH client key pair (private key path, public key line)."""

    def __init__(self, path):
        self.path = Path(path)
        self.pub_path = Path(str(path) + ".pub")

    @property
    def pub(self):
        return self.pub_path.read_text().strip()

    @classmethod
    def generate(cls, path, key_type="ecdsa", fmt=None, bits=None):
        wait_keygen([ssh_keygen(path, key_type, bits=bits, fmt=fmt, comment="certfleet-client")])
        os.chmod(path, 0o600)
        return cls(path)


def ensure_privsep_dir():
    d = Path("/run/sshd")
    if not d.exists():
        d.mkdir(mode=0o755, parents=True, exist_ok=True)
    os.chmod(d, 0o755)


class Sshd(Service):
    """One sshd -D -e on HOST:PORT with its own host keys and authorized_keys.

    known_hosts   ECDSA + RSA host keys as "[host]:port type key" (those served)
    host_keys     {"ecdsa": "type base64", "rsa": ..., "ed25519": ...}
    host_key_types  the host keys sshd serves (default all three; e.g.
                  ("ed25519",) for a host with only an Ed25519 key)
    extra_config  more sshd_config lines (KexAlgorithms, Ciphers, ...)
    client_key    ClientKey authorized to log in as root
    ssh(cmd)      run CMD through OpenSSH with strict host key checking
    host_ca       a CA private key: the host keys are certified by it (principals:
                  host_principals, default the address) and served (HostCertificate)
    trusted_user_ca  a CA public key file for TrustedUserCAKeys
    max_auth_tries   MaxAuthTries
    """

    name = "sshd"

    # prepare() and launch() are split so many servers can be set up in parallel
    def __init__(self, workdir, host="127.0.0.2", port=None, client_key=None,
                 authorized_keys=(), rsa_bits=2048, extra_config="", timeout=15,
                 host_key_types=("ecdsa", "rsa", "ed25519"), sftp=True, wrap=None,
                 host_ca=None, host_principals=None, trusted_user_ca=None, max_auth_tries=None,
                 _defer=False):
        super().__init__()
        self.host_ca = host_ca
        self.host_principals = host_principals
        if trusted_user_ca:
            extra_config += "\nTrustedUserCAKeys %s\n" % trusted_user_ca
        if max_auth_tries:
            extra_config += "\nMaxAuthTries %d\n" % max_auth_tries
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.workdir, 0o700)
        self.host = host
        self.port = port or free_port(host)
        self.client_key = client_key
        self.timeout = timeout
        self.extra_config = extra_config
        self.host_key_types = tuple(host_key_types)
        self.sftp = sftp              # False: no Subsystem line (hardened hosts)
        self.wrap = list(wrap or [])  # argv run before sshd (e.g. unshare for a mount namespace)
        self.authorized_keys_file = self.workdir / "authorized_keys"
        lines = ([client_key.pub] if client_key else []) + list(authorized_keys)
        self.authorized_keys_file.write_text("".join(l.strip() + "\n" for l in lines))
        os.chmod(self.authorized_keys_file, 0o600)
        self.hostkey_paths = {t: self.workdir / ("ssh_host_%s_key" % t)
                              for t in ("ecdsa", "rsa", "ed25519")}
        self._keygen = [ssh_keygen(self.hostkey_paths["ecdsa"], "ecdsa", comment=host),
                        ssh_keygen(self.hostkey_paths["rsa"], "rsa", bits=rsa_bits, comment=host),
                        ssh_keygen(self.hostkey_paths["ed25519"], "ed25519", comment=host)]
        self.config_path = self.workdir / "sshd_config"
        self.known_hosts = self.workdir / "known_hosts"
        self.host_keys = {}
        if not _defer:
            self.launch()
            self.wait_ready()

    @property
    def hostport(self):
        return "[%s]:%d" % (self.host, self.port)

    def launch(self):
        try:
            wait_keygen(self._keygen)
        except Exception:
            for p in self._keygen:
                if p.poll() is None:
                    p.kill()
            raise
        for t, p in self.hostkey_paths.items():
            os.chmod(p, 0o600)
            self.host_keys[t] = " ".join(Path(str(p) + ".pub").read_text().split()[:2])
        if self.host_ca:
            for t, p in self.hostkey_paths.items():
                run(["ssh-keygen", "-q", "-s", str(self.host_ca), "-h", "-I", "%s-%s" % (self.host, t),
                     "-n", self.host_principals or self.host, "-V", "-5m:+1h", str(p) + ".pub"],
                    timeout=15)
                self.extra_config += "\nHostCertificate %s-cert.pub\n" % p
        self.known_hosts.write_text("".join("%s %s\n" % (self.hostport, self.host_keys[t])
                                            for t in ("ecdsa", "rsa")
                                            if t in self.host_key_types) or
                                    "%s %s\n" % (self.hostport, self.host_keys["ed25519"]))
        self.config_path.write_text(_SSHD_CONFIG.format(
            host=self.host, port=self.port,
            hostkeys="\n".join("HostKey %s" % self.hostkey_paths[t]
                               for t in ("ecdsa", "rsa", "ed25519")
                               if t in self.host_key_types),
            authorized_keys=self.authorized_keys_file, extra=self.extra_config,
            subsystem="Subsystem sftp internal-sftp" if self.sftp else "# no SFTP subsystem",
            sanitizer_env=_sanitizer_env()))
        ensure_privsep_dir()
        run([SSHD, "-t", "-f", self.config_path], timeout=15)
        self._spawn(self.wrap + [SSHD, "-D", "-e", "-f", self.config_path], self.workdir / "sshd.log")

    def _banner(self):
        with socket.create_connection((self.host, self.port), timeout=1) as s:
            s.settimeout(1)
            return s.recv(64).startswith(b"SSH-2.0-")

    def wait_ready(self):
        try:
            wait_for(self._banner, self.timeout, "sshd on %s" % self.hostport,
                     proc=self.proc, log=self.log_path)
        except Exception:
            self.stop()
            raise

    def known_hosts_line(self, key_type="ecdsa", as_host=None):
        """A known_hosts line for this server's key, optionally under another name."""
        return "%s %s\n" % (as_host or self.hostport, self.host_keys[key_type])

    def ssh_args(self, known_hosts=None, key=None, user="root"):
        key = key or self.client_key
        return [SSH, "-F", "/dev/null",
                "-p", str(self.port),
                "-i", str(key.path if isinstance(key, ClientKey) else key),
                "-o", "IdentitiesOnly=yes",
                "-o", "StrictHostKeyChecking=yes",
                "-o", "UserKnownHostsFile=%s" % (known_hosts or self.known_hosts),
                "-o", "GlobalKnownHostsFile=/dev/null",
                "-o", "UpdateHostKeys=no",
                "-o", "BatchMode=yes",
                "-o", "ConnectTimeout=5",
                "-o", "LogLevel=ERROR",
                "%s@%s" % (user, self.host)]

    def ssh(self, cmd, known_hosts=None, key=None, timeout=30, check=False, input=None):
        """Run CMD on the server; returns CompletedProcess (text)."""
        return run(self.ssh_args(known_hosts, key) + ["--", cmd], timeout=timeout,
                   check=check, input=input, **({} if input is not None
                                                else {"stdin": subprocess.DEVNULL}))


def start_many_sshd(workdir, n, first_host=2, **kw):
    """Start N sshd on 127.0.0.<first_host>... concurrently (keygen in parallel)."""
    servers = []
    try:
        for i in range(n):
            host = "127.0.0.%d" % (first_host + i)
            servers.append(Sshd(Path(workdir) / host, host=host, _defer=True, **kw))
        for s in servers:
            s.launch()
        for s in servers:
            s.wait_ready()
    except Exception:
        for s in servers:
            s.stop()
            for p in s._keygen:
                if p.poll() is None:
                    p.kill()
        raise
    return servers


# --------------------------------------------------------------------------
# nginx sites for the `--nginx` tests (issue 4)

def random_loopback():
    """A random 127.x.y.z address: lets a test's nginx bind port 443 (we run as root)
    without colliding with other test runs on 127.0.0.1."""
    while True:
        addr = "127.%d.%d.%d" % (random.randint(1, 254), random.randint(0, 254),
                                 random.randint(2, 254))
        if not tcp_open(addr, 443, timeout=0.2):
            return addr


class NginxSite(Nginx):
    """Nginx whose server blocks and extra files (relative to the prefix, e.g.
    "sites-enabled/default") may use @ADDR@ (the site's loopback address),
    @PORT@ and @PREFIX@; readiness is checked on addr:port."""

    def __init__(self, prefix, servers=None, port=None, addr="127.0.0.1", files=None,
                 timeout=10):
        self.site_addr = addr
        prefix = Path(prefix)
        port = port or free_port()
        self._subst = lambda t: (t.replace("@ADDR@", addr).replace("@PORT@", str(port))
                                 .replace("@PREFIX@", str(prefix)))
        for rel, text in (files or {}).items():
            p = prefix / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(text, tuple) and text[0] == "symlink":
                p.symlink_to(text[1])          # ("symlink", "../sites-available/x")
            else:
                p.write_text(self._subst(text))
        super().__init__(prefix, servers=servers, port=port, timeout=timeout)

    def render(self, servers):
        if isinstance(servers, str):
            servers = self._subst(servers)
        return super().render(servers)

    def _ready(self):
        return (self.pid_file.exists() and self.pid_file.read_text().strip() == str(self.proc.pid)
                and self.worker_pids() and tcp_open(self.site_addr, self.port))

    def files(self):
        """{path: bytes} of every regular file under the prefix's config dirs."""
        out = {}
        for sub in ("conf", "conf.d", "sites-enabled", "sites-available", "snippets"):
            d = self.prefix / sub
            if d.exists():
                for p in sorted(d.rglob("*")):
                    if p.is_file():
                        out[str(p)] = p.read_bytes()
        return out


# --------------------------------------------------------------------------
# a small TLS server answering every GET with one JSON document

class JsonTlsServer:
    """HTTPS on 127.0.0.1 (a free port) with CERT/KEY; every GET gets the JSON
    document doc() returns (called per request).  .port; stop()."""

    def __init__(self, cert, key, doc):
        import http.server
        import threading

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps(doc()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
