# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""Identity for the application (issue: claims to CGI and proxied backends
that no client can forge, userinfo, authorization rules, pass mode, CORS
preflight, session info), against a real httpd, the real oidc-provider and a
small echo backend behind mod_proxy."""

import http.server
import json
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


def conf(issuer, echo, root):
    loc = lambda path, body: "<Location %s>\n%s\n</Location>\n" % (path, body)
    auth = "AuthType tp-oauth\nTPOAuthProvider idp\n"
    c = "TPOAuthCacheSize 16M\n"
    c += h.provider_conf("idp", issuer, scope=SCOPE, extra="TPOAuthUserHeader X-Remote-User")
    c += 'ScriptAliasMatch "^/(?:pass|authz/[^/]+)/(.*\\.cgi)$" "%s/app/$1"\n' % root
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


def test_require_failure_401(ident_httpd):
    r = user(ident_httpd, "alice").get(ident_httpd.url("/authz/fail401/whoami.cgi"),
                                        allow_redirects=False, timeout=10)
    assert r.status_code == 401
    assert "insufficient_scope" in r.headers["WWW-Authenticate"]


def test_require_failure_step_up_login(ident_httpd, idp):
    r = user(ident_httpd, "alice").get(ident_httpd.url("/authz/faillogin/whoami.cgi"),
                                        allow_redirects=False, timeout=10)
    assert r.status_code == 302
    assert r.headers["Location"].startswith(idp.issuer)
    assert "state=" in r.headers["Location"]


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


def test_cors_preflight_not_redirected(ident_httpd):
    r = requests.options(ident_httpd.url("/app/whoami.cgi"), timeout=10, headers={
        "Origin": "http://127.0.0.1:9",
        "Access-Control-Request-Method": "GET",
        "Accept": "text/html"}, allow_redirects=False)
    assert r.status_code == 200
    assert "Location" not in r.headers
    # a plain OPTIONS (not a preflight) without a session is refused
    r = requests.options(ident_httpd.url("/app/whoami.cgi"), timeout=10,
                         allow_redirects=False)
    assert r.status_code == 401


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
