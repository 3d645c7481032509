"""Review of the login-cookie change (issue 10, items 2 and 5): findings proved
against a real httpd. No authorization server is contacted: the providers'
endpoints are configured, and only login starts are exercised."""
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
