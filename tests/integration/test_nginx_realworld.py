"""certfleet-agent --nginx on the real-world configurations of issue 15: each test is
the minimal configuration of one failure found by running the agent against 58
third-party nginx configurations, with a real nginx, a real Pebble (whose VA fetches
the challenge through that nginx) and curl from outside.
"""
import subprocess

from cfutil import free_port, random_loopback
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


def test_multi_name_refused_before_any_change_when_a_name_cannot_get_https(case):
    c = case("a.example.test", servers="""\
    server {
        listen @ADDR@:443;
        server_name b.example.test;
        return 200 "b is plain http on 443\\n";
    }
    server {
        listen @ADDR@:@PORT@;
        server_name a.example.test b.example.test;
        root @PREFIX@/www;
    }
""")
    c.cts.add_a("b.example.test", c.addr)
    c.issue("--no-install", names=["a.example.test", "b.example.test"])
    before = c.nginx.files()
    r = c.install(check=EXIT["NGINX_INVALID"])
    assert "does not listen there with ssl" in r.stderr and "nothing was changed" in r.stderr, r.stderr
    assert c.nginx.files() == before


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


# ---- item 2: the probe goes where the chosen block listens

def test_probe_avoids_address_taken_by_a_more_specific_listen(case):
    c = case("site.example.test", https_port=free_port(), servers="""\
    server {
        listen 127.0.0.1:@PORT@;
        server_name localhost;
        location /nginx_status { stub_status; }
    }
    server {
        listen @PORT@;
        server_name site.example.test;
        root @PREFIX@/www;
    }
""")
    c.issue()
    c.check_served("hello from site.example.test")
    log = c.nginx.access_log.read_text()
    assert "certfleet-nginx-probe-" in log
    # --no-preflight: no probe through nginx
    c.issue("--force", "--no-preflight")
    assert c.nginx.access_log.read_text().count("certfleet-nginx-probe-") == log.count("certfleet-nginx-probe-")
    c.check_served("hello from site.example.test")


# ---- item 3: a regex with a capital letter is caseless in nginx

def test_regex_server_name_with_capitals(case):
    c = case("www.caps.example.test", servers="""\
    server {
        listen @ADDR@:@PORT@;
        server_name default.example.test;
        return 200 "default\\n";
    }
    server {
        listen @ADDR@:@PORT@;
        server_name ~^WWW\\.CAPS\\.EXAMPLE\\.TEST$;
        root @PREFIX@/www;
    }
""")
    # the oracle: nginx itself gives the name to the regex's block
    r = get(c, c.domain, "/", https=False)
    assert r.stdout == "hello from www.caps.example.test\n", r.stdout
    r = c.run("nginx", "show", "-d", c.domain, *c.nginx_args(), check=0)
    assert "(regular expression)" in r.stdout and "CAPS" in r.stdout
    c.issue()
    c.check_served("hello from www.caps.example.test")
    c.check_idempotent_and_remove()


# ---- item 4: a regex the matcher cannot judge is refused before any edit

def test_regex_the_matcher_cannot_judge_is_refused(case):
    c = case("www.pcre.example.test", servers="""\
    server {
        listen @ADDR@:@PORT@ default_server;
        server_name other.example.test;
        root @PREFIX@/www;
    }
    server {
        listen @ADDR@:@PORT@;
        server_name "~^(?=www\\.)www\\.pcre\\.example\\.test$";
        return 200 "lookahead block\\n";
    }
""")
    assert get(c, c.domain, "/", https=False).stdout == "lookahead block\n"   # nginx's choice
    r = c.issue(check=94)
    assert "NGINX_REGEX" in r.stderr and "nginx.conf:" in r.stderr, r.stderr
    assert c.nginx.files() == c.original
    r = c.run("nginx", "install", "-d", c.domain, *c.nginx_args(), check=None)
    assert c.nginx.files() == c.original


# ---- item 8: an HTTPS server that cannot complete a handshake is not a success

def test_repointed_server_without_a_usable_protocol_is_rolled_back(case, tmp_path):
    cert, key = old_cert(tmp_path, "tls.example.test")
    c = case("tls.example.test", servers="""\
    server {
        listen @ADDR@:@PORT@;
        server_name tls.example.test;
        root @PREFIX@/www;
    }
    server {
        listen @ADDR@:443 ssl;
        server_name tls.example.test;
        ssl_certificate %s;
        ssl_certificate_key %s;
        ssl_protocols SSLv2 SSLv3 TLSv1;
        root @PREFIX@/www;
    }
""" % (cert, key))
    c.issue("--no-install")
    before = c.nginx.files()
    r = c.install(check=EXIT["NGINX_INVALID"])
    assert "TLS handshake" in r.stderr and "rolled back" in r.stderr, r.stderr
    assert c.nginx.files() == before
    assert not c.http_status("/x").startswith("301")           # no redirect left loaded
    c.remove()
    assert c.nginx.files() == c.original


# ---- item 9: blocks are chosen by the address the name reaches

def test_block_chosen_by_the_address_the_name_resolves_to(case):
    c = case("n9.example.test", servers="""\
    server {
        listen 127.0.0.1:@PORT@;
        server_name n9.example.test;
        return 200 "loopback only\\n";
    }
    server {
        listen @ADDR@:@PORT@;
        server_name n9.example.test;
        root @PREFIX@/www;
    }
""")
    c.issue()
    c.check_served("hello from n9.example.test")
    conf = c.nginx.conf.read_text()
    loopback_block = conf[conf.index("listen 127.0.0.1:"):conf.index("loopback only")]
    assert "acme-challenge" not in loopback_block
    c.check_idempotent_and_remove()


def test_name_resolving_where_no_block_listens_is_refused(case):
    c = case("n9b.example.test", on_own_addr=False, servers="""\
    server {
        listen 127.0.0.1:@PORT@;
        server_name n9b.example.test;
        root @PREFIX@/www;
    }
""")
    elsewhere = random_loopback()
    c.cts.add_a(c.domain, elsewhere)
    r = c.issue(check=95)
    assert "NGINX_UNREACHABLE" in r.stderr and elsewhere in r.stderr, r.stderr
    assert c.nginx.files() == c.original


# ---- item 10: CRLF files stay CRLF; single-label names have their own error

def test_crlf_file_stays_crlf_and_single_label_names(case):
    site = ("server {\n"
            "    listen @ADDR@:@PORT@;\n"
            "    server_name crlf.example.test;\n"
            "    root @PREFIX@/www;\n"
            "}\n").replace("\n", "\r\n")
    c = case("crlf.example.test", files={"conf.d/crlf.conf": site})
    path = c.nginx.prefix / "conf.d/crlf.conf"
    c.issue()
    c.check_served("hello from crlf.example.test")
    data = path.read_bytes()
    assert b"HTTPS server for" in data and b"acme-challenge" in data
    assert data.count(b"\n") == data.count(b"\r\n"), data
    c.check_idempotent_and_remove()
    for args in (["nginx", "show", "-d", "localhost", *c.nginx_args()],
                 ["issue", "-d", "localhost", "--nginx", *c.nginx_args(), "--server", c.pebble.directory]):
        r = c.run(*args, check=103)
        assert "SINGLE_LABEL_NAME" in r.stderr and "localhost" in r.stderr, r.stderr


# ---- item 7: the server's own acme-challenge location

def test_mastodon_plain_challenge_location_is_kept_and_ours_wins(case, tmp_path):
    cert, key = old_cert(tmp_path, "social.example.test")
    c = case("social.example.test", servers="""\
    server {
        listen @ADDR@:@PORT@;
        server_name social.example.test;
        root @PREFIX@/public;
        location /.well-known/acme-challenge/ { allow all; }
        location / { return 301 https://$host$request_uri; }
    }
    server {
        listen @ADDR@:443 ssl;
        server_name social.example.test;
        ssl_certificate %s;
        ssl_certificate_key %s;
        root @PREFIX@/www;
    }
""" % (cert, key))
    c.issue()
    c.check_served("hello from social.example.test")
    c.check_idempotent_and_remove(redirected_before=True)


def test_own_caret_tilde_challenge_location_is_used(case, tmp_path):
    acme = tmp_path / "letsencrypt"
    acme.mkdir()
    c = case("le.example.test", servers="""\
    server {
        listen @ADDR@:@PORT@;
        server_name le.example.test;
        root @PREFIX@/www;
        location ^~ /.well-known/acme-challenge/ { root %s; default_type "text/plain"; }
    }
""" % acme)
    r = c.issue()
    assert "its own location" in r.stderr
    c.check_served("hello from le.example.test")
    assert "ACME HTTP-01 challenges" not in c.nginx.conf.read_text()
    c.check_idempotent_and_remove()


def test_own_challenge_location_that_cannot_serve_files_is_refused(case):
    c = case("proxied.example.test", servers="""\
    server {
        listen @ADDR@:@PORT@;
        server_name proxied.example.test;
        root @PREFIX@/www;
        location ^~ /.well-known/acme-challenge/ { return 404; }
    }
""")
    r = c.issue(check=93)
    assert "NGINX_CHALLENGE_LOCATION" in r.stderr and "return" in r.stderr, r.stderr
    assert c.nginx.files() == c.original


# ---- issue 21 item 5: nginx's worker user cannot reach the challenge directory

def test_worker_user_cannot_traverse_the_prefix(case):
    c = case("perm.example.test", servers="""\
    server {
        listen @ADDR@:@PORT@;
        server_name perm.example.test;
        root @PREFIX@/www;
    }
""")
    # workers as nobody; the agent's prefix is under pytest's 0700 directory
    conf = c.nginx.conf.read_text()
    assert "user root;" in conf
    c.nginx.conf.write_text(conf.replace("user root;", "user nobody nogroup;"))
    c.nginx.reload()
    c.original = c.nginx.files()
    r = c.issue(check=102)
    assert "NGINX_WORKER_ACCESS" in r.stderr and "uid 65534" in r.stderr, r.stderr
    blocked = next(p for p in [c.prefix, *c.prefix.parents] if p.exists() and p.stat().st_mode & 0o001 == 0
                   and p.parent != p and all(q.stat().st_mode & 0o001 for q in p.parents))
    assert "cannot enter %s " % blocked in r.stderr, (blocked, r.stderr)
    assert c.nginx.files() == c.original
