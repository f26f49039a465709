"""FlexibleEngine API emulator for the certfleet tests (Python 3 stdlib only).

One TLS server on loopback answers IAM (/v3/auth/tokens), DNS v2 (/v2/zones...)
and ELB (/v3/{project}/elb/... dedicated, /v2.0/lbaas/... shared) as
/work/shared/FE-API.md describes them: password tokens with expiry (project id
or name scope), AK/SK requests verified with the real SDK-HMAC-SHA256
algorithm, project scope enforced, a certificate refused with ELB.1011 when
its key does not match (checked with openssl), a certificate in use by a
listener refused deletion (409).  DNS writes are forwarded to
pebble-challtestsrv (/set-txt, /clear-txt) so Pebble really validates DNS-01.

A second, plain-HTTP management port (test only) shows the state and injects
faults:  GET /state;  POST /fault {"method","path" (regex),"action":
"status"|"expire"|"slow"|"drop","status","delay","count"};  POST /expire-tokens;
POST /zone {"name"};  POST /listener {"api":"v3"|"v2","id"?,"default"?,"sni"?};
POST /reset-log.  A "status" fault with "after": true lets the request take
effect and then answers the error (an upload whose reply was lost).

The original bash scripts' quirks are accepted: a token request body written
with single quotes, and a stray CR at the end of X-Auth-Token.

Run:  python3 feemu.py CONFIG.json   (see FeEmu below for the config fields)
"""

import hashlib
import hmac
import json
import os
import re
import secrets
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"


def sdk_encode(s):
    return urllib.parse.quote(s, safe="-_.~")


def now_iso(t=None):
    t = time.time() if t is None else t
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "000Z"


def v3_time(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def v2_time(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def sdk_signature(sk, method, path, query, headers, signed, body):
    """The SDK-HMAC-SHA256 signature (FE-API.md).  headers: lowercase name -> value."""
    segs = path.split("/")
    uri = "/".join(sdk_encode(urllib.parse.unquote(s)) for s in segs)
    if not uri.endswith("/"):
        uri += "/"
    pairs = []
    for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True):
        pairs.append((sdk_encode(k), sdk_encode(v)))
    pairs.sort()
    q = "&".join("%s=%s" % kv for kv in pairs)
    hdrs = "".join("%s:%s\n" % (n, headers.get(n, "").strip()) for n in signed)
    cr = "\n".join([method, uri, q, hdrs, ";".join(signed), hashlib.sha256(body).hexdigest()])
    sts = "SDK-HMAC-SHA256\n%s\n%s" % (headers.get("x-sdk-date", ""),
                                       hashlib.sha256(cr.encode()).hexdigest())
    return hmac.new(sk.encode(), sts.encode(), hashlib.sha256).hexdigest()


class ApiError(Exception):
    def __init__(self, status, body):
        super().__init__(status)
        self.status, self.body = status, body


def elb_err(status, code, msg):
    return ApiError(status, {"error_msg": msg, "error_code": code,
                             "request_id": secrets.token_hex(16)})


def dns_err(status, code, msg):
    return ApiError(status, {"code": code, "message": msg})


def iam_401():
    return ApiError(401, {"error": {"code": 401, "message": "Unauthorized.",
                                    "title": "Unauthorized"}})


def openssl(args, data=None):
    r = subprocess.run(["openssl"] + args, input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=20)
    return r.returncode, r.stdout


def check_cert_key(cert_pem, key_pem):
    """(expire unix time, SAN list) or raise ELB.1011."""
    if "-----BEGIN CERTIFICATE-----" not in cert_pem or "PRIVATE KEY-----" not in key_pem:
        raise elb_err(400, "ELB.1011", "Invalid certificate or private key.")
    rc1, cpub = openssl(["x509", "-noout", "-pubkey"], cert_pem.encode())
    rc2, kpub = openssl(["pkey", "-pubout"], key_pem.encode())
    if rc1 or rc2 or cpub.strip() != kpub.strip():
        raise elb_err(400, "ELB.1011", "The private key does not match the certificate.")
    rc, end = openssl(["x509", "-noout", "-enddate"], cert_pem.encode())
    m = re.search(rb"notAfter=(.*)", end)
    exp = time.mktime(time.strptime(m.group(1).decode().strip(), "%b %d %H:%M:%S %Y %Z")) \
        - time.timezone if m else time.time() + 86400
    return exp


class State:
    def __init__(self, cfg):
        self.lock = threading.RLock()
        self.cfg = cfg
        self.project_id = cfg["project_id"]
        self.project_name = cfg.get("project_name", "eu-west-0")
        self.domain_name = cfg.get("domain_name", "OCB0001234")
        self.users = {u["name"]: u for u in cfg.get("users", [])}
        self.aksk = dict(cfg.get("aksk", {}))
        self.token_ttl = cfg.get("token_ttl", 86400)
        self.tokens = {}          # token -> {"project_id", "expires"}
        self.zones = {}           # id -> {"name", "recordsets": {id: rs}}
        self.certs = {"v3": {}, "v2": {}}
        self.listeners = {"v3": {}, "v2": {}}
        self.faults = []
        self.log = []
        self.challtestsrv = cfg.get("challtestsrv")
        for z in cfg.get("zones", []):
            self.add_zone(z)
        for lst in cfg.get("listeners", []):
            self.add_listener(lst)

    def add_zone(self, name):
        name = name.lower().rstrip(".") + "."
        zid = "2c9e" + secrets.token_hex(14)
        self.zones[zid] = {"id": zid, "name": name, "recordsets": {}}
        return self.zones[zid]

    def add_listener(self, spec):
        api = spec.get("api", "v3")
        lid = spec.get("id") or secrets.token_hex(16)
        self.listeners[api][lid] = {
            "id": lid, "name": spec.get("name", "listener-" + lid[:6]),
            "protocol": "HTTPS" if api == "v3" else "TERMINATED_HTTPS",
            "protocol_port": 443,
            "default_tls_container_ref": spec.get("default"),
            "sni_container_refs": list(spec.get("sni", [])),
            "loadbalancers": [{"id": secrets.token_hex(16)}],
        }
        return self.listeners[api][lid]

    # --- DNS → challtestsrv
    def sync_txt(self, name, records):
        if not self.challtestsrv:
            return

        def post(path, body):
            req = urllib.request.Request(self.challtestsrv + path, data=json.dumps(body).encode(),
                                         method="POST",
                                         headers={"Content-Type": "application/json"})
            urllib.request.urlopen(req, timeout=5).read()
        post("/clear-txt", {"host": name})
        for r in records:
            post("/set-txt", {"host": name, "value": r.strip('"')})

    def snapshot(self):
        with self.lock:
            return {"project_id": self.project_id, "zones": self.zones, "certs": self.certs,
                    "listeners": self.listeners, "faults": self.faults,
                    "tokens": len(self.tokens), "token_values": list(self.tokens), "log": self.log}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "feemu"

    def log_message(self, fmt, *args):
        sys.stderr.write("feemu: " + (fmt % args) + "\n")

    # --- plumbing
    def send_json(self, status, obj, extra=None):
        data = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(status)
        if obj is not None:
            self.send_header("Content-Type", "application/json")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def handle_any(self, method):
        st = self.server.state
        u = urllib.parse.urlsplit(self.path)
        raw = self.body()
        entry = {"method": method, "path": u.path, "query": u.query, "time": time.time()}
        status = 500
        try:
            action = self.take_fault(method, u.path)
            if action == "drop":
                entry["status"] = "dropped"
                with st.lock:
                    st.log.append(entry)
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if isinstance(action, ApiError) and not getattr(action, "after", False):
                raise action
            status, obj, extra = self.route(method, u.path, u.query, raw, entry)
            if isinstance(action, ApiError):
                raise action          # the request took effect, the reply is lost
            self.send_json(status, obj, extra)
        except ApiError as e:
            status = e.status
            self.send_json(e.status, e.body)
        except Exception as e:  # noqa: BLE001 - a bug in the emulator is a 500
            import traceback
            traceback.print_exc()
            status = 500
            self.send_json(500, {"error_msg": "emulator: %r" % e, "error_code": "EMU.500"})
        entry["status"] = status
        with st.lock:
            st.log.append(entry)

    def take_fault(self, method, path):
        st = self.server.state
        with st.lock:
            for f in st.faults:
                if f.get("count", 1) <= 0:
                    continue
                if f.get("method") and f["method"] != method:
                    continue
                if f.get("path") and not re.search(f["path"], path):
                    continue
                f["count"] = f.get("count", 1) - 1
                f["hits"] = f.get("hits", 0) + 1
                a = f.get("action", "status")
                if a == "slow":
                    delay = f.get("delay", 5)
                    break
                if a == "drop":
                    return "drop"
                if a == "expire":
                    return iam_401()
                err = ApiError(f.get("status", 500), f.get("body", {
                    "error_msg": "injected fault", "error_code": "EMU.%d" % f.get("status", 500)}))
                err.after = bool(f.get("after"))
                return err
            else:
                return None
        time.sleep(delay)
        return None

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")

    # --- authentication
    def auth(self, raw, path, query, method, entry, need_project=None):
        """The project id the request acts for; raise 401 otherwise."""
        st = self.server.state
        tok = self.headers.get("X-Auth-Token")
        if tok is not None:
            tok = tok.strip()          # the original scripts send a stray CR
            with st.lock:
                t = st.tokens.get(tok)
            if t is None or t["expires"] <= time.time():
                entry["auth"] = "token-bad"
                raise iam_401()
            entry["auth"] = "token"
            return t["project_id"]
        a = self.headers.get("Authorization", "")
        m = re.match(r"SDK-HMAC-SHA256\s+Access=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*"
                     r"Signature=([0-9a-f]+)$", a.strip())
        if not m:
            entry["auth"] = "none"
            raise iam_401() if "/elb/" in path or "/lbaas/" in path else \
                dns_err(401, "DNS.0005", "Authentication required.")
        ak, signed, sig = m.groups()
        signed = signed.split(";")
        hdrs = {}
        for n in signed:
            v = self.headers.get(n)
            if v is None:
                raise elb_err(401, "APIGW.0301", "Incorrect IAM authentication information: "
                              "signed header %s missing" % n)
            hdrs[n] = v
        if "host" in hdrs and hdrs["host"].endswith(":443"):
            hdrs["host"] = hdrs["host"][:-4]
        if "x-sdk-date" not in hdrs:
            raise elb_err(401, "APIGW.0301", "Incorrect IAM authentication information: x-sdk-date")
        try:
            d = datetime.strptime(hdrs["x-sdk-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            raise elb_err(401, "APIGW.0301", "Incorrect IAM authentication information: date")
        if abs(d.timestamp() - time.time()) > 900:
            raise elb_err(401, "APIGW.0301", "Incorrect IAM authentication information: "
                          "request expired")
        sk = st.aksk.get(ak)
        want = sdk_signature(sk, method, path, query, hdrs, signed, raw) if sk else None
        if want is None or not hmac.compare_digest(want, sig):
            entry["auth"] = "aksk-bad"
            raise elb_err(401, "APIGW.0301", "Incorrect IAM authentication information: "
                          "verify aksk signature fail")
        entry["auth"] = "aksk"
        pid = self.headers.get("X-Project-Id")
        return (pid or "").strip() or need_project or st.project_id

    # --- routing
    def route(self, method, path, query, raw, entry):
        st = self.server.state
        if path == "/v3/auth/tokens" and method == "POST":
            return self.iam_token(raw)
        if path.startswith("/v2/zones"):
            self.auth(raw, path, query, method, entry)
            with st.lock:
                return self.dns(method, path, query, raw)
        m = re.match(r"^/v3/([0-9a-f]+)/elb/(certificates|listeners)(?:/([^/]+))?$", path)
        if m:
            pid = self.auth(raw, path, query, method, entry, need_project=m.group(1))
            if pid != m.group(1) or m.group(1) != st.project_id:
                raise elb_err(403, "ELB.0003", "project %s not in the token's scope" % m.group(1))
            with st.lock:
                return self.elb("v3", method, m.group(2), m.group(3), query, raw, pid)
        m = re.match(r"^/v2\.0/lbaas/(certificates|listeners)(?:/([^/]+))?$", path)
        if m:
            pid = self.auth(raw, path, query, method, entry)
            if pid != st.project_id:
                raise elb_err(403, "ELB.0003", "project not in scope")
            with st.lock:
                return self.elb("v2", method, m.group(1), m.group(2), query, raw, pid)
        raise ApiError(404, {"error_msg": "no such API", "error_code": "APIGW.0101"})

    def iam_token(self, raw):
        st = self.server.state
        text = raw.decode("utf-8", "replace")
        try:
            req = json.loads(text)
        except ValueError:
            try:
                req = json.loads(text.replace("'", '"'))   # the original scripts' body
            except ValueError:
                raise ApiError(400, {"error": {"code": 400, "message": "bad JSON", "title": "Bad Request"}})
        try:
            ident = req["auth"]["identity"]
            user = ident["password"]["user"]
            scope = req["auth"]["scope"]["project"]
            assert "password" in ident["methods"]
        except (KeyError, TypeError, AssertionError):
            raise ApiError(400, {"error": {"code": 400, "message": "bad request", "title": "Bad Request"}})
        u = st.users.get(user.get("name"))
        if (u is None or not hmac.compare_digest(str(user.get("password", "")), u["password"])
                or (user.get("domain") or {}).get("name") != st.domain_name):
            raise iam_401()
        if scope.get("id") not in (None, st.project_id) or \
                scope.get("name") not in (None, st.project_name) or \
                (scope.get("id") is None and scope.get("name") is None):
            raise iam_401()
        tok = "MIIZ" + secrets.token_urlsafe(1800)       # opaque, several KB
        exp = time.time() + st.token_ttl
        with st.lock:
            st.tokens[tok] = {"project_id": st.project_id, "expires": exp}
        body = {"token": {"expires_at": now_iso(exp), "issued_at": now_iso(),
                          "methods": ["password"],
                          "project": {"id": st.project_id, "name": st.project_name,
                                      "domain": {"id": "d" * 32, "name": st.domain_name}},
                          "user": {"name": u["name"], "id": "u" * 32},
                          "roles": [{"name": "te_admin", "id": "0"}], "catalog": []}}
        return 201, body, {"X-Subject-Token": tok}

    # --- DNS v2
    def dns(self, method, path, query, raw):
        st = self.server.state
        q = dict(urllib.parse.parse_qsl(query))
        if path == "/v2/zones" and method == "GET":
            name = q.get("name", "").lower()
            zs = []
            for z in st.zones.values():
                if name and name.rstrip(".") not in z["name"]:
                    continue          # fuzzy, as the real API: callers compare exactly
                zs.append({"id": z["id"], "name": z["name"], "zone_type": "public", "ttl": 300,
                           "status": "ACTIVE", "record_num": len(z["recordsets"]) + 2})
            return 200, {"zones": zs, "links": {"self": "..."},
                         "metadata": {"total_count": len(zs)}}, None
        m = re.match(r"^/v2/zones/([^/]+)$", path)
        if m and method == "GET":
            z = st.zones.get(m.group(1))
            if z is None:
                raise dns_err(404, "DNS.0101", "The zone does not exist.")
            return 200, {"id": z["id"], "name": z["name"], "zone_type": "public", "ttl": 300,
                         "status": "ACTIVE", "record_num": len(z["recordsets"]) + 2}, None
        m = re.match(r"^/v2/zones/([^/]+)/recordsets(?:/([^/]+))?$", path)
        if not m or m.group(1) not in st.zones:
            raise dns_err(404, "DNS.0101", "The zone does not exist.")
        z = st.zones[m.group(1)]
        rid = m.group(2)
        if rid is None and method == "GET":
            rs = [r for r in z["recordsets"].values()
                  if (not q.get("type") or r["type"] == q["type"])
                  and (not q.get("name") or q["name"].lower().rstrip(".") in r["name"])]
            return 200, {"recordsets": rs, "metadata": {"total_count": len(rs)}}, None
        if rid is None and method == "POST":
            req = json.loads(raw)
            name = str(req.get("name", "")).lower()
            if not name.endswith("."):
                name += "."
            if not (name == z["name"] or name.endswith("." + z["name"])):
                raise dns_err(400, "DNS.0002", "name not in zone")
            recs = req.get("records")
            if not isinstance(recs, list) or not recs:
                raise dns_err(400, "DNS.0308", "Attribute 'records' is invalid, records is null or empty.")
            ttl = req.get("ttl", 300)
            if not isinstance(ttl, int) or ttl < 300:
                raise dns_err(400, "DNS.0307", "Attribute 'ttl' is invalid.")
            for r in z["recordsets"].values():
                if r["name"] == name and r["type"] == req.get("type"):
                    raise dns_err(400, "DNS.0312", "Attribute 'name' conflicts: a record set "
                                  "with the same name and type exists.")
            for v in recs:
                if req.get("type") == "TXT" and not (len(v) >= 2 and v[0] == '"' and v[-1] == '"'):
                    raise dns_err(400, "DNS.0308", "TXT records must be quoted.")
            rs = {"id": "ff80" + secrets.token_hex(14), "name": name,
                  "description": req.get("description"), "zone_id": z["id"],
                  "zone_name": z["name"], "type": req.get("type"), "ttl": ttl,
                  "records": recs, "status": "PENDING_CREATE", "create_at": now_iso(),
                  "update_at": None, "default": False, "project_id": st.project_id}
            z["recordsets"][rs["id"]] = rs
            if rs["type"] == "TXT":
                st.sync_txt(name, recs)
            return 202, rs, None
        if rid not in z["recordsets"]:
            raise dns_err(404, "DNS.0004", "No record sets found.")
        rs = z["recordsets"][rid]
        if method == "GET":
            return 200, rs, None
        if method == "PUT":
            req = json.loads(raw)
            recs = req.get("records")
            if not isinstance(recs, list) or not recs:
                raise dns_err(400, "DNS.0308", "Attribute 'records' is invalid, records is null or empty.")
            rs["records"] = recs
            rs["ttl"] = req.get("ttl", rs["ttl"])
            rs["status"] = "PENDING_UPDATE"
            rs["update_at"] = now_iso()
            if rs["type"] == "TXT":
                st.sync_txt(rs["name"], recs)
            return 202, rs, None
        if method == "DELETE":
            del z["recordsets"][rid]
            if rs["type"] == "TXT":
                st.sync_txt(rs["name"], [])
            rs = dict(rs, status="PENDING_DELETE")
            return 202, rs, None
        raise dns_err(400, "DNS.0002", "bad request")

    # --- ELB
    def elb(self, api, method, kind, oid, query, raw, pid):
        st = self.server.state
        certs, lsn = st.certs[api], st.listeners[api]
        rid = secrets.token_hex(16)

        def wrap(key, obj):
            return {"request_id": rid, key: obj} if api == "v3" else obj

        def cert_out(c):
            c = dict(c)
            for k in ("created", "updated", "expires"):
                c.pop(k, None)
            return c

        if kind == "certificates":
            if oid is None and method == "POST":
                req = json.loads(raw)
                if api == "v3":
                    if "certificate" not in req or not isinstance(req["certificate"], dict):
                        raise elb_err(400, "ELB.1001", "Invalid request body: no 'certificate'.")
                    req = req["certificate"]
                elif isinstance(req.get("certificate"), dict):
                    raise elb_err(400, "ELB.1001", "v2.0 takes a flat body.")
                for f in ("certificate", "private_key"):
                    if not isinstance(req.get(f), str):
                        raise elb_err(400, "ELB.1001", "Invalid parameter: %s." % f)
                exp = check_cert_key(req["certificate"], req["private_key"])
                now = time.time()
                cid = secrets.token_hex(16)
                c = {"id": cid, "name": req.get("name", ""), "type": req.get("type", "server"),
                     "domain": req.get("domain"), "description": req.get("description", ""),
                     "admin_state_up": True, "certificate": req["certificate"],
                     "private_key": req["private_key"]}
                if api == "v3":
                    c.update(created_at=v3_time(now), updated_at=v3_time(now),
                             expire_time=v3_time(exp), project_id=pid)
                else:
                    c.update(create_time=v2_time(now), update_time=v2_time(now),
                             expire_time=v2_time(exp), tenant_id=pid)
                certs[cid] = c
                return 201 if api == "v3" else 200, wrap("certificate", c), None
            if oid is None and method == "GET":
                q = dict(urllib.parse.parse_qsl(query))
                cs = [c for c in certs.values() if not q.get("name") or c["name"] == q["name"]]
                if api == "v3":
                    return 200, {"request_id": rid, "page_info": {
                        "previous_marker": None, "current_count": len(cs), "next_marker": None},
                        "certificates": cs}, None
                return 200, {"certificates": cs, "instance_num": len(cs)}, None
            if oid not in certs:
                raise elb_err(404, "ELB.8902", "certificate %s not found" % oid)
            if method == "GET":
                return 200, wrap("certificate", certs[oid]), None
            if method == "DELETE":
                for L in lsn.values():
                    if L["default_tls_container_ref"] == oid or oid in L["sni_container_refs"]:
                        raise elb_err(409, "ELB.8907", "certificate %s is used by listener %s"
                                      % (oid, L["id"]))
                del certs[oid]
                return 204, None, None
            if method == "PUT":
                req = json.loads(raw)
                req = req.get("certificate", req) if api == "v3" else req
                for k in ("name", "description", "domain"):
                    if k in req:
                        certs[oid][k] = req[k]
                return 200, wrap("certificate", certs[oid]), None
        if kind == "listeners" and oid is None and method == "GET":
            ls = list(lsn.values())
            if api == "v3":
                return 200, {"request_id": rid, "listeners": ls, "page_info": {
                    "previous_marker": None, "current_count": len(ls), "next_marker": None}}, None
            return 200, {"listeners": ls}, None
        if kind == "listeners" and oid is not None:
            if oid not in lsn:
                raise elb_err(404, "ELB.8902", "listener %s not found" % oid)
            L = lsn[oid]
            if method == "GET":
                return 200, {"request_id": rid, "listener": L} if api == "v3" else \
                    {"listener": L}, None
            if method == "PUT":
                req = json.loads(raw).get("listener")
                if not isinstance(req, dict):
                    raise elb_err(400, "ELB.1001", "Invalid request body: no 'listener'.")
                new = dict(L)
                if "default_tls_container_ref" in req:
                    new["default_tls_container_ref"] = req["default_tls_container_ref"]
                if "sni_container_refs" in req:
                    new["sni_container_refs"] = list(req["sni_container_refs"])
                for ref in [new["default_tls_container_ref"]] + new["sni_container_refs"]:
                    if ref is not None and ref not in certs:
                        raise elb_err(404, "ELB.8902", "certificate %s not found" % ref)
                for ref in new["sni_container_refs"]:
                    if not certs[ref].get("domain"):
                        raise elb_err(400, "ELB.1001", "SNI certificates must have a domain.")
                L.update(new)
                return 200, {"request_id": rid, "listener": L} if api == "v3" else \
                    {"listener": L}, None
        raise elb_err(400, "ELB.1001", "unsupported request")


class MgmtHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, obj, status=200):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/state":
            return self.reply(self.server.state.snapshot())
        self.reply({"error": "no"}, 404)

    def do_POST(self):
        st = self.server.state
        n = int(self.headers.get("Content-Length") or 0)
        req = json.loads(self.rfile.read(n) or b"{}")
        with st.lock:
            if self.path == "/fault":
                st.faults.append(req)
                return self.reply(req)
            if self.path == "/clear-faults":
                st.faults.clear()
                return self.reply({})
            if self.path == "/expire-tokens":
                for t in st.tokens.values():
                    t["expires"] = 0
                return self.reply({"expired": len(st.tokens)})
            if self.path == "/zone":
                return self.reply(st.add_zone(req["name"]))
            if self.path == "/listener":
                return self.reply(st.add_listener(req))
            if self.path == "/reset-log":
                st.log.clear()
                return self.reply({})
        self.reply({"error": "no"}, 404)


def serve(cfg):
    state = State(cfg)
    srv = ThreadingHTTPServer(("127.0.0.1", cfg["port"]), Handler)
    srv.daemon_threads = True
    srv.state = state
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cfg["cert"], cfg["key"])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    mg = ThreadingHTTPServer(("127.0.0.1", cfg["mgmt_port"]), MgmtHandler)
    mg.daemon_threads = True
    mg.state = state
    threading.Thread(target=mg.serve_forever, daemon=True).start()
    sys.stderr.write("feemu: listening on 127.0.0.1:%d (mgmt %d)\n" % (cfg["port"], cfg["mgmt_port"]))
    sys.stderr.flush()
    srv.serve_forever()


# ---------------------------------------------------------------- test-side handle

sys.path.insert(0, str(Path(__file__).resolve().parent))


class FeEmu:
    """Starts feemu.py as a process (a cfutil.Service) with its own TLS CA.

    url          https://localhost:PORT  (IAM, DNS and ELB all answer there)
    ca_file      the CA that signed the listener certificate (FE_CA_FILE)
    project_id, project_name, domain_name, user, password, ak, sk
    """

    def __init__(self, workdir, challtestsrv_mgmt=None, zones=("example.test",), token_ttl=86400):
        import cfutil
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ca_file, ca_key = cfutil.make_ca(self.workdir / "ca", cn="certfleet test FE CA")
        cert, key = cfutil.make_leaf(self.workdir / "ca", self.ca_file, ca_key,
                                     dns=("localhost",), ips=("127.0.0.1",), name="feemu")
        self.port, self.mgmt_port = cfutil.free_port(), cfutil.free_port()
        self.project_id = secrets.token_hex(16)
        self.project_name = "eu-west-0"
        self.domain_name = "OCB0001234"
        self.user = "alice"
        self.password = "pw-" + secrets.token_urlsafe(18)
        self.ak = "AK" + secrets.token_hex(9).upper()
        self.sk = "SK" + secrets.token_urlsafe(28)
        cfg = {"port": self.port, "mgmt_port": self.mgmt_port, "cert": str(cert), "key": str(key),
               "project_id": self.project_id, "project_name": self.project_name,
               "domain_name": self.domain_name, "token_ttl": token_ttl,
               "users": [{"name": self.user, "password": self.password}],
               "aksk": {self.ak: self.sk}, "zones": list(zones),
               "challtestsrv": challtestsrv_mgmt}
        cfgp = self.workdir / "feemu.json"
        fd = os.open(cfgp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(cfg, f)
        self.url = "https://localhost:%d" % self.port
        self.mgmt = "http://127.0.0.1:%d" % self.mgmt_port
        self.svc = cfutil.Service()
        self.svc.name = "feemu"
        self.svc._spawn([sys.executable, Path(__file__).resolve(), cfgp],
                        self.workdir / "feemu.log")
        try:
            cfutil.wait_for(lambda: cfutil.tcp_open("127.0.0.1", self.port) and
                            cfutil.tcp_open("127.0.0.1", self.mgmt_port), 15,
                            "feemu", proc=self.svc.proc, log=self.svc.log_path)
        except Exception:
            self.svc.stop()
            raise

    def stop(self):
        self.svc.stop()

    @property
    def log_path(self):
        return self.svc.log_path

    def _post(self, path, body=None):
        req = urllib.request.Request(self.mgmt + path, data=json.dumps(body or {}).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def state(self):
        with urllib.request.urlopen(self.mgmt + "/state", timeout=10) as r:
            return json.loads(r.read())

    def fault(self, **kw):
        return self._post("/fault", kw)

    def clear_faults(self):
        return self._post("/clear-faults")

    def expire_tokens(self):
        return self._post("/expire-tokens")

    def add_zone(self, name):
        return self._post("/zone", {"name": name})

    def add_listener(self, api="v3", **kw):
        kw["api"] = api
        return self._post("/listener", kw)

    def reset_log(self):
        return self._post("/reset-log")

    def zone_id(self, name):
        for z in self.state()["zones"].values():
            if z["name"] == name.rstrip(".") + ".":
                return z["id"]
        return None

    def env(self, auth="password", legacy=False):
        """Environment for certfleet: FE_* names (or the original scripts' names)."""
        e = {"FE_CA_FILE": str(self.ca_file)}
        if legacy:
            e.update(USER_NAME=self.user, USER_PASSWORD=self.password, DOMAIN_NAME=self.domain_name,
                     PROJECT_ID=self.project_id, REGION=self.project_name)
            e.update(FE_IAM_ENDPOINT=self.url, FE_DNS_ENDPOINT=self.url, FE_ELB_ENDPOINT=self.url)
            return e
        e.update(FE_REGION=self.project_name, FE_PROJECT_ID=self.project_id,
                 FE_IAM_ENDPOINT=self.url, FE_DNS_ENDPOINT=self.url, FE_ELB_ENDPOINT=self.url)
        if auth == "password":
            e.update(FE_DOMAIN_NAME=self.domain_name, FE_USERNAME=self.user,
                     FE_PASSWORD=self.password)
        else:
            e.update(FE_ACCESS_KEY=self.ak, FE_SECRET_KEY=self.sk)
        return e


def demo(workdir, challtestsrv_mgmt):
    """`make demo`: start an emulator, write WORKDIR/fe.env (0600: FE_* settings
    and FE_LISTENER_ID of a fresh v3 listener), run until SIGTERM."""
    import signal
    emu = FeEmu(workdir, challtestsrv_mgmt)
    lid = emu.add_listener("v3", name="demo-https")["id"]
    env = dict(emu.env(), FE_LISTENER_ID=lid)
    path = Path(workdir) / "fe.env"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("".join("%s=%s\n" % kv for kv in env.items()))
    signal.signal(signal.SIGTERM, lambda *a: (emu.stop(), sys.exit(0)))
    while emu.svc.alive():
        time.sleep(0.5)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--demo":
        demo(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 2:
        serve(json.loads(Path(sys.argv[1]).read_text()))
    else:
        sys.exit("usage: feemu.py CONFIG.json | feemu.py --demo WORKDIR CHALLTESTSRV_MGMT_URL")
