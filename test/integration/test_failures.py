# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""Every failure path of the login (issue: the login foundation, item 6), each
against a real httpd with the module: a clear status and page, one log line
naming the cause (never a token), the server keeps serving, and an existing
session is not lost."""

import re
import threading
import time
import urllib.parse

import pytest
import requests

import tpo_harness as h
from fake_conf import fake_conf

pytestmark = pytest.mark.usefixtures("fake_httpd")

JWT_RX = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")


@pytest.fixture(scope="module")
def fake_httpd(httpd, idp, fakeidp):
    httpd.ensure(fake_conf(idp.issuer, fakeidp.base, httpd.server_root))
    return httpd


@pytest.fixture(scope="module")
def alice(fake_httpd, idp):
    """A real session at the real IdP, opened before the failures; it must
    survive every one of them."""
    s = h.browser_session()
    r = h.oidc_login(s, fake_httpd.url("/app/whoami.cgi"), "alice")
    assert r.status_code == 200 and "Hello alice" in r.text
    return s


def still_serving(httpd, alice):
    r = alice.get(httpd.url("/app/whoami.cgi"), allow_redirects=False, timeout=10)
    assert r.status_code == 200 and "Hello alice" in r.text, "the existing session was lost"
    r = requests.get(httpd.url("/static/hello.txt"), timeout=10)
    assert r.status_code == 200


def log_since(httpd, mark):
    return httpd.error_log()[mark:]


def start_login(session, httpd, mode):
    """GET the protected page; return the authorize URL the module sent us to."""
    r = session.get(httpd.url("/m/%s/whoami.cgi" % mode), allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text
    return r.headers["Location"]


def callback_url(session, authorize_url):
    """Let the (fake) provider answer the authorize request; return the
    redirect it makes to our redirect URI, without following it."""
    r = session.get(authorize_url, allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text
    return r.headers["Location"]


# ---------------------------------------------------------------- provider says error=

@pytest.mark.parametrize("mode", ["denied", "denied-xss"])
def test_provider_error_access_denied(fake_httpd, alice, mode):
    mark = len(fake_httpd.error_log())
    s = h.browser_session()
    r = s.get(fake_httpd.url("/m/%s/whoami.cgi" % mode), timeout=10)
    assert r.status_code == 403
    assert "access_denied" in r.text
    assert r.headers["Cache-Control"] == "no-store"
    assert "<script>" not in r.text
    if mode == "denied-xss":
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    log = log_since(fake_httpd, mark)
    assert "error=access_denied" in log
    assert "tpo_%s=" % mode.replace("-", "_") not in r.headers.get("Set-Cookie", "")
    still_serving(fake_httpd, alice)


# ---------------------------------------------------------------- state

def test_state_missing(fake_httpd, alice):
    mark = len(fake_httpd.error_log())
    r = h.browser_session().get(fake_httpd.url("/m/oidc/redirect_uri?code=abc"), timeout=10)
    assert r.status_code == 400
    assert "state parameter missing" in log_since(fake_httpd, mark)
    still_serving(fake_httpd, alice)


def test_state_unknown(fake_httpd, alice):
    mark = len(fake_httpd.error_log())
    r = h.browser_session().get(
        fake_httpd.url("/m/oidc/redirect_uri?code=abc&state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        timeout=10)
    assert r.status_code == 400
    assert "state unknown, expired or already used" in log_since(fake_httpd, mark)
    still_serving(fake_httpd, alice)


def test_state_replayed(fake_httpd, alice):
    s = h.browser_session()
    cb = callback_url(s, start_login(s, fake_httpd, "oidc"))
    first = s.get(cb, allow_redirects=False, timeout=10)
    assert first.status_code == 302
    assert first.headers["Location"] == "/m/oidc/whoami.cgi"
    mark = len(fake_httpd.error_log())
    again = h.browser_session()
    again.cookies.update(s.cookies)
    replay = again.get(cb, allow_redirects=False, timeout=10)
    assert replay.status_code == 400
    assert "already used" in replay.text
    assert "state unknown, expired or already used" in log_since(fake_httpd, mark)
    # the first login's session is still good
    r = s.get(fake_httpd.url("/m/oidc/whoami.cgi"), allow_redirects=False, timeout=10)
    assert r.status_code == 200 and "Hello fake-user-1" in r.text
    still_serving(fake_httpd, alice)


def test_state_expired(fake_httpd, alice):
    s = h.browser_session()
    authorize = start_login(s, fake_httpd, "short")   # TPOAuthLoginTimeout 2
    cb = callback_url(s, authorize)
    time.sleep(3.2)
    mark = len(fake_httpd.error_log())
    r = s.get(cb, allow_redirects=False, timeout=10)
    assert r.status_code == 400
    log = log_since(fake_httpd, mark)
    assert "expired" in log
    still_serving(fake_httpd, alice)


def test_state_from_another_browser(fake_httpd, alice):
    """Login CSRF: a callback with a valid state, delivered to a browser that
    did not start the login, is refused (and the state is spent)."""
    attacker = h.browser_session()
    cb = callback_url(attacker, start_login(attacker, fake_httpd, "oidc"))
    victim = h.browser_session()
    mark = len(fake_httpd.error_log())
    r = victim.get(cb, allow_redirects=False, timeout=10)
    assert r.status_code == 400
    assert "another browser" in r.text
    assert "does not belong to this browser" in log_since(fake_httpd, mark)
    assert "tpo_oidc=" not in r.headers.get("Set-Cookie", "")
    still_serving(fake_httpd, alice)


def test_iss_mismatch_refused(fake_httpd, alice):
    """RFC 9207 mix-up defence: the iss parameter must name our provider."""
    s = h.browser_session()
    cb = callback_url(s, start_login(s, fake_httpd, "oidc"))
    parts = urllib.parse.urlsplit(cb)
    q = dict(urllib.parse.parse_qsl(parts.query))
    q["iss"] = "http://127.0.0.1:9/evil"
    bad = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(q)))
    r = s.get(bad, allow_redirects=False, timeout=10)
    assert r.status_code == 400
    still_serving(fake_httpd, alice)


def test_bounded_pending_logins_per_browser(fake_httpd, alice):
    """A script hammering a protected URL keeps one login cookie and at most
    TPOAuthPendingLoginsPerBrowser (8) states; the oldest are dropped."""
    s = h.browser_session()
    authorizes = [start_login(s, fake_httpd, "oidc") for _ in range(12)]
    login_cookies = [c for c in s.cookies if c.name.endswith("_login")]
    assert len(login_cookies) == 1
    # the 4 oldest are gone, the 8 newest still work (test one of each)
    oldest = callback_url(s, authorizes[0])
    r = s.get(oldest, allow_redirects=False, timeout=10)
    assert r.status_code == 400
    newest = callback_url(s, authorizes[-1])
    r = s.get(newest, allow_redirects=False, timeout=10)
    assert r.status_code == 302
    still_serving(fake_httpd, alice)


# ---------------------------------------------------------------- token endpoint

def test_token_endpoint_down(fake_httpd, alice):
    mark = len(fake_httpd.error_log())
    s = h.browser_session()
    t0 = time.monotonic()
    r = s.get(fake_httpd.url("/m/down/whoami.cgi"), timeout=20)
    assert r.status_code == 502
    assert time.monotonic() - t0 < 5
    assert "could not be reached" in r.text
    assert "unreachable" in log_since(fake_httpd, mark)
    still_serving(fake_httpd, alice)


@pytest.mark.parametrize("mode,page,log", [
    ("oidc-refuse", "invalid_client", "error=invalid_client"),
    ("oidc-500", "http_500", "HTTP 500"),
    ("oidc-garbage", "unusable", "unusable"),
    ("xendit-error", "INVALID_GRANT", "error=INVALID_GRANT"),
])
def test_token_endpoint_refusing(fake_httpd, alice, mode, page, log):
    mark = len(fake_httpd.error_log())
    r = h.browser_session().get(fake_httpd.url("/m/%s/whoami.cgi" % mode), timeout=20)
    assert r.status_code == 502
    assert page in r.text
    assert log in log_since(fake_httpd, mark)
    still_serving(fake_httpd, alice)


def test_token_endpoint_slow(fake_httpd, alice):
    """A token endpoint slower than TPOAuthHTTPTimeout (1.5 s here, the fake
    waits 5 s) gives 504 in time, and Apache serves other requests meanwhile."""
    mark = len(fake_httpd.error_log())
    result = {}

    def slow_login():
        t0 = time.monotonic()
        result["r"] = h.browser_session().get(fake_httpd.url("/m/oidc-slow/whoami.cgi"),
                                              timeout=30)
        result["t"] = time.monotonic() - t0

    t = threading.Thread(target=slow_login)
    t.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    other = requests.get(fake_httpd.url("/static/hello.txt"), timeout=10)
    assert other.status_code == 200
    assert time.monotonic() - t0 < 1.0
    still_serving(fake_httpd, alice)
    t.join(30)
    assert result["r"].status_code == 504
    assert result["t"] < 4.0
    assert "did not answer within 1500 ms" in log_since(fake_httpd, mark)


# ---------------------------------------------------------------- ID token

@pytest.mark.parametrize("mode,check", [
    ("oidc-badsig", "signature"),
    ("oidc-wrongiss", "iss"),
    ("oidc-wrongaud", "aud"),
    ("oidc-expired", "exp"),
    ("oidc-future-iat", "iat"),
    ("oidc-badnonce", "nonce"),
    ("oidc-nonce-missing", "nonce"),
    ("oidc-alg-none", "alg"),
    ("oidc-hs-confusion", "alg"),
    ("oidc-unknown-kid", "nokey"),
])
def test_id_token_rejected(fake_httpd, alice, mode, check):
    mark = len(fake_httpd.error_log())
    s = h.browser_session()
    r = s.get(fake_httpd.url("/m/%s/whoami.cgi" % mode), timeout=20)
    assert r.status_code == 401
    assert "identity token" in r.text
    log = log_since(fake_httpd, mark)
    lines = [l for l in log.splitlines() if "ID token rejected" in l]
    assert len(lines) == 1, log
    assert "check '%s' failed" % check in lines[0]
    assert not JWT_RX.search(log), "a token reached the error log"
    # no session was opened
    assert not any(c.name == "tpo_%s" % mode.replace("-", "_") for c in s.cookies)
    still_serving(fake_httpd, alice)


# ---------------------------------------------------------------- the good fake modes

@pytest.mark.parametrize("mode", ["oidc", "oidc-es256"])
def test_fake_oidc_login(fake_httpd, mode):
    s = h.browser_session()
    r = s.get(fake_httpd.url("/m/%s/whoami.cgi?a=1&b=%%2F" % mode), timeout=20)
    assert r.status_code == 200
    assert r.url.endswith("/m/%s/whoami.cgi?a=1&b=%%2F" % mode)
    assert "Hello fake-user-1" in r.text


def test_no_token_in_logs_or_pages(fake_httpd):
    log = fake_httpd.error_log()
    assert not JWT_RX.search(log)
    assert "fake-secret" not in log
    assert "tpo-test-secret" not in log
