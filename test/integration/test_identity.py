# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""Identity for the application (issue: claims to CGI and proxied backends
that no client can forge, userinfo, authorization rules, pass mode, CORS
preflight, session info), against a real httpd, the real oidc-provider and a
small echo backend behind mod_proxy."""

import http.server
import json
import os
import re
import socket
import threading

import pytest
import requests

import tpo_harness as h

SCOPE = "openid email profile groups address"
FORGED = {
    "X-TPO-User": "mallory",
    "x-tpo-claim-email": "evil@example.test",
    "X_TPO_Claim_groups": "admins",
    "X-Tpo-Access-Token": "forged-token",
    "X-TPO_Claims": "{\"sub\":\"mallory\"}",
    "X-Remote-User": "mallory",
}


class _Echo(http.server.BaseHTTPRequestHandler):
    """Answers every request with the request headers it received, as JSON."""

    def _answer(self):
        body = json.dumps({"path": self.path,
                           "headers": [[k, v] for k, v in self.headers.items()]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_OPTIONS = _answer

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def echo():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield "http://127.0.0.1:%d" % srv.server_address[1]
    srv.shutdown()
    srv.server_close()


CORS_ORIGINS = ("http://allowed.example", "https://app2.example:8443")


def record_path(root):
    """The file test/app/record.cgi appends to (proof that the application ran)."""
    return "%s/logs/record.log" % root


def conf(issuer, echo, root):
    loc = lambda path, body: "<Location %s>\n%s\n</Location>\n" % (path, body)
    auth = "AuthType tp-oauth\nTPOAuthProvider idp\n"
    c = "TPOAuthCacheSize 16M\n"
    c += h.provider_conf("idp", issuer, scope=SCOPE, extra="TPOAuthUserHeader X-Remote-User")
    c += 'ScriptAliasMatch "^/(?:pass|authz/[^/]+|cors|cors-any|open-cgi)/(.*\\.cgi)$" ' \
         '"%s/app/$1"\n' % root
    c += "SetEnv RECORD_CGI_FILE %s\n" % record_path(root)
    # server-wide: one more name stripped everywhere
    c += "TPOAuthStripHeaders X-Custom-Ident\n"
    c += loc("/cors/", auth + "Require valid-user\n"
             "TPOAuthCORSAllowOrigin %s\nTPOAuthCORSAllowOrigin %s" % CORS_ORIGINS)
    c += loc("/cors-any/", auth + "Require valid-user\nTPOAuthCORSAllowOrigin *")
    c += loc("/trusted-proxied/", "TPOAuthStripHeaders -X-Forwarded-User X-Location-Only\n"
             "ProxyPass %s/" % echo)
    c += loc("/app/", auth + "Require valid-user")
    c += loc("/proxied/", auth + "Require valid-user\nTPOAuthExport headers\n"
             "ProxyPass %s/\n" % echo)
    c += loc("/both/", auth + "Require valid-user\nTPOAuthExport both\n"
             "ProxyPass %s/\n" % echo)
    c += loc("/open-proxied/", "ProxyPass %s/" % echo)
    c += loc("/pass/", auth + "TPOAuthUnauthenticated pass\nTPOAuthExport both\n"
             "Require all granted")
    rules = {
        "staff": "Require oauth-claim groups=staff",
        "admins": "Require oauth-claim groups=admins",
        "country": "Require oauth-claim address.country=DE",
        "regex": "Require oauth-claim email~^admin@example\\.test$",
        "several": "Require oauth-claim groups=admins address.country=FR",
        "scope-ok": "Require oauth-scope nothing-like-it groups",
        "scope-no": "Require oauth-scope payments",
        "all": "<RequireAll>\nRequire valid-user\nRequire oauth-claim groups=staff\n"
               "Require oauth-claim address.country=FR\n</RequireAll>",
        "any": "<RequireAny>\nRequire oauth-claim groups=admins\n"
               "Require oauth-claim address.country=FR\n</RequireAny>",
        "none": "<RequireAll>\nRequire valid-user\n<RequireNone>\n"
                "Require oauth-claim address.country=FR\n</RequireNone>\n</RequireAll>",
        "fail401": "Require oauth-claim groups=admins\nTPOAuthAuthzFailure 401",
        "faillogin": "Require oauth-claim groups=admins\nTPOAuthAuthzFailure login",
    }
    for name, rule in rules.items():
        c += loc("/authz/%s/" % name, auth + rule)
    return c


@pytest.fixture(scope="module")
def ident_httpd(httpd, idp, echo):
    httpd.ensure(conf(idp.issuer, echo, httpd.server_root))
    return httpd


_sessions = {}


def user(ident_httpd, name):
    """A logged-in requests.Session for login `name` (one login per user)."""
    if name not in _sessions:
        s = h.browser_session()
        r = h.oidc_login(s, ident_httpd.url("/app/whoami.cgi"), name)
        assert r.status_code == 200, r.text[:500]
        _sessions[name] = s
    return _sessions[name]


def app_json(session, url, headers=None):
    r = session.get(url, params={"format": "json"}, headers=headers or {},
                    allow_redirects=False, timeout=10)
    assert r.status_code == 200, (r.status_code, r.text[:500])
    return r.json()


def echo_headers(session, url, headers=None):
    r = session.get(url, headers=headers or {}, allow_redirects=False, timeout=10)
    assert r.status_code == 200, (r.status_code, r.text[:500])
    return r.json()["headers"]


def header_values(pairs, name):
    return [v for k, v in pairs if k.lower() == name.lower()]


# ---------------------------------------------------------------- what the app sees

def test_cgi_sees_every_claim(ident_httpd):
    env = app_json(user(ident_httpd, "jose"), ident_httpd.url("/app/whoami.cgi"))
    assert env["REMOTE_USER"] == "jose"
    assert env["AUTH_TYPE"] == "tp-oauth"
    assert env["TPO_CLAIM_sub"] == "jose"
    assert env["TPO_CLAIM_name"] == "José Müller"                # non-ASCII, as UTF-8
    assert env["TPO_CLAIM_email"] == "jose@example.test"
    assert env["TPO_CLAIM_email_verified"] == "true"
    assert env["TPO_CLAIM_groups"] == "staff,tpo-users"          # array, joined
    assert env["TPO_CLAIM_address_country"] == "DE"              # nested, flattened
    assert env["TPO_CLAIM_address_locality"] == "Berlin"
    assert env["TPO_CLAIM_iat"].isdigit()
    assert "TPO_CLAIM_nonce" not in env
    assert json.loads(env["TPO_CLAIMS"])["address"]["country"] == "DE"
    assert len(env["TPO_ACCESS_TOKEN"]) > 20
    assert env["TPO_ACCESS_TOKEN_EXPIRES"].isdigit()
    assert set(env["TPO_SCOPE"].split()) >= {"openid", "email"}


def test_backend_sees_headers(ident_httpd):
    pairs = echo_headers(user(ident_httpd, "jose"), ident_httpd.url("/proxied/x"))
    assert header_values(pairs, "X-Remote-User") == ["jose"]     # TPOAuthUserHeader
    assert header_values(pairs, "X-TPO-Claim-email") == ["jose@example.test"]
    assert header_values(pairs, "X-TPO-Claim-address-country") == ["DE"]
    assert header_values(pairs, "X-TPO-Claim-groups") == ["staff,tpo-users"]
    # non-ASCII: percent-encoded UTF-8 (documented, reversible)
    assert header_values(pairs, "X-TPO-Claim-name") == ["Jos%C3%A9 M%C3%BCller"]
    assert len(header_values(pairs, "X-TPO-Access-Token")[0]) > 20
    assert json.loads(requests.utils.unquote(header_values(pairs, "X-TPO-Claims")[0]))["sub"] \
        == "jose"


def test_export_env_only_sends_no_headers(ident_httpd):
    env = app_json(user(ident_httpd, "alice"), ident_httpd.url("/app/whoami.cgi"))
    assert not any(k.startswith("HTTP_X_TPO") for k in env)


def test_export_both(ident_httpd):
    pairs = echo_headers(user(ident_httpd, "alice"), ident_httpd.url("/both/y"))
    assert header_values(pairs, "X-Remote-User") == ["alice"]


def test_claim_with_crlf_is_one_safe_header(ident_httpd):
    s = user(ident_httpd, "crlf")
    pairs = echo_headers(s, ident_httpd.url("/proxied/z"))
    assert header_values(pairs, "X-TPO-Claim-name") == ["Evil%0D%0AX-TPO-User: admin"]
    assert header_values(pairs, "X-Remote-User") == ["crlf"]
    assert header_values(pairs, "X-TPO-User") == []
    env = app_json(s, ident_httpd.url("/app/whoami.cgi"))
    assert env["TPO_CLAIM_name"] == "Evil  X-TPO-User: admin"
    assert env["REMOTE_USER"] == "crlf"


@pytest.mark.parametrize("where", ["protected-cgi", "protected-proxy", "unprotected-proxy",
                                   "pass-anonymous", "pass-session"])
def test_forged_identity_headers_never_reach_the_app(ident_httpd, where):
    forged_values = set(FORGED.values())
    if where == "protected-cgi":
        env = app_json(user(ident_httpd, "alice"), ident_httpd.url("/app/whoami.cgi"),
                       FORGED)
        assert env["REMOTE_USER"] == "alice"
        assert not forged_values & set(env.values())
        return
    if where in ("pass-anonymous", "pass-session"):
        s = h.browser_session() if where == "pass-anonymous" else user(ident_httpd, "alice")
        env = app_json(s, ident_httpd.url("/pass/whoami.cgi"), FORGED)
        assert not forged_values & set(env.values())
        return
    s = user(ident_httpd, "alice") if where == "protected-proxy" else h.browser_session()
    path = "/proxied/f" if where == "protected-proxy" else "/open-proxied/f"
    pairs = echo_headers(s, ident_httpd.url(path), FORGED)
    for k, v in pairs:
        assert v not in forged_values, "forged header %s reached the backend" % k
    if where == "protected-proxy":
        assert header_values(pairs, "X-Remote-User") == ["alice"]


# Identity headers that backends commonly trust, in -/_ and case variants, and
# one added server-wide with TPOAuthStripHeaders; each with its own value.
TRUSTED = ["Remote-User", "remote_user", "X-Remote-User", "X-REMOTE_USER", "X-Forwarded-User",
           "x_forwarded_user", "X-Forwarded-Email", "X-FORWARDED-EMAIL",
           "X-Forwarded-Preferred-Username", "x-forwarded_preferred-username",
           "X-Auth-Request-User", "X_Auth_Request_User", "X-Auth-Request-Email",
           "x-auth-request-email", "X-Auth-Request-Groups", "X_AUTH_REQUEST_GROUPS",
           "X-Custom-Ident", "x_custom_ident"]


def trusted_forgery(extra=()):
    return {name: "forged-%d" % i for i, name in enumerate(list(TRUSTED) + list(extra))}


@pytest.mark.parametrize("where", ["protected-cgi", "unprotected-cgi", "pass-anonymous",
                                   "pass-session", "protected-proxy", "unprotected-proxy"])
def test_trusted_identity_headers_stripped(ident_httpd, where):
    forged = trusted_forgery(["X-Location-Only"])
    if where.endswith("cgi") or where.startswith("pass"):
        s = user(ident_httpd, "alice") if where in ("protected-cgi", "pass-session") \
            else h.browser_session()
        path = {"protected-cgi": "/app/whoami.cgi", "unprotected-cgi": "/open-cgi/whoami.cgi"
                }.get(where, "/pass/whoami.cgi")
        env = app_json(s, ident_httpd.url(path), forged)
        leaked = {k: v for k, v in env.items() if v.startswith("forged-")}
        # X-Location-Only is stripped on /trusted-proxied/ only: it shows here
        assert set(leaked.values()) == {forged["X-Location-Only"]}, leaked
        if where in ("protected-cgi", "pass-session"):
            assert env["REMOTE_USER"] == "alice"
        return
    s = user(ident_httpd, "alice") if where == "protected-proxy" else h.browser_session()
    path = "/proxied/t" if where == "protected-proxy" else "/open-proxied/t"
    pairs = echo_headers(s, ident_httpd.url(path), forged)
    leaked = [(k, v) for k, v in pairs if v.startswith("forged-")]
    assert leaked == [("X-Location-Only", forged["X-Location-Only"])], leaked
    if where == "protected-proxy":
        assert header_values(pairs, "X-Remote-User") == ["alice"]   # ours, not the client's


def test_strip_headers_per_directory(ident_httpd):
    """/trusted-proxied/ has `TPOAuthStripHeaders -X-Forwarded-User X-Location-Only`:
    merged with the defaults and the server-wide X-Custom-Ident."""
    forged = trusted_forgery(["X-Location-Only"])
    pairs = echo_headers(h.browser_session(), ident_httpd.url("/trusted-proxied/t"), forged)
    leaked = sorted((k, v) for k, v in pairs if v.startswith("forged-"))
    assert leaked == sorted([("X-Forwarded-User", forged["X-Forwarded-User"]),
                             ("x_forwarded_user", forged["x_forwarded_user"])]), leaked


# ---------------------------------------------------------------- Require rules

@pytest.mark.parametrize("rule,allowed,refused", [
    ("staff", ["alice", "bob", "admin"], []),
    ("admins", ["admin"], ["alice", "bob"]),
    ("country", ["alice", "admin"], ["bob"]),
    ("regex", ["admin"], ["alice", "bob"]),
    ("several", ["admin", "bob"], ["alice"]),
    ("scope-ok", ["alice"], []),
    ("scope-no", [], ["alice", "admin"]),
    ("all", ["bob"], ["alice", "admin"]),
    ("any", ["admin", "bob"], ["alice"]),
    ("none", ["alice", "admin"], ["bob"]),
])
def test_require_rules(ident_httpd, rule, allowed, refused):
    url = ident_httpd.url("/authz/%s/whoami.cgi" % rule)
    for name in allowed:
        r = user(ident_httpd, name).get(url, allow_redirects=False, timeout=10)
        assert r.status_code == 200, "%s should pass %s" % (name, rule)
        assert "Hello %s" % name in r.text
    for name in refused:
        r = user(ident_httpd, name).get(url, allow_redirects=False, timeout=10)
        assert r.status_code == 403, "%s should be refused by %s" % (name, rule)
        assert "not allowed" in r.text
        assert "WWW-Authenticate" not in r.headers
        assert_page_headers(r)


def assert_page_headers(r):
    """The headers of every page the module writes (one page builder)."""
    assert r.headers.get("Content-Security-Policy") == "default-src 'none'", r.headers
    assert r.headers.get("X-Frame-Options") == "DENY", r.headers
    assert r.headers.get("Cache-Control") == "no-store", r.headers
    assert r.headers.get("X-Content-Type-Options") == "nosniff", r.headers


def test_require_failure_401(ident_httpd):
    r = user(ident_httpd, "alice").get(ident_httpd.url("/authz/fail401/whoami.cgi"),
                                        allow_redirects=False, timeout=10)
    assert r.status_code == 401
    assert re.fullmatch(r'TP-OAuth realm="[^"\\]+", error="insufficient_scope"',
                        r.headers["WWW-Authenticate"]), r.headers


def test_require_failure_step_up_login(ident_httpd, idp):
    r = user(ident_httpd, "alice").get(ident_httpd.url("/authz/faillogin/whoami.cgi"),
                                        allow_redirects=False, timeout=10)
    assert r.status_code == 302
    assert r.headers["Location"].startswith(idp.issuer)
    assert "state=" in r.headers["Location"]
    assert_page_headers(r)


def test_anonymous_request_to_rule_location_logs_in(ident_httpd, idp):
    r = h.browser_session().get(ident_httpd.url("/authz/admins/whoami.cgi"),
                                allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"].startswith(idp.issuer)


# ---------------------------------------------------------------- pass mode, preflight, info

def test_pass_mode(ident_httpd):
    anon = app_json(h.browser_session(), ident_httpd.url("/pass/whoami.cgi"))
    assert "REMOTE_USER" not in anon or anon["REMOTE_USER"] == ""
    assert not any(k.startswith("TPO_") for k in anon)
    known = app_json(user(ident_httpd, "alice"), ident_httpd.url("/pass/whoami.cgi"))
    assert known["REMOTE_USER"] == "alice"
    assert known["TPO_CLAIM_email"] == "alice@example.test"
    # an XHR without a session is not redirected either
    r = requests.get(ident_httpd.url("/pass/whoami.cgi"), timeout=10,
                     headers={"X-Requested-With": "XMLHttpRequest"})
    assert r.status_code == 200


def preflight(server, path, origin, method="GET", req_headers=None, **kw):
    headers = {"Origin": origin, "Access-Control-Request-Method": method,
               "Accept": "text/html"}
    if req_headers is not None:
        headers["Access-Control-Request-Headers"] = req_headers
    headers.update(kw.pop("headers", {}))
    return requests.options(server.url(path), headers=headers, allow_redirects=False,
                            timeout=10, **kw)


def cors_headers(resp):
    return {k: v for k, v in resp.headers.items() if k.lower().startswith("access-control-")}


def assert_refused_preflight(r):
    assert r.status_code == 403, (r.status_code, r.headers, r.text[:300])
    assert cors_headers(r) == {}, r.headers
    assert "Location" not in r.headers and "Set-Cookie" not in r.headers
    assert "Hello" not in r.text and "recorded" not in r.text


def test_cors_preflight_not_redirected(ident_httpd):
    # a location without TPOAuthCORSAllowOrigin: the module answers 403 itself
    # (it used to pass the preflight to the application without a user)
    r = preflight(ident_httpd, "/app/whoami.cgi", "http://127.0.0.1:9")
    assert_refused_preflight(r)
    # a plain OPTIONS (not a preflight) without a session is refused
    r = requests.options(ident_httpd.url("/app/whoami.cgi"), timeout=10,
                         allow_redirects=False)
    assert r.status_code == 401


def _records(server):
    try:
        with open(record_path(server.server_root)) as f:
            return f.read()
    except OSError:
        return ""


@pytest.fixture
def record(ident_httpd):
    path = record_path(ident_httpd.server_root)
    with open(path, "w"):
        pass
    os.chmod(path, 0o666)      # the CGI runs as www-data
    return path


def test_cors_preflight_never_runs_the_app(ident_httpd, record):
    """curl -X OPTIONS -H 'Origin: ..' -H 'Access-Control-Request-Method: GET' on a
    protected CGI: the CGI never runs, whatever the origin."""
    # the recorder works (a logged-in GET runs it)
    r = user(ident_httpd, "alice").get(ident_httpd.url("/app/record.cgi?q=control"),
                                       allow_redirects=False, timeout=10)
    assert r.status_code == 200 and r.text == "recorded\n"
    assert "GET user='alice' query=q=control" in _records(ident_httpd)
    cases = [("/app/record.cgi?q=1", "http://x"),                 # no origins configured
             ("/cors/record.cgi?q=2", "http://evil.example"),     # unlisted
             ("/cors/record.cgi?q=3", CORS_ORIGINS[0]),           # listed: 204
             ("/cors-any/record.cgi?q=4", "http://any.example")]  # *: 204
    for path, origin in cases:
        for sess in (requests.Session(), user(ident_httpd, "alice")):
            # anonymous, and with a valid session cookie (curl can send one)
            r = sess.options(ident_httpd.url(path), headers={
                "Origin": origin, "Access-Control-Request-Method": "GET"},
                allow_redirects=False, timeout=10)
            assert r.status_code in (204, 403), (path, r.status_code, r.text[:200])
            assert "recorded" not in r.text
            assert "Location" not in r.headers and "Set-Cookie" not in r.headers
    text = _records(ident_httpd)
    assert "OPTIONS" not in text, text
    assert text.count("\n") == 1, text
    # the access log shows the module's answers, never the CGI's 200
    opts = [e for e in ident_httpd.access_entries() if e["request"].startswith("OPTIONS /")
            and "record.cgi" in e["request"]]
    assert len(opts) == 8 and all(e["status"] in (204, 403) for e in opts), opts


def test_cors_preflight_allowed_origin(ident_httpd):
    for origin in CORS_ORIGINS:
        r = preflight(ident_httpd, "/cors/whoami.cgi", origin, method="PUT",
                      req_headers="X-Requested-With, content-type")
        assert r.status_code == 204, (r.status_code, r.text[:300])
        assert r.headers["Access-Control-Allow-Origin"] == origin
        assert r.headers["Access-Control-Allow-Credentials"] == "true"
        assert r.headers["Access-Control-Allow-Methods"] == "PUT"
        assert r.headers["Access-Control-Allow-Headers"] == "X-Requested-With, content-type"
        assert r.headers["Access-Control-Max-Age"].isdigit()
        assert "Origin" in [v.strip() for v in r.headers["Vary"].split(",")]
        assert "Location" not in r.headers and "Set-Cookie" not in r.headers
        assert r.content == b""
    # without Access-Control-Request-Headers: no Allow-Headers
    r = preflight(ident_httpd, "/cors/whoami.cgi", CORS_ORIGINS[0])
    assert r.status_code == 204 and "Access-Control-Allow-Headers" not in r.headers
    assert r.headers["Access-Control-Allow-Methods"] == "GET"


@pytest.mark.parametrize("origin", ["http://evil.example", "http://allowed.example.evil.example",
                                    "http://allowed.example:80", "https://allowed.example",
                                    "https://app2.example", "null"])
def test_cors_preflight_unlisted_origin(ident_httpd, origin):
    assert_refused_preflight(preflight(ident_httpd, "/cors/whoami.cgi", origin))


def test_cors_preflight_star_echoes_any_origin(ident_httpd):
    for origin in ("http://any.example", "https://x.example:4443", "http://127.0.0.1:9"):
        r = preflight(ident_httpd, "/cors-any/whoami.cgi", origin, method="DELETE")
        assert r.status_code == 204
        assert r.headers["Access-Control-Allow-Origin"] == origin
        assert r.headers["Access-Control-Allow-Credentials"] == "true"
        assert r.headers["Access-Control-Allow-Methods"] == "DELETE"
    # an opaque origin is never echoed with credentials
    assert_refused_preflight(preflight(ident_httpd, "/cors-any/whoami.cgi", "null"))


@pytest.mark.parametrize("origin,method,req_headers", [
    ("http://a.example/path", "GET", None),               # not an origin
    ("http://a.example\"onload=x", "GET", None),
    ("javascript:alert(1)", "GET", None),
    ("http://a.example", "GET DELETE", None),             # not a token
    ("http://a.example", "GET,PUT", None),
    ("http://a.example", "GET", "x-ok, <script>"),
    ("http://a.example", "GET", "x-ok, bad header"),
    ("http://a.example", "GET", "x-ok;x-injected=1"),
])
def test_cors_preflight_garbage_not_echoed(ident_httpd, origin, method, req_headers):
    r = preflight(ident_httpd, "/cors-any/whoami.cgi", origin, method=method,
                  req_headers=req_headers)
    assert_refused_preflight(r)


@pytest.mark.parametrize("folded", ["Access-Control-Request-Headers: x-ok\r\n X-Injected: yes",
                                    "Access-Control-Request-Method: GET\r\n X-Injected: yes",
                                    "Origin: http://a.example\r\n X-Injected: yes"])
def test_cors_preflight_header_injection(ident_httpd, folded):
    """CR/LF smuggled into the request values (obs-fold) never becomes a response
    header."""
    lines = {"Origin": "Origin: http://a.example",
             "Access-Control-Request-Method": "Access-Control-Request-Method: GET"}
    lines[folded.split(":")[0]] = folded
    req = ("OPTIONS /cors-any/whoami.cgi HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n"
           "Connection: close\r\n\r\n" % (ident_httpd.port, "\r\n".join(lines.values())))
    with socket.create_connection(("127.0.0.1", ident_httpd.port), timeout=10) as sock:
        sock.sendall(req.encode())
        data = b""
        while len(data) < 65536:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    status = int(head.split(" ", 2)[1])
    assert status in (400, 403), head
    assert "x-injected" not in head.lower(), head
    assert "access-control-allow" not in head.lower(), head


def test_session_info(ident_httpd):
    s = user(ident_httpd, "alice")
    r = s.get(ident_httpd.url("/app/redirect_uri/info"), timeout=10)
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Content-Type"].startswith("application/json")
    info = r.json()
    assert info["user"] == "alice" and info["sub"] == "alice"
    assert info["claims"]["address"]["country"] == "DE"
    assert info["session_expires"] > info["session_created"]
    assert "access_token" not in info
    anon = h.browser_session().get(ident_httpd.url("/app/redirect_uri/info"), timeout=10,
                                   allow_redirects=False)
    assert anon.status_code == 401
    assert anon.json()["error"] == "no_session"


def test_session_info_with_access_token(httpd, idp):
    httpd.ensure("TPOAuthCacheSize 16M\n"
                 + h.provider_conf("idp", idp.issuer, extra="TPOAuthInfoAccessToken on")
                 + h.protect_conf())
    s = h.browser_session()
    assert h.oidc_login(s, httpd.url("/app/whoami.cgi"), "carol").status_code == 200
    info = s.get(httpd.url("/app/redirect_uri/info"), timeout=10).json()
    assert len(info["access_token"]) > 20
    _sessions.clear()   # the httpd was reconfigured: sessions of this module are gone


# ---------------------------------------------------------------- claim names (issue 10, item 9)

def _first_flat(claims_json, names):
    """Which of the top-level claims in `names` comes first in the claims object."""
    order = [k for k, _ in json.loads(claims_json, object_pairs_hook=lambda pairs: pairs)]
    return min(names, key=order.index)


def test_colliding_claim_names_exported_once(httpd, idp, echo):
    """"address": {"country": "DE"} and "address_country": "XX" flatten to the same
    variable and header name: the app sees only the first, once, and the error log
    names the one left out."""
    ident_httpd = httpd.ensure(conf(idp.issuer, echo, httpd.server_root))
    mark = len(ident_httpd.error_log())
    s = h.browser_session()
    r = h.oidc_login(s, ident_httpd.url("/app/whoami.cgi"), "collide")
    assert r.status_code == 200, r.text[:500]
    env = app_json(s, ident_httpd.url("/app/whoami.cgi"))
    first = _first_flat(env["TPO_CLAIMS"], ["address", "address_country"])
    want = "DE" if first == "address" else "XX"
    assert env["TPO_CLAIM_address_country"] == want
    pairs = echo_headers(s, ident_httpd.url("/proxied/x"))
    assert header_values(pairs, "X-TPO-Claim-address-country") == [want]
    assert header_values(pairs, "X-TPO-Claim-address-locality") == ["Berlin"]
    log = ident_httpd.error_log()[mark:]
    lines = [l for l in log.splitlines() if "not exported" in l]
    assert lines and all("TPO_CLAIM_address_country" in l for l in lines), log[-2000:]
    assert not any("XX" in l or "DE" in l for l in lines)     # no claim value in the log


@pytest.mark.parametrize("directive,value", [
    ("TPOAuthClaimPrefix", "LD_"),
    ("TPOAuthClaimPrefix", "P"),          # PATH
    ("TPOAuthClaimPrefix", "HOM"),        # HOME
    ("TPOAuthClaimPrefix", "HTTP_"),
    ("TPOAuthClaimPrefix", "A-B"),
    ("TPOAuthHeaderPrefix", "X_TPO_"),
])   # (empty prefixes were refused already)
def test_configtest_refuses_dangerous_prefixes(ident_httpd, idp, directive, value):
    c = h.provider_conf("idp", idp.issuer, extra="%s %s" % (directive, value))
    rc, out = ident_httpd.configtest(c)
    assert rc != 0, out
    assert directive in out, out
    ok = h.provider_conf("idp", idp.issuer, extra="TPOAuthClaimPrefix OIDC_CLAIM_\n"
                                                  "TPOAuthHeaderPrefix X-OIDC-")
    rc, out = ident_httpd.configtest(ok)
    assert rc == 0, out
