# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""End-to-end login through a real httpd, the module and a real OpenID Provider
(oidc-provider's devInteractions forms), plus configtest refusals."""

import base64
import concurrent.futures
import html
import http.cookiejar
import json
import os
import re
import urllib.parse
import uuid

import pytest
import requests

import tpo_harness as h

WHOAMI = "/app/whoami.cgi"
SESSION_COOKIE = "tp_oauth_idp"
# one login cookie per login in progress: <cookie name>_login_<8 characters>
LOGIN_COOKIE_RX = re.compile(r"^tp_oauth_idp_login_[A-Za-z0-9_-]{8}$")
B64URL = re.compile(r"^[A-Za-z0-9_-]+$")


def login_cookies_set(resp):
    """[(name, value, attrs)] of the login cookies resp sets."""
    out = []
    for header in h.set_cookie_headers(resp):
        n, v, attrs = h.parse_set_cookie(header)
        if LOGIN_COOKIE_RX.match(n):
            out.append((n, v, attrs))
    return out


def page_vars(text):
    """The TPO_* table of whoami.cgi as a dict."""
    return {html.unescape(k): html.unescape(v)
            for k, v in re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td></tr>", text)}


def assert_whoami(resp, login):
    assert resp.status_code == 200, "%s %s:\n%s" % (resp.status_code, resp.url, resp.text[:2000])
    assert urllib.parse.urlsplit(resp.url).path == WHOAMI, resp.url
    assert "<h1>Hello %s</h1>" % html.escape(login) in resp.text, resp.text[:2000]
    assert "REMOTE_USER=%s" % html.escape(login) in resp.text
    assert "AUTH_TYPE=tp-oauth" in resp.text


def session_cookie_of(resp):
    found = h.find_set_cookie(resp.tpo_steps, SESSION_COOKIE)
    assert found, "no Set-Cookie %s during the login: %s" % (
        SESSION_COOKIE, [(r.status_code, r.url, h.set_cookie_headers(r)) for r in resp.tpo_steps])
    return found


@pytest.fixture
def server(httpd, std_conf):
    return httpd.ensure(std_conf)


def login(server, name, path=WHOAMI):
    s = h.browser_session()
    resp = h.oidc_login(s, server.url(path), name)
    return s, resp


# ------------------------------------------------------------------ the redirect

def test_navigation_without_session_redirects_to_idp(server, idp, browser):
    r = browser.get(server.url(WHOAMI), allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text[:2000]
    loc = r.headers["Location"]
    authz = idp.discovery()["authorization_endpoint"]
    parts = urllib.parse.urlsplit(loc)
    assert "%s://%s%s" % (parts.scheme, parts.netloc, parts.path) == authz, loc
    q = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    assert all(len(v) == 1 for v in q.values()), q
    q = {k: v[0] for k, v in q.items()}
    assert q["response_type"] == "code"
    assert q["client_id"] == h.CLIENT_ID
    assert q["redirect_uri"] == server.url("/app/redirect_uri")
    assert q["scope"].split() == ["openid", "email", "profile", "groups"]
    assert len(q["state"]) >= 22 and B64URL.match(q["state"]), q["state"]
    assert q.get("nonce") and B64URL.match(q["nonce"]), q
    assert len(q["code_challenge"]) == 43 and B64URL.match(q["code_challenge"]), q
    assert q["code_challenge_method"] == "S256"
    found = login_cookies_set(r)
    assert len(found) == 1, h.set_cookie_headers(r)
    _, value, attrs = found[0]
    assert value and attrs.get("httponly") is True
    # sealed: none of the values of the redirect can be read in it
    for k in ("state", "nonce", "code_challenge"):
        assert q[k] not in value


def test_each_redirect_has_fresh_state(server, browser):
    states = set()
    for _ in range(3):
        r = browser.get(server.url(WHOAMI), allow_redirects=False, timeout=10)
        assert r.status_code == 302
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query)
        states.add(q["state"][0])
    assert len(states) == 3


# ------------------------------------------------------------------ the login

def test_login_shows_user_and_claims(server, idp):
    idp.reset_stats()
    _, r = login(server, "alice")
    assert_whoami(r, "alice")
    v = page_vars(r.text)
    assert v.get("TPO_CLAIM_email") == "alice@example.test", v
    assert v.get("TPO_CLAIM_sub") == "alice", v
    assert v.get("TPO_CLAIM_name") == "alice Tester", v
    assert v.get("TPO_CLAIM_groups") == "staff,tpo-users", v
    # numbers and booleans are rendered as JSON writes them
    assert v.get("TPO_CLAIM_email_verified") == "true", v
    assert re.fullmatch(r"[0-9]{10}", v.get("TPO_CLAIM_exp", "")), v
    assert re.fullmatch(r"[0-9]{10}", v.get("TPO_CLAIM_iat", "")), v
    stats = idp.stats()["token"]
    assert stats["by_grant_type"] == {"authorization_code": 1}, stats


def test_session_cookie_attributes(server):
    _, r = login(server, "carol")
    assert_whoami(r, "carol")
    value, attrs, _ = session_cookie_of(r)
    assert attrs.get("httponly") is True, attrs
    assert str(attrs.get("samesite", "")).lower() == "lax", attrs
    assert "secure" not in attrs, attrs
    assert len(value) >= 43, value
    assert B64URL.match(value), value
    assert "carol" not in value.lower()
    # not a JWT (or anything else that carries the identity)
    assert value.count(".") == 0, value
    try:
        decoded = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        assert b"carol" not in decoded and not decoded.startswith(b"{")
    except ValueError:
        pass


def test_non_ascii_claims(server):
    _, r = login(server, "jose")
    assert_whoami(r, "jose")
    v = page_vars(r.text)
    assert v.get("TPO_CLAIM_name") == "José Müller", v
    assert v.get("TPO_CLAIM_family_name") == "Müller", v


def test_many_requests_across_children(server, idp):
    s, r = login(server, "dave")
    assert_whoami(r, "dave")
    cookie = s.cookies.get(SESSION_COOKIE)
    assert cookie
    idp.reset_stats()
    tag = uuid.uuid4().hex[:12]

    def one(i):
        resp = requests.get(server.url("%s?n=%d&tag=%s" % (WHOAMI, i, tag)), timeout=15,
                            allow_redirects=False,
                            headers={"Accept": h.HTML_ACCEPT, "Connection": "close",
                                     "Cookie": "%s=%s" % (SESSION_COOKIE, cookie)})
        return resp.status_code, resp.text

    def pids_seen():
        return {e["pid"] for e in server.access_entries() if tag in e["request"]}

    results = [one(i) for i in range(8)]  # a few sequential ones first
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results += list(pool.map(one, range(8, 40)))
    # Usually two children have answered by now; if the kernel handed every
    # connection to the same child, send (bounded) more concurrent batches.
    n = 40
    while len(pids_seen()) < 2 and n < 200:
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            results += list(pool.map(one, range(n, n + 40)))
        n += 40
    bad = [(st, t[:300]) for st, t in results if st != 200 or "<h1>Hello dave</h1>" not in t]
    assert not bad, bad[:3]
    # a child logs a request just after answering it: give the log a moment
    try:
        h.wait_until(lambda: len([e for e in server.access_entries() if tag in e["request"]])
                     >= len(results), 5, what="the access log")
    except TimeoutError:
        pass
    entries = [e for e in server.access_entries() if tag in e["request"]]
    assert len(entries) == len(results), (len(entries), len(results))
    assert all(e["user"] == "dave" and e["status"] == 200 for e in entries), entries[:3]
    assert len(pids_seen()) >= 2, "all requests served by one child: %s" % pids_seen()
    # the hot path never talks to the IdP
    assert idp.stats()["token"]["total"] == 0


def test_second_login_gets_another_session(server):
    s1, r1 = login(server, "erin")
    s2, r2 = login(server, "frank")
    assert_whoami(r1, "erin")
    assert_whoami(r2, "frank")
    c1, c2 = s1.cookies.get(SESSION_COOKIE), s2.cookies.get(SESSION_COOKIE)
    assert c1 and c2 and c1 != c2
    # both sessions stay valid and separate
    assert_whoami(s1.get(server.url(WHOAMI), timeout=10), "erin")
    assert_whoami(s2.get(server.url(WHOAMI), timeout=10), "frank")


def test_same_user_logs_in_twice(server):
    s1, r1 = login(server, "gina")
    s2, r2 = login(server, "gina")
    assert_whoami(r2, "gina")
    assert s1.cookies.get(SESSION_COOKIE) != s2.cookies.get(SESSION_COOKIE)


def test_session_survives_graceful_restart(server):
    s, r = login(server, "kim")
    assert_whoami(r, "kim")
    server.graceful()
    r = s.get(server.url(WHOAMI), allow_redirects=False, timeout=10)
    assert_whoami(r, "kim")


def test_login_in_progress_survives_graceful_restart(server):
    """The login cookies' random key (no TPOAuthLoginCookieKeyFile) is kept
    across graceful restarts."""
    s = h.browser_session()
    r = s.get(server.url(WHOAMI), allow_redirects=False, timeout=10)
    assert r.status_code == 302
    server.graceful()
    r = h.oidc_login(s, r.headers["Location"], "lena")
    assert_whoami(r, "lena")


def test_login_with_key_file(httpd, std_conf, tmp_path):
    key = tmp_path / "login.key"
    key.write_bytes(uuid.uuid4().bytes * 3)            # 48 bytes
    key.chmod(0o644)
    httpd.ensure(std_conf + "TPOAuthLoginCookieKeyFile %s\n" % key)
    _, r = login(httpd, "mona")
    assert_whoami(r, "mona")


def test_return_to_original_url_with_query(server):
    path = WHOAMI + "?x=1&y=a%20b&z=%C3%A9&empty="
    _, r = login(server, "hank", path=path)
    assert_whoami(r, "hank")
    assert r.url == server.url(path), r.url
    assert "REQUEST_URI=%s" % html.escape(path) in r.text


# ------------------------------------------------------------------ no redirect

@pytest.mark.parametrize("method,headers", [
    ("GET", {"Accept": "*/*"}),
    ("GET", {"Accept": "application/json"}),
    ("GET", {"Accept": h.HTML_ACCEPT, "X-Requested-With": "XMLHttpRequest"}),
    ("GET", {"Accept": h.HTML_ACCEPT, "Sec-Fetch-Mode": "cors"}),
    ("POST", {"Accept": h.HTML_ACCEPT}),
], ids=["accept-any", "accept-json", "xhr", "fetch-cors", "post"])
def test_non_navigation_gets_401(server, method, headers):
    r = requests.request(method, server.url(WHOAMI), headers=headers, timeout=10,
                         allow_redirects=False, data=b"a=1" if method == "POST" else None)
    assert r.status_code == 401, (r.status_code, r.headers)
    assert r.headers.get("WWW-Authenticate"), r.headers
    assert "Location" not in r.headers


def test_bogus_session_cookie(server):
    cookie = {"Cookie": "%s=%s" % (SESSION_COOKIE, "A" * 43)}
    r = requests.get(server.url(WHOAMI), allow_redirects=False, timeout=10,
                     headers=dict(cookie, Accept=h.HTML_ACCEPT))
    assert r.status_code == 302, r.status_code
    r = requests.get(server.url(WHOAMI), allow_redirects=False, timeout=10,
                     headers=dict(cookie, Accept="application/json"))
    assert r.status_code == 401


def test_unprotected_static_file(server, browser):
    r = browser.get(server.url("/static/hello.txt"), allow_redirects=False, timeout=10)
    assert r.status_code == 200
    assert r.text.strip() == "hello from an unprotected static file"
    assert not h.find_set_cookie([r], SESSION_COOKIE)
    assert not login_cookies_set(r)


# ------------------------------------------------------------------ client auth variants

@pytest.mark.parametrize("client_id,secret,auth", [
    ("tpo-post", "tpo-post-secret", "client_secret_post"),
    ("tpo-public", None, "none"),
    ("tpo-es256", "tpo-es256-secret", "client_secret_basic"),
], ids=["client_secret_post", "public-none", "es256-id-token"])
def test_login_client_variants(httpd, idp, client_id, secret, auth):
    conf = h.standard_conf(idp.issuer, client_id=client_id, client_secret=secret,
                           client_auth=auth)
    httpd.ensure(conf)
    idp.reset_stats()
    _, r = login(httpd, "ivy")
    assert_whoami(r, "ivy")
    assert idp.stats()["token"]["by_grant_type"] == {"authorization_code": 1}


# ------------------------------------------------------------------ version

def configure_version():
    with open(os.path.join(h.REPO, "configure.ac")) as f:
        return re.search(r"AC_INIT\(\[mod_tp_oauth\], \[([^\]]+)\]", f.read()).group(1)


def test_version_logged_once_per_start(module_path, std_conf):
    """The version is logged once when the server starts (not on the configuration
    pass before it) and once per graceful restart; a configtest logs nothing."""
    line = "mod_tp_oauth/%s loaded" % configure_version()
    server = h.Httpd(module=module_path)
    try:
        rc, out = server.configtest(std_conf)
        assert rc == 0 and line not in out, out
        server.start(std_conf)
        assert server.error_log().count(line) == 1, server.error_log()[-3000:]
        assert re.search(r"\[tp_oauth:notice\] .*" + re.escape(line), server.error_log())
        server.graceful()
        assert server.error_log().count(line) == 2, server.error_log()[-3000:]
    finally:
        server.cleanup()


# ------------------------------------------------------------------ configtest

def test_configtest_accepts_standard_config(httpd, std_conf):
    rc, out = httpd.configtest(std_conf)
    assert rc == 0, out


def test_configtest_provider_without_client_id(httpd, idp):
    conf = ("<TPOAuthProvider idp>\n"
            "    TPOAuthIssuer %s\n"
            "    TPOAuthClientSecret tpo-test-secret\n"
            '    TPOAuthScope "openid"\n'
            "    TPOAuthRedirectURI /app/redirect_uri\n"
            "</TPOAuthProvider>\n" % idp.issuer) + h.protect_conf()
    rc, out = httpd.configtest(conf)
    assert rc != 0, out
    assert "TPOAuthClientID" in out, out


def test_configtest_no_discovery_without_authorization_endpoint(httpd, idp):
    extra = ("TPOAuthDiscovery off\n"
             "TPOAuthTokenEndpoint %s/token\n"
             "TPOAuthJWKSURI %s/jwks\n" % (idp.issuer, idp.issuer))
    conf = h.provider_conf("idp", idp.issuer, extra=extra) + h.protect_conf()
    rc, out = httpd.configtest(conf)
    assert rc != 0, out
    assert "TPOAuthAuthorizationEndpoint" in out, out


def test_configtest_undefined_provider(httpd, idp):
    conf = h.provider_conf("idp", idp.issuer) + h.protect_conf(provider="nosuch")
    rc, out = httpd.configtest(conf)
    assert rc != 0, out
    assert "nosuch" in out and "TPOAuthProvider" in out, out


def test_configtest_login_key_file(httpd, std_conf, tmp_path):
    rc, out = httpd.configtest(std_conf + "TPOAuthLoginCookieKeyFile %s\n"
                               % (tmp_path / "missing.key"))
    assert rc != 0 and "TPOAuthLoginCookieKeyFile" in out and "cannot open" in out, out
    short = tmp_path / "short.key"
    short.write_bytes(b"0123456789")
    rc, out = httpd.configtest(std_conf + "TPOAuthLoginCookieKeyFile %s\n" % short)
    assert rc != 0 and "TPOAuthLoginCookieKeyFile" in out and "32" in out, out
    good = tmp_path / "good.key"
    good.write_bytes(os.urandom(32))
    good.chmod(0o600)
    rc, out = httpd.configtest(std_conf + "TPOAuthLoginCookieKeyFile %s\n" % good)
    assert rc == 0, out
    assert "group or others" not in out, out
    # inside a virtual host or a provider section: server-wide only
    rc, out = httpd.configtest(std_conf + "<VirtualHost 127.0.0.1:1>\n"
                               "TPOAuthLoginCookieKeyFile %s\n</VirtualHost>\n" % good)
    assert rc != 0, out


def test_configtest_distributed_cache_without_login_key_warns(httpd, std_conf, tmp_path):
    cache = ("TPOAuthCache memcache 127.0.0.1:1\n"
             'TPOAuthCachePassphrase "configtest-passphrase-0123456789"\n')
    rc, out = httpd.configtest(std_conf + cache)
    assert rc == 0, out
    assert "without TPOAuthLoginCookieKeyFile" in out, out
    good = tmp_path / "good.key"
    good.write_bytes(os.urandom(32))
    rc, out = httpd.configtest(std_conf + cache + "TPOAuthLoginCookieKeyFile %s\n" % good)
    assert rc == 0 and "without TPOAuthLoginCookieKeyFile" not in out, out
@pytest.mark.parametrize("content", [
    b"k" * 32,
    b"my-secret-passphrase-for-login-cookies\n",
    b"correct horse battery staple 12345678901",
])
def test_configtest_login_key_file_passphrase_refused(httpd, std_conf, tmp_path, content):
    """Review finding 4: a key file that looks like a passphrase (printable and
    shorter than 43 characters) is refused; the message names the directive and
    how to make a good one."""
    key = tmp_path / "weak.key"
    key.write_bytes(content)
    key.chmod(0o600)
    rc, out = httpd.configtest(std_conf + "TPOAuthLoginCookieKeyFile %s\n" % key)
    assert rc != 0, out
    assert "TPOAuthLoginCookieKeyFile" in out and "passphrase" in out, out
    assert "openssl rand -out" in out, out
    assert content.decode().strip() not in out, "the key file's content was logged"
    # long random text (openssl rand -hex 32) is fine
    key.write_bytes(os.urandom(32).hex().encode() + b"\n")
    rc, out = httpd.configtest(std_conf + "TPOAuthLoginCookieKeyFile %s\n" % key)
    assert rc == 0, out


@pytest.mark.parametrize("mode,warns", [(0o600, False), (0o400, False), (0o640, True),
                                        (0o644, True), (0o606, True)])
def test_configtest_login_key_file_permissions(httpd, std_conf, tmp_path, mode, warns):
    """Review finding 4: a key file readable (or writable) by group or others
    gets a warning naming the directive."""
    key = tmp_path / "login.key"
    key.write_bytes(os.urandom(32))
    key.chmod(mode)
    rc, out = httpd.configtest(std_conf + "TPOAuthLoginCookieKeyFile %s\n" % key)
    assert rc == 0, out
    warned = "TPOAuthLoginCookieKeyFile" in out and "group or others" in out
    assert warned == warns, (oct(mode), out)


@pytest.mark.parametrize("samesite", ["Strict", "None"])
def test_login_cookie_is_always_samesite_lax(httpd, std_conf, idp, samesite):
    """Review finding 5: the login cookie does not inherit TPOAuthCookieSameSite.
    Strict would keep it from the provider's cross-site redirect back (every
    login fails), None without https is refused by browsers."""
    conf = h.standard_conf(idp.issuer, provider_extra="TPOAuthCookieSameSite %s" % samesite)
    httpd.ensure(conf)
    s = h.browser_session()
    r = s.get(httpd.url(WHOAMI), allow_redirects=False, timeout=10)
    assert r.status_code == 302
    found = login_cookies_set(r)
    assert len(found) == 1, h.set_cookie_headers(r)
    _, _, attrs = found[0]
    assert str(attrs.get("samesite", "")).lower() == "lax", attrs
    assert attrs.get("httponly") is True, attrs
    # the login finishes; the callback deletes the login cookie as Lax too, and
    # the session cookie keeps the configured attribute
    resp = h.oidc_login(s, r.headers["Location"], "nina")
    assert_whoami(resp, "nina")
    _, sattrs, _ = session_cookie_of(resp)
    assert str(sattrs.get("samesite", "")).lower() == samesite.lower(), sattrs
    for step in resp.tpo_steps:
        for n, v, a in login_cookies_set(step):
            assert str(a.get("samesite", "")).lower() == "lax", (n, a)


@pytest.mark.parametrize("cookie_name,extra,directive", [
    ("__Host-tpo", "TPOAuthCookieDomain example.test", "TPOAuthCookieDomain"),
    ("__host-tpo", "TPOAuthCookieDomain example.test", "TPOAuthCookieDomain"),
    ("__Host-tpo", "TPOAuthCookiePath /app/", "TPOAuthCookiePath"),
    ("__Host-tpo", "TPOAuthCookieSecure off", "TPOAuthCookieSecure"),
    ("__Secure-tpo", "TPOAuthCookieSecure off", "TPOAuthCookieSecure"),
    ("tpo", "TPOAuthCookieSecure sometimes", "TPOAuthCookieSecure takes on, off or auto"),
])
def test_configtest_cookie_prefix_refusals(httpd, idp, cookie_name, extra, directive):
    conf = h.provider_conf("idp", idp.issuer, extra="TPOAuthCookieName %s\n%s"
                           % (cookie_name, extra)) + h.protect_conf()
    rc, out = httpd.configtest(conf)
    assert rc != 0, out
    assert directive in out and "Invalid command" not in out, out
    if cookie_name.startswith("__"):
        assert cookie_name in out, out      # the message says why


@pytest.mark.parametrize("cookie_name,extra", [
    ("__Host-tpo", "TPOAuthCookiePath /\nTPOAuthCookieSecure on"),
    ("__Secure-tpo", "TPOAuthCookieDomain example.test\nTPOAuthCookieSecure auto"),
    ("tpo", "TPOAuthCookieSecure off\nTPOAuthCookieDomain example.test"),
])
def test_configtest_cookie_prefix_accepted(httpd, idp, cookie_name, extra):
    conf = h.provider_conf("idp", idp.issuer, extra="TPOAuthCookieName %s\n%s"
                           % (cookie_name, extra)) + h.protect_conf()
    rc, out = httpd.configtest(conf)
    assert rc == 0, out


# Providers that differ only in TPOAuthCookieSecure (and the cookie name), each
# protecting /c/<name>/; the same locations are reached on a second port whose
# virtual host says ServerName https://... (as behind a TLS-terminating proxy).
SECURE_MODES = {"default": "", "auto": "TPOAuthCookieSecure auto",
                "on": "TPOAuthCookieSecure on", "off": "TPOAuthCookieSecure off",
                "host": "TPOAuthCookieName __Host-tpo", "sec": "TPOAuthCookieName __Secure-tpo"}


@pytest.fixture(scope="module")
def https_port():
    return h.free_port()


@pytest.fixture
def secure_httpd(httpd, idp, https_port):
    c = "TPOAuthCacheSize 16M\n"
    for name, extra in SECURE_MODES.items():
        c += h.provider_conf("p_" + name, idp.issuer, redirect_uri="/c/%s/redirect_uri" % name,
                             extra=extra)
        c += h.protect_conf(location="/c/%s/" % name, provider="p_" + name)
    c += 'ScriptAliasMatch "^/c/[^/]+/(.*\\.cgi)$" "%s/app/$1"\n' % httpd.server_root
    c += ("Listen 127.0.0.1:{p}\n<VirtualHost 127.0.0.1:{p}>\n"
          "    ServerName https://127.0.0.1:{p}\n</VirtualHost>\n".format(p=https_port))
    return httpd.ensure(c)


def login_cookie_attrs(server, port, mode):
    r = h.browser_session().get("http://127.0.0.1:%d/c/%s/whoami.cgi" % (port, mode),
                                allow_redirects=False, timeout=10)
    assert r.status_code == 302, (r.status_code, r.text[:300])
    cookies = [h.parse_set_cookie(c) for c in h.set_cookie_headers(r)]
    assert len(cookies) == 1, cookies
    return cookies[0]


@pytest.mark.parametrize("mode,secure_http,secure_https", [
    ("default", False, True), ("auto", False, True), ("on", True, True),
    ("off", False, False), ("host", True, True), ("sec", True, True)])
def test_cookie_secure_attribute(secure_httpd, https_port, mode, secure_http, secure_https):
    name, _, attrs = login_cookie_attrs(secure_httpd, secure_httpd.port, mode)
    assert ("secure" in attrs) == secure_http, (mode, attrs)
    assert attrs["path"] == "/" and "domain" not in attrs and "httponly" in attrs
    if mode == "host":
        assert name.startswith("__Host-tpo_login_"), name
    _, _, attrs = login_cookie_attrs(secure_httpd, https_port, mode)
    assert ("secure" in attrs) == secure_https, (mode, attrs)


def test_login_with_host_prefixed_cookie(httpd, idp, monkeypatch):
    """A full login with TPOAuthCookieName __Host-tpo and TPOAuthCookieSecure on
    (the module behind a TLS-terminating proxy, reached over http here)."""
    # the test client stands where the TLS proxy would: it sends Secure cookies
    # over the plain-http test connection (requests' jars would not; requests
    # builds a new jar per request, so the policy class is patched for this test)
    monkeypatch.setattr(http.cookiejar.DefaultCookiePolicy, "return_ok_secure",
                        lambda self, cookie, request: True)
    conf = h.standard_conf(idp.issuer, provider_extra="TPOAuthCookieName __Host-tpo\n"
                           "TPOAuthCookieSecure on")
    httpd.ensure(conf)
    s = h.browser_session()
    resp = h.oidc_login(s, httpd.url(WHOAMI), "hostcookie")
    assert_whoami(resp, "hostcookie")
    seen = set()
    for r in resp.tpo_steps:
        for header in h.set_cookie_headers(r):
            name, value, attrs = h.parse_set_cookie(header)
            if not name.startswith("__Host-"):
                continue
            seen.add(name)
            # what a browser demands of a __Host- cookie
            assert "secure" in attrs and attrs["path"] == "/" and "domain" not in attrs, header
    assert "__Host-tpo" in seen and any(n.startswith("__Host-tpo_login_") for n in seen), seen
    sid = s.cookies.get("__Host-tpo")
    assert sid and B64URL.match(sid)
    # the session works from the cookie alone
    r = requests.get(httpd.url(WHOAMI), headers={"Cookie": "__Host-tpo=%s" % sid,
                                                 "X-Requested-With": "XMLHttpRequest"},
                     allow_redirects=False, timeout=10)
    assert r.status_code == 200 and "Hello hostcookie" in r.text


# ------------------------------------------------------------------ the fake IdP

def test_fakeidp_login(httpd, fakeidp):
    """The fake provider (test/fakeidp) logs the user in without forms."""
    conf = ("TPOAuthCacheSize 16M\n"
            + h.provider_conf("fake", fakeidp.base + "/oidc", client_id="fake-client",
                              client_secret="fake-secret", scope="openid email")
            + h.protect_conf(provider="fake"))
    httpd.ensure(conf)
    fakeidp.reset_stats()
    s = h.browser_session()
    r = s.get(httpd.url(WHOAMI), timeout=15)
    assert_whoami(r, "fake-user-1")
    assert fakeidp.stats()["by_grant_type"].get("authorization_code") == 1


# ------------------------------------- log numbers, cookie names, realms (issue 12)

TPO_LINE = re.compile(r"\[tp_oauth:(\w+)\]")


def module_lines(text):
    return [line for line in text.splitlines() if TPO_LINE.search(line)]


def test_log_lines_carry_numbers_and_request_context(httpd, std_conf):
    """Every line of the module has its TPO number; the core's lines (here
    the token response, at debug) name the client like other request lines."""
    httpd.ensure(std_conf)
    mark = len(httpd.error_log())
    _, r = login(httpd, "lognos")
    assert_whoami(r, "lognos")
    lines = module_lines(httpd.error_log()[mark:])
    assert lines
    unnumbered = [line for line in lines if not re.search(r"\] TPO\d{5}: ", line)]
    assert not unnumbered, unnumbered
    core = [line for line in lines if "TPO00075: token response" in line]
    assert core and all("[client 127.0.0.1:" in line for line in core), lines
    # the version, at start-up
    assert re.search(r"\[tp_oauth:notice\] .*TPO\d{5}: mod_tp_oauth/\d+\.\d+\.\d+ loaded",
                     httpd.error_log()), httpd.error_log()[-2000:]


def test_core_debug_lines_follow_the_module_level(httpd, std_conf):
    """With LogLevel tp_oauth:info the core's debug lines are not written
    (nor formatted); raised for one location, they come back there."""
    httpd.ensure(std_conf + "LogLevel warn tp_oauth:info\n")
    mark = len(httpd.error_log())
    _, r = login(httpd, "quiet")
    assert_whoami(r, "quiet")
    text = httpd.error_log()[mark:]
    assert "TPO00075" not in text, text[-2000:]
    assert "[tp_oauth:info]" in text   # the login line: the module does log
    httpd.ensure(std_conf + "LogLevel warn tp_oauth:info\n"
                 "<Location /app/redirect_uri>\n    LogLevel tp_oauth:debug\n</Location>\n")
    mark = len(httpd.error_log())
    _, r = login(httpd, "loud")
    assert_whoami(r, "loud")
    assert "TPO00075: token response" in httpd.error_log()[mark:]


def two_providers_conf(httpd, idp, fakeidp, extra_idp="", extra_fake=""):
    return ("TPOAuthCacheSize 16M\n"
            + h.provider_conf("idp", idp.issuer, extra=extra_idp)
            + h.protect_conf()
            + h.provider_conf("fake", fakeidp.base + "/oidc", client_id="fake-client",
                              client_secret="fake-secret", scope="openid email",
                              redirect_uri="/fake/redirect_uri", extra=extra_fake)
            + h.protect_conf(location="/fake/", provider="fake")
            + 'ScriptAliasMatch "^/fake/(.*\\.cgi)$" "%s/app/$1"\n' % httpd.server_root)


def test_two_providers_keep_their_sessions(httpd, idp, fakeidp):
    """The default cookie name is tp_oauth_<provider>: logins through two
    providers of one host in one browser do not end each other's sessions."""
    conf = two_providers_conf(httpd, idp, fakeidp)
    rc, out = httpd.configtest(conf)
    assert rc == 0 and "share the cookie name" not in out, out
    httpd.ensure(conf)
    s, r = login(httpd, "dora")
    assert_whoami(r, "dora")
    r = s.get(httpd.url("/fake/whoami.cgi"), timeout=15)
    assert r.status_code == 200 and "<h1>Hello fake-user-" in r.text, r.text[:500]
    assert s.cookies.get("tp_oauth_idp") and s.cookies.get("tp_oauth_fake")
    # both sessions are still there, without a new login
    r = s.get(httpd.url(WHOAMI), allow_redirects=False, timeout=10)
    assert_whoami(r, "dora")
    r = s.get(httpd.url("/fake/whoami.cgi"), allow_redirects=False, timeout=10)
    assert r.status_code == 200 and "<h1>Hello fake-user-" in r.text, r.status_code


def test_configtest_warns_on_a_shared_cookie_name(httpd, idp, fakeidp):
    conf = two_providers_conf(httpd, idp, fakeidp, extra_idp="TPOAuthCookieName tpo_shared",
                              extra_fake="TPOAuthCookieName tpo_shared")
    rc, out = httpd.configtest(conf)
    assert rc == 0, out
    assert re.search(r"TPO\d{5}: providers (idp and fake|fake and idp) of \S+ share the "
                     r"cookie name tpo_shared", out), out


def test_login_failure_names_the_provider(httpd, std_conf):
    httpd.ensure(std_conf)
    mark = len(httpd.error_log())
    r = requests.get(httpd.url(h.REDIRECT_PATH + "?code=x&state=" + "A" * 43),
                     allow_redirects=False, timeout=10)
    assert r.status_code == 400
    assert re.search(r"TPO\d{5}: provider idp: login failed: ", httpd.error_log()[mark:])


# httpd keeps AuthName as quoted-string content (quotes escaped, backslash
# pairs kept: as mod_auth_basic sends it, back\slash means "backslash"); the
# realm sent is that text as a canonical quoted-string (no double escaping).
# Backslashes in the realm's text are escaped too (unit test quoted_string_cases).
@pytest.mark.parametrize("authname,realm", [
    (r'Staff \"A\" area', r'"Staff \"A\" area"'),
    (r'back\\slash', r'"backslash"'),
], ids=["quote", "pair"])
def test_realm_is_the_escaped_auth_name(httpd, idp, authname, realm):
    """WWW-Authenticate names the AuthName as a quoted-string, on every 401."""
    httpd.ensure("TPOAuthCacheSize 16M\n" + h.provider_conf("idp", idp.issuer)
                 + h.protect_conf(authname=authname))
    r = requests.get(httpd.url(WHOAMI), headers={"Accept": "application/json"},
                     allow_redirects=False, timeout=10)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == "TP-OAuth realm=%s" % realm, r.headers
    # the info endpoint (under the location) answers with the same realm
    r = requests.get(httpd.url(h.REDIRECT_PATH + "/info"), allow_redirects=False, timeout=10)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == "TP-OAuth realm=%s" % realm, r.headers
