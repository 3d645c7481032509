# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""Third-party-initiated login (OpenID Connect Core 1.0 section 4, issue 15 item 5) against
a real httpd with the module and the real oidc-provider (test/idp):

  * GET and POST <redirect URI>/initiate-login with iss, login_hint and target_link_uri
    start the normal login (state, nonce, PKCE, the login cookie; login_hint passed on)
    and, after the login at the provider, land on the target with a session;
  * a foreign or missing iss, an off-site or malformed target_link_uri, a bad login_hint,
    a malformed request get 400, a page and a log line, start no login (no login cookie,
    no redirect), and the server keeps serving;
  * the endpoint works outside protected locations too.

(The PAR variant of the same login is in test_par.py.)
"""

import re
import urllib.parse

import pytest
import requests

import tpo_harness as h

WHOAMI = "/app/whoami.cgi"
INITIATE = h.REDIRECT_PATH + "/initiate-login"


@pytest.fixture
def server(httpd, idp):
    return httpd.ensure(h.standard_conf(idp.issuer))


def login_cookies(resp):
    return [hd for hd in h.set_cookie_headers(resp) if "_login_" in hd.split("=", 1)[0]]


def finish_login(session, location, login):
    """Continue a started login at the provider (its forms) to the end."""
    return h.oidc_login(session, location, login)


def assert_whoami_json(session, server, login):
    r = session.get(server.url(WHOAMI), params={"format": "json"}, allow_redirects=False,
                    timeout=10)
    assert r.status_code == 200, (r.status_code, r.text[:500])
    assert r.json()["REMOTE_USER"] == login


def test_get_with_iss_login_hint_and_absolute_target(server, idp):
    s = h.browser_session()
    target = server.url(WHOAMI + "?from=idp&x=%C3%A9")
    r = s.get(server.url(INITIATE), params={"iss": idp.issuer, "login_hint": "hanna",
                                            "target_link_uri": target},
              headers={"Sec-Fetch-Site": "cross-site"}, allow_redirects=False, timeout=10)
    assert r.status_code == 302, (r.status_code, r.text[:800])
    loc = r.headers["Location"]
    assert loc.startswith(idp.issuer + "/auth?"), loc
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
    assert q["login_hint"] == ["hanna"], loc
    assert q["client_id"] == [h.CLIENT_ID] and q["response_type"] == ["code"]
    assert q["code_challenge_method"] == ["S256"] and q["state"] and q["nonce"], loc
    assert q["redirect_uri"] == [server.url(h.REDIRECT_PATH)]
    assert login_cookies(r), h.set_cookie_headers(r)
    assert r.headers.get("Cache-Control") == "no-store"
    resp = finish_login(s, loc, "hanna")
    assert resp.status_code == 200, (resp.status_code, resp.url, resp.text[:800])
    assert resp.url == target, resp.url
    assert "<h1>Hello hanna</h1>" in resp.text
    assert_whoami_json(s, server, "hanna")
    assert re.search(r"TPO00853: provider idp: third-party-initiated login with login_hint, "
                     r"target /app/whoami\.cgi\?from=idp&x=%C3%A9", server.error_log())


def test_post_form_with_local_target(server, idp):
    s = h.browser_session()
    r = s.post(server.url(INITIATE), data={"iss": idp.issuer, "login_hint": "ivan",
                                          "target_link_uri": WHOAMI + "?format=json"},
               allow_redirects=False, timeout=10)
    assert r.status_code == 302, (r.status_code, r.text[:800])
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query)
    assert q["login_hint"] == ["ivan"]
    resp = finish_login(s, r.headers["Location"], "ivan")
    assert resp.status_code == 200, (resp.status_code, resp.url, resp.text[:800])
    assert resp.url == server.url(WHOAMI + "?format=json"), resp.url
    assert resp.json()["REMOTE_USER"] == "ivan"


def test_without_target_lands_on_root_and_without_hint(server, idp):
    s = h.browser_session()
    r = s.get(server.url(INITIATE), params={"iss": idp.issuer}, allow_redirects=False,
              timeout=10)
    assert r.status_code == 302, (r.status_code, r.text[:800])
    assert "login_hint" not in urllib.parse.parse_qs(
        urllib.parse.urlsplit(r.headers["Location"]).query)
    resp = finish_login(s, r.headers["Location"], "jan")
    assert resp.url == server.url("/"), resp.url
    assert_whoami_json(s, server, "jan")


def test_login_hint_replaces_a_configured_one(httpd, idp):
    httpd.ensure(h.standard_conf(idp.issuer, provider_extra="TPOAuthAuthParam login_hint nobody"))
    r = requests.get(httpd.url(INITIATE), params={"iss": idp.issuer, "login_hint": "kim"},
                     headers={"Accept": h.HTML_ACCEPT}, allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.status_code
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query)
    assert q["login_hint"] == ["kim"], r.headers["Location"]
    # and an ordinary login still sends the configured one
    r = requests.get(httpd.url(WHOAMI), headers={"Accept": h.HTML_ACCEPT},
                     allow_redirects=False, timeout=10)
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query)
    assert q["login_hint"] == ["nobody"], r.headers["Location"]


REFUSED = [
    ("foreign_iss", {"iss": "https://evil.example", "target_link_uri": WHOAMI},
     r"iss https://evil\.example is not the provider's issuer"),
    ("iss_prefix", {"iss": "{issuer}/", "target_link_uri": WHOAMI},
     r"iss http://127\.0\.0\.1:\d+/ is not the provider's issuer"),
    ("no_iss", {"target_link_uri": WHOAMI}, r"iss missing"),
    ("offsite_target", {"iss": "{issuer}", "target_link_uri": "https://evil.example/x"},
     r"target_link_uri https://evil\.example/x is not local"),
    ("scheme_relative_target", {"iss": "{issuer}", "target_link_uri": "//evil.example/x"},
     r"target_link_uri //evil\.example/x is not local"),
    ("backslash_target", {"iss": "{issuer}", "target_link_uri": "/\\evil.example"},
     r"is not local"),
    ("encoded_slash_target", {"iss": "{issuer}", "target_link_uri": "/%2F%2Fevil.example"},
     r"is not local"),
    ("javascript_target", {"iss": "{issuer}", "target_link_uri": "javascript:alert(1)"},
     r"target_link_uri javascript:alert\(1\) is not local"),
    ("other_port_target", {"iss": "{issuer}", "target_link_uri": "http://127.0.0.1:1/app/"},
     r"target_link_uri http://127\.0\.0\.1:1/app/ is not local"),
    ("userinfo_target", {"iss": "{issuer}", "target_link_uri": "{base}@evil.example/"},
     r"is not local"),
    ("long_target", {"iss": "{issuer}", "target_link_uri": "/" + "a" * 600},
     r"or longer than 512 bytes"),
    ("hint_ctl", {"iss": "{issuer}", "login_hint": "a\r\nb"},
     r"login_hint too long or with control characters"),
    ("hint_long", {"iss": "{issuer}", "login_hint": "x" * 600},
     r"login_hint too long or with control characters"),
]


def fill(params, server, idp):
    return {k: v.format(issuer=idp.issuer, base=server.base) for k, v in params.items()}


@pytest.mark.parametrize("name,params,log_rx", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_400_log_line_no_login(server, idp, name, params, log_rx):
    s_ok = h.browser_session()
    assert h.oidc_login(s_ok, server.url(WHOAMI), "lena").status_code == 200
    mark = len(server.error_log())
    p = fill(params, server, idp)
    for method in ("GET", "POST"):
        b = h.browser_session()
        if method == "GET":
            r = b.get(server.url(INITIATE), params=p, allow_redirects=False, timeout=10)
        else:
            r = b.post(server.url(INITIATE), data=p, allow_redirects=False, timeout=10)
        assert r.status_code == 400, (method, r.status_code, r.text[:800])
        assert "Login not started" in r.text
        assert r.headers.get("Location") is None
        assert not login_cookies(r), h.set_cookie_headers(r)
        assert "evil.example/x\"" not in r.text  # the page does not echo a link
    log = server.error_log()[mark:]
    lines = [ln for ln in log.splitlines()
             if re.search(r"\[tp_oauth:warn\] .*TPO00851: provider idp: initiate-login "
                          r"refused: .*" + log_rx, ln)]
    assert len(lines) == 2, log
    assert "\r" not in log and "a\nb" not in log
    # the server keeps serving; the earlier session is untouched
    assert_whoami_json(s_ok, server, "lena")


def test_repeated_and_malformed_parameters(server, idp):
    mark = len(server.error_log())
    url = server.url(INITIATE)
    for query in ("iss=%s&iss=%s" % ((urllib.parse.quote(idp.issuer, safe=""),) * 2),
                  "iss=%s&target_link_uri=/a&target_link_uri=/b"
                  % urllib.parse.quote(idp.issuer, safe=""),
                  "iss=%zz"):
        r = requests.get(url + "?" + query, allow_redirects=False, timeout=10)
        assert r.status_code == 400, (query, r.status_code)
        assert not login_cookies(r)
    # a POST that is not a form, or too large
    r = requests.post(url, data=b'{"iss":"x"}', headers={"Content-Type": "application/json"},
                      allow_redirects=False, timeout=10)
    assert r.status_code == 400
    r = requests.post(url, data={"iss": idp.issuer, "pad": "x" * 9000},
                      allow_redirects=False, timeout=10)
    assert r.status_code == 400
    r = requests.put(url, data="iss=x", allow_redirects=False, timeout=10)
    assert r.status_code == 405 and "GET" in r.headers.get("Allow", "")
    log = server.error_log()[mark:]
    assert len(re.findall(r"TPO00851: provider idp: initiate-login refused", log)) == 5, log
    assert "iss repeated" in log and "target_link_uri repeated" in log and "malformed" in log


def test_outside_protected_locations(httpd, idp):
    """With the redirect URI outside every protected location the endpoint is reached
    from the handler hook and answers the same."""
    conf = ("TPOAuthCacheSize 16M\n"
            + h.provider_conf("idp", idp.issuer, redirect_uri="/cb/redirect_uri")
            + h.protect_conf(location="/app/"))
    httpd.ensure(conf)
    s = h.browser_session()
    r = s.get(httpd.url("/cb/redirect_uri/initiate-login"),
              params={"iss": idp.issuer, "target_link_uri": WHOAMI}, allow_redirects=False,
              timeout=10)
    assert r.status_code == 302 and r.headers["Location"].startswith(idp.issuer), r.status_code
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query)
    assert q["redirect_uri"] == [httpd.url("/cb/redirect_uri")]
    r = requests.get(httpd.url("/cb/redirect_uri/initiate-login"),
                     params={"iss": "https://evil.example"}, allow_redirects=False, timeout=10)
    assert r.status_code == 400


def test_provider_metadata_unavailable_502(httpd, idp):
    """The issuer cannot be checked while the discovery document cannot be loaded: 502,
    a log line, no login started."""
    dead = "http://127.0.0.1:%d" % h.free_port()
    httpd.ensure("TPOAuthCacheSize 16M\n" + h.provider_conf("idp", dead) + h.protect_conf())
    mark = len(httpd.error_log())
    r = h.browser_session().get(httpd.url(INITIATE), params={"iss": dead},
                                allow_redirects=False, timeout=15)
    assert r.status_code == 502, (r.status_code, r.text[:500])
    assert not login_cookies(r) and r.headers.get("Location") is None
    log = httpd.error_log()[mark:]
    assert re.search(r"\[tp_oauth:error\] .*TPO00852: provider idp: initiate-login: provider "
                     r"metadata unavailable", log), log
