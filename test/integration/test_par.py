# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""Pushed Authorization Requests (RFC 9126, issue 15 item 2) against a real httpd with the
module and the real oidc-provider (test/idp) started here with TPO_IDP_REQUIRE_PAR=1, so
that it refuses every authorization request that was not pushed:

  * with the default TPOAuthPushedAuthorization auto the module sees
    require_pushed_authorization_requests in the metadata, pushes the request with its
    client authentication (client_secret_basic and client_secret_post) and the browser's
    authorize URL carries only client_id and request_uri; the login completes;
  * TPOAuthPushedAuthorization off against that provider fails at the provider (so the
    tests above can fail); on against a provider that does not require it pushes too;
  * a third-party-initiated login with PAR lands on its target with a session;
  * failures: wrong client secret (the provider's 401 invalid_client), the PAR endpoint
    down, and a hostile PAR endpoint (non-JSON, no request_uri, a bad request_uri, an
    error JSON, a huge body) give a 502 page and a log line, set no login cookie, and the
    server keeps serving: an existing session goes on working and a new login works.

Everything listens on 127.0.0.1; every wait is bounded; every process started here is
stopped here.
"""

import http.server
import json
import os
import re
import shutil
import tempfile
import threading
import urllib.parse

import pytest
import requests

import tpo_harness as h

WHOAMI = "/app/whoami.cgi"
COOKIE = "tp_oauth_idp"
PAR_URN = "urn:ietf:params:oauth:request_uri:"


class ParIdP(h.IdP):
    """oidc-provider requiring pushed authorization requests for every client."""

    def _spawn(self, argv, env=None):
        env = dict(env or {})
        env["TPO_IDP_REQUIRE_PAR"] = "1"
        super()._spawn(argv, env)


class HostilePar:
    """A PAR endpoint on loopback that answers each path with a canned (status, body) and
    records what it was sent."""

    ANSWERS = {
        "/not-json": (201, "text/html", b"<html>created</html>"),
        "/no-request-uri": (201, "application/json", b'{"expires_in":60}'),
        "/bad-request-uri": (201, "application/json",
                             b'{"request_uri":"urn:x\\r\\nLocation: https://evil.example/",'
                             b'"expires_in":60}'),
        "/bad-expires": (201, "application/json",
                         b'{"request_uri":"urn:ietf:params:oauth:request_uri:x",'
                         b'"expires_in":"forever"}'),
        "/error-json": (400, "application/json",
                        b'{"error":"invalid_request","error_description":"unsupported scope"}'),
        "/huge": (201, "application/json",
                  b'{"request_uri":"urn:ietf:params:oauth:request_uri:x","expires_in":60,'
                  b'"pad":"' + b"x" * (70 * 1024) + b'"}'),
        "/good": (201, "application/json",
                  b'{"request_uri":"urn:ietf:params:oauth:request_uri:hostile-ok",'
                  b'"expires_in":60}'),
    }

    def __init__(self):
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(n, 1 << 20))
                outer.requests.append({"path": self.path, "headers": dict(self.headers),
                                       "body": body.decode("utf-8", "replace")})
                status, ctype, data = outer.ANSWERS.get(self.path, (404, "text/plain", b"no"))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.2}, daemon=True)
        self.thread.start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def last(self, path):
        found = [r for r in self.requests if r["path"] == path]
        assert found, "no request to %s: %s" % (path, self.requests)
        return found[-1]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


# ====================================================================== fixtures

EXTRA_PATHS = ["/post/redirect_uri", "/pub/redirect_uri"]


@pytest.fixture(scope="module")
def par_idp(http_port):
    workdir = tempfile.mkdtemp(prefix="tpo-par-idp-")
    os.chmod(workdir, 0o755)
    idp = ParIdP(workdir, h.idp_clients(http_port, extra_redirect_paths=EXTRA_PATHS))
    try:
        idp.start()
        yield idp
    finally:
        idp.stop()
        if not os.environ.get("TPO_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def hostile():
    server = HostilePar()
    yield server
    server.stop()


BAD_PROVIDERS = {
    # name: (extra provider lines, or a function of the hostile server)
    "badsecret": lambda hs, down: "TPOAuthPushedAuthorization on",
    "pardown": lambda hs, down: ("TPOAuthPushedAuthorization on\n"
                                 "TPOAuthPAREndpoint http://127.0.0.1:%d/par" % down),
    "notjson": lambda hs, down: ("TPOAuthPushedAuthorization on\n"
                                 "TPOAuthPAREndpoint %s" % hs.url("/not-json")),
    "nouri": lambda hs, down: ("TPOAuthPushedAuthorization on\n"
                               "TPOAuthPAREndpoint %s" % hs.url("/no-request-uri")),
    "baduri": lambda hs, down: ("TPOAuthPushedAuthorization on\n"
                                "TPOAuthPAREndpoint %s" % hs.url("/bad-request-uri")),
    "badexp": lambda hs, down: ("TPOAuthPushedAuthorization on\n"
                                "TPOAuthPAREndpoint %s" % hs.url("/bad-expires")),
    "errjson": lambda hs, down: ("TPOAuthPushedAuthorization on\n"
                                 "TPOAuthPAREndpoint %s" % hs.url("/error-json")),
    "huge": lambda hs, down: ("TPOAuthPushedAuthorization on\n"
                              "TPOAuthPAREndpoint %s" % hs.url("/huge")),
    "good": lambda hs, down: ("TPOAuthPushedAuthorization on\n"
                              "TPOAuthPAREndpoint %s" % hs.url("/good")),
}


def par_conf(httpd, idp, hostile, down_port):
    conf = "TPOAuthCacheSize 16M\n" + h.provider_conf("idp", idp.issuer)
    conf += h.protect_conf()
    # a client_secret_post client: the pushed request authenticates like the token request
    conf += h.provider_conf("post", idp.issuer, client_id="tpo-post",
                            client_secret="tpo-post-secret", client_auth="client_secret_post",
                            redirect_uri="/post/redirect_uri")
    conf += 'ScriptAlias /post/ "%s/app/"\n' % httpd.server_root
    conf += h.protect_conf(location="/post/", provider="post")
    # a public client (client authentication none): client_id in the body, once
    conf += h.provider_conf("pub", idp.issuer, client_id="tpo-public", client_secret=None,
                            client_auth="none", redirect_uri="/pub/redirect_uri")
    conf += 'ScriptAlias /pub/ "%s/app/"\n' % httpd.server_root
    conf += h.protect_conf(location="/pub/", provider="pub")
    for name, extra in BAD_PROVIDERS.items():
        secret = "not-the-secret" if name == "badsecret" else h.CLIENT_SECRET
        conf += h.provider_conf(name, idp.issuer, client_secret=secret,
                                redirect_uri="/%s/redirect_uri" % name,
                                extra=extra(hostile, down_port))
        conf += h.protect_conf(location="/%s/" % name, provider=name)
    return conf


@pytest.fixture(scope="module")
def down_port():
    """A loopback port nothing listens on: the PAR endpoint that is down."""
    return h.free_port()


@pytest.fixture
def server(httpd, par_idp, hostile, down_port):
    return httpd.ensure(par_conf(httpd, par_idp, hostile, down_port))


# ====================================================================== helpers

def authorize_redirect(server, path=WHOAMI, session=None):
    """The module's 302 for a navigation without a session: (response, query dict)."""
    s = session or h.browser_session()
    r = s.get(server.url(path), allow_redirects=False, timeout=10)
    assert r.status_code == 302, (r.status_code, r.text[:500])
    loc = r.headers["Location"]
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query, keep_blank_values=True)
    return r, loc, q


def assert_hello(resp, login, path=WHOAMI):
    assert resp.status_code == 200, (resp.status_code, resp.url, resp.text[:1500])
    assert urllib.parse.urlsplit(resp.url).path == path, resp.url
    assert "<h1>Hello %s</h1>" % login in resp.text, resp.text[:1500]


def login_cookies(resp):
    return [hd for hd in h.set_cookie_headers(resp) if "_login_" in hd.split("=", 1)[0]]


# ====================================================================== PAR works

def test_discovery_requires_par(par_idp):
    d = par_idp.discovery()
    assert d.get("require_pushed_authorization_requests") is True, d
    assert d.get("pushed_authorization_request_endpoint", "").startswith(par_idp.issuer), d


def test_login_with_par_browser_carries_only_client_id_and_request_uri(server, par_idp):
    par_idp.reset_stats()
    r, loc, q = authorize_redirect(server)
    assert loc.startswith(par_idp.issuer + "/"), loc
    assert sorted(q) == ["client_id", "request_uri"], loc
    assert q["client_id"] == [h.CLIENT_ID]
    assert q["request_uri"][0].startswith(PAR_URN), loc
    for secretish in ("state", "nonce", "code_challenge", "redirect_uri", "scope"):
        assert secretish not in loc, loc
    # the login cookie of that login is set, as without PAR
    assert login_cookies(r), h.set_cookie_headers(r)
    stats = par_idp.stats()
    assert stats["par"] == 1, stats

    s = h.browser_session()
    resp = h.oidc_login(s, server.url(WHOAMI), "alice")
    assert_hello(resp, "alice")
    first = [x for x in resp.tpo_steps if x.url.startswith(par_idp.issuer + "/auth")][0]
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(first.url).query)
    assert sorted(q) == ["client_id", "request_uri"], first.url
    stats = par_idp.stats()
    assert stats["par"] == 2 and stats["authorization_with_request_uri"] >= 1, stats
    assert stats["token"]["by_grant_type"].get("authorization_code") == 1, stats
    # the session works afterwards
    r = s.get(server.url(WHOAMI), params={"format": "json"}, allow_redirects=False, timeout=10)
    assert r.status_code == 200 and r.json()["REMOTE_USER"] == "alice", r.text[:500]
    log = server.error_log()
    assert re.search(r"TPO00855: provider idp: authorization request pushed to "
                     r"http://127\.0\.0\.1:\d+/request \(expires in \d+ s\)", log), log[-3000:]
    m = requests.get(server.url("/tpo-none"), timeout=5)  # server still serving
    assert m.status_code == 404


@pytest.mark.parametrize("prefix,client_id", [("post", "tpo-post"), ("pub", "tpo-public")])
def test_login_with_par_client_secret_post_and_public(server, par_idp, prefix, client_id):
    par_idp.reset_stats()
    s = h.browser_session()
    path = "/%s/whoami.cgi" % prefix
    r, loc, q = authorize_redirect(server, path=path, session=s)
    assert sorted(q) == ["client_id", "request_uri"] and q["client_id"] == [client_id], loc
    resp = h.oidc_login(s, server.url(path), "bob")
    assert_hello(resp, "bob", path=path)
    assert par_idp.stats()["par"] == 2


def test_par_off_is_refused_by_a_provider_that_requires_it(httpd, par_idp):
    """Proves the provider really requires PAR: without it the login fails there."""
    httpd.ensure(h.standard_conf(par_idp.issuer, provider_extra="TPOAuthPushedAuthorization off"))
    s = h.browser_session()
    r, loc, q = authorize_redirect(httpd, session=s)
    assert "state" in q and "code_challenge" in q and "request_uri" not in q, loc
    resp = s.get(loc, timeout=10, allow_redirects=True)
    assert resp.status_code >= 400 or "oops" in resp.text, (resp.status_code, resp.text[:800])
    assert "Hello" not in resp.text
    assert "invalid_request" in resp.text, resp.text[:1500]


def test_par_on_with_a_provider_that_does_not_require_it(httpd, idp):
    httpd.ensure(h.standard_conf(idp.issuer, provider_extra="TPOAuthPushedAuthorization on"))
    idp.reset_stats()
    r, loc, q = authorize_redirect(httpd)
    assert sorted(q) == ["client_id", "request_uri"], loc
    s = h.browser_session()
    assert_hello(h.oidc_login(s, httpd.url(WHOAMI), "carol"), "carol")
    assert idp.stats()["par"] == 2
    # auto (the default) does not push to a provider that does not require it
    httpd.ensure(h.standard_conf(idp.issuer))
    r, loc, q = authorize_redirect(httpd)
    assert "request_uri" not in q and q["response_type"] == ["code"] and "state" in q, loc


def test_pushed_request_carries_the_whole_authorization_request(server, hostile):
    """What the PAR endpoint receives: a form with every authorization parameter and the
    client authentication (client_secret_basic here); the browser only the request_uri."""
    r, loc, q = authorize_redirect(server, path="/good/")
    assert sorted(q) == ["client_id", "request_uri"], loc
    assert q["request_uri"] == [PAR_URN + "hostile-ok"], loc
    req = hostile.last("/good")
    assert req["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert req["headers"]["Authorization"].startswith("Basic "), req["headers"]
    form = urllib.parse.parse_qs(req["body"])
    assert form["response_type"] == ["code"]
    assert form["client_id"] == [h.CLIENT_ID]
    assert form["redirect_uri"] == [server.url("/good/redirect_uri")]
    assert form["scope"] == ["openid email profile groups"]
    assert form["code_challenge_method"] == ["S256"]
    assert len(form["code_challenge"][0]) == 43
    assert len(form["state"][0]) >= 43 and len(form["nonce"][0]) >= 43
    assert "client_secret" not in form  # basic: in the header only
    assert login_cookies(r)


# ====================================================================== failures

FAILURES = [
    ("badsecret", r"answered HTTP 401 error=invalid_client"),
    ("pardown", r"http://127\.0\.0\.1:\d+/par unreachable"),
    ("notjson", r"answer \(HTTP 201\) unusable: PAR response is not valid JSON"),
    ("nouri", r"answer \(HTTP 201\) unusable: PAR response has no request_uri"),
    ("baduri", r"answer \(HTTP 201\) unusable: PAR response: request_uri is not a URI"),
    ("badexp", r"answer \(HTTP 201\) unusable: PAR response: expires_in is not an integer"),
    ("errjson", r"answered HTTP 400 error=invalid_request: unsupported scope"),
    ("huge", r"answer \(HTTP 201\) unusable: PAR response \(HTTP 201\) is larger than 65536"),
]


@pytest.mark.parametrize("name,log_rx", FAILURES, ids=[f[0] for f in FAILURES])
def test_par_failure_error_page_log_line_server_keeps_serving(server, par_idp, name, log_rx):
    # a user with a session before the failure
    s_ok = h.browser_session()
    assert_hello(h.oidc_login(s_ok, server.url(WHOAMI), "dora"), "dora")
    mark = len(server.error_log())
    b = h.browser_session()
    r = b.get(server.url("/%s/page" % name), allow_redirects=False, timeout=15)
    assert r.status_code == 502, (r.status_code, r.text[:800])
    assert "Login unavailable" in r.text, r.text[:800]
    assert r.headers.get("Location") is None
    assert not login_cookies(r), h.set_cookie_headers(r)
    log = server.error_log()[mark:]
    assert re.search(r"\[tp_oauth:error\] .*TPO00854: provider %s: login not started: pushed "
                     r"authorization request: .*%s" % (name, log_rx), log), log
    # nothing of the body's request_uri or of the secrets reaches the log
    assert "evil.example" not in log and h.CLIENT_SECRET not in log and "not-the-secret" not in log
    # the server keeps serving: the existing session and a new login work
    r = s_ok.get(server.url(WHOAMI), params={"format": "json"}, allow_redirects=False,
                 timeout=10)
    assert r.status_code == 200 and r.json()["REMOTE_USER"] == "dora", r.status_code
    assert_hello(h.oidc_login(h.browser_session(), server.url(WHOAMI), "emil"), "emil")


def test_par_on_but_the_provider_has_no_endpoint(httpd, fakeidp):
    """test/fakeidp's discovery has no pushed_authorization_request_endpoint: with
    TPOAuthPushedAuthorization on every login is a 502 page and a log line."""
    from fake_conf import _location, mode_provider
    where = _location("oidc", "m_oidc")
    httpd.ensure("TPOAuthCacheSize 16M\n" + where
                 + mode_provider(fakeidp.base, "oidc", extra=["TPOAuthPushedAuthorization on"]))
    mark = len(httpd.error_log())
    r = h.browser_session().get(httpd.url("/m/oidc/page"), allow_redirects=False, timeout=10)
    assert r.status_code == 502, (r.status_code, r.text[:500])
    assert "Login unavailable" in r.text and not login_cookies(r)
    log = httpd.error_log()[mark:]
    assert re.search(r"\[tp_oauth:error\] .*TPO00850: provider m_oidc: login not started: pushed "
                     r"authorization requests are on \(TPOAuthPushedAuthorization\) but the "
                     r"provider has no pushed_authorization_request_endpoint", log), log
    # auto (the default) logs in there without PAR
    httpd.ensure("TPOAuthCacheSize 16M\n" + where + mode_provider(fakeidp.base, "oidc"))
    r = h.browser_session().get(httpd.url("/m/oidc/page"), allow_redirects=False, timeout=10)
    assert r.status_code == 302 and "state=" in r.headers["Location"], r.status_code


def test_par_on_without_endpoint_refused_at_startup(httpd, idp):
    conf = ("TPOAuthCacheSize 16M\n"
            + h.provider_conf("nd", idp.issuer, extra="""
                TPOAuthDiscovery off
                TPOAuthAuthorizationEndpoint %s/auth
                TPOAuthTokenEndpoint %s/token
                TPOAuthJWKSURI %s/jwks
                TPOAuthPushedAuthorization on""" % ((idp.issuer,) * 3))
            + h.protect_conf(provider="nd"))
    rc, out = httpd.configtest(conf)
    assert rc != 0 and "TPOAuthPAREndpoint is missing" in out, out
    rc, out = httpd.configtest(conf.replace("TPOAuthPushedAuthorization on",
                                            "TPOAuthPushedAuthorization on\n"
                                            "TPOAuthPAREndpoint %s/request" % idp.issuer))
    assert rc == 0, out
    rc, out = httpd.configtest(conf.replace("TPOAuthPushedAuthorization on",
                                            "TPOAuthPushedAuthorization maybe"))
    assert rc != 0 and "TPOAuthPushedAuthorization" in out, out


def test_par_without_discovery_uses_the_configured_endpoint(httpd, par_idp):
    conf = ("TPOAuthCacheSize 16M\n"
            + h.provider_conf("idp", par_idp.issuer, extra="""
                TPOAuthDiscovery off
                TPOAuthAuthorizationEndpoint %s/auth
                TPOAuthTokenEndpoint %s/token
                TPOAuthJWKSURI %s/jwks
                TPOAuthUserinfoEndpoint %s/me
                TPOAuthPushedAuthorization on
                TPOAuthPAREndpoint %s/request""" % ((par_idp.issuer,) * 5))
            + h.protect_conf())
    httpd.ensure(conf)
    r, loc, q = authorize_redirect(httpd)
    assert sorted(q) == ["client_id", "request_uri"], loc
    assert_hello(h.oidc_login(h.browser_session(), httpd.url(WHOAMI), "fritz"), "fritz")


# ====================================================================== third-party login + PAR

def test_initiate_login_with_par(server, par_idp):
    s = h.browser_session()
    target = server.url(WHOAMI + "?from=third-party")
    r = s.get(server.url(h.REDIRECT_PATH + "/initiate-login"),
              params={"iss": par_idp.issuer, "login_hint": "gina", "target_link_uri": target},
              allow_redirects=False, timeout=10)
    assert r.status_code == 302, (r.status_code, r.text[:500])
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query)
    assert sorted(q) == ["client_id", "request_uri"], r.headers["Location"]
    resp = h.oidc_login(s, r.headers["Location"], "gina")
    assert_hello(resp, "gina")
    assert resp.url == target, resp.url
