"""Inventories as Ansible reads them: for every case under inventories/,
`certfleet hosts --json` must give the hosts, groups and variables that
`ansible-inventory --list` (Debian's ansible-core, the real one) gives, and
the connection certfleet derives must follow Ansible's variable aliases.
Also: dynamic inventory scripts that fail (exit status, stderr, timeout,
size cap, non-JSON), refused values (templates, vault, connections),
secrets masked in the table, `certfleet --json hosts`.
"""
import json
import os
import pwd
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CASES = HERE / "inventories"
ANSIBLE_INVENTORY = shutil.which("ansible-inventory")
SECRET_SUFFIXES = ("_password", "_pass", "_passwd", "_secret", "_token", "_passphrase")
SECRET_NAMES = {"ansible_password", "ansible_ssh_pass", "ansible_ssh_password",
                "ansible_become_pass", "ansible_become_password", "ansible_sudo_pass",
                "ansible_sudo_password", "ansible_su_pass", "password", "secret", "token"}


def is_secret(key):
    return key in SECRET_NAMES or key.endswith(SECRET_SUFFIXES)


def sources(case):
    return [str(case / s) for s in (case / "sources").read_text().split()]


def env_for(tmp_path):
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return dict(os.environ, HOME=str(home), ANSIBLE_CONFIG=str(home / "none.cfg"),
                ANSIBLE_INVENTORY_UNPARSED_FAILED="1", ANSIBLE_LOCAL_TEMP=str(home / "tmp"),
                ANSIBLE_NOCOLOR="1")


def certfleet(bins, tmp_path, *args, check=True, env=None):
    r = subprocess.run([str(bins.controller), *args], capture_output=True, text=True,
                       timeout=60, cwd=tmp_path, env=env or env_for(tmp_path))
    if check:
        assert r.returncode == 0, r.stderr
    return r


def certfleet_hosts(bins, srcs, tmp_path):
    args = []
    for s in srcs:
        args += ["-i", s]
    return json.loads(certfleet(bins, tmp_path, *args, "hosts", "--json").stdout)


def expected_connection(name, hv):
    def last(*names):
        for n in reversed(names):
            if n in hv:
                return hv[n]
        return None
    return {
        "address": last("ansible_host", "ansible_ssh_host") or name,
        "port": int(last("ansible_port", "ansible_ssh_port") or 22),
        "user": last("ansible_user", "ansible_ssh_user") or pwd.getpwuid(os.getuid()).pw_name,
        "connection": hv.get("ansible_connection", "ssh"),
        "become": hv.get("ansible_become") in (True, "yes", "true", "True", "1", 1),
    }


CASE_NAMES = sorted(p.name for p in CASES.iterdir() if (p / "sources").exists())


@pytest.fixture(scope="module")
def ansible_lists(tmp_path_factory):
    """ansible-inventory --list for every case, all started at once (each
    run is mostly Python start-up)."""
    if ANSIBLE_INVENTORY is None:
        return {}
    procs = {}
    for case in CASE_NAMES:
        tmp = tmp_path_factory.mktemp("ansible-" + case)
        args = [ANSIBLE_INVENTORY]
        for s in sources(CASES / case):
            args += ["-i", s]
        procs[case] = subprocess.Popen(args + ["--list"], stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True, cwd=tmp,
                                       env=env_for(tmp))
    out = {}
    for case, p in procs.items():
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, (case, stderr)
        out[case] = json.loads(stdout)
    return out


@pytest.mark.skipif(ANSIBLE_INVENTORY is None, reason="ansible-core not installed "
                    "(build-aux/install-deps.sh installs it)")
@pytest.mark.parametrize("case", CASE_NAMES)
def test_same_as_ansible_inventory(case, bins, tmp_path, ansible_lists):
    bins.need_controller()
    srcs = sources(CASES / case)
    want = ansible_lists[case]
    got = certfleet_hosts(bins, srcs, tmp_path)

    hostvars = want.get("_meta", {}).get("hostvars", {})
    want_groups = {g: d for g, d in want.items() if g != "_meta"}
    want_hosts = set(hostvars)
    for d in want_groups.values():
        want_hosts |= set(d.get("hosts", []))
    got_hosts = {h["host"]: h for h in got["hosts"]}
    assert set(got_hosts) == want_hosts

    # every group Ansible lists, with the same hosts (in order) and children
    for g, d in want_groups.items():
        assert g in got["groups"], g
        mine = got["groups"][g]
        if g != "all":
            assert mine["hosts"] == d.get("hosts", []), g
        assert sorted(mine["children"]) == sorted(d.get("children", [])), g
    # and none Ansible does not know (empty groups aside: Ansible drops them
    # from --list only when they have neither hosts nor children)
    for g, d in got["groups"].items():
        if g not in want_groups:
            assert not d["hosts"] and not d["children"], g

    # every variable, with its type; secrets masked on our side
    for name, h in got_hosts.items():
        hv = hostvars.get(name, {})
        masked = {k: ("********" if is_secret(k) and v is not None else v) for k, v in hv.items()}
        assert h["vars"] == masked, name
        assert h["error"] is None or h["error"]["code"] in ("INVENTORY_ERROR",), h
        if h["error"] is None:
            exp = expected_connection(name, hv)
            assert {k: h[k] for k in exp} == exp, name


def test_ini_values_typed_as_ansible(bins, tmp_path):
    """literal_eval on INI values: 22 is an int, True a boolean, '03' a string."""
    inv = tmp_path / "hosts"
    inv.write_text("h1 a=22 b=True c='03' d=0x10 e=1e3 f=\"two words\" g=None h=yes\n")
    got = certfleet_hosts(bins, [str(inv)], tmp_path)["hosts"][0]["vars"]
    assert got == {"a": 22, "b": True, "c": "03", "d": 16, "e": 1000.0, "f": "two words",
                   "g": None, "h": "yes"}


# ---------------------------------------------------------------- refusals

def test_template_and_vault_refused_per_host(bins, tmp_path):
    inv = tmp_path / "hosts.yml"
    inv.write_text("""all:
  hosts:
    t1:
      ansible_host: "{{ lookup('env', 'X') }}"
    v1:
      ansible_become_password: !vault |
        $ANSIBLE_VAULT;1.1;AES256
        6162
    ok1:
      note: "{{ not used by certfleet }}"
""")
    got = {h["host"]: h for h in certfleet_hosts(bins, [str(inv)], tmp_path)["hosts"]}
    e = got["t1"]["error"]
    assert e["code"] == "INVENTORY_ERROR"
    assert "t1" in e["detail"] and "ansible_host" in e["detail"] and "Jinja2" in e["detail"]
    e = got["v1"]["error"]
    assert e["code"] == "INVENTORY_ERROR" and "ansible_become_password" in e["detail"]
    assert "vault" in e["detail"]
    assert got["ok1"]["error"] is None
    # never used as an address
    assert "{{" not in got["t1"]["address"]


def test_unsupported_connection_refused(bins, tmp_path):
    inv = tmp_path / "hosts"
    inv.write_text("w1 ansible_connection=winrm\nd1 ansible_connection=docker\ns1 ansible_connection=ssh\n")
    got = {h["host"]: h for h in certfleet_hosts(bins, [str(inv)], tmp_path)["hosts"]}
    for n in ("w1", "d1"):
        assert got[n]["error"]["code"] == "INVENTORY_ERROR"
        assert "ansible_connection" in got[n]["error"]["detail"]
    assert got["s1"]["error"] is None


def test_yaml_errors_name_file_and_line(bins, tmp_path):
    inv = tmp_path / "bad.yml"
    inv.write_text("all:\n  hosts:\n    a: [unclosed\n")
    r = certfleet(bins, tmp_path, "-i", str(inv), "hosts", check=False)
    assert r.returncode == 119, r.stderr
    assert "INVENTORY_ERROR" in r.stderr and "bad.yml:" in r.stderr
    inv.write_text("plugin: amazon.aws.aws_ec2\n")
    r = certfleet(bins, tmp_path, "-i", str(inv), "hosts", check=False)
    assert r.returncode == 119 and "plugin" in r.stderr


def test_secrets_masked_in_table(bins, tmp_path):
    inv = CASES / "secrets" / "hosts.yml"
    r = certfleet(bins, tmp_path, "-i", str(inv), "hosts")
    for secret in ("p1", "p2", "p3", "p4", "p5", "p6", "p7"):
        assert "=" + secret not in r.stdout, r.stdout
    assert "ansible_password=********" in r.stdout
    assert "visible_note=visible" in r.stdout


def test_json_before_command(bins, tmp_path):
    inv = CASES / "ini_basic" / "hosts"
    a = json.loads(certfleet(bins, tmp_path, "--json", "-i", str(inv), "hosts").stdout)
    b = json.loads(certfleet(bins, tmp_path, "-i", str(inv), "hosts", "--json").stdout)
    assert a == b and a["command"] == "hosts"
    assert {"host", "connection", "address", "port", "user", "become", "groups", "vars",
            "error"} <= set(a["hosts"][0])


# ---------------------------------------------------------------- scripts

def script(tmp_path, body, name="inv.sh"):
    p = tmp_path / name
    p.write_text("#!/bin/sh\n" + body)
    p.chmod(0o755)
    return p


def test_script_failing_shows_status_and_stderr(bins, tmp_path):
    p = script(tmp_path, "echo 'cannot reach the CMDB' >&2\nexit 3\n")
    r = certfleet(bins, tmp_path, "-i", str(p), "hosts", check=False)
    assert r.returncode == 121, r.stderr
    assert "INVENTORY_SCRIPT_FAILED" in r.stderr
    assert "exit status 3" in r.stderr and "cannot reach the CMDB" in r.stderr


def test_script_slow_is_killed(bins, tmp_path):
    p = script(tmp_path, "sleep 30\n")
    env = dict(env_for(tmp_path), CERTFLEET_INVENTORY_TIMEOUT="1")
    t0 = time.monotonic()
    r = certfleet(bins, tmp_path, "-i", str(p), "hosts", check=False, env=env)
    assert time.monotonic() - t0 < 10
    assert r.returncode == 121 and "no answer within 1 s" in r.stderr, r.stderr


def test_script_huge_output_capped(bins, tmp_path):
    p = script(tmp_path, "exec yes '{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": 1}'\n")
    t0 = time.monotonic()
    r = certfleet(bins, tmp_path, "-i", str(p), "hosts", check=False)
    assert time.monotonic() - t0 < 20
    assert r.returncode == 121 and "printed more than" in r.stderr, r.stderr


def test_script_not_json(bins, tmp_path):
    p = script(tmp_path, "echo '[web]'\necho 'web1'\n")
    r = certfleet(bins, tmp_path, "-i", str(p), "hosts", check=False)
    assert r.returncode == 121 and "not a JSON object" in r.stderr, r.stderr
    p = script(tmp_path, "echo '[1, 2]'\n", name="list.sh")
    r = certfleet(bins, tmp_path, "-i", str(p), "hosts", check=False)
    assert r.returncode == 121 and "not an object" in r.stderr, r.stderr


def test_script_runs_without_shell(bins, tmp_path):
    """The script is executed directly: a name with shell syntax in it is a
    file name, nothing else."""
    d = tmp_path / "a;touch pwned"
    d.mkdir()
    p = script(d, "echo '{\"g\": [\"h1\"]}'\n")
    got = certfleet_hosts(bins, [str(p)], tmp_path)
    assert [h["host"] for h in got["hosts"]] == ["h1"]
    assert not (tmp_path / "pwned").exists()


def test_script_anyone_may_write_is_not_run(bins, tmp_path):
    p = script(tmp_path, "touch \"$0.ran\"\necho '{\"g\": [\"h1\"]}'\n")
    p.chmod(0o757)
    r = certfleet(bins, tmp_path, "-i", str(p), "hosts", check=False)
    assert r.returncode == 119 and "anyone may write" in r.stderr, r.stderr
    assert not Path(str(p) + ".ran").exists()
