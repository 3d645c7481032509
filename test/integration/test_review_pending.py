# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""Review of the login-cookie change (issue 10, items 2 and 5): findings proved
against a real httpd. No authorization server is contacted: the providers'
endpoints are configured, and only login starts are exercised."""
import requests

import tpo_harness as h

PROVIDERS = ("pa", "pb", "pc")


def conf():
    parts = ["TPOAuthCacheSize 4M\n"]
    for name in PROVIDERS:
        parts.append(h.provider_conf(
            name, "http://127.0.0.1:1/%s" % name, redirect_uri="/%s/redirect_uri" % name,
            extra="\n".join([
                "TPOAuthAuthorizationEndpoint http://127.0.0.1:1/%s/authorize" % name,
                "TPOAuthTokenEndpoint http://127.0.0.1:1/%s/token" % name,
                "TPOAuthJWKSURI http://127.0.0.1:1/%s/jwks" % name,
                "TPOAuthCookieName tpo_%s" % name])))
        parts.append(h.protect_conf(location="/%s/" % name, provider=name, authname=name))
    return "".join(parts)


def test_login_cookies_of_several_providers_stay_bounded(httpd):
    """One host, several providers (distinct cookie names, as fake_conf.py has
    them). Each provider bounds its own login cookies to 4 KB, but nothing bounds
    them together: a browser that has started a few logins (tabs, or top-level
    navigations an attacker's page triggers) with ordinary-length URLs sends a
    Cookie header beyond httpd's LimitRequestFieldSize (8190) and gets 400 for
    every page of the host, sessions included, until the login cookies expire
    (TPOAuthLoginTimeout + 60 s)."""
    httpd.ensure(conf())
    s = h.browser_session()
    for name in PROVIDERS:
        for i in range(4):
            url = httpd.url("/%s/page%d?q=%s" % (name, i, "a" * 650))
            r = s.get(url, allow_redirects=False, timeout=10)
            if r.status_code == 400:
                break
            assert r.status_code == 302, (name, i, r.status_code)
    login = [c for c in s.cookies if "_login_" in c.name]
    total = sum(len(c.name) + 1 + len(c.value) + 2 for c in login)
    r = s.get(httpd.url("/pa/"), allow_redirects=False, timeout=10)
    assert r.status_code != 400, (
        "browser locked out: %d login cookies, %d bytes in the Cookie header -> %d"
        % (len(login), total, r.status_code))
    assert total <= 4096 + 512, "%d bytes of login cookies for one host" % total


def test_two_providers_can_lock_a_browser_out(httpd):
    """The same with only two providers (the brief's case): the two per-provider
    4 KB budgets add up to about 8 KB, so with the application's own cookies
    (here 300 bytes, e.g. a language preference and a CSRF token) some ordinary
    URL length locks the browser out."""
    httpd.ensure(conf())
    worst = None
    for n in range(560, 760, 8):
        s = h.browser_session()
        s.cookies.set("app_prefs", "x" * 300, domain="127.0.0.1", path="/")
        for name in PROVIDERS[:2]:
            for i in range(4):
                s.get(httpd.url("/%s/p%d?q=%s" % (name, i, "a" * n)),
                      allow_redirects=False, timeout=10)
        r = s.get(httpd.url("/pa/"), allow_redirects=False, timeout=10)
        total = sum(len(c.name) + 3 + len(c.value) for c in s.cookies if "_login_" in c.name)
        if r.status_code == 400:
            worst = (n, total)
            break
    assert worst is None, "URL length %d: %d bytes of login cookies, every request 400" % worst


def vhosts_conf(fakeidp, root):
    """Two name-based virtual hosts, each with its own provider block of the same
    name, the same client, cookie name and relative redirect URI (as a shared
    TPOAuthCookieDomain would let their cookies reach each other)."""
    from fake_conf import FAKE_CLIENT
    provider = ("<TPOAuthProvider shared>\n"
                "    TPOAuthIssuer %s/oidc\n"
                '    TPOAuthScope "openid email"\n'
                "    TPOAuthClientID %s\n"
                "    TPOAuthClientSecret fake-secret\n"
                "    TPOAuthRedirectURI /v/redirect_uri\n"
                "    TPOAuthCookieName tpo_v\n"
                "</TPOAuthProvider>\n" % (fakeidp.base, FAKE_CLIENT))
    out = "TPOAuthCacheSize 4M\n"
    for name in ("a.test", "b.test"):
        out += ("<VirtualHost *>\nServerName %s\n%s%s</VirtualHost>\n"
                % (name, provider, h.protect_conf(location="/v/", provider="shared")))
    return out


def test_login_cookie_of_another_vhost_does_not_open(httpd, fakeidp):
    """Review finding 7: a login cookie is bound to the provider configuration and
    virtual host, not only to the provider's name. A login started on a.test, its
    cookie and the provider's answer delivered to b.test: refused there (400, the
    cookie does not open) and the state is not spent; on a.test it logs in."""
    httpd.ensure(vhosts_conf(fakeidp, httpd.server_root))
    s = h.browser_session()
    r = s.get(httpd.url("/v/page"), headers={"Host": "a.test"}, allow_redirects=False,
              timeout=10)
    assert r.status_code == 302, (r.status_code, r.text[:300])
    r = s.get(r.headers["Location"], allow_redirects=False, timeout=10)
    assert r.status_code == 302, (r.status_code, r.text[:300])
    callback = r.headers["Location"]
    assert "/v/redirect_uri?" in callback, callback
    assert [c for c in s.cookies if c.name.startswith("tpo_v_login_")], list(s.cookies)
    path = callback[callback.index("/v/redirect_uri?"):]
    # (the jar files the cookie under a.test: send it by hand, as a shared
    # TPOAuthCookieDomain would let the browser do)
    jar = "; ".join("%s=%s" % (c.name, c.value) for c in s.cookies)
    mark = len(httpd.error_log())
    r = requests.get(httpd.url(path), headers={"Host": "b.test", "Cookie": jar},
                     allow_redirects=False, timeout=10)
    assert r.status_code == 400, (r.status_code, r.headers.get("Location"))
    assert "login cookie does not open" in httpd.error_log()[mark:]
    assert not any(x.startswith("tpo_v=") for x in h.set_cookie_headers(r))
    # on the virtual host that started it, the same answer logs in (state not spent)
    r = requests.get(httpd.url(path), headers={"Host": "a.test", "Cookie": jar},
                     allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"] == "/v/page", (
        r.status_code, r.text[:300], httpd.error_log()[mark:][-1500:])
    assert any(x.startswith("tpo_v=") for x in h.set_cookie_headers(r))


def test_drop_log_says_count_or_size(httpd):
    """Review finding 1: the log line says why login cookies were dropped: for
    count (TPOAuthPendingLoginsPerBrowser, per provider) or for size (all the
    host's providers together)."""
    import re
    httpd.ensure(conf())
    s = h.browser_session()
    mark = len(httpd.error_log())
    for i in range(9):                       # one more than the default 8
        r = s.get(httpd.url("/pa/c%d" % i), allow_redirects=False, timeout=10)
        assert r.status_code == 302
    log = httpd.error_log()[mark:]
    assert re.search(r"provider pa: login cookies dropped for a new login: 0 unusable .*"
                     r"1 for count .*0 for size", log), log[-1500:]
    s = h.browser_session()
    mark = len(httpd.error_log())
    for name in PROVIDERS:
        for i in range(4):
            r = s.get(httpd.url("/%s/s%d?q=%s" % (name, i, "a" * 450)), allow_redirects=False,
                      timeout=10)
            assert r.status_code == 302
    log = httpd.error_log()[mark:]
    counts = [int(n) for n in re.findall(r"provider p[abc]: login cookies dropped for a new "
                                         r"login: 0 unusable .*?0 for count .*?"
                                         r"(\d+) for size", log)]
    assert counts and all(n > 0 for n in counts), log[-1500:]
    total = sum(len(c.name) + 1 + len(c.value) for c in s.cookies if "_login_" in c.name)
    assert total <= 4096, total
