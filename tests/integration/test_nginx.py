"""certfleet-agent --nginx / nginx install|remove|show against a real nginx, a real
Pebble (whose VA fetches the challenge through that nginx) and curl from outside.

Each layout of issue 4 has its own test.  nginx listens on Pebble's HTTP port; where
the site listens on its own loopback address (127.x.y.z) the HTTPS server uses port
443 on that address (the tests run as root), otherwise a free port (--https-port).
"""
import os
import subprocess
from pathlib import Path

import pytest

from cfutil import free_port, random_loopback

EXIT = {"USAGE": 64, "INVALID_INPUT": 65, "NGINX_INVALID": 79, "NOTHING_TO_DO": 2}


class NginxCase:
    def __init__(self, bins, tmp_path, pebble, cts, nginx, domain, addr, https_port):
        self.bin = bins.need_agent()
        self.prefix = tmp_path / "root"
        self.pebble, self.cts, self.nginx = pebble, cts, nginx
        self.domain, self.addr, self.https_port = domain, addr, https_port
        self.root_pem = tmp_path / "pebble-root.pem"
        self.root_pem.write_text(pebble.roots_pem())
        if addr != "127.0.0.1":
            cts.add_a(domain, addr)
        self.original = nginx.files()

    def run(self, *args, check=None, timeout=120):
        cmd = [str(self.bin), "--prefix", str(self.prefix), *[str(a) for a in args]]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check is not None and r.returncode != check:
            raise AssertionError("%s -> %d (want %d)\nstdout: %s\nstderr: %s" %
                                 (" ".join(cmd), r.returncode, check, r.stdout, r.stderr))
        return r

    def nginx_args(self, bin=None):
        return ["--nginx-conf", self.nginx.conf, "--http-port", self.pebble.http_port,
                "--https-port", self.https_port] + (["--nginx-bin", bin] if bin else [])

    def issue(self, *extra, check=0, names=None):
        args = ["issue"]
        for n in names or [self.domain]:
            args += ["-d", n]
        args += ["--nginx", *self.nginx_args(), "--server", self.pebble.directory,
                 "--ca-file", self.pebble.ca_file, "--resolver", self.cts.dns_addr, "--agree-tos"]
        return self.run(*args, *extra, check=check)

    def install(self, *extra, check=0, bin=None):
        return self.run("nginx", "install", "-d", self.domain, *self.nginx_args(bin), *extra,
                        check=check)

    def remove(self, check=0, bin=None):
        return self.run("nginx", "remove", "-d", self.domain, *self.nginx_args(bin), check=check)

    def _resolve(self, port):
        a = "[%s]" % self.addr if ":" in self.addr else self.addr
        return "%s:%d:%s" % (self.domain, port, a)

    def curl(self, url, port, *extra):
        r = subprocess.run(["curl", "-sS", "-g", "--max-time", "10", "--resolve", self._resolve(port),
                            *extra, url], capture_output=True, text=True, timeout=30)
        return r

    def https_get(self, path="/"):
        url = "https://%s:%d%s" % (self.domain, self.https_port, path)
        return self.curl(url, self.https_port, "--cacert", str(self.root_pem))

    def http_status(self, path):
        url = "http://%s:%d%s" % (self.domain, self.pebble.http_port, path)
        r = self.curl(url, self.pebble.http_port, "-o", "/dev/null",
                      "-w", "%{http_code} %{redirect_url}")
        return r.stdout.strip()

    def https_url(self, path):
        port = "" if self.https_port == 443 else ":%d" % self.https_port
        return "https://%s%s%s" % (self.domain, port, path)

    def check_served(self, body_marker):
        """The whole promise of install, checked from outside."""
        self.nginx.test_config()
        r = self.https_get("/")
        assert r.returncode == 0, r.stderr          # chain verified against Pebble's root
        assert body_marker in r.stdout, r.stdout
        assert self.http_status("/x?y=1") == "301 " + self.https_url("/x?y=1")
        # challenges stay on plain HTTP (404: no such token, but not redirected)
        assert self.http_status("/.well-known/acme-challenge/nothing-here").startswith("404")

    def check_idempotent_and_remove(self, redirected_before=False):
        after = self.nginx.files()
        r = self.install(check=EXIT["NOTHING_TO_DO"])
        assert "nothing changed" in r.stdout
        assert self.nginx.files() == after
        self.remove(check=0)
        assert self.nginx.files() == self.original
        self.nginx.test_config()
        # nginx runs the original configuration again: no redirect (unless the site had its own)
        assert self.http_status("/x?y=1").startswith("301") == redirected_before
        assert not (self.prefix / "var/lib/certfleet/nginx" / self.domain).exists()


def site_dir(nginx_prefix_hint, name, text):
    return {"www-%s/index.html" % name: text}


def make_case(bins, tmp_path, pebble, nginx_site_factory, domain, servers=None, files=None,
              on_own_addr=True, https_port=None):
    addr = random_loopback() if on_own_addr else "127.0.0.1"
    if https_port is None:
        https_port = 443 if on_own_addr else free_port()
    files = dict(files or {})
    files["www/index.html"] = "hello from %s\n" % domain
    ngx = nginx_site_factory(servers=servers or "    # servers are in the included files\n",
                             port=pebble.http_port, addr=addr, files=files)
    return NginxCase(bins, tmp_path, pebble, pebble_cts(pebble), ngx, domain, addr, https_port)


_CTS = {}


def pebble_cts(pebble):
    return _CTS[id(pebble)]


@pytest.fixture
def case(bins, tmp_path, pebble, challtestsrv, nginx_site_factory):
    _CTS[id(pebble)] = challtestsrv

    def make(domain, **kw):
        return make_case(bins, tmp_path, pebble, nginx_site_factory, domain, **kw)
    return make


DEBIAN_DEFAULT = """\
##
# Debian's default server configuration (as shipped), on the test's port
##
server {
	listen @PORT@ default_server;
	listen [::]:@PORT@ default_server;

	root @PREFIX@/html;

	# Add index.php to the list if you are using PHP
	index index.html index.htm index.nginx-debian.html;

	server_name _;

	location / {
		# First attempt to serve request as file, then
		# as directory, then fall back to displaying a 404.
		try_files $uri $uri/ =404;
	}
}
"""

DEBIAN_SITE = """\
server {
	listen @PORT@;
	listen [::]:@PORT@;
	server_name deb.example.test;
	root @PREFIX@/www;
	index index.html;
	location / {
		try_files $uri $uri/ =404;
	}
}
"""


def test_debian_default_and_sites_enabled(case):
    c = case("deb.example.test", on_own_addr=False, files={
        "sites-enabled/default": DEBIAN_DEFAULT,
        "sites-available/deb.example.test": DEBIAN_SITE,
        "sites-enabled/deb.example.test": ("symlink", "../sites-available/deb.example.test"),
    })
    r = c.run("nginx", "show", "-d", "deb.example.test", *c.nginx_args(), check=0)
    assert "sites-enabled/deb.example.test:1 (exact name)" in r.stdout
    r = c.run("nginx", "show", "-d", "other.example.test", *c.nginx_args(), check=0)
    assert "sites-enabled/default:4 (default server" in r.stdout
    c.issue()
    link = c.nginx.prefix / "sites-enabled/deb.example.test"
    assert link.is_symlink()                      # the link is kept, its target edited
    assert c.nginx.files()[str(c.nginx.prefix / "sites-enabled/default")] == \
        c.original[str(c.nginx.prefix / "sites-enabled/default")]
    c.check_served("hello from deb.example.test")
    text = (c.nginx.prefix / "sites-available/deb.example.test").read_text()
    assert "listen %d ssl;" % c.https_port in text and "listen [::]:%d ssl;" % c.https_port in text
    c.check_idempotent_and_remove()


TRICKY = """\
    # a comment with { braces } and ; semicolons that must survive
    map $http_user_agent $cf_test_ua {
        default            "plain;{}";
        "~*curl/[0-9]+"    "curl; {agent}";
    }
    upstream cf_backend { server 127.0.0.1:9; keepalive 2; }
    log_format cf_fmt '$remote_addr "{" ; "}" $request';
    server {
        listen @ADDR@:@PORT@;
        server_name tricky.example.test;   # the site } ;
        root @PREFIX@/www;
        add_header X-UA "$cf_test_ua";
        location ~ "^/img/(a|b){1,2}\\.png$" { return 200 'regex; {ok}\\n'; }
        location ~* \\.(php)$ { proxy_pass http://cf_backend; }
        location / {
            if ($arg_block = "yes;{}") { return 403 "blocked }"; }
            try_files $uri $uri/ =404;
        }
    }
"""


def test_comments_quotes_regex_map_upstream_if(case):
    c = case("tricky.example.test", servers=TRICKY)
    c.issue()
    c.check_served("hello from tricky.example.test")
    # the site's own directives came along to HTTPS, with their quoting intact
    r = c.https_get("/img/ab.png")
    assert r.stdout == "regex; {ok}\n"
    r = c.https_get("/?block=yes;{}")
    assert r.stdout == "blocked }"
    r = c.curl(c.https_url("/"), c.https_port, "--cacert", str(c.root_pem), "-D", "-", "-o", "/dev/null")
    assert "X-UA: curl; {agent}" in r.stdout
    assert "strict-transport-security" not in r.stdout.lower()      # HSTS only with --hsts
    conf = c.nginx.conf.read_text()
    assert "# a comment with { braces } and ; semicolons that must survive" in conf
    c.check_idempotent_and_remove()


def test_existing_443_server_with_old_certificate(case, tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", str(old / "key.pem"), "-out", str(old / "cert.pem"),
                    "-days", "2", "-subj", "/CN=old.example.test"], check=True, capture_output=True)
    c = case("old.example.test", servers="""\
    server {
        listen @ADDR@:@PORT@;
        server_name old.example.test;
        root @PREFIX@/www;
    }
    server {
        listen @ADDR@:443 ssl;
        server_name old.example.test;
        ssl_certificate     %s;
        ssl_certificate_key "%s";
        root @PREFIX@/www;
    }
""" % (old / "cert.pem", old / "key.pem"))
    assert c.https_get("/").returncode != 0          # the old self-signed one does not verify
    c.issue()
    c.check_served("hello from old.example.test")
    conf = c.nginx.conf.read_text()
    assert conf.count("listen %s:443 ssl;" % c.addr) == 1     # re-pointed, not duplicated
    assert "HTTPS server for" not in conf
    assert str(old / "cert.pem") not in conf
    c.check_idempotent_and_remove()


def test_several_sites_in_one_file_only_one_targeted(case):
    sites = """\
# three sites in one file
server {
    listen @ADDR@:@PORT@;
    server_name one.example.test;
    return 200 "one\\n";
}
server {
    listen @ADDR@:@PORT@;
    server_name two.example.test www.two.example.test;
    root @PREFIX@/www;
}
server {
    listen @ADDR@:@PORT@;
    server_name three.example.test;
    return 200 "three\\n";
}
"""
    c = case("two.example.test", files={"conf.d/sites.conf": sites})
    path = c.nginx.prefix / "conf.d/sites.conf"
    before = path.read_text()
    c.issue()
    c.check_served("hello from two.example.test")
    after = path.read_text()
    one = before[:before.index("server {\n    listen @ADDR@".replace("@ADDR@", c.addr), 30)]
    assert after.startswith(one)                                  # site one byte-identical
    three = before[before.index("server {\n    listen %s:%d;\n    server_name three" %
                                (c.addr, c.pebble.http_port)):]
    assert after.endswith(three)                                  # site three byte-identical
    # www.two is served by the same block but not covered by the certificate: not redirected
    r = c.curl("http://www.two.example.test:%d/x" % c.pebble.http_port, c.pebble.http_port,
               "-o", "/dev/null", "-w", "%{http_code}", "--resolve",
               "www.two.example.test:%d:%s" % (c.pebble.http_port, c.addr))
    assert r.stdout == "404"
    c.check_idempotent_and_remove()


def test_deferred_reuseport_listen_options_not_copied(case):
    c = case("dr.example.test", servers="""\
    server {
        listen @ADDR@:@PORT@ deferred reuseport backlog=511 default_server;
        server_name dr.example.test;
        root @PREFIX@/www;
    }
""")
    c.issue("--hsts")
    c.check_served("hello from dr.example.test")
    r = c.curl(c.https_url("/"), c.https_port, "--cacert", str(c.root_pem), "-D", "-", "-o", "/dev/null")
    assert "strict-transport-security: max-age=31536000" in r.stdout.lower()
    conf = c.nginx.conf.read_text()
    assert "listen %s:443 ssl;" % c.addr in conf
    listens = [ln.strip() for ln in conf.splitlines() if ln.strip().startswith("listen ")]
    assert len(listens) == 2, listens
    opts = " ".join(listens)
    assert opts.count("deferred") == 1 and opts.count("reuseport") == 1
    assert opts.count("backlog") == 1 and opts.count("default_server") == 1
    c.check_idempotent_and_remove()


def test_ipv6_listens(case):
    c = case("v6.example.test", https_port=free_port(), servers="""\
    server {
        listen @ADDR@:@PORT@;
        listen [::1]:@PORT@;
        server_name v6.example.test;
        root @PREFIX@/www;
    }
""")
    c.issue()
    c.check_served("hello from v6.example.test")
    conf = c.nginx.conf.read_text()
    assert "listen [::1]:%d ssl;" % c.https_port in conf
    # HTTPS answers on IPv6 too
    r = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", str(c.root_pem), "--resolve",
                        "v6.example.test:%d:[::1]" % c.https_port,
                        "https://v6.example.test:%d/" % c.https_port], capture_output=True, text=True)
    assert r.returncode == 0 and "hello from v6" in r.stdout, r.stderr
    c.check_idempotent_and_remove()


WRAPPER = """#!/bin/sh
# nginx, except that every configuration test fails
for a in "$@"; do
  if [ "$a" = "-t" ]; then
    echo "nginx: [emerg] injected failure for the test" >&2
    echo "nginx: configuration file test failed" >&2
    exit 1
  fi
done
exec /usr/sbin/nginx "$@"
"""


def test_failing_nginx_t_leaves_every_file_byte_identical(case, tmp_path):
    c = case("fail.example.test", servers="""\
    server {
        listen @ADDR@:@PORT@;
        server_name fail.example.test;   # keep
        root @PREFIX@/www;
    }
""")
    wrapper = tmp_path / "nginx-wrapper"
    wrapper.write_text(WRAPPER)
    wrapper.chmod(0o755)
    # issuing through nginx: the challenge location fails the test -> nothing changed
    r = c.issue("--nginx-bin", str(wrapper), check=EXIT["NGINX_INVALID"])
    assert "NGINX_INVALID" in r.stderr and "injected failure" in r.stderr
    assert c.nginx.files() == c.original
    # issue without install, then install with the failing nginx -t
    c.issue("--no-install")
    assert c.nginx.files() != c.original                 # the challenge location is in
    with_challenge = c.nginx.files()
    r = c.install(bin=str(wrapper), check=EXIT["NGINX_INVALID"])
    assert "NGINX_INVALID" in r.stderr and "injected failure" in r.stderr
    assert c.nginx.files() == with_challenge
    assert not c.http_status("/x?y=1").startswith("301")  # no redirect was loaded
    # then the real thing works, and remove goes back to the very first bytes
    c.install()
    c.check_served("hello from fail.example.test")
    c.remove()
    assert c.nginx.files() == c.original


def test_parse_refusal_changes_nothing(case):
    c = case("ref.example.test", servers="""\
    server {
        listen @ADDR@:@PORT@;
        server_name ref.example.test;
        root @PREFIX@/www;
    }
""")
    bad = c.nginx.prefix / "conf.d/broken.conf"
    # nginx itself would refuse this file too, but it is not loaded yet
    bad.write_text("server { listen 1; \"unterminated;\n")
    c.original = c.nginx.files()
    r = c.run("nginx", "show", "-d", c.domain, *c.nginx_args(), check=84)
    assert "NGINX_PARSE" in r.stderr and "broken.conf:" in r.stderr
    r = c.issue(check=84)
    assert c.nginx.files() == c.original


def test_status_compares_served_serial_and_reload_after_new_certificate(case):
    c = case("st.example.test", servers="""\
    server {
        listen @ADDR@:@PORT@;
        server_name st.example.test;
        root @PREFIX@/www;
    }
""")

    def status():
        import json
        r = c.run("status", "--json", "-d", c.domain, check=0)
        [st] = json.loads(r.stdout)["certificates"]
        return st

    c.issue()
    st = status()
    assert st["nginx"] == {"servesLiveCertificate": True, "servedSerial": st["state"]["serial"]}
    assert "nginx serves it over HTTPS with the live certificate" in c.run("status", check=0).stdout
    first = st["state"]["serial"]
    # a new certificate that nobody reloaded nginx for: status says so
    c.issue("--force", "--no-install")
    st = status()
    assert st["state"]["serial"] != first
    assert st["nginx"] == {"servesLiveCertificate": False, "servedSerial": first}
    assert "does NOT serve the live certificate" in c.run("status", check=0).stdout
    # install finds its edits in place and reloads for the new certificate
    r = c.install(check=0)
    assert "reloaded" in r.stdout
    assert status()["nginx"]["servesLiveCertificate"] is True
    # a renewal through issue --nginx reloads by itself (the configuration is unchanged)
    files = c.nginx.files()
    c.issue("--force")
    st = status()
    assert st["nginx"]["servesLiveCertificate"] is True and st["state"]["serial"] != first
    assert c.nginx.files() == files
    # a lineage not in nginx has "nginx": null
    c.remove()
    assert status()["nginx"] is None


def test_one_server_for_http_and_https(case, tmp_path):
    """A single block listening on both ports: its certificate is re-pointed and the
    redirect must not loop on HTTPS."""
    old = tmp_path / "old"
    old.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", str(old / "key.pem"), "-out", str(old / "cert.pem"),
                    "-days", "2", "-subj", "/CN=both.example.test"], check=True, capture_output=True)
    c = case("both.example.test", servers="""\
    server {
        listen @ADDR@:@PORT@;
        listen @ADDR@:443 ssl;
        server_name both.example.test;
        ssl_certificate %s;
        ssl_certificate_key %s;
        root @PREFIX@/www;
    }
""" % (old / "cert.pem", old / "key.pem"))
    c.issue()
    c.check_served("hello from both.example.test")
    r = c.curl(c.https_url("/x"), c.https_port, "--cacert", str(c.root_pem), "-o", "/dev/null",
               "-w", "%{http_code}")
    assert r.stdout == "404"                       # not redirected again over HTTPS
    assert "HTTPS server for" not in c.nginx.conf.read_text()
    c.check_idempotent_and_remove()


def test_concurrent_installs_of_two_sites_in_one_file(case, bins, tmp_path):
    """Two lineages edit the same file at the same time: neither edit is lost."""
    c = case("c1.example.test", files={"conf.d/two.conf": """\
server { listen @ADDR@:@PORT@; server_name c1.example.test; root @PREFIX@/www; }
server { listen @ADDR@:@PORT@; server_name c2.example.test; root @PREFIX@/www; }
"""})
    c.cts.add_a("c2.example.test", c.addr)
    c.issue("--no-install")
    c.issue("--no-install", names=["c2.example.test"])
    procs = [subprocess.Popen([str(c.bin), "--prefix", str(c.prefix), "nginx", "install", "-d", d,
                               *[str(a) for a in c.nginx_args()]],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for d in ("c1.example.test", "c2.example.test")]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, out + err
    text = (c.nginx.prefix / "conf.d/two.conf").read_text()
    assert "HTTPS server for c1.example.test" in text and "HTTPS server for c2.example.test" in text
    c.check_served("hello from c1.example.test")


def test_names_in_two_server_blocks_and_remove_refuses_foreign_changes(case):
    c = case("m1.example.test", servers="""\
    server {
        listen @ADDR@:@PORT@;
        server_name m1.example.test;
        root @PREFIX@/www;
    }
    server {
        listen @ADDR@:@PORT@;
        server_name m2.example.test;
        return 200 "m2 over $scheme\\n";
    }
""")
    c.cts.add_a("m2.example.test", c.addr)
    c.issue(names=["m1.example.test", "m2.example.test"])
    c.check_served("hello from m1.example.test")
    # the second name's own block got its HTTPS twin and redirect, with its own content
    r = subprocess.run(["curl", "-sS", "--cacert", str(c.root_pem), "--resolve",
                        "m2.example.test:443:%s" % c.addr, "https://m2.example.test/"],
                       capture_output=True, text=True)
    assert r.stdout == "m2 over https\n", r.stderr
    r = c.curl("http://m2.example.test:%d/a?b" % c.pebble.http_port, c.pebble.http_port, "-o",
               "/dev/null", "-w", "%{http_code} %{redirect_url}", "--resolve",
               "m2.example.test:%d:%s" % (c.pebble.http_port, c.addr))
    assert r.stdout == "301 https://m2.example.test/a?b"
    after = c.nginx.files()
    assert c.install(check=EXIT["NOTHING_TO_DO"]) and c.nginx.files() == after
    # someone edits the file after us: remove refuses and writes nothing
    conf = c.nginx.conf
    conf.write_text(conf.read_text() + "# an admin's line\n")
    edited = c.nginx.files()
    r = c.remove(check=EXIT["INVALID_INPUT"])
    assert "was changed since certfleet edited it" in r.stderr
    assert c.nginx.files() == edited


def test_site_already_redirecting_at_server_level(case, tmp_path):
    """`return 301 https://...` at server level runs before any location: the challenge
    must still get through (nginx answers the CA), and the HTTPS side gets the cert."""
    old = tmp_path / "old"
    old.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", str(old / "key.pem"), "-out", str(old / "cert.pem"),
                    "-days", "2", "-subj", "/CN=redir.example.test"], check=True, capture_output=True)
    c = case("redir.example.test", servers="""\
    server {
        listen @ADDR@:@PORT@;
        server_name redir.example.test;
        return 301 https://$host$request_uri;
    }
    server {
        listen @ADDR@:443 ssl;
        server_name redir.example.test;
        ssl_certificate %s;
        ssl_certificate_key %s;
        root @PREFIX@/www;
    }
""" % (old / "cert.pem", old / "key.pem"))
    c.issue()
    c.check_served("hello from redir.example.test")
    c.check_idempotent_and_remove(redirected_before=True)


def test_install_failing_after_issuing_is_rolled_back_and_recorded(case, tmp_path):
    """nginx -t fails only once the HTTPS server is in: the certificate is issued and
    live, every file is as it was before the install, status tells what failed."""
    import json
    c = case("late.example.test", servers="""\
    server {
        listen @ADDR@:@PORT@;
        server_name late.example.test;
        root @PREFIX@/www;
    }
""")
    wrapper = tmp_path / "nginx-no-https"
    wrapper.write_text('#!/bin/sh\n'
                       'if [ "$3" = "-t" ] && grep -q "HTTPS server for" "$2"; then\n'
                       '  echo "nginx: [emerg] injected: no HTTPS server today" >&2; exit 1\n'
                       'fi\n'
                       'exec /usr/sbin/nginx "$@"\n')
    wrapper.chmod(0o755)
    r = c.issue("--nginx-bin", str(wrapper), check=EXIT["NGINX_INVALID"])
    assert "no HTTPS server today" in r.stderr
    text = c.nginx.conf.read_text()
    assert "acme-challenge" in text and "HTTPS server for" not in text and "301" not in text
    st = json.loads(c.run("status", "--json", "-d", c.domain, check=0).stdout)["certificates"][0]
    assert st["state"]["sslStatus"] == "active"
    assert st["state"]["lastError"]["code"] == "NGINX_INVALID"
    c.install()
    c.check_served("hello from late.example.test")
    c.remove()
    assert c.nginx.files() == c.original
