"""The README's "Use it" examples, run as written (bash -e, one block at a
time) so that the README cannot drift from what the programs do.

What a test box cannot have is supplied around the text, not by editing it:
`certfleet-agent` and `certfleet` on PATH are small wrappers that add the
test's --prefix, known_hosts and identity, the CA (Pebble), its trust and
resolver, and the nginx/cron paths; the inventory's hosts get their sshd's
address appended, fe.conf's placeholders the FE emulator's values, and
LISTENER_ID the emulator's listener.
"""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cfutil import free_port

README = Path(__file__).resolve().parents[2] / "README.md"


def blocks():
    """{heading: sh block} of the "Use it" section."""
    text = README.read_text().split("\n## Use it\n", 1)[1].split("\n## ", 1)[0]
    out = {}
    for part in text.split("\n### ")[1:]:
        head = part.split("\n", 1)[0]
        out[head] = re.search(r"```sh\n(.*?)```", part, re.S).group(1)
    return out


def block(word):
    [b] = [b for h, b in blocks().items() if word in h]
    return b


def wrappers(d, agent=None, ctl=None, agent_extra="", ctl_pre=""):
    d.mkdir(parents=True, exist_ok=True)
    if agent:
        (d / "certfleet-agent").write_text(
            '#!/bin/bash\nx=()\n[ "$1" = issue ] && x=(%s)\nexec %s "$@" "${x[@]}"\n'
            % (agent_extra, agent))
    if ctl:
        (d / "certfleet").write_text(
            '#!/bin/bash\n%s\nexec %s "${a[@]}"\n' % (ctl_pre, ctl))
    for f in d.iterdir():
        f.chmod(0o755)


def run_block(text, cwd, bindir, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("FE_") and k != "SSH_AUTH_SOCK"}
    e.update(PATH="%s:%s" % (bindir, os.environ["PATH"]), HOME=str(cwd / "home"),
             XDG_STATE_HOME=str(cwd / "state"), **(env or {}))
    r = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", text], cwd=cwd, env=e,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, "README block failed (%d):\n%s\nstdout:\n%s\nstderr:\n%s" % (
        r.returncode, text, r.stdout, r.stderr)
    return r


def agent_conf(prefix, pebble, cts, extra=""):
    conf = Path(prefix) / "etc/certfleet/agent.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text("server = %s\nca-file = %s\nresolver = %s\n%s"
                    % (pebble.directory, pebble.ca_file, cts.dns_addr, extra))


SITE = """\
server {
    listen @PORT@;
    server_name example.com www.example.com;
    root @PREFIX@/www;
}
"""


def test_one_server(bins, tmp_path, pebble, challtestsrv, nginx_site_factory):
    ngx = nginx_site_factory(servers="    # the site is in sites-enabled\n", port=pebble.http_port,
                             files={"sites-enabled/example.com": SITE, "www/index.html": "hi\n"})
    prefix = tmp_path / "root"
    agent_conf(prefix, pebble, challtestsrv)
    wrappers(tmp_path / "bin", agent="%s --prefix %s" % (bins.need_agent(), prefix),
             agent_extra="--nginx-conf %s --http-port %d --https-port %d"
             % (ngx.conf, pebble.http_port, free_port()))
    r = run_block(block("One server"), tmp_path, tmp_path / "bin")
    assert "example.com" in r.stdout and "active" in r.stdout, r.stdout
    assert (prefix / "etc/certfleet/live/example.com/fullchain.pem").exists()
    assert "certfleet" in (ngx.prefix / "sites-enabled/example.com").read_text()
    assert (prefix / "etc/cron.d/certfleet-agent").exists()


def test_fleet(bins, tmp_path, pebble, challtestsrv, sshd_factory):
    servers = sshd_factory.many(2, first_host=150)
    hosts = tmp_path / "hosts"
    kh = tmp_path / "known_hosts"
    kh.write_text("".join(s.known_hosts_line("ecdsa") for s in servers))
    text = block("fleet")
    for i, s in enumerate(servers):
        name = "web%d.example.com" % (i + 1)
        text = re.sub(r"(?m)^(%s .*)$" % re.escape(name), r"\1 ansible_host=%s ansible_port=%d "
                      r"ansible_user=root certfleet_prefix=%s/%s" % (s.host, s.port, hosts, name), text)
        agent_conf(hosts / name, pebble, challtestsrv,
                   "http-address = %s\nhttp-port = %d\n" % (s.host, pebble.http_port))
    for n, s in (("web1", servers[0]), ("web2", servers[1]), ("www2", servers[1])):
        challtestsrv.add_a(n + ".example.com", s.host)
    wrappers(tmp_path / "bin", ctl="%s --known-hosts %s --identity %s"
             % (bins.need_controller(), kh, sshd_factory.client_key.path), ctl_pre='a=("$@")')
    r = run_block(text, tmp_path, tmp_path / "bin")
    assert r.stdout.count("active") >= 2, r.stdout
    for name in ("web1.example.com", "web2.example.com"):
        assert (hosts / name / "etc/certfleet/live" / name / "fullchain.pem").exists()


def test_load_balancer(bins, tmp_path, pebble, challtestsrv, feemu):
    feemu.add_zone("example.com.")
    lid = feemu.add_listener("v3")["id"]
    env = feemu.env()
    text = block("load balancer").replace("LISTENER_ID", lid)
    for k, v in env.items():
        text = re.sub(r"(?m)^%s=.*$" % k, "%s=%s" % (k, v), text)
    ends = "".join("%s=%s\n" % (k, v) for k, v in env.items() if k.endswith(("ENDPOINT", "CA_FILE")))
    text = text.replace("FE_PASSWORD=%s\n" % env["FE_PASSWORD"], "FE_PASSWORD=%s\n%s" % (env["FE_PASSWORD"], ends))
    cron = tmp_path / "cron.d/certfleet-elb"
    cron.parent.mkdir()
    pre = ('a=("$@")\ncase "$1 $2" in\n'
           '"elb renew") a+=(--server %s --ca-file %s --resolver %s --dns-timeout 20);;\n'
           '"elb cron") a=(elb cron "$3" --cron-file %s "${@:4}");;\nesac'
           % (pebble.directory, pebble.ca_file, challtestsrv.dns_addr, cron))
    wrappers(tmp_path / "bin", ctl=str(bins.need_controller()), ctl_pre=pre)
    r = run_block(text, tmp_path, tmp_path / "bin")
    assert lid in r.stdout, r.stdout
    st = feemu.state()
    assert st["listeners"]["v3"][lid]["default_tls_container_ref"], st["listeners"]
    assert "www.example.com" in cron.read_text() and lid in cron.read_text()
    assert oct((tmp_path / "fe.conf").stat().st_mode & 0o777) == "0o600"


def test_coming_from_certbot(bins, tmp_path, tmp_path_factory, pebble, challtestsrv):
    # certbot's logs quote the account's public key, which the key-leak check
    # (conftest) would take for the private key file's text: kept elsewhere
    work = tmp_path_factory.mktemp("certbot-work")
    prefix = tmp_path / "root"
    cb = prefix / "etc/letsencrypt"
    r = subprocess.run(["certbot", "certonly", "--standalone", "--http-01-port", str(pebble.http_port),
                        "-d", "old.example.com", "--server", pebble.directory, "--agree-tos",
                        "--register-unsafely-without-email", "--non-interactive",
                        "--config-dir", cb, "--work-dir", work / "work", "--logs-dir", work / "logs"],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, REQUESTS_CA_BUNDLE=str(pebble.ca_file)))
    assert r.returncode == 0, r.stdout + r.stderr
    agent_conf(prefix, pebble, challtestsrv)
    wrappers(tmp_path / "bin", agent="%s --prefix %s" % (bins.need_agent(), prefix))
    r = run_block(block("certbot"), tmp_path, tmp_path / "bin")
    assert "old.example.com" in r.stdout and "active" in r.stdout, r.stdout
    assert (cb / "renewal.certfleet-disabled/old.example.com.conf").exists()
    assert (prefix / "etc/certfleet/live/old.example.com/cert.pem").read_bytes() == \
        (cb / "live/old.example.com/cert.pem").read_bytes()
    # certbot's JWK spells the account key's numbers as the imported
    # account.key does: certbot's own file, not a leak (see test_certbot)
    shutil.rmtree(cb / "accounts")
