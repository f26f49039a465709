"""common/inflate.c (the controller's decoder for the agents it carries)
held against Python's zlib: streams zlib makes with every level, strategy
and flush, then the same streams corrupted (bit flips, byte changes, cut at
every length) and random bytes.  Wherever zlib decodes a whole stream ours
must give the same bytes and consume the same input; wherever zlib fails or
wants more input ours must fail.  Runs build/<variant>/inflate-pipe (built
by `make unit`) once over all the cases."""

import gzip
import os
import random
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

OK, TRUNCATED, FULL, CHECK, TRAILING = 0, -1, -7, -9, -10


def pipe_path(bins):
    # the asan run passes CERTFLEET_BIN_DIR=build/asan: its own build of the tool
    d = Path(os.environ["CERTFLEET_BIN_DIR"]) if os.environ.get("CERTFLEET_BIN_DIR") \
        else bins.root / "build" / "musl"
    p = (bins.root / d / "inflate-pipe").resolve()
    if not p.is_file():
        pytest.fail("%s is not built (make unit builds it)" % p, pytrace=False)
    return p


def run_cases(bins, cases):
    """cases: (mode 'r'|'g', data, outcap); returns [(rc, out, used)]."""
    blob = b"".join(m.encode() + struct.pack(">I", len(d)) + d + struct.pack(">I", cap)
                    for m, d, cap in cases)
    r = subprocess.run([str(pipe_path(bins))], input=blob, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    out, pos, res = r.stdout, 0, []
    for _ in cases:
        rc, n, used = struct.unpack(">iII", out[pos:pos + 12])
        res.append((rc, out[pos + 12:pos + 12 + n], used))
        pos += 12 + n
    assert pos == len(out)
    return res


def zlib_says(mode, data):
    """('ok', output, used) when zlib decodes a whole stream, else ('error'|'short', ...)."""
    d = zlib.decompressobj(31 if mode == "g" else -15)
    try:
        out = d.decompress(data)
    except zlib.error:
        return ("error", None, None)
    if not d.eof:
        return ("short", None, None)
    if mode == "g" and d.unused_data:
        return ("trailing", out, None)
    return ("ok", out, len(data) - len(d.unused_data))


def raw(data, level, strategy=zlib.Z_DEFAULT_STRATEGY, memlevel=8, flushes=()):
    c = zlib.compressobj(level, zlib.DEFLATED, -15, memlevel, strategy)
    out, pos = b"", 0
    for cut, how in flushes:
        out += c.compress(data[pos:cut]) + c.flush(how)
        pos = cut
    return out + c.compress(data[pos:]) + c.flush()


def samples(rng):
    text = b"".join(b"certfleet-agent %d renews %s; " % (i, b"x" * (i % 17)) for i in range(400))
    agent = Path(__file__).resolve().parents[2] / "bin" / "certfleet-agent"
    binary = agent.read_bytes()[:200000] if agent.is_file() else bytes(rng.randrange(256) for _ in range(50000))
    return [b"", b"a", b"ab" * 3, text, bytes(rng.randrange(256) for _ in range(3000)),
            bytes(rng.randrange(4) for _ in range(70000)), b"\0" * 100000, binary,
            bytes(range(256)) * 300]


def streams(rng):
    """(name, mode, stream) that zlib made."""
    strategies = [zlib.Z_DEFAULT_STRATEGY, zlib.Z_FILTERED, zlib.Z_HUFFMAN_ONLY, zlib.Z_RLE, zlib.Z_FIXED]
    for i, data in enumerate(samples(rng)):
        for level in (0, 1, 6, 9):
            for strategy in strategies:
                yield ("s%d-l%d-st%d" % (i, level, strategy), "r", raw(data, level, strategy))
        yield ("s%d-mem1" % i, "r", raw(data, 9, memlevel=1))
        if len(data) > 10:
            fl = [(len(data) // 3, zlib.Z_SYNC_FLUSH), (len(data) // 2, zlib.Z_FULL_FLUSH)]
            yield ("s%d-flush" % i, "r", raw(data, 6, flushes=fl))
        yield ("s%d-gzip" % i, "g", gzip.compress(data, compresslevel=9, mtime=0))
    # header fields gzip -n leaves out: FNAME, FCOMMENT, FEXTRA, FHCRC
    body = raw(b"hello, header fields " * 20, 9)
    trailer = struct.pack("<II", zlib.crc32(b"hello, header fields " * 20), 21 * 20 - 20)
    for flg, extra in ((8, b"name.bin\0"), (16, b"a comment\0"), (4, b"\x04\x00abcd"), (28, b"\x02\x00xyname\0c\0")):
        yield ("gz-flags%d" % flg, "g", b"\x1f\x8b\x08" + bytes([flg]) + b"\0" * 6 + extra + body + trailer)
    hdr = b"\x1f\x8b\x08\x02" + b"\0" * 6
    yield ("gz-fhcrc", "g", hdr + struct.pack("<H", zlib.crc32(hdr) & 0xffff) + body + trailer)
    yield ("gz-fhcrc-bad", "g", hdr + struct.pack("<H", (zlib.crc32(hdr) + 1) & 0xffff) + body + trailer)


def test_inflate_matches_zlib_on_its_streams(bins):
    rng = random.Random(1951)
    cases, meta = [], []
    for name, mode, s in streams(rng):
        cases.append((mode, s, 1 << 20))
        meta.append((name, mode, s))
    res = run_cases(bins, cases)
    for (name, mode, s), (rc, out, used) in zip(meta, res):
        verdict, want, wused = zlib_says(mode, s)
        if verdict == "ok":
            assert rc == OK, (name, rc)
            assert out == want, name
            if mode == "r":
                assert used == wused, (name, used, wused)
        else:
            assert rc != OK, (name, verdict)
    assert len(cases) > 200


def test_inflate_refuses_what_zlib_refuses(bins):
    """Corrupt, truncated and random input: the same verdict as zlib, and
    where both decode, the same bytes (the tool aborts on any write or read
    out of bounds; under ASan any overflow fails the run)."""
    rng = random.Random(1952)
    base = [(m, s) for _, m, s in streams(rng) if len(s) < 4000]
    cases = []
    for mode, s in base:
        for _ in range(40):
            b = bytearray(s)
            if not b:
                break
            k = rng.randrange(3)
            if k == 0:
                i = rng.randrange(len(b))
                b[i] ^= 1 << rng.randrange(8)
            elif k == 1:
                b[rng.randrange(len(b))] = rng.randrange(256)
            else:
                del b[rng.randrange(len(b)):]
            cases.append((mode, bytes(b), 1 << 20))
        # every prefix of the small ones
        if len(s) < 300:
            cases += [(mode, s[:n], 1 << 20) for n in range(len(s))]
        cases.append((mode, s + b"\0junk", 1 << 20))
    for _ in range(3000):
        n = rng.randrange(1, 200)
        junk = bytes(rng.randrange(256) for _ in range(n))
        cases.append(("r", junk, 1 << 20))
        cases.append(("g", b"\x1f\x8b\x08\x00" + b"\0" * 6 + junk, 1 << 20))
    res = run_cases(bins, cases)
    agree = both_ok = 0
    for (mode, s, _), (rc, out, used) in zip(cases, res):
        verdict, want, wused = zlib_says(mode, s)
        if verdict == "ok":
            assert rc == OK and out == want, (mode, s.hex(), rc)
            if mode == "r":
                assert used == wused
            both_ok += 1
        elif verdict == "trailing":
            assert rc == TRAILING, (mode, s.hex(), rc)
        elif verdict == "short":
            assert rc == TRUNCATED, (mode, s.hex(), rc)
        else:
            assert rc < 0, (mode, s.hex(), rc)
        agree += 1
    assert agree == len(cases) > 10000 and both_ok > 100


def test_inflate_output_bounded(bins):
    """A buffer too small by one byte: INFLATE_E_FULL, nothing written past
    it; the gzip trailer's CRC-32 and size are checked."""
    data = b"bounded output " * 5000
    s = raw(data, 9)
    g = gzip.compress(data, mtime=0)
    badcrc = g[:-8] + struct.pack("<I", zlib.crc32(data) ^ 1) + g[-4:]
    badsize = g[:-4] + struct.pack("<I", len(data) + 1)
    stored = raw(data[:5000], 0)
    res = run_cases(bins, [("r", s, len(data) - 1), ("r", s, len(data)), ("g", g, len(data) - 1),
                           ("g", badcrc, len(data)), ("g", badsize, len(data)),
                           ("r", stored, 4999), ("r", b"", 10)])
    assert [r[0] for r in res] == [FULL, OK, FULL, CHECK, CHECK, FULL, TRUNCATED]
    assert res[1][1] == data and len(res[0][1]) <= len(data) - 1


def test_damaged_payload_is_refused(bins, tmp_path):
    """A controller whose carried agent is damaged writes nothing and says
    so (INTERNAL_ERROR), in agent-binary and in --version."""
    ctl = bins.need_controller().read_bytes()
    # gzip -9 -n's header: no flags, no time, XFL 2, OS 3 (Unix)
    at = ctl.find(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03")
    assert at > 0
    bad = bytearray(ctl)
    bad[at + 60000] ^= 0x40
    p = tmp_path / "certfleet"
    p.write_bytes(bytes(bad))
    p.chmod(0o755)
    r = subprocess.run([str(p), "agent-binary"], capture_output=True)
    assert r.returncode == 82 and r.stdout == b"", r
    assert b"INTERNAL_ERROR" in r.stderr and b"x86_64 agent carried in this controller is damaged" in r.stderr
    v = subprocess.run([str(p), "--version"], capture_output=True, text=True)
    assert "embedded agent x86_64 : the x86_64 agent carried in this controller is damaged" in v.stdout
    # the undamaged controller: the agent it was built with, byte for byte
    r = subprocess.run([str(bins.controller), "agent-binary"], capture_output=True)
    assert r.returncode == 0 and r.stdout == (bins.dir / "certfleet-agent").read_bytes()
