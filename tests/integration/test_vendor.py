"""vendor/build.sh: pinned sources are verified, and a vanished Debian revision
falls back to one that is there while the upstream tarball still matches."""
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DL = ROOT / "build" / "vendor" / "dl"
BEARSSL_TARBALL = "bearssl_0.6+dfsg.1.orig.tar.xz"


def manifest_line(name):
    for line in (ROOT / "vendor" / "manifest").read_text().splitlines():
        if line.split() and line.split()[0] == name:
            return line.split()
    raise AssertionError(f"{name} not in vendor/manifest")


def run_vendor(tmp_path, *args, manifest=None, patches=None):
    env = dict(os.environ, CF_VENDOR_DIR=str(tmp_path / "vendor"))
    if patches:
        env["CF_VENDOR_PATCHES"] = str(patches)
    if manifest:
        env["CF_VENDOR_MANIFEST"] = str(manifest)
    return subprocess.run([str(ROOT / "vendor" / "build.sh"), *args], env=env,
                          capture_output=True, text=True, timeout=300)


def test_tampered_tarball_stops_the_build(tmp_path):
    dl = tmp_path / "vendor" / "dl"
    dl.mkdir(parents=True)
    for f in DL.iterdir():
        shutil.copy(f, dl / f.name)
    tarball = dl / BEARSSL_TARBALL
    data = bytearray(tarball.read_bytes())
    data[1000] ^= 0x01                        # one changed bit
    tarball.write_bytes(bytes(data))
    pinned = manifest_line("bearssl")[5]
    r = run_vendor(tmp_path, "musl")
    assert r.returncode != 0
    assert "sha256 mismatch" in r.stderr
    assert BEARSSL_TARBALL in r.stderr                  # names the file
    assert pinned in r.stderr                           # the expected hash
    import hashlib
    assert hashlib.sha256(bytes(data)).hexdigest() in r.stderr   # and the actual one
    assert not (tmp_path / "vendor" / "musl" / "lib" / "libbearssl.a").exists()


def test_vanished_revision_falls_back(tmp_path):
    name, source, upstream, _rev, tarball, sha = manifest_line("bearssl")
    m = tmp_path / "manifest"
    m.write_text(f"{name} {source} {upstream} 99 {tarball} {sha}\n")
    r = run_vendor(tmp_path, "--fetch-only", "musl", manifest=m)
    assert r.returncode == 0, r.stderr
    assert f"pinned revision {upstream}-99 is gone" in r.stderr
    assert "fetched, sha256 verified" in r.stderr


def test_vanished_revision_with_wrong_pin_refused(tmp_path):
    name, source, upstream, _rev, tarball, sha = manifest_line("bearssl")
    m = tmp_path / "manifest"
    m.write_text(f"{name} {source} {upstream} 99 {tarball} {'0' * 64}\n")
    r = run_vendor(tmp_path, "--fetch-only", "musl", manifest=m)
    assert r.returncode != 0
    assert "sha256 mismatch" in r.stderr


def test_binaries_static_and_small():
    for b in ("certfleet-agent", "certfleet"):
        out = subprocess.run(["file", str(ROOT / "bin" / b)], capture_output=True, text=True).stdout
        assert "statically linked" in out, out
        ldd = subprocess.run(["ldd", str(ROOT / "bin" / b)], capture_output=True, text=True)
        assert "not a dynamic executable" in ldd.stdout + ldd.stderr
    assert (ROOT / "bin" / "certfleet-agent").stat().st_size < 400 * 1024


def test_versions_name_the_libraries():
    for b in ("certfleet-agent", "certfleet"):
        for flag in (["--version"], ["version"]):
            out = subprocess.run([str(ROOT / "bin" / b), *flag], capture_output=True,
                                 text=True, check=True).stdout
            assert "BearSSL 0.6" in out and "libssh2" in out and "mbedTLS" in out, out
    out = subprocess.run([str(ROOT / "bin" / "certfleet"), "--version"], capture_output=True,
                         text=True, check=True).stdout
    assert "libssh2 1.11.1" in out and "mbedTLS 3.6" in out
    # certfleet's own patches to libssh2, each by name
    for p in sorted((ROOT / "vendor" / "patches" / "libssh2").glob("*.patch")):
        assert p.stem in out, (p.stem, out)


def test_patches_say_what_why_and_what_they_mirror():
    patches = sorted((ROOT / "vendor" / "patches").glob("*/*.patch"))
    assert patches
    for p in patches:
        head = p.read_text().split("\ndiff ", 1)[0]
        for field in ("What:", "Why:", "Mirrors:"):
            assert field in head, (p.name, field)


def test_patch_that_does_not_apply_stops_the_build(tmp_path):
    name, source, upstream, rev, tarball, sha = manifest_line("libssh2")
    dl = tmp_path / "vendor" / "dl"
    dl.mkdir(parents=True)
    for f in DL.glob("libssh2_*"):
        shutil.copy(f, dl / f.name)
    m = tmp_path / "manifest"
    m.write_text(" ".join([name, source, upstream, rev, tarball, sha]) + "\n")
    pdir = tmp_path / "patches" / "libssh2"
    pdir.mkdir(parents=True)
    good = sorted((ROOT / "vendor" / "patches" / "libssh2").glob("*.patch"))[0]
    # one context line that is not in the source: patch must refuse, not fuzz
    text = good.read_text().replace("\n #include <stdlib.h>\n", "\n #include <stdlib.h> /* not there */\n", 1)
    assert text != good.read_text()
    (pdir / good.name).write_text(text)
    r = run_vendor(tmp_path, "musl", manifest=m, patches=tmp_path / "patches")
    assert r.returncode != 0
    assert "vendor/patches/libssh2/%s does not apply" % good.name in r.stderr, r.stderr
    assert not (tmp_path / "vendor" / "musl" / "lib" / "libssh2.a").exists()
    # libssh2's own test sources hold example private keys (the leak scan)
    shutil.rmtree(tmp_path / "vendor")


def test_agent_binary_is_byte_identical(tmp_path):
    out = tmp_path / "agent"
    with open(out, "wb") as f:
        subprocess.run([str(ROOT / "bin" / "certfleet"), "agent-binary"], stdout=f, check=True)
    assert out.read_bytes() == (ROOT / "bin" / "certfleet-agent").read_bytes()


def test_help_everywhere():
    for cmd in (["certfleet-agent", "--help"], ["certfleet-agent", "directory", "--help"],
                ["certfleet", "--help"], ["certfleet", "agent-binary", "--help"]):
        r = subprocess.run([str(ROOT / "bin" / cmd[0]), *cmd[1:]], capture_output=True, text=True)
        assert r.returncode == 0 and "usage:" in r.stdout, cmd
    r = subprocess.run([str(ROOT / "bin" / "certfleet-agent"), "frobnicate"], capture_output=True, text=True)
    assert r.returncode != 0 and "USAGE" in r.stderr
