"""certfleet-agent --nginx on the real-world configurations of issue 15: each test is
the minimal configuration of one failure found by running the agent against 58
third-party nginx configurations, with a real nginx, a real Pebble (whose VA fetches
the challenge through that nginx) and curl from outside.
"""
import subprocess

from cfutil import random_loopback
from test_nginx import EXIT, case  # noqa: F401  (fixture)


def old_cert(tmp_path, cn):
    d = tmp_path / ("old-" + cn)
    d.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"),
                    "-days", "2", "-subj", "/CN=" + cn], check=True, capture_output=True)
    return d / "cert.pem", d / "key.pem"


def get(c, name, url_path="/", https=True, addr=None, extra=()):
    """curl for another name of the case's site (same address unless addr)."""
    port = c.https_port if https else c.pebble.http_port
    scheme = "https" if https else "http"
    a = addr or c.addr
    url = "%s://%s:%d%s" % (scheme, name, port, url_path)
    return subprocess.run(["curl", "-sS", "-g", "--max-time", "10", "--resolve",
                           "%s:%d:%s" % (name, port, a), "--cacert", str(c.root_pem), *extra, url],
                          capture_output=True, text=True, timeout=30)


def status_of(c, name, url_path, addr=None):
    r = get(c, name, url_path, https=False, addr=addr,
            extra=("-o", "/dev/null", "-w", "%{http_code} %{redirect_url}"))
    return r.stdout.strip()


# ---- item 1: every name of the certificate is served over HTTPS with it

def test_multi_name_repoints_every_https_server(case, tmp_path):
    ca, ka = old_cert(tmp_path, "a.example.test")
    cb, kb = old_cert(tmp_path, "b.example.test")
    c = case("a.example.test", servers="""\
    server {
        listen @ADDR@:443 ssl;
        server_name a.example.test;
        ssl_certificate %s;
        ssl_certificate_key %s;
        return 200 "a over https\\n";
    }
    server {
        listen @ADDR@:443 ssl;
        server_name b.example.test;
        ssl_certificate %s;
        ssl_certificate_key %s;
        return 200 "b over https\\n";
    }
    server {
        listen @ADDR@:@PORT@;
        server_name a.example.test b.example.test;
        root @PREFIX@/www;
    }
""" % (ca, ka, cb, kb))
    c.cts.add_a("b.example.test", c.addr)
    c.issue(names=["a.example.test", "b.example.test"])
    for n in ("a", "b"):
        r = get(c, "%s.example.test" % n)
        assert r.returncode == 0, (n, r.stderr)            # the new certificate, verified
        assert r.stdout == "%s over https\n" % n
        assert status_of(c, "%s.example.test" % n, "/x") == "301 https://%s.example.test/x" % n
    c.check_idempotent_and_remove()


def test_multi_name_creates_the_missing_https_server(case, tmp_path):
    cb, kb = old_cert(tmp_path, "b.example.test")
    c = case("a.example.test", servers="""\
    server {
        listen @ADDR@:443 ssl;
        server_name b.example.test;
        ssl_certificate %s;
        ssl_certificate_key %s;
        return 200 "b over https\\n";
    }
    server {
        listen @ADDR@:@PORT@;
        server_name a.example.test b.example.test;
        root @PREFIX@/www;
    }
""" % (cb, kb))
    c.cts.add_a("b.example.test", c.addr)
    c.issue(names=["a.example.test", "b.example.test"])
    r = get(c, "a.example.test")
    assert r.returncode == 0 and r.stdout == "hello from a.example.test\n", (r.stdout, r.stderr)
    r = get(c, "b.example.test")
    assert r.returncode == 0 and r.stdout == "b over https\n", (r.stdout, r.stderr)
    c.check_idempotent_and_remove()


# ---- item 5: the challenge exemption survives internal redirects

def test_challenge_exemption_survives_error_page_and_front_controller(case):
    c = case("wp.example.test", servers="""\
    server {
        listen @ADDR@:@PORT@;
        server_name wp.example.test;
        root @PREFIX@/www;
        index index.html;
        error_page 404 /404.html;
        location / {
            try_files $uri $uri/ /index.php?$args;
        }
        location ~ \\.php$ { return 200 "front controller\\n"; }
        location = /404.html { return 404 "not here\\n"; }
    }
""")
    c.issue()
    c.check_served("hello from wp.example.test")
    # a token that is not there: 404 from plain HTTP, not a redirect after error_page
    assert status_of(c, c.domain, "/.well-known/acme-challenge/missing").startswith("404")
    # a page the front controller answers is still redirected
    assert status_of(c, c.domain, "/blog/post?p=1") == "301 https://wp.example.test/blog/post?p=1"
    c.check_idempotent_and_remove()


# ---- item 6: the challenge location opens itself

def test_challenge_location_opens_access_rules(case, tmp_path):
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("admin:$apr1$x5Yk3yBv$0q2R0YqxQzNcbC9tE0dHo/\n")
    c = case("intranet.example.test", servers="""\
    server {
        listen @ADDR@:@PORT@;
        server_name intranet.example.test;
        root @PREFIX@/www;
        allow 10.0.0.0/8;
        deny all;
        auth_basic "staff only";
        auth_basic_user_file %s;
    }
""" % htpasswd)
    assert status_of(c, c.domain, "/").startswith("403")
    c.issue()
    # the challenge path is open, the rest of the site is as closed as it was
    assert status_of(c, c.domain, "/.well-known/acme-challenge/missing").startswith("404")
    r = get(c, c.domain, "/", extra=("-o", "/dev/null", "-w", "%{http_code}"))
    assert r.returncode == 0 and r.stdout == "403"
    c.check_idempotent_and_remove()
