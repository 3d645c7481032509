# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""Sessions (issue: session storage, lifetimes, distributed cache, logout), against a
real httpd with the module, the real oidc-provider (test/idp), the fake provider
(test/fakeidp), and memcached / Redis started here:

  * the shared-memory cache: thousands of sessions through the real login path into a
    cache that cannot hold them (oldest evicted, one rate-limited warning, the server
    keeps serving), a session with 200 groups, a session too large for the cache
    (500 naming TPOAuthCacheSize), sessions kept across `apachectl graceful` under load;
  * lifetimes: TPOAuthSessionInactivityTimeout and TPOAuthSessionMaxAge, each named in
    the log line that ends the session;
  * two Apache servers sharing memcached or Redis: a session and a login move between
    them, logout on one ends the session on both, a hung or dead backend gives 503 (no
    login loop) and the servers recover, the backend never sees a session id or a
    token in clear;
  * logout: revocation + RP-initiated logout at oidc-provider, the return URL checks
    (no open redirect).

Everything listens on 127.0.0.1; every wait is bounded; every process started here is
stopped here (also when a test fails).
"""

import concurrent.futures
import html
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse

import pytest
import requests

import tpo_harness as h
from fake_conf import FAKE_CLIENT, mode_provider

WHOAMI = "/app/whoami.cgi"
SESSION_COOKIE = "tp_oauth_idp"
XHR = {"X-Requested-With": "XMLHttpRequest", "Accept": "application/json"}
FLOOD = os.path.join(h.REPO, "bench", "login_flood.mjs")
SID_RX = re.compile(r"^[A-Za-z0-9_-]{43}$")

# The absolute URLs the main provider accepts as a return after logout
# (an exact URL, and a prefix ending in /).
ALLOWED_EXACT = "https://app.example.test/bye"
ALLOWED_PREFIX = "https://allowed.example/"


# ====================================================================== helpers

def log_since(server, mark):
    return server.error_log()[mark:]


def cleared(resp, name):
    """True when resp has a Set-Cookie that deletes cookie `name`."""
    for header in h.set_cookie_headers(resp):
        n, v, attrs = h.parse_set_cookie(header)
        if n != name:
            continue
        if v == "" and (attrs.get("max-age") == "0" or "1970" in str(attrs.get("expires", ""))):
            return True
    return False


def sets_value(resp, name):
    """The non-empty value resp sets for cookie `name`, or None."""
    for header in h.set_cookie_headers(resp):
        n, v, _ = h.parse_set_cookie(header)
        if n == name and v:
            return v
    return None


def xhr_status(server, cookie_name, sid, path=WHOAMI):
    """Status of a non-navigation request that carries only this session cookie."""
    headers = dict(XHR)
    if sid:
        headers["Cookie"] = "%s=%s" % (cookie_name, sid)
    r = requests.get(server.url(path), headers=headers, allow_redirects=False, timeout=10)
    return r.status_code


def login_real(server, name):
    """A logged-in requests.Session at the real IdP; returns (session, sid)."""
    s = h.browser_session()
    r = h.oidc_login(s, server.url(WHOAMI), name)
    assert r.status_code == 200, (r.status_code, r.url, r.text[:1000])
    assert "<h1>Hello %s</h1>" % html.escape(name) in r.text, r.text[:1000]
    sid = s.cookies.get(SESSION_COOKIE)
    assert sid and SID_RX.match(sid), sid
    return s, sid


def whoami_json(session, server, path=WHOAMI, headers=None):
    r = session.get(server.url(path), params={"format": "json"}, headers=headers or {},
                    allow_redirects=False, timeout=10)
    assert r.status_code == 200, (r.status_code, r.headers.get("Location"), r.text[:500])
    return r.json()


def static_ok(server):
    r = requests.get(server.url("/static/hello.txt"), timeout=10)
    return r.status_code == 200 and "hello from an unprotected static file" in r.text


def protected_location(path, provider, extra=""):
    return ("<Location %s>\n    AuthType tp-oauth\n    AuthName \"%s\"\n"
            "    TPOAuthProvider %s\n    Require valid-user\n%s</Location>\n"
            % (path, provider, provider, extra))


# ===================================================== configurations (shared httpd)

def fake_provider(fake_base, name, prefix, cookie, extra=()):
    """A provider at the fake IdP's `oidc` mode (it logs the user in by itself),
    with its redirect URI under `prefix`."""
    lines = ["TPOAuthIssuer %s/oidc" % fake_base,
             'TPOAuthScope "openid email"',
             "TPOAuthClientID %s" % FAKE_CLIENT,
             "TPOAuthClientSecret fake-secret",
             "TPOAuthRedirectURI %sredirect_uri" % prefix,
             "TPOAuthCookieName %s" % cookie] + list(extra)
    return "<TPOAuthProvider %s>\n%s\n</TPOAuthProvider>\n" % (
        name, "\n".join("    " + line for line in lines))


def main_conf(idp, fakeidp, root, logout_on=True):
    """The standard /app/ configuration (real IdP, 16M cache) with logout settings,
    /pstatic/ (a static file behind a session), and two fake-IdP providers with short
    lifetimes under /t5/inact/ (inactivity 3 s) and /t5/maxage/ (max age 4 s)."""
    extra = ["TPOAuthLogoutRedirectAllow %s %s" % (ALLOWED_EXACT, ALLOWED_PREFIX)]
    if not logout_on:
        extra.append("TPOAuthProviderLogout off")
    c = h.standard_conf(idp.issuer, cache_size="16M", provider_extra="\n".join(extra))
    c += 'Alias /pstatic/ "%s/static/"\n' % root
    c += protected_location("/pstatic/", "idp")
    c += 'ScriptAliasMatch "^/t5/[^/]+/(.*\\.cgi)$" "%s/app/$1"\n' % root
    c += fake_provider(fakeidp.base, "f_inact", "/t5/inact/", "tpo_inact",
                       ["TPOAuthSessionInactivityTimeout 3"])
    c += protected_location("/t5/inact/", "f_inact")
    c += fake_provider(fakeidp.base, "f_maxage", "/t5/maxage/", "tpo_maxage",
                       ["TPOAuthSessionMaxAge 4"])
    c += protected_location("/t5/maxage/", "f_maxage")
    return c


@pytest.fixture
def main_httpd(httpd, idp, fakeidp):
    return httpd.ensure(main_conf(idp, fakeidp, httpd.server_root))


# ================================================================ 2. many groups

def test_session_with_200_groups(main_httpd):
    s, _ = login_real(main_httpd, "manygroups")
    env = whoami_json(s, main_httpd)
    groups = env["TPO_CLAIM_groups"].split(",")
    expected = ["group-%03d-of-a-large-organisation" % i for i in range(200)]
    assert groups == expected, (len(groups), groups[:3], groups[-3:])
    assert env["REMOTE_USER"] == "manygroups"
    # and again: the record read back from the cache, not only the login's
    env = whoami_json(s, main_httpd)
    assert len(env["TPO_CLAIM_groups"].split(",")) == 200


# ============================================================ 5. session lifetimes

def fake_login(server, prefix):
    """A session at a fake-IdP provider; returns (requests.Session, time of the login)."""
    s = h.browser_session()
    r = s.get(server.url(prefix + "whoami.cgi"), timeout=10)
    t = time.monotonic()
    assert r.status_code == 200 and "Hello fake-user-1" in r.text, (r.status_code, r.url,
                                                                    r.text[:500])
    return s, t


def assert_ended(server, s, prefix, cookie, fakeidp, mark, directive):
    """A navigation with the ended session: 302 to the provider, the cookie cleared,
    and one log line naming the directive that ended it."""
    r = s.get(server.url(prefix + "whoami.cgi"), allow_redirects=False, timeout=10)
    assert r.status_code == 302, (r.status_code, r.text[:500])
    assert r.headers["Location"].startswith(fakeidp.base + "/oidc/authorize?"), \
        r.headers["Location"]
    assert cleared(r, cookie), h.set_cookie_headers(r)
    log = log_since(server, mark)
    ended = [line for line in log.splitlines() if "session of fake-user-1 ended" in line]
    assert len(ended) == 1, log[-3000:]
    assert directive in ended[0], ended[0]
    return ended[0]


def test_inactivity_timeout(main_httpd, fakeidp):
    """Two sessions under TPOAuthSessionInactivityTimeout 3: one used every 0.5 s for
    6 s stays alive; the other, idle for 4.5 s meanwhile, has ended."""
    url = main_httpd.url("/t5/inact/whoami.cgi")
    idle, _ = fake_login(main_httpd, "/t5/inact/")
    active, _ = fake_login(main_httpd, "/t5/inact/")
    assert idle.get(url, allow_redirects=False, timeout=10).status_code == 200
    idle_since = time.monotonic()
    mark = len(main_httpd.error_log())
    deadline = idle_since + 6.0
    n = 0
    idle_checked = False
    while time.monotonic() < deadline:
        r = active.get(url, allow_redirects=False, timeout=10)
        assert r.status_code == 200, "active session, request %d after %.1f s: %s" % (
            n, time.monotonic() - idle_since, r.status_code)
        assert not cleared(r, "tpo_inact")
        n += 1
        if not idle_checked and time.monotonic() - idle_since >= 4.5:
            line = assert_ended(main_httpd, idle, "/t5/inact/", "tpo_inact", fakeidp, mark,
                                "TPOAuthSessionInactivityTimeout")
            assert "inactive" in line and "MaxAge" not in line, line
            idle_checked = True
        time.sleep(0.5)
    assert idle_checked and n >= 5   # ~12 on an idle machine; the CGI is slow under load
    # the active session is still there, and ended no other session on the way
    assert active.get(url, allow_redirects=False, timeout=10).status_code == 200
    assert log_since(main_httpd, mark).count("ended:") == 1


def test_max_age_ends_session_despite_activity(main_httpd, fakeidp):
    mark = len(main_httpd.error_log())
    s, t0 = fake_login(main_httpd, "/t5/maxage/")
    url = main_httpd.url("/t5/maxage/whoami.cgi")
    ended_at = None
    while time.monotonic() - t0 < 7.0:
        r = s.get(url, allow_redirects=False, timeout=10)
        if r.status_code != 200:
            ended_at = time.monotonic() - t0
            break
        time.sleep(0.5)
    assert ended_at is not None, "the session outlived TPOAuthSessionMaxAge 4 by 3 s"
    # the session was created during the callback, shortly before t0
    assert 3.5 <= ended_at <= 5.2, "ended %.2f s after the login" % ended_at
    assert r.status_code == 302 and r.headers["Location"].startswith(
        fakeidp.base + "/oidc/authorize?"), (r.status_code, r.headers.get("Location"))
    assert cleared(r, "tpo_maxage"), h.set_cookie_headers(r)
    log = log_since(main_httpd, mark)
    ended = [line for line in log.splitlines() if "session of fake-user-1 ended" in line]
    assert len(ended) == 1, log[-3000:]
    assert "TPOAuthSessionMaxAge" in ended[0] and "Inactivity" not in ended[0], ended[0]
    # and the user logs in again
    r = s.get(url, timeout=10)
    assert r.status_code == 200 and "Hello fake-user-1" in r.text


# ===================================================================== 7. logout

def logout_url(server, ret=None, raw=None):
    url = server.url("/app/redirect_uri/logout")
    if raw is not None:
        return url + "?" + raw
    if ret is not None:
        return url + "?return=" + urllib.parse.quote(ret, safe="")
    return url


def test_logout_with_provider(main_httpd, idp):
    s, sid = login_real(main_httpd, "alice")
    disco = idp.discovery()
    idp.reset_stats()
    mark = len(main_httpd.error_log())
    r = s.get(logout_url(main_httpd, "/static/hello.txt"), allow_redirects=False, timeout=10)
    assert r.status_code == 302, (r.status_code, r.text[:500])
    assert cleared(r, SESSION_COOKIE), h.set_cookie_headers(r)
    assert r.headers.get("Cache-Control") == "no-store"
    loc = urllib.parse.urlsplit(r.headers["Location"])
    assert "%s://%s%s" % (loc.scheme, loc.netloc, loc.path) == disco["end_session_endpoint"]
    q = urllib.parse.parse_qs(loc.query)
    assert all(len(v) == 1 for v in q.values()), q
    q = {k: v[0] for k, v in q.items()}
    assert q["client_id"] == h.CLIENT_ID
    assert q["post_logout_redirect_uri"] == main_httpd.url("/static/hello.txt")
    assert q["id_token_hint"].startswith("eyJ") and q["id_token_hint"].count(".") == 2
    # the refresh token and the access token were revoked before the redirect
    assert idp.stats()["revocation"] == 2
    log = log_since(main_httpd, mark)
    assert "logout of alice" in log
    assert "revoking the refresh token" not in log   # the failure line
    assert sid not in log
    # the session is gone at once (the cookie jar dropped it: send it by hand)
    assert xhr_status(main_httpd, SESSION_COOKIE, sid) == 401
    # oidc-provider asks for a confirmation; submit its form
    r = s.get(r.headers["Location"], timeout=10)
    assert r.status_code == 200, (r.status_code, r.text[:1000])
    forms = [f for f in h.parse_forms(r.text) if "session/end" in f["action"]]
    assert len(forms) == 1, r.text[:2000]
    data = {i["name"]: i["value"] for i in forms[0]["inputs"]
            if i["name"] and i["type"] == "hidden"}
    data["logout"] = "yes"
    r = s.post(urllib.parse.urljoin(r.url, forms[0]["action"]), data=data, timeout=10)
    assert r.status_code == 200 and r.url.startswith(main_httpd.url("/static/hello.txt")), \
        (r.status_code, r.url, r.text[:500])
    assert "hello from an unprotected static file" in r.text
    stats = idp.stats()
    assert stats["revocation"] == 2 and stats["end_session"] == 1, stats
    # the old cookie still names no session; a navigation starts a new login
    assert xhr_status(main_httpd, SESSION_COOKIE, sid) == 401
    r = requests.get(main_httpd.url(WHOAMI), headers={"Accept": h.HTML_ACCEPT,
                                                      "Cookie": "%s=%s" % (SESSION_COOKIE, sid)},
                     allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"].startswith(idp.issuer)
    # the other users are not affected
    s2, _ = login_real(main_httpd, "bob")
    assert whoami_json(s2, main_httpd)["REMOTE_USER"] == "bob"


def test_logout_with_provider_without_return(main_httpd, idp):
    s, sid = login_real(main_httpd, "carol")
    r = s.get(logout_url(main_httpd), allow_redirects=False, timeout=10)
    assert r.status_code == 302
    loc = r.headers["Location"]
    assert loc.startswith(idp.discovery()["end_session_endpoint"] + "?"), loc
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
    assert "post_logout_redirect_uri" not in q and q["client_id"] == [h.CLIENT_ID]
    assert xhr_status(main_httpd, SESSION_COOKIE, sid) == 401


OPEN_REDIRECTS = ["//evil.example", "///evil.example", "https://evil.example/",
                  "https:evil.example", "/\\evil.example", "\\/evil.example",
                  "/%2F%2Fevil.example", "%2F%2Fevil.example", "/%5Cevil.example",
                  "javascript:alert(1)",
                  # near misses of the allow-list
                  ALLOWED_EXACT + ".evil.example", ALLOWED_EXACT + "/more",
                  "https://allowed.example.evil.example/", "http://allowed.example/",
                  "https://app.example.test@evil.example/bye"]


def assert_logged_out_page(resp, refused=False):
    assert resp.status_code == 200, (resp.status_code, resp.headers.get("Location"))
    assert "Location" not in resp.headers
    assert "Logged out" in resp.text and "You have been logged out" in resp.text
    assert ("not allowed" in resp.text) == refused
    assert_page_headers(resp)


def assert_page_headers(resp):
    """The security headers of every page the module writes."""
    assert resp.headers.get("Cache-Control") == "no-store"
    assert resp.headers.get("X-Frame-Options") == "DENY"
    assert "default-src 'none'" in resp.headers.get("Content-Security-Policy", "")
    assert resp.headers.get("X-Content-Type-Options") == "nosniff"


@pytest.mark.parametrize("ret", OPEN_REDIRECTS)
def test_logout_open_redirect_refused(main_httpd, ret):
    """A refused return URL is not followed, but the logout still happens (a page
    instead of a redirect, also when the provider has an end_session_endpoint)."""
    for query in ("return=" + urllib.parse.quote(ret, safe=""), "return=" + ret):
        s, sid = login_real(main_httpd, "dave")
        mark = len(main_httpd.error_log())
        r = s.get(logout_url(main_httpd, raw=query), allow_redirects=False, timeout=10)
        assert_logged_out_page(r, refused=True)
        assert cleared(r, SESSION_COOKIE), h.set_cookie_headers(r)
        assert "refused return URL" in log_since(main_httpd, mark)
        assert "logout of dave" in log_since(main_httpd, mark)
        # the session is over
        assert xhr_status(main_httpd, SESSION_COOKIE, sid) == 401


@pytest.fixture
def logout_off_httpd(httpd, idp, fakeidp):
    return httpd.ensure(main_conf(idp, fakeidp, httpd.server_root, logout_on=False))


def test_logout_without_provider_logout(logout_off_httpd, idp):
    server = logout_off_httpd
    s, sid = login_real(server, "erin")
    idp.reset_stats()
    r = s.get(logout_url(server, "/static/hello.txt?x=1"), allow_redirects=False, timeout=10)
    assert r.status_code == 302
    assert r.headers["Location"] == server.url("/static/hello.txt?x=1")
    assert cleared(r, SESSION_COOKIE)
    stats = idp.stats()
    assert stats["revocation"] == 2 and stats["end_session"] == 0, stats
    assert xhr_status(server, SESSION_COOKIE, sid) == 401
    # no return: a page
    s, sid = login_real(server, "erin")
    r = s.get(logout_url(server), allow_redirects=False, timeout=10)
    assert r.status_code == 200 and "Location" not in r.headers
    assert "Logged out" in r.text
    assert cleared(r, SESSION_COOKIE)
    assert xhr_status(server, SESSION_COOKIE, sid) == 401
    # logout without a session: the same page, nothing to revoke
    r = requests.get(logout_url(server), allow_redirects=False, timeout=10)
    assert r.status_code == 200 and "Logged out" in r.text


@pytest.mark.parametrize("ret", [ALLOWED_EXACT, ALLOWED_PREFIX + "page?x=1"])
def test_logout_allow_listed_absolute_url(logout_off_httpd, ret):
    s, sid = login_real(logout_off_httpd, "frank")
    r = s.get(logout_url(logout_off_httpd, ret), allow_redirects=False, timeout=10)
    assert r.status_code == 302, (r.status_code, r.text[:300])
    assert r.headers["Location"] == ret
    assert xhr_status(logout_off_httpd, SESSION_COOKIE, sid) == 401


def test_logout_own_absolute_url_is_local(main_httpd, idp):
    """An absolute return URL on this server's own scheme, host and port is local."""
    ret = main_httpd.url("/static/hello.txt?x=1")
    s, sid = login_real(main_httpd, "gina")
    r = s.get(logout_url(main_httpd, ret), allow_redirects=False, timeout=10)
    assert r.status_code == 302, (r.status_code, r.text[:300])
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query)
    assert r.headers["Location"].startswith(idp.discovery()["end_session_endpoint"])
    assert q["post_logout_redirect_uri"] == [ret]
    assert xhr_status(main_httpd, SESSION_COOKIE, sid) == 401


def test_logout_own_absolute_url_without_provider_logout(logout_off_httpd):
    server = logout_off_httpd
    for ret in (server.url("/static/hello.txt?x=1"), server.url("/")):
        s, sid = login_real(server, "gina")
        r = s.get(logout_url(server, ret), allow_redirects=False, timeout=10)
        assert r.status_code == 302, (r.status_code, r.text[:300])
        assert r.headers["Location"] == ret
        assert xhr_status(server, SESSION_COOKIE, sid) == 401


def own_near_misses(server):
    port = server.port
    return ["http://127.0.0.1:%d/x" % (port + 1), "https://127.0.0.1:%d/x" % port,
            "http://localhost:%d/x" % port, "http://127.0.0.1:%d//evil.example/" % port,
            "http://127.0.0.1:%d/\\evil.example/" % port,
            "http://127.0.0.1:%d@evil.example/" % port,
            "http://127.0.0.1:%d.evil.example/" % port, "http://127.0.0.1:%d" % port]


def test_logout_own_origin_near_misses_refused(logout_off_httpd):
    server = logout_off_httpd
    for ret in own_near_misses(server):
        s, sid = login_real(server, "gina")
        r = s.get(logout_url(server, ret), allow_redirects=False, timeout=10)
        assert_logged_out_page(r, refused=True)
        assert xhr_status(server, SESSION_COOKIE, sid) == 401, ret


CROSS_SITE = [{"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
              {"Origin": "http://evil.example"}, {"Origin": "null"},
              {"Referer": "http://evil.example/page"},
              {"Referer": "http://127.0.0.1.evil.example/"}]


def confirm_form(resp):
    assert resp.status_code == 200, (resp.status_code, resp.headers.get("Location"))
    assert "Location" not in resp.headers
    assert "Log out?" in resp.text
    assert_page_headers(resp)
    forms = h.parse_forms(resp.text)
    assert len(forms) == 1 and forms[0]["method"] == "post", resp.text
    assert any(i["type"] == "submit" for i in forms[0]["inputs"]), forms
    return forms[0]


def same_origin(server):
    return {"Origin": server.base, "Sec-Fetch-Site": "same-origin"}


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_logout_csrf_cross_site_get_asks(logout_off_httpd, headers):
    """A cross-site GET (an <img>, a link on another site) does not log out: it
    gets a confirmation page whose button POSTs from this origin."""
    server = logout_off_httpd
    s, sid = login_real(server, "hank")
    r = s.get(logout_url(server, "/static/hello.txt"), headers=headers,
              allow_redirects=False, timeout=10)
    form = confirm_form(r)
    assert not h.set_cookie_headers(r)
    # the session is still valid
    assert whoami_json(s, server)["REMOTE_USER"] == "hank"
    assert xhr_status(server, SESSION_COOKIE, sid) == 200
    # the button (a same-origin POST) logs out, with the same return URL
    action = urllib.parse.urljoin(r.url, html.unescape(form["action"]))
    assert action == logout_url(server, "/static/hello.txt"), action
    r = s.post(action, headers=same_origin(server), allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"] == server.url("/static/hello.txt")
    assert cleared(r, SESSION_COOKIE)
    assert xhr_status(server, SESSION_COOKIE, sid) == 401


@pytest.mark.parametrize("headers", [{"Origin": "http://evil.example"},
                                     {"Origin": "null"},
                                     {"Sec-Fetch-Site": "cross-site",
                                      "Origin": "http://evil.example"}])
def test_logout_csrf_cross_site_post_asks(logout_off_httpd, headers):
    """A form on another site that POSTs to the logout endpoint does not log out
    silently either."""
    server = logout_off_httpd
    s, sid = login_real(server, "hank")
    r = s.post(logout_url(server), headers=headers, data={"x": "1"},
               allow_redirects=False, timeout=10)
    confirm_form(r)
    assert xhr_status(server, SESSION_COOKIE, sid) == 200


@pytest.mark.parametrize("method,headers", [
    ("GET", {"Sec-Fetch-Site": "same-origin", "Referer": "REF"}),
    ("GET", {"Sec-Fetch-Site": "none"}),                       # typed URL, bookmark
    # behind a TLS-terminating proxy the browser's Origin says https: Sec-Fetch-Site decides
    ("POST", {"Origin": "https://127.0.0.1", "Sec-Fetch-Site": "same-origin"}),
    ("GET", {"Referer": "REF"}),
    ("POST", {"Origin": "ORIGIN", "Sec-Fetch-Site": "same-origin"}),
    ("POST", {"Origin": "ORIGIN"}),
])
def test_logout_same_origin_at_once(logout_off_httpd, method, headers):
    server = logout_off_httpd
    headers = {k: v.replace("REF", server.url("/app/whoami.cgi")).replace("ORIGIN", server.base)
               for k, v in headers.items()}
    s, sid = login_real(server, "ivan")
    r = s.request(method, logout_url(server), headers=headers, allow_redirects=False,
                  timeout=10)
    assert_logged_out_page(r)
    assert cleared(r, SESSION_COOKIE)
    assert xhr_status(server, SESSION_COOKIE, sid) == 401


# ========================================================= 3. session too large

def small_cache_conf(idp):
    return h.standard_conf(idp.issuer, cache_size="1M",
                           provider_extra="TPOAuthHTTPMaxResponse 8M")


def test_session_too_large(httpd, idp):
    server = httpd.ensure(small_cache_conf(idp))
    alice, _ = login_real(server, "alice")
    many, _ = login_real(server, "manygroups")       # ~25 KB: fits in 1M
    mark = len(server.error_log())
    s = h.browser_session()
    r = h.oidc_login(s, server.url(WHOAMI), "huge")
    assert r.status_code == 500, "huge login: %d at %s; log: %s" % (
        r.status_code, r.url[:80], [line[-300:] for line in log_since(server, mark).splitlines()
                                    if "[tp_oauth:error]" in line or "[tp_oauth:warn]" in line])
    assert "Session too large" in r.text
    assert r.headers.get("Cache-Control") == "no-store"
    # one trip through the login: no redirect loop
    mine = [x for x in r.tpo_steps if x.url.startswith(server.base)]
    assert len([x for x in mine if urllib.parse.urlsplit(x.url).path == WHOAMI]) == 1, \
        [(x.status_code, x.url[:100]) for x in mine]
    assert len([x for x in mine if "/app/redirect_uri" in x.url]) == 1
    assert sets_value(r, SESSION_COOKIE) is None
    assert s.cookies.get(SESSION_COOKIE) is None
    log = log_since(server, mark)
    lines = [line for line in log.splitlines() if "does not fit" in line]
    assert len(lines) == 1, log[-3000:]
    assert "TPOAuthCacheSize" in lines[0] and "huge" in lines[0], lines[0]
    assert "eyJ" not in log
    # the server keeps serving, the other sessions are intact, logins still work
    assert static_ok(server)
    assert whoami_json(alice, server)["REMOTE_USER"] == "alice"
    assert len(whoami_json(many, server)["TPO_CLAIM_groups"].split(",")) == 200
    login_real(server, "bob")
    # the user who did not fit is sent to log in again, not into a loop of errors
    r = s.get(server.url(WHOAMI), allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"].startswith(idp.issuer)


# ============================================================ 4. graceful restarts

WRK_LUA = r"""
local cookies = {}
for c in string.gmatch(os.getenv("TPO_WRK_COOKIES") or "", "[^|]+") do
  cookies[#cookies + 1] = c
end
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  statuses = {}
  reqs = {}
  for i, c in ipairs(cookies) do
    wrk.headers["Cookie"] = c
    reqs[i] = wrk.format()
  end
  idx = 0
end
function request()
  idx = idx % #reqs + 1
  return reqs[idx]
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do total[k] = (total[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(total) do parts[#parts + 1] = string.format('"%d":%d', k, v) end
  io.write("STATUS_COUNTS {" .. table.concat(parts, ",") .. "}\n")
end
"""


def run_wrk(url, cookies, seconds, tmpdir):
    lua = os.path.join(tmpdir, "status.lua")
    with open(lua, "w") as f:
        f.write(WRK_LUA)
    env = dict(os.environ, TPO_WRK_COOKIES="|".join(cookies))
    return subprocess.run(["wrk", "-t2", "-c8", "-d%ds" % seconds, "--timeout", "5s",
                           "-H", "Connection: close", "-s", lua, url],
                          capture_output=True, text=True, env=env, timeout=seconds + 30)


def wrk_socket_errors(out):
    """wrk's "Socket errors: connect N, read N, write N, timeout N" line as a dict (zeros when
    wrk printed none)."""
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    keys = ("connect", "read", "write", "timeout")
    return dict(zip(keys, (int(v) for v in m.groups()))) if m else dict.fromkeys(keys, 0)


def test_wrk_socket_errors_parsed():
    out = "  18677 requests in 8.00s\n  Socket errors: connect 0, read 1, write 0, timeout 2\n"
    assert wrk_socket_errors(out) == {"connect": 0, "read": 1, "write": 0, "timeout": 2}
    assert wrk_socket_errors("  100 requests in 8.00s\n") == dict.fromkeys(
        ("connect", "read", "write", "timeout"), 0)


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_graceful_under_load_keeps_sessions(main_httpd, tmp_path):
    server = main_httpd
    users = {name: login_real(server, name) for name in ("gina", "hank", "ivan")}
    cookies = ["%s=%s" % (SESSION_COOKIE, sid) for _, sid in users.values()]
    url = server.url("/pstatic/hello.txt")
    for c in cookies:   # the load target needs the session
        assert requests.get(url, headers={"Cookie": c}, timeout=10).status_code == 200
    assert requests.get(url, headers=XHR, timeout=10).status_code == 401
    mark = len(server.error_log())
    errors = []

    def restarts():
        try:
            for _ in range(2):
                time.sleep(2.0)
                server.graceful()
        except Exception as e:   # reported by the main thread
            errors.append(e)

    t = threading.Thread(target=restarts)
    t.start()
    try:
        res = run_wrk(url, cookies, 8, str(tmp_path))
    finally:
        t.join(timeout=60)
    assert not errors, errors
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert server.error_log()[mark:].count("resuming normal operations") == 2
    m = re.search(r"STATUS_COUNTS (\{.*\})", out)
    assert m, out
    counts = {int(k): v for k, v in json.loads(m.group(1)).items()}
    print("wrk through 2 graceful restarts: %s" % counts)
    total = re.search(r"(\d+) requests in", out)
    assert total and int(total.group(1)) > 500, out
    assert set(counts) == {200}, "non-200 responses during graceful restarts: %s\n%s" % (
        counts, out)
    assert "Non-2xx" not in out, out
    # every response wrk completed was counted above as a 200
    assert sum(counts.values()) == int(total.group(1)), out
    # A graceful restart may close a connection the old generation had accepted but not
    # yet read from: wrk counts that as a "read" (or "write") socket error and reconnects.
    # That is allowed, at most once per connection per restart. A refused connection or
    # a request without an answer (timeout) is a failed request: never allowed.
    sock = wrk_socket_errors(out)
    restarts_done, connections = 2, 8
    assert sock["connect"] == 0 and sock["timeout"] == 0, "failed requests: %s\n%s" % (sock, out)
    assert sock["read"] + sock["write"] <= restarts_done * connections, \
        "more closed connections than graceful restarts x connections: %s\n%s" % (sock, out)
    assert not re.search(r"exit signal|Segmentation fault|AH00052", server.error_log()[mark:]), \
        server.error_log()[mark:]
    # every session is still there
    for name, (s, _) in users.items():
        assert whoami_json(s, server)["REMOTE_USER"] == name
    # a graceful restart with changed directives (an unrelated location, another
    # pending-login capacity, another provider timeout) keeps the sessions too
    conf = server.extra_conf
    conf = conf.replace("TPOAuthCacheSize 16M\n",
                        "TPOAuthCacheSize 16M\nTPOAuthPendingLogins 5000\n")
    conf = conf.replace("TPOAuthIssuer %s\n" % server_idp_issuer(conf),
                        "TPOAuthIssuer %s\n    TPOAuthHTTPTimeout 2 8\n"
                        % server_idp_issuer(conf), 1)
    conf += '<Location /unrelated/>\n    Header always set X-Unrelated "1"\n</Location>\n'
    assert "TPOAuthPendingLogins 5000" in conf and "TPOAuthHTTPTimeout 2 8" in conf
    server.graceful(conf)
    r = requests.get(server.url("/unrelated/"), timeout=10)
    assert r.headers.get("X-Unrelated") == "1", "the new configuration is not in use"
    for name, (s, _) in users.items():
        assert whoami_json(s, server)["REMOTE_USER"] == name
    # and logins still work in the new generation
    login_real(server, "judy")


def server_idp_issuer(conf):
    return re.search(r"TPOAuthIssuer (\S+)\n", conf).group(1)


# ================================================== 1. many sessions, LRU eviction

def flood_conf(fakeidp, root):
    # One session through the fake IdP takes ~3.5 KB of shared memory: its record
    # (ID token, access and refresh tokens, the claims and their rendering, ~3 KB)
    # spread over 256-byte blocks, plus an entry slot. 4M has ~14,500 blocks after
    # its tables and holds about 1,200 such sessions, so 10,000 logins overflow it
    # eight times.
    return ("TPOAuthCacheSize 4M\n"
            + mode_provider(fakeidp.base, "oidc")
            + 'Alias /flood/ "%s/static/"\n' % root
            + protected_location("/flood/", "m_oidc"))


def run_flood(url, count, out, concurrency=8, max_seconds=90, users=1000):
    # many users (at most TPO_SESSIONS_PER_USER_MAX sessions each: a user's 65th login
    # ends their oldest session, issue 14)
    r = subprocess.run(["node", FLOOD, "--url", url, "--cookie", "tpo_oidc",
                        "--count", str(count), "--concurrency", str(concurrency),
                        "--users", str(users),
                        "--no-page", "--cookies-out", out, "--max-seconds", str(max_seconds),
                        "--max-failures", str(max(20, count // 50)),
                        "--request-timeout", "10"],
                       capture_output=True, text=True, timeout=max_seconds + 60)
    try:
        res = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise AssertionError("login_flood.mjs: %s %s" % (r.stdout[-2000:], r.stderr[-2000:]))
    with open(out) as f:
        sids = [line.split("=", 1)[1] for line in f.read().split() if "=" in line]
    return res, sids


def check_sessions(server, sids, threads=4):
    """For each sid: True when a request with it is served (200), False when it names
    no session (401); anything else fails."""
    def worker(chunk):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        out = []
        try:
            for sid in chunk:
                for attempt in range(2):
                    try:
                        conn.request("GET", "/flood/hello.txt",
                                     headers={"Cookie": "tpo_oidc=%s" % sid, **XHR})
                        resp = conn.getresponse()
                        resp.read()
                        break
                    except (http.client.HTTPException, OSError):
                        conn.close()
                        conn = http.client.HTTPConnection("127.0.0.1", server.port,
                                                          timeout=10)
                        if attempt:
                            raise
                assert resp.status in (200, 401), (sid, resp.status)
                out.append(resp.status == 200)
        finally:
            conn.close()
        return out
    size = (len(sids) + threads - 1) // threads
    chunks = [sids[i:i + size] for i in range(0, len(sids), size)]
    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        results = list(ex.map(worker, chunks))
    return [x for part in results for x in part]


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(FLOOD), reason="bench/login_flood.mjs does not exist")
def test_many_sessions_evict_oldest(httpd, fakeidp, tmp_path):
    target = 10000
    server = httpd.ensure(flood_conf(fakeidp, httpd.server_root))
    mark = len(server.error_log())
    access_mark = len(server.access_log())
    url = server.url("/flood/hello.txt")
    stop = threading.Event()
    static_failures = []
    static_checks = [0]

    def keep_checking_static():
        while not stop.wait(0.2):
            try:
                ok = static_ok(server)
            except requests.RequestException as e:
                ok = False
                static_failures.append(repr(e))
            static_checks[0] += 1
            if not ok and len(static_failures) < 5:
                static_failures.append("not 200")

    checker = threading.Thread(target=keep_checking_static)
    checker.start()
    sids = []
    failed = 0
    t0 = time.monotonic()
    try:
        # The client drops a login when Apache closes a kept-alive connection under it
        # (mpm_event does that under load): top up until `target` logins succeeded.
        for round_no in range(4):
            left = 90 - (time.monotonic() - t0)
            if len(sids) >= target or left < 5:
                break
            res, got = run_flood(url, target - len(sids), str(tmp_path / ("c%d" % round_no)),
                                 max_seconds=int(left))
            sids += got
            failed += res.get("failed", 0)
            assert res.get("ok", 0) == len(got), res
            assert failed <= target // 50, res
    finally:
        stop.set()
        checker.join(timeout=30)
    elapsed = time.monotonic() - t0
    print("%d sessions in %.1f s (%d failed logins, retried)" % (len(sids), elapsed, failed))
    assert len(sids) >= min(target, 5000), "only %d logins in %.0f s" % (len(sids), elapsed)
    assert len(set(sids)) == len(sids)
    assert not static_failures and static_checks[0] > 0, static_failures
    # no login failed on the server's side (the client's dropped connections aside)
    bad = [e for e in server.access_entries()[access_mark:] if e["status"] >= 500]
    assert not bad, bad[:5]

    alive = check_sessions(server, sids)
    n, live = len(sids), sum(alive)
    print("%d of %d sessions alive" % (live, n))
    assert 500 <= live < n * 0.5, "%d of %d sessions alive in 4M" % (live, n)
    # the oldest were evicted, the newest kept (logins ran 8 at a time, so their
    # order in the cache may differ from the cookie file's by a few places)
    jitter = 64
    assert not any(alive[:n - live - jitter]), \
        "old sessions survived: %s" % [i for i in range(n - live - jitter) if alive[i]][:20]
    assert all(alive[n - live + jitter:]), \
        "new sessions evicted: %s" % [i for i in range(n - live + jitter, n) if not alive[i]][:20]
    assert not any(alive[:1000]) and all(alive[-300:])
    # the server still serves sessions and new logins
    assert static_ok(server)
    s = h.browser_session()
    r = s.get(server.url("/flood/hello.txt"), timeout=10)
    assert r.status_code == 200 and "hello from an unprotected static file" in r.text
    # one rate-limited warning (per child process at most once a minute), not thousands
    log = log_since(server, mark)
    full = [line for line in log.splitlines() if "session cache full" in line]
    print("%d 'session cache full' warnings" % len(full))
    assert full, log[-3000:]
    assert all("raise TPOAuthCacheSize" in line for line in full)
    pids = set(re.findall(r"\[pid (\d+)", "\n".join(full)))
    minutes = 1 + int(elapsed // 60)
    assert len(full) <= len(pids) * minutes and len(full) <= 8 * minutes, full
    assert not [line for line in log.splitlines() if "[tp_oauth:error]" in line
                or "[tp_oauth:crit]" in line][:5]


# ===================================== 6. two servers sharing memcached or Redis

class Backend:
    """memcached or redis-server on 127.0.0.1:port, started and stopped here."""

    def __init__(self, kind, workdir, password=None):
        self.kind = kind
        self.workdir = workdir
        self.port = h.free_port()
        self.password = password
        self.proc = None
        self.log_path = os.path.join(workdir, "%s.log" % kind)

    def argv(self):
        if self.kind == "memcache":
            return ["memcached", "-l", "127.0.0.1", "-p", str(self.port), "-U", "0",
                    "-u", "nobody", "-m", "64"]
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--protected-mode", "yes",
                "--dir", self.workdir]
        if self.password:
            argv += ["--requirepass", self.password]
        return argv

    def start(self, timeout=10):
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            log.close()

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited: %s" % (self.kind, open(self.log_path).read()))
            return h.port_open(self.port)
        h.wait_until(ready, timeout, what="%s on port %d" % (self.kind, self.port))
        return self

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
                self.proc.send_signal(sig)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
            except ProcessLookupError:
                pass
        self.proc = None

    def pause(self):
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def count(self):
        """How many items the backend holds (exact, unlike a metadump)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            f = sock.makefile("rwb")
            if self.kind == "memcache":
                f.write(b"stats\r\n")
                f.flush()
                n = None
                while True:
                    line = f.readline()
                    assert line, "memcached closed the connection"
                    if line == b"END\r\n":
                        break
                    parts = line.split()
                    if len(parts) == 3 and parts[1] == b"curr_items":
                        n = int(parts[2])
                assert n is not None
                return n
            if self.password:
                a = self.password.encode()
                f.write(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(a), a))
                f.flush()
                assert f.readline().startswith(b"+"), "redis AUTH failed"
            f.write(b"*1\r\n$6\r\nDBSIZE\r\n")
            f.flush()
            line = f.readline()
            assert line.startswith(b":"), line
            return int(line[1:-2])

    def ttls(self):
        """{key (bytes): seconds it still lives (None: no expiry)} of the backend."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            f = sock.makefile("rwb")
            if self.kind == "memcache":
                return self._ttls_memcache(f)
            return self._ttls_redis(f)

    @staticmethod
    def _ttls_memcache(f):
        for _ in range(50):
            f.write(b"lru_crawler metadump all\r\n")
            f.flush()
            out, busy = {}, False
            while True:
                line = f.readline()
                assert line, "memcached closed the connection"
                if line.startswith(b"BUSY"):
                    busy = True
                    break
                if line == b"END\r\n":
                    break
                assert not line.startswith((b"ERROR", b"CLIENT_ERROR", b"SERVER_ERROR")), line
                fields = dict(x.split(b"=", 1) for x in line.split() if b"=" in x)
                if b"key" in fields:
                    exp = int(fields.get(b"exp", b"-1"))
                    out[urllib.parse.unquote_to_bytes(fields[b"key"].decode())] = (
                        None if exp < 0 else exp - time.time())
            if not busy:
                return out
            time.sleep(0.1)
        raise AssertionError("memcached: lru_crawler stayed busy")

    def _ttls_redis(self, f):
        def cmd(*args):
            f.write(b"*%d\r\n" % len(args))
            for a in args:
                a = a if isinstance(a, bytes) else a.encode()
                f.write(b"$%d\r\n%s\r\n" % (len(a), a))
            f.flush()
            line = f.readline()
            t, rest = line[:1], line[1:-2]
            assert t != b"-", rest
            if t in (b"+", b":"):
                return rest if t == b"+" else int(rest)
            if t == b"*":
                items = []
                for _ in range(int(rest)):
                    n = int(f.readline()[1:-2])
                    items.append(f.read(n + 2)[:n])
                return items
            raise AssertionError("redis: unexpected reply %r" % line)
        if self.password:
            cmd("AUTH", self.password)
        out = {}
        for k in cmd("KEYS", "*"):
            ms = cmd("PTTL", k)
            if ms != -2:
                out[k] = None if ms < 0 else ms / 1000.0
        return out

    # ------------------------------------------------------------ raw contents
    def dump(self):
        """{key (bytes): value (bytes)} of everything the backend holds."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            f = sock.makefile("rwb")
            return self._dump_memcache(f) if self.kind == "memcache" else self._dump_redis(f)

    @staticmethod
    def _dump_memcache(f):
        keys = None
        for _ in range(50):
            f.write(b"lru_crawler metadump all\r\n")
            f.flush()
            lines = []
            while True:
                line = f.readline()
                assert line, "memcached closed the connection"
                if line.startswith(b"BUSY"):
                    break
                if line in (b"END\r\n",):
                    keys = [urllib.parse.unquote_to_bytes(l.split(b" ", 1)[0][4:].decode())
                            for l in lines if l.startswith(b"key=")]
                    break
                assert not line.startswith((b"ERROR", b"CLIENT_ERROR", b"SERVER_ERROR")), line
                lines.append(line)
            if keys is not None:
                break
            time.sleep(0.1)
        assert keys is not None, "memcached: lru_crawler stayed busy"
        out = {}
        for k in keys:
            f.write(b"get " + k + b"\r\n")
            f.flush()
            line = f.readline()
            if line == b"END\r\n":
                continue   # expired meanwhile
            parts = line.split()
            assert parts[0] == b"VALUE", line
            n = int(parts[3])
            out[k] = f.read(n + 2)[:n]
            assert f.readline() == b"END\r\n"
        return out

    def _dump_redis(self, f):
        def cmd(*args):
            f.write(b"*%d\r\n" % len(args))
            for a in args:
                a = a if isinstance(a, bytes) else a.encode()
                f.write(b"$%d\r\n%s\r\n" % (len(a), a))
            f.flush()
            return read()

        def read():
            line = f.readline()
            t, rest = line[:1], line[1:-2]
            if t == b"+":
                return rest
            if t == b"-":
                raise AssertionError("redis: %r" % rest)
            if t == b":":
                return int(rest)
            if t == b"$":
                n = int(rest)
                return None if n < 0 else f.read(n + 2)[:n]
            if t == b"*":
                n = int(rest)
                return None if n < 0 else [read() for _ in range(n)]
            raise AssertionError("redis: unexpected reply %r" % line)
        if self.password:
            cmd("AUTH", self.password)
        out = {}
        for k in cmd("KEYS", "*"):
            if cmd("TYPE", k) == b"string":
                v = cmd("GET", k)
                if v is not None:
                    out[k] = v
        return out


class Cluster:
    def __init__(self, kind, backend, a, b, fakeidp):
        self.kind, self.backend, self.a, self.b, self.fakeidp = kind, backend, a, b, fakeidp

    def page(self, server):
        return server.url("/m/oidc/whoami.cgi")

    def servers(self):
        return (self.a, self.b)

    def check_health(self):
        for server in self.servers():
            problems = server.problems()
            assert not problems, "\n".join(problems)[:8000]


# how long after the backend is back every server process must use it again
# (the backends skip a server that failed for 0.5 s before they probe it again)
RECOVERY = 1.0
PASSPHRASE = "cluster-test-passphrase-0123456789"
REDIS_PASSWORD = "redis-test-password-42"


def cluster_conf(kind, backend, fakeidp, root, login_key_file):
    c = "TPOAuthCache %s 127.0.0.1:%d\n" % (kind, backend.port)
    c += 'TPOAuthCachePassphrase "%s"\n' % PASSPHRASE
    # logins in progress live in the browser, sealed with a key from this file:
    # every server behind the load balancer has the same one
    c += 'TPOAuthLoginCookieKeyFile "%s"\n' % login_key_file
    c += "TPOAuthCacheTimeout 0.5\n"
    if kind == "redis":
        c += "TPOAuthCacheRedisPassword %s\n" % REDIS_PASSWORD
    c += mode_provider(fakeidp.base, "oidc")
    c += 'ScriptAliasMatch "^/m/[^/]+/(.*\\.cgi)$" "%s/app/$1"\n' % root
    c += protected_location("/m/oidc/", "m_oidc")
    return c


@pytest.fixture(scope="module", params=["memcache", "redis"])
def cluster(request, module_path, fakeidp):
    kind = request.param
    if shutil.which("memcached" if kind == "memcache" else "redis-server") is None:
        pytest.skip("%s is not installed" % kind)
    workdir = tempfile.mkdtemp(prefix="tpo-cluster-")
    os.chmod(workdir, 0o755)
    backend = Backend(kind, workdir, password=REDIS_PASSWORD if kind == "redis" else None)
    servers = []
    login_key_file = os.path.join(workdir, "login-cookie.key")
    with open(login_key_file, "wb") as f:
        f.write(os.urandom(32))
    try:
        backend.start()
        for _ in range(2):
            server = h.Httpd(module=module_path)
            servers.append(server)
            server.start(cluster_conf(kind, backend, fakeidp, server.server_root,
                                      login_key_file))
        yield Cluster(kind, backend, servers[0], servers[1], fakeidp)
    finally:
        keep = any(server.problems(since_last=False) for server in servers)
        with concurrent.futures.ThreadPoolExecutor(2) as ex:   # stopping takes ~1.5 s each
            list(ex.map(lambda server: server.cleanup(keep=keep), servers))
        backend.stop()
        if not keep and not os.environ.get("TPO_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)


def cluster_login(cl, server):
    """A full login at `server` through the fake IdP (every user is fake-user-1);
    returns (session, sid)."""
    s = h.browser_session()
    r = s.get(cl.page(server), timeout=10)
    assert r.status_code == 200 and "Hello fake-user-1" in r.text, (r.status_code, r.url,
                                                                    r.text[:500])
    sid = s.cookies.get("tpo_oidc")
    assert sid and SID_RX.match(sid), sid
    return s, sid


def page_status(cl, server, sid, navigation=False, timeout=10):
    headers = {"Accept": h.HTML_ACCEPT} if navigation else dict(XHR)
    if sid:
        headers["Cookie"] = "tpo_oidc=%s" % sid
    return requests.get(cl.page(server), headers=headers, allow_redirects=False,
                        timeout=timeout)


def test_cluster_session_shared(cluster):
    cl = cluster
    s, sid = cluster_login(cl, cl.a)
    r = s.get(cl.page(cl.b), allow_redirects=False, timeout=10)
    assert r.status_code == 200 and "Hello fake-user-1" in r.text, (r.status_code, r.text[:300])
    for server in cl.servers():
        assert page_status(cl, server, sid).status_code == 200
    # a session id the cache does not know: 401 on both, and no entry is created
    other = "A" * 43
    for server in cl.servers():
        assert page_status(cl, server, other).status_code == 401
    cl.check_health()


def test_cluster_login_started_on_a_finished_on_b(cluster):
    cl = cluster
    s = h.browser_session()
    r = s.get(cl.page(cl.a), allow_redirects=False, timeout=10)
    assert r.status_code == 302
    authorize = r.headers["Location"]
    assert authorize.startswith(cl.fakeidp.base + "/oidc/authorize?")
    r = s.get(authorize, allow_redirects=False, timeout=10)
    assert r.status_code == 302
    callback = urllib.parse.urlsplit(r.headers["Location"])
    assert callback.netloc == "127.0.0.1:%d" % cl.a.port, callback
    # deliver the provider's answer to B instead
    on_b = urllib.parse.urlunsplit(callback._replace(netloc="127.0.0.1:%d" % cl.b.port))
    stolen = h.browser_session()        # someone with a copy of the browser's cookies
    stolen.cookies.update(s.cookies)
    r = s.get(on_b, allow_redirects=False, timeout=10)
    assert r.status_code == 302, (r.status_code, r.text[:500])
    assert r.headers["Location"] == "/m/oidc/whoami.cgi"
    sid = sets_value(r, "tpo_oidc")
    assert sid and SID_RX.match(sid)
    for server in cl.servers():
        assert page_status(cl, server, sid).status_code == 200
    # the state was spent on B: replaying the callback on A fails, also with a copy
    # of the login cookie (the one-use marker is in the shared cache)
    r = s.get(urllib.parse.urlunsplit(callback), allow_redirects=False, timeout=10)
    assert r.status_code == 400, r.status_code
    mark = len(cl.a.error_log())
    r = stolen.get(urllib.parse.urlunsplit(callback), allow_redirects=False, timeout=10)
    assert r.status_code == 400 and "already used" in r.text, r.status_code
    assert "state already used (replay of the callback?)" in log_since(cl.a, mark)
    cl.check_health()


def test_cluster_logout_on_b_ends_session_on_a(cluster):
    cl = cluster
    s, sid = cluster_login(cl, cl.a)
    assert page_status(cl, cl.b, sid).status_code == 200
    r = s.get(cl.b.url("/m/oidc/redirect_uri/logout?return=/static/hello.txt"),
              allow_redirects=False, timeout=10)
    assert r.status_code == 302, (r.status_code, r.text[:300])
    assert r.headers["Location"] == cl.b.url("/static/hello.txt")
    assert cleared(r, "tpo_oidc")
    for server in cl.servers():
        assert page_status(cl, server, sid).status_code == 401
    r = page_status(cl, cl.a, sid, navigation=True)
    assert r.status_code == 302 and r.headers["Location"].startswith(cl.fakeidp.base)
    cl.check_health()


def test_cluster_cache_holds_nothing_in_clear(cluster):
    cl = cluster
    s, sid = cluster_login(cl, cl.a)
    # a login in progress too (since issue 10 it lives in the browser's sealed login
    # cookie; the cache only gets a one-use marker when the callback takes it)
    pending = h.browser_session()
    r = pending.get(cl.page(cl.b), allow_redirects=False, timeout=10)
    assert r.status_code == 302
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query)
    state = q["state"][0]
    login_cookies = [c.value for c in pending.cookies if c.name.startswith("tpo_oidc_login_")]
    assert len(login_cookies) == 1
    data = cl.backend.dump()
    assert len(data) >= 2, data.keys()          # the session and the consumed marker
    assert sum(len(v) for v in data.values()) > 1000   # the session is in there
    secrets_ = [sid, state, login_cookies[0], q["nonce"][0],
                "fake-user-1@example.com", "fake-user-1", "eyJ", "Bearer"]
    for key, value in data.items():
        for secret in secrets_:
            if not secret:
                continue
            assert secret.encode() not in key, (secret, key)
            assert secret.encode() not in value, (secret, key)
        assert b"session" not in key.lower() and b"state" not in key.lower(), key
    cl.check_health()


def test_cluster_anonymous_navigations_write_nothing(cluster):
    """Logins started by anonymous clients take no room in the shared cache: only
    a finished callback writes (its one-use marker)."""
    cl = cluster
    # counted (memcached's metadump may list a fresh item of an earlier test late)
    before = cl.backend.count()
    for i in range(20):
        server = cl.servers()[i % 2]
        r = page_status(cl, server, None, navigation=True)
        assert r.status_code == 302 and r.headers["Location"].startswith(cl.fakeidp.base)
    assert cl.backend.count() <= before, "anonymous navigations wrote to the cache"
    cl.check_health()


def test_cluster_backend_hung(cluster):
    cl = cluster
    s, sid = cluster_login(cl, cl.a)
    s2, sid2 = cluster_login(cl, cl.b)
    marks = [len(server.error_log()) for server in cl.servers()]
    cl.backend.pause()
    try:
        for server in cl.servers():
            for navigation in (True, False, True):
                t = time.monotonic()
                r = page_status(cl, server, sid, navigation=navigation)
                took = time.monotonic() - t
                assert r.status_code == 503, (r.status_code, r.headers.get("Location"))
                assert "Location" not in r.headers
                assert "Session store unavailable" in r.text
                assert took < 3.0, "503 after %.2f s" % took
                assert not cleared(r, "tpo_oidc"), "the session cookie was dropped"
            # a visitor without a session: the login starts (since issue 10 it needs
            # nothing from the cache until its callback), quickly and without a loop
            t = time.monotonic()
            r = page_status(cl, server, None, navigation=True)
            assert r.status_code == 302, r.status_code
            assert r.headers["Location"].startswith(cl.fakeidp.base)
            assert time.monotonic() - t < 3.0
            # ... but its callback cannot record the state as used: 503, no session
            visitor = h.browser_session()
            r = visitor.get(cl.page(server), allow_redirects=False, timeout=10)
            r = visitor.get(r.headers["Location"], allow_redirects=False, timeout=10)
            assert r.status_code == 302
            t = time.monotonic()
            r = visitor.get(r.headers["Location"], allow_redirects=False, timeout=10)
            assert r.status_code == 503 and "Session store unavailable" in r.text, r.status_code
            assert time.monotonic() - t < 3.0
            assert not sets_value(r, "tpo_oidc")
        for server, mark in zip(cl.servers(), marks):
            log = log_since(server, mark)
            assert "session cache lookup failed" in log, log[-2000:]
            assert "cannot record the state as used" in log, log[-2000:]
            assert sid not in log and sid2 not in log
    finally:
        cl.backend.resume()
    # back: after the back-off, the sessions that were there work again, on both servers
    time.sleep(RECOVERY)
    for server in cl.servers():
        for x in (sid, sid2):
            for _ in range(4):
                assert page_status(cl, server, x).status_code == 200
    r = s.get(cl.page(cl.b), allow_redirects=False, timeout=10)
    assert r.status_code == 200 and "Hello fake-user-1" in r.text
    cl.check_health()


def test_cluster_backend_restarted(cluster):
    cl = cluster
    _, sid = cluster_login(cl, cl.a)
    mark = len(cl.a.error_log())
    cl.backend.stop(signal.SIGKILL)
    try:
        for server in cl.servers():
            t = time.monotonic()
            r = page_status(cl, server, sid, navigation=True)
            assert r.status_code == 503 and "Location" not in r.headers, (
                r.status_code, r.headers.get("Location"))
            assert "Session store unavailable" in r.text
            assert time.monotonic() - t < 3.0
        assert "session cache lookup failed" in log_since(cl.a, mark)
        # an outage answers every request: its error line is folded (one per second
        # and process), not written once per request
        mark2 = len(cl.a.error_log())
        t0 = time.monotonic()
        # at least 40 requests over at least 1.5 s: a new second for the fold (bounded)
        for i in range(400):
            assert page_status(cl, cl.a, sid).status_code == 503
            if i >= 39 and time.monotonic() - t0 >= 1.5:
                break
            time.sleep(0.01)
        secs = time.monotonic() - t0
        errs = [ln for ln in log_since(cl.a, mark2).splitlines()
                if "session cache lookup failed" in ln and ":error]" in ln]
        assert 1 <= len(errs) <= 4 * (int(secs) + 2), (len(errs), secs)
        assert "more such lines" in errs[0]
    finally:
        cl.backend.start()
    # a process that saw the backend down skips it for a short back-off (0.5 s) before
    # it tries again: one second later every process must use it again
    time.sleep(RECOVERY)
    # new logins work, on both, and are shared again
    for server in cl.servers():
        _, new = cluster_login(cl, server)
        for other in cl.servers():
            for _ in range(4):
                assert page_status(cl, other, new).status_code == 200
    # the old session went with the backend's memory: 401 (no session), not 503
    for server in cl.servers():
        for _ in range(4):
            assert page_status(cl, server, sid).status_code == 401
    cl.check_health()


def login_cookie_cleared(resp):
    return any(n.startswith("tpo_oidc_login_") and v == "" for n, v, _ in
               (h.parse_set_cookie(x) for x in h.set_cookie_headers(resp)))


def test_cluster_callback_retried_after_cache_outage(cluster):
    """Review finding 2: when the consumed marker cannot be written (cache down),
    the callback answers 503 but keeps the login cookie, so the same callback
    finishes the login once the cache is back (the user does not start over)."""
    cl = cluster
    visitor = h.browser_session()
    r = visitor.get(cl.page(cl.a), allow_redirects=False, timeout=10)
    assert r.status_code == 302
    r = visitor.get(r.headers["Location"], allow_redirects=False, timeout=10)
    assert r.status_code == 302
    callback = r.headers["Location"]
    mark = len(cl.a.error_log())
    cl.backend.stop(signal.SIGKILL)
    try:
        r = visitor.get(callback, allow_redirects=False, timeout=10)
        assert r.status_code == 503 and "Session store unavailable" in r.text, r.status_code
        assert not login_cookie_cleared(r), h.set_cookie_headers(r)
        assert not sets_value(r, "tpo_oidc")
        assert [c for c in visitor.cookies if c.name.startswith("tpo_oidc_login_")]
        assert "cannot record the state as used" in log_since(cl.a, mark)
    finally:
        cl.backend.start()
    time.sleep(RECOVERY)
    r = visitor.get(callback, allow_redirects=False, timeout=10)
    assert r.status_code == 302, (r.status_code, r.text[:500], log_since(cl.a, mark)[-1500:])
    assert r.headers["Location"] == "/m/oidc/whoami.cgi"
    assert login_cookie_cleared(r)
    sid = sets_value(r, "tpo_oidc")
    assert sid and SID_RX.match(sid)
    for server in cl.servers():
        assert page_status(cl, server, sid).status_code == 200
    # and it is spent now
    r = visitor.get(callback, allow_redirects=False, timeout=10)
    assert r.status_code == 400
    cl.check_health()


def test_cluster_consumed_marker_outlives_the_login(cluster):
    """Review finding 3: the one-use marker is kept past the login's expiry by
    the clock skew (60 s), so a server whose clock is behind, which still accepts
    the login cookie, finds the marker (it was kept exactly until the expiry)."""
    cl = cluster
    before = set(cl.backend.ttls())
    t0 = time.time()
    cluster_login(cl, cl.a)
    new = {}
    for _ in range(20):          # memcached's metadump may list new items late
        new = {k: v for k, v in cl.backend.ttls().items() if k not in before}
        if len(new) >= 2:
            break
        time.sleep(0.1)
    assert len(new) >= 2, new    # the session and the consumed marker
    marker = min(v for v in new.values() if v is not None)
    # TPOAuthLoginTimeout 300 (default) + 60 s from the login's start (it used to be
    # the 300 s alone); a margin for the login's own duration
    assert time.time() - t0 < 20
    assert 300 + 30 < marker < 300 + 60 + 3, "marker lives %.1f s" % marker
    cl.check_health()


# ---------------------------------------------------------------- cache keys (issue 10, item 6)

SCRYPT_SALT = b"mod_tp_oauth cache passphrase scrypt v2"
KEY_FILE_LABEL = b"mod_tp_oauth cache key file v2"


def _hkdf(ikm, info):
    import hashlib
    import hmac
    prk = hmac.new(b"mod_tp_oauth cache encryption v2", ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def _open_values(data, master):
    """The values of a cache dump that authenticate under `master` (decrypted)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.exceptions import InvalidTag
    aes = AESGCM(_hkdf(master, b"mod_tp_oauth cache value aes-256-gcm"))
    out = []
    for key, value in data.items():
        if len(value) < 29 or value[0] != 2:
            continue
        try:
            out.append(aes.decrypt(value[1:13], value[13:], b"\x02" + key))
        except InvalidTag:
            pass
    return out


def _records_open(backend, master, exclude=(), tries=20):
    """Whether a session record in the backend opens with `master` (memcached's
    metadump may list a fresh item a moment late: bounded retries)."""
    for _ in range(tries):
        data = {k: v for k, v in backend.dump().items() if k not in exclude}
        if any(r.startswith(b"TPS") for r in _open_values(data, master)):
            return True
        time.sleep(0.1)
    return False


def test_cluster_cache_keys_scrypt_key_file_rotation(cluster):
    """The passphrase goes through scrypt (N=2^15, r=8, p=1, the documented salt): the
    values decrypt with the key computed here independently, and not with the old one
    HKDF step; a key file (>= 32 bytes) takes over with the passphrase as the previous
    key, and short key files and passphrases are refused by configtest."""
    import hashlib
    import hmac
    cl = cluster
    _, sid = cluster_login(cl, cl.a)
    data = cl.backend.dump()
    master = hashlib.scrypt(PASSPHRASE.encode(), salt=SCRYPT_SALT, n=2 ** 15, r=8, p=1,
                            maxmem=64 * 1024 * 1024, dklen=32)
    assert _records_open(cl.backend, master), "no session record opens with the " \
        "scrypt-derived key"
    assert not _open_values(data, PASSPHRASE.encode())   # the passphrase itself is no key

    # configtest: a short key file and a short passphrase are refused, naming the directive
    short = os.path.join(cl.b.server_root, "short.key")
    with open(short, "wb") as f:
        f.write(os.urandom(31))
    base = cl.b.extra_conf
    rc, out = cl.b.configtest(base.replace('TPOAuthCachePassphrase "%s"' % PASSPHRASE,
                                           "TPOAuthCacheKeyFile %s" % short))
    assert rc != 0 and "TPOAuthCacheKeyFile" in out and "32 bytes" in out, out
    rc, out = cl.b.configtest(base.replace(PASSPHRASE, "fifteen-chars!!"))
    assert rc != 0 and "TPOAuthCachePassphrase" in out and "16 characters" in out, out

    # B moves to a key file, the passphrase stays readable as the previous key
    keyfile = os.path.join(cl.b.server_root, "cache.key")
    secret = os.urandom(32)
    with open(keyfile, "wb") as f:
        f.write(secret)
    moved = base.replace('TPOAuthCachePassphrase "%s"' % PASSPHRASE,
                         'TPOAuthCacheKeyFile %s\nTPOAuthCachePassphrase "%s"'
                         % (keyfile, PASSPHRASE))
    assert moved != base
    cl.b.restart(moved)
    try:
        assert page_status(cl, cl.b, sid).status_code == 200     # written with the passphrase
        before = set(cl.backend.dump())
        _, sid_b = cluster_login(cl, cl.b)
        assert page_status(cl, cl.b, sid_b).status_code == 200
        assert page_status(cl, cl.a, sid_b).status_code == 401   # A knows no key file
        file_master = hmac.new(KEY_FILE_LABEL, secret, hashlib.sha256).digest()
        assert _records_open(cl.backend, file_master, exclude=before)
    finally:
        cl.b.restart(base)
    assert page_status(cl, cl.b, sid).status_code == 200
    # derived once per start, not again at a graceful restart (nor per child)
    assert "derived a distributed cache key" in cl.b.error_log()
    mark = len(cl.b.error_log())
    cl.b.graceful(base)
    assert page_status(cl, cl.b, sid).status_code == 200
    assert "derived a distributed cache key" not in log_since(cl.b, mark)
    cl.check_health()
