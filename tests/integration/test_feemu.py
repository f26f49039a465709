"""The FE API emulator itself: the vendor's AK/SK vector, auth and project scope,
the original scripts' quirks, ELB.1011 and in-use refusal, DNS writes reaching
challtestsrv.  The certfleet tests (test_elb.py) rely on these behaviours."""

import json
import ssl
import urllib.error
import urllib.request

import cfutil
from feemu import sdk_signature


def test_published_aksk_vector():
    sig = sdk_signature("MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc", "GET",
                        "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs",
                        "limit=2&marker=13551d6b-755d-4757-b956-536f674975c0",
                        {"content-type": "application/json",
                         "host": "service.region.example.com",
                         "x-sdk-date": "20191115T033655Z"},
                        ["content-type", "host", "x-sdk-date"], b"")
    assert sig == "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"


def _req(emu, method, path, body=None, headers=None):
    ctx = ssl.create_default_context(cafile=str(emu.ca_file))
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    r = urllib.request.Request(emu.url + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(r, context=ctx, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def _raw_get(emu, path, header_line):
    """A request as curl -H "$TOKEN" sent it with the stray CR the scripts kept."""
    import socket
    ctx = ssl.create_default_context(cafile=str(emu.ca_file))
    with socket.create_connection(("127.0.0.1", emu.port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            t.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n%s\r\n\r\n"
                       % (path, header_line)).encode())
            data = b""
            while True:
                chunk = t.recv(65536)
                if not chunk:
                    break
                data += chunk
    return int(data.split(b" ", 2)[1])


def _token(emu, quoted=False, project=None):
    scope = project or {"id": emu.project_id}
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": emu.user, "password": emu.password, "domain": {"name": emu.domain_name}}}},
        "scope": {"project": scope}}}
    raw = json.dumps(body).replace('"', "'").encode() if quoted else json.dumps(body).encode()
    return _req(emu, "POST", "/v3/auth/tokens", raw)


def test_auth_quirks_scope_and_elb_rules(feemu, tmp_path):
    st, h, _ = _token(feemu, quoted=True, project={"name": "eu-west-0"})
    assert st == 201
    tok = h["X-Subject-Token"]
    assert len(tok) > 2000
    st, _, _ = _token(feemu, project={"id": "0" * 32})
    assert st == 401
    # a stray CR after the token, as the original scripts sent it
    lst = feemu.add_listener("v3")
    path = "/v3/%s/elb/listeners/%s" % (feemu.project_id, lst["id"])
    assert _raw_get(feemu, path, "X-Auth-Token: " + tok + "\r") == 200
    assert _req(feemu, "GET", path, headers={"X-Auth-Token": "nope"})[0] == 401
    assert _req(feemu, "GET", "/v3/%s/elb/listeners/%s" % ("f" * 32, lst["id"]),
                headers={"X-Auth-Token": tok})[0] == 403
    # a key that does not match the certificate: ELB.1011
    ca, cakey = cfutil.make_ca(tmp_path / "ca")
    c1, k1 = cfutil.make_leaf(tmp_path / "ca", ca, cakey, dns=("a.example.test",), name="a")
    c2, k2 = cfutil.make_leaf(tmp_path / "ca", ca, cakey, dns=("b.example.test",), name="b")
    certs = "/v3/%s/elb/certificates" % feemu.project_id
    st, _, b = _req(feemu, "POST", certs, {"certificate": {
        "name": "x", "certificate": c1.read_text(), "private_key": k2.read_text()}},
        {"X-Auth-Token": tok})
    assert st == 400 and json.loads(b)["error_code"] == "ELB.1011"
    st, _, b = _req(feemu, "POST", certs, {"certificate": {
        "name": "x", "domain": "a.example.test", "certificate": c1.read_text(),
        "private_key": k1.read_text()}}, {"X-Auth-Token": tok})
    assert st == 201
    cid = json.loads(b)["certificate"]["id"]
    assert _req(feemu, "PUT", path, {"listener": {"default_tls_container_ref": cid}},
                {"X-Auth-Token": tok})[0] == 200
    assert _req(feemu, "DELETE", certs + "/" + cid, headers={"X-Auth-Token": tok})[0] == 409
    feemu.expire_tokens()
    assert _req(feemu, "GET", path, headers={"X-Auth-Token": tok})[0] == 401


def test_dns_writes_reach_challtestsrv(feemu, challtestsrv):
    st, h, _ = _token(feemu)
    tok = {"X-Auth-Token": h["X-Subject-Token"]}
    zid = feemu.zone_id("example.test")
    rs = "/v2/zones/%s/recordsets" % zid
    name = "_acme-challenge.w.example.test."
    st, _, b = _req(feemu, "POST", rs, {"name": name, "type": "TXT", "ttl": 300,
                                         "records": ['"v1"']}, tok)
    assert st == 202
    rid = json.loads(b)["id"]
    assert _req(feemu, "POST", rs, {"name": name, "type": "TXT", "ttl": 300,
                                     "records": ['"v2"']}, tok)[0] == 400
    assert _req(feemu, "PUT", rs + "/" + rid, {"records": []}, tok)[0] == 400
    assert _req(feemu, "PUT", rs + "/" + rid, {"records": ['"v1"', '"v2"']}, tok)[0] == 202
    got = cfutil.dns_query("127.0.0.1", challtestsrv.dns_port, name, "TXT")
    assert sorted(a[2] for a in got["answers"]) == ["v1", "v2"]
    assert _req(feemu, "DELETE", rs + "/" + rid, headers=tok)[0] == 202
    got = cfutil.dns_query("127.0.0.1", challtestsrv.dns_port, name, "TXT")
    assert not got["answers"]
