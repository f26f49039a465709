"""Crash safety of nginx editing (issue 8): `issue --nginx` with the agent
killed (SIGKILL, fault points of the debug build) at every step of editing
the configuration — after the backups and the record are saved, between two
edited files, after `nginx -t`, just before the reload — and at every atomic
file write of the run.  After each kill the configuration on disk passes
`nginx -t` and nginx still serves; the next plain run completes: HTTPS is
served with a certificate matching the live key, and `nginx remove` puts
every file back byte-identical.
"""
import pytest

from test_crash import fault_bin  # noqa: F401  (fixture)
from test_nginx import DEBIAN_DEFAULT, DEBIAN_SITE, case  # noqa: F401  (fixture)

POINTS = ["ngx_commit", "ngx_between_files", "ngx_tested", "ngx_reload", "atomic_rename"]


def debian_site(case, domain):
    # Debian's layout: the site's file (through its sites-enabled link) is
    # edited, the default server's file is left as it is
    return case(domain, files={
        "sites-enabled/default": DEBIAN_DEFAULT,
        "sites-available/%s" % domain: DEBIAN_SITE.replace("deb.example.test", domain),
        "sites-enabled/%s" % domain: ("symlink", "../sites-available/%s" % domain),
    })


def test_kill_at_every_nginx_editing_step(case, fault_bin, monkeypatch, tmp_path):  # noqa: F811
    kills = {}
    runs = 0
    for point in POINTS:
        n = 1
        while True:
            assert n < 40, "%s reached more than 40 times in one run?" % point
            domain = "k%d.example.test" % runs        # a fresh name: fresh DNS, fresh authz
            c = debian_site(case, domain)
            c.bin = fault_bin
            c.prefix = tmp_path / ("root-%s-%d" % (point, n))
            monkeypatch.setenv("CERTFLEET_FAULT", "%s@%d" % (point, n))
            r = c.issue(check=None)
            monkeypatch.delenv("CERTFLEET_FAULT")
            runs += 1
            if r.returncode != -9:
                assert r.returncode == 0, "%s@%d unreached, run failed: %s" % (point, n, r.stderr)
                c.check_served("hello from %s" % domain)
                c.nginx.stop()
                break
            what = "after a kill at %s@%d" % (point, n)
            c.nginx.test_config()                       # nginx -t on what is on disk
            assert c.http_status("/www-check").split()[0] in ("301", "404"), what  # still serving
            r = c.issue(check=None)                      # the next run finishes the job
            assert r.returncode in (0, 2), "%s: %s" % (what, r.stderr)
            c.check_served("hello from %s" % domain)
            c.check_idempotent_and_remove()
            c.nginx.stop()
            n += 1
        kills[point] = n - 1
    print("nginx fault points killed:", kills, "runs:", runs)
    for p in ("ngx_commit", "ngx_tested", "ngx_reload", "atomic_rename"):
        assert kills[p] >= 1, "point %s never reached: %s" % (p, kills)
