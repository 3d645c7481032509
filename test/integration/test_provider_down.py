# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""A provider that is down (issue 16 item 3), against a real httpd with the module and
the real oidc-provider (test/idp), which the test stops and starts again:

- once a back-channel call has failed (here: the token endpoint, at the callback of a
  login whose browser came back after the provider died), a new login gets 503 with
  Retry-After within the HTTP timeout instead of a redirect to the dead provider, in
  every child process (the state is in the shared cache);
- a logged-in user with a valid token still gets 200;
- at most one probe per interval (5 s) over all processes;
- after the provider is back, logins work again without restarting Apache.
"""

import re
import time

import pytest
import requests


import tpo_harness as h

WHOAMI = "/app/whoami.cgi"
PROBE_INTERVAL = 5


def conf(idp):
    return ("TPOAuthCacheSize 16M\n"
            + h.provider_conf("idp", idp.issuer, extra="TPOAuthHTTPTimeout 1 2")
            + h.protect_conf())


@pytest.fixture
def idp_back(idp):
    yield idp
    if idp.proc is None:
        idp.start()


class CallbackHold(requests.adapters.BaseAdapter):
    """Mounted on the callback URL: keeps the browser from arriving there (records the
    URL the IdP sent it to, answers 200 itself)."""

    def __init__(self):
        super().__init__()
        self.url = None

    def send(self, request, **kw):
        self.url = request.url
        r = requests.models.Response()
        r.status_code, r.url, r._content = 200, request.url, b""
        r.headers["Content-Type"] = "text/plain"
        r.request = request
        return r

    def close(self):
        pass


def new_login(server):
    s = h.browser_session()
    t0 = time.monotonic()
    r = s.get(server.url(WHOAMI), allow_redirects=False, timeout=10)
    return r, time.monotonic() - t0


def test_provider_down_then_back(httpd, idp_back):
    idp = idp_back
    server = httpd.ensure(conf(idp))
    alice = h.browser_session()
    r = h.oidc_login(alice, server.url(WHOAMI), "alice")
    assert r.status_code == 200 and "Hello alice" in r.text

    # bob's login: the IdP's redirect back to the callback is held, the IdP dies,
    # then bob's browser arrives at the callback: the token endpoint is unreachable
    bob = h.browser_session()
    held = CallbackHold()
    bob.mount(server.url("/app/redirect_uri"), held)
    h.oidc_login(bob, server.url(WHOAMI), "bob")
    assert held.url, "the IdP did not redirect to the callback"
    bob.mount(server.url("/app/redirect_uri"), requests.adapters.HTTPAdapter())
    idp.stop()
    mark = len(server.error_log())
    t0 = time.monotonic()
    r = bob.get(held.url, allow_redirects=False, timeout=10)
    assert r.status_code in (502, 504), r.status_code
    assert time.monotonic() - t0 < 2.5
    r, took = new_login(server)
    assert r.status_code == 503, (r.status_code, r.headers, r.text[:300])
    assert took < 2.5, took  # within TPOAuthHTTPTimeout (2 s total)
    ra = int(r.headers["Retry-After"])
    assert 1 <= ra <= PROBE_INTERVAL + 2, ra
    assert "Location" not in r.headers
    assert "Login unavailable" in r.text

    # every child agrees: a burst of new logins, each answered fast with 503
    for _ in range(12):
        r, took = new_login(server)
        assert r.status_code == 503 and "Retry-After" in r.headers, (r.status_code, r.text[:200])
        assert took < 2.5, took
    # the logged-in user is not affected
    r = alice.get(server.url(WHOAMI), timeout=10)
    assert r.status_code == 200 and "Hello alice" in r.text, r.status_code

    # while it stays down: 503s across a probe interval, at most one probe per interval
    # (over all processes)
    end = time.monotonic() + PROBE_INTERVAL + 1.5
    while time.monotonic() < end:
        r, _ = new_login(server)
        assert r.status_code == 503, r.status_code
        time.sleep(0.2)
    log = server.error_log()[mark:]
    probes = [line for line in log.splitlines() if "provider idp: probe of" in line]
    # the dead provider is called rarely: at most one probe per 5 s over all
    # processes (none while a real call failed meanwhile), and a process without
    # metadata tries its discovery document at most once per 5 s
    assert len(probes) <= 2, probes
    pids = set(re.findall(r"\[pid (\d+)", log))
    fetches = [line for line in log.splitlines() if "TPO00049" in line]
    assert 1 <= len(fetches) + len(probes) <= 3 * len(pids), (len(pids), fetches, probes)
    assert "its back channel failed" in log

    # back: logins work again, without restarting Apache (bounded wait: one probe
    # interval plus the time the probe takes)
    pid = server.pid()
    idp.start()
    deadline = time.monotonic() + PROBE_INTERVAL + 6
    while True:
        r, _ = new_login(server)
        if r.status_code == 302:
            break
        assert r.status_code == 503, r.status_code
        assert time.monotonic() < deadline, "logins still refused after the provider came back"
        time.sleep(0.3)
    assert r.headers["Location"].startswith(idp.issuer)
    carol = h.browser_session()
    r = h.oidc_login(carol, server.url(WHOAMI), "carol")
    assert r.status_code == 200 and "Hello carol" in r.text
    assert server.pid() == pid
    assert "reachable again" in server.error_log()[mark:]




def fake_conf(fakeidp, root):
    from fake_conf import mode_provider
    c = mode_provider(fakeidp.base, "oidc-500", ["TPOAuthHTTPTimeout 1 2"])
    c += 'ScriptAliasMatch "^/m/[^/]+/(.*\\.cgi)$" "%s/app/$1"\n' % root
    c += ("<Location /m/oidc-500/>\n    AuthType tp-oauth\n    AuthName \"m\"\n"
          "    TPOAuthProvider m_oidc_500\n    Require valid-user\n</Location>\n")
    return c


def test_token_endpoint_5xx_then_probe(module_path, fakeidp):
    """The fake provider's token endpoint answers 500: the callback fails, the next new
    logins get 503 + Retry-After; after the probe interval one request probes (the
    discovery document answers, so the provider counts as up) and logins are let
    through again."""
    server = h.Httpd(module=module_path)
    page = "/m/oidc-500/whoami.cgi"
    try:
        server.start(fake_conf(fakeidp, server.server_root))
        r = h.browser_session().get(server.url(page), timeout=10)
        assert r.status_code in (502, 504), (r.status_code, r.url, r.text[:300])
        t_fail = time.monotonic()
        mark = len(server.error_log())
        for _ in range(6):
            r = h.browser_session().get(server.url(page), allow_redirects=False, timeout=10)
            assert r.status_code == 503, (r.status_code, r.headers)
            assert 1 <= int(r.headers["Retry-After"]) <= PROBE_INTERVAL
        # wait for the probe to be due, then logins are redirected again
        time.sleep(max(0.0, PROBE_INTERVAL + 0.2 - (time.monotonic() - t_fail)))
        statuses = []
        for _ in range(4):
            r = h.browser_session().get(server.url(page), allow_redirects=False, timeout=10)
            statuses.append(r.status_code)
        assert statuses == [302] * 4, statuses
        log = server.error_log()[mark:]
        probes = [line for line in log.splitlines() if "provider m_oidc_500: probe of" in line]
        assert len(probes) == 1 and ": up" in probes[0], probes
        assert "reachable again" in log
    finally:
        server.cleanup(keep=bool(server.problems(since_last=False)))
