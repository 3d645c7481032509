# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""Metrics and health (issue 16, items 1 and 2), against a real httpd with the
module and the real oidc-provider:

* a scripted run (3 logins, 1 login the user cancels at the provider, 1
  refresh, 1 logout) and the Prometheus text (parsed here) shows exactly those
  counts; the counters survive a graceful restart and are summed over the
  child processes;
* the handlers refuse whom their Require does not allow;
* the health handler answers 200 with the shared-memory cache, and with
  memcached / Redis turns 503 while the backend is stopped and back to 200
  when it returns (the backends of test_sessions.py);
* mod_status's page carries the module's line.
"""

import json
import os
import re
import shutil
import tempfile
import time
import urllib.parse

import pytest
import requests

import tpo_harness as h
from test_sessions import Backend, REDIS_PASSWORD, RECOVERY

WHOAMI = "/app/whoami.cgi"
COOKIE = "tp_oauth_idp"
DENIED_IP = "192.0.2.1"     # TEST-NET-1: never the client here

SAMPLE_RX = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')
LABEL_RX = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def load_module(name):
    """LoadModule for an httpd module the harness does not load itself."""
    if name in h.apache_builtin_modules() or name in h.MODULES:
        return ""
    return ("<IfModule !%s_module>\nLoadModule %s_module %s/mod_%s.so\n</IfModule>\n"
            % (name, name, h.APACHE_MODULES, name))


def ops_conf(extra=""):
    """The operators' handlers: allowed from loopback, and the same handlers
    behind a Require nobody here meets (mod_authz_host's Require ip)."""
    c = load_module("authz_host")
    for path, handler, req in (("/tpo-metrics", "tp-oauth-metrics", "ip 127.0.0.1"),
                               ("/tpo-health", "tp-oauth-health", "ip 127.0.0.1"),
                               ("/tpo-metrics-denied", "tp-oauth-metrics", "ip " + DENIED_IP),
                               ("/tpo-health-denied", "tp-oauth-health", "ip " + DENIED_IP)):
        c += ("<Location %s>\n    SetHandler %s\n    Require %s\n</Location>\n"
              % (path, handler, req))
    return c + extra


def parse_prometheus(text):
    """{(name, frozenset(labels)): value}, checking the exposition format:
    every sample's family has one HELP and one TYPE line before it."""
    samples, typed, helped = {}, {}, set()
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert name not in helped, "two HELP lines for %s" % name
            helped.add(name)
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert kind in ("counter", "gauge", "histogram"), line
            assert name not in typed, "two TYPE lines for %s" % name
            typed[name] = kind
            continue
        assert not line.startswith("#"), line
        m = SAMPLE_RX.match(line)
        assert m, "not a sample line: %r" % line
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in typed else name
        assert family in typed and family in helped, "no HELP/TYPE before %r" % line
        if typed[family] == "counter":
            assert name.endswith("_total"), name
        lab = frozenset(LABEL_RX.findall(labels))
        key = (name, lab)
        assert key not in samples, "sample twice: %r" % line
        samples[key] = float(value)
    return samples


def val(samples, name, **labels):
    return samples[(name, frozenset(labels.items()))]


def scrape(server, path="/tpo-metrics"):
    r = requests.get(server.url(path), timeout=10)
    assert r.status_code == 200, (r.status_code, r.text[:500])
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
    return parse_prometheus(r.text)


def login(server, name):
    s = h.browser_session()
    r = h.oidc_login(s, server.url(WHOAMI), name)
    assert r.status_code == 200 and ("<h1>Hello %s</h1>" % name) in r.text, (
        r.status_code, r.text[:500])
    return s


def cancelled_login(server):
    """A login the user cancels at the provider's login page: the callback
    gets error=access_denied."""
    s = h.browser_session()
    r = s.get(server.url(WHOAMI), timeout=10)
    assert r.status_code == 200 and "login" in r.text, (r.status_code, r.url)
    m = re.search(r'href="([^"]*/abort)"', r.text)
    assert m, r.text[:2000]
    r = s.get(urllib.parse.urljoin(r.url, m.group(1)), timeout=10)
    assert r.status_code == 403 and "access_denied" in r.text, (r.status_code, r.text[:500])


def refresh(server, s):
    r = s.post(server.url(h.REDIRECT_PATH + "/refresh"), timeout=15, headers={
        "X-Requested-With": "XMLHttpRequest", "Accept": "application/json",
        "Origin": server.base})
    assert r.status_code == 200, (r.status_code, r.text[:500])


def logout(server, s):
    r = s.get(server.url(h.REDIRECT_PATH + "/logout?return=%2Fstatic%2Fhello.txt"),
              allow_redirects=False, timeout=10)
    assert r.status_code == 302, (r.status_code, r.text[:500])


def check_run(m, extra_logins=0):
    """The counts of the scripted run (plus extra_logins completed logins)."""
    assert val(m, "tpo_oauth_logins_started_total") == 4 + extra_logins
    assert val(m, "tpo_oauth_logins_completed_total") == 3 + extra_logins
    assert val(m, "tpo_oauth_logins_failed_total", cause="access_denied") == 1
    failed = sum(v for (n, _), v in m.items() if n == "tpo_oauth_logins_failed_total")
    assert failed == 1, m
    assert val(m, "tpo_oauth_logins_pending") == 0
    assert val(m, "tpo_oauth_refreshes_total") == 1
    assert val(m, "tpo_oauth_refreshes_coalesced_total") == 0
    assert sum(v for (n, _), v in m.items() if n == "tpo_oauth_refreshes_failed_total") == 0
    assert val(m, "tpo_oauth_logouts_total") == 1
    # the provider's endpoints: 3 (+ extra) code exchanges and 1 refresh at the
    # token endpoint, a userinfo call per login, 2 revocations at the logout;
    # discovery and JWKS once per
    # child process at least
    hist = "tpo_oauth_provider_call_duration_seconds"
    assert val(m, hist + "_count", endpoint="token") == 4 + extra_logins
    assert val(m, hist + "_bucket", endpoint="token", le="+Inf") == 4 + extra_logins
    # the logout revokes the refresh token and the access token
    assert val(m, hist + "_count", endpoint="revocation") == 2
    assert val(m, hist + "_count", endpoint="userinfo") == 3 + extra_logins
    assert val(m, hist + "_count", endpoint="discovery") >= 1
    assert val(m, hist + "_sum", endpoint="token") > 0
    for ep in ("discovery", "jwks", "token", "userinfo", "revocation"):
        buckets = sorted((float(dict(lab)["le"]), v) for (n, lab), v in m.items()
                         if n == hist + "_bucket" and dict(lab)["endpoint"] == ep)
        assert len(buckets) == 12 and buckets[-1][0] == float("inf"), buckets
        assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), buckets  # cumulative
        assert val(m, "tpo_oauth_provider_calls_failed_total", endpoint=ep) == 0
    assert val(m, "tpo_oauth_metadata_fetches_total", kind="discovery", result="ok") >= 1
    assert val(m, "tpo_oauth_metadata_fetches_total", kind="jwks", result="ok") >= 1
    assert val(m, "tpo_oauth_metadata_fetches_total", kind="jwks", result="failed") == 0
    assert val(m, "tpo_oauth_cache_errors_total", backend="shm") == 0
    # the shared-memory cache: the 3 sessions minus the one logged out, plus
    # the markers of their logins (short-lived entries)
    assert val(m, "tpo_oauth_sessions") >= 2 + extra_logins
    assert val(m, "tpo_oauth_cache_bytes", state="used") > 0
    assert val(m, "tpo_oauth_cache_bytes", state="free") > 0
    assert val(m, "tpo_oauth_cache_evictions_total") == 0


def test_metrics_scripted_run_and_graceful_restart(httpd, idp):
    conf = h.standard_conf(idp.issuer) + ops_conf()
    httpd.restart(conf)     # a new server: the counters start at zero
    m = scrape(httpd)
    assert val(m, "tpo_oauth_logins_started_total") == 0
    assert val(m, "tpo_oauth_refreshes_total") == 0

    alice = login(httpd, "alice")
    bob = login(httpd, "bob")
    login(httpd, "carol")
    cancelled_login(httpd)
    refresh(httpd, alice)
    logout(httpd, bob)
    check_run(scrape(httpd))
    log = httpd.error_log()
    assert "error=access_denied" in log

    # kept across a graceful restart (new children, same counters)
    httpd.graceful(conf)
    check_run(scrape(httpd))
    login(httpd, "dave")
    check_run(scrape(httpd), extra_logins=1)


def test_metrics_summed_over_children(httpd, idp):
    """Logins started and scrapes answered by several child processes
    (StartServers 2, a connection per request): every scrape shows the sum."""
    conf = h.standard_conf(idp.issuer) + ops_conf()
    httpd.ensure(conf)
    before = val(scrape(httpd), "tpo_oauth_logins_started_total")
    mark = len(httpd.access_entries())
    for _ in range(12):
        r = requests.get(httpd.url(WHOAMI), headers={"Accept": h.HTML_ACCEPT,
                                                     "Connection": "close"},
                         allow_redirects=False, timeout=10)
        assert r.status_code == 302
    for _ in range(12):
        r = requests.get(httpd.url("/tpo-metrics"), timeout=10, headers={"Connection": "close"})
        m = parse_prometheus(r.text)
        assert val(m, "tpo_oauth_logins_started_total") == before + 12
    entries = httpd.access_entries()[mark:]
    starts = {e["pid"] for e in entries if WHOAMI in e["request"]}
    scrapes = {e["pid"] for e in entries if "/tpo-metrics" in e["request"]}
    assert len(starts | scrapes) >= 2, "one process answered everything: %r" % entries


def test_metrics_failed_login_causes(httpd, idp):
    """A callback without this browser's login cookie, and one with a
    malformed query: bad_callback, and nothing else moves."""
    httpd.ensure(h.standard_conf(idp.issuer) + ops_conf())
    m0 = scrape(httpd)
    r = requests.get(httpd.url(h.REDIRECT_PATH + "?state=abcdef&code=xyz"),
                     headers={"Accept": h.HTML_ACCEPT}, allow_redirects=False, timeout=10)
    assert r.status_code == 400, r.status_code
    r = requests.get(httpd.url(h.REDIRECT_PATH + "?state=a&state=b&code=x"),
                     headers={"Accept": h.HTML_ACCEPT}, allow_redirects=False, timeout=10)
    assert r.status_code == 400, r.status_code
    m1 = scrape(httpd)
    moved = {k: m1[k] - m0.get(k, 0) for k in m1 if m1[k] != m0.get(k, 0)}
    key = ("tpo_oauth_logins_failed_total", frozenset({("cause", "bad_callback")}))
    assert moved == {key: 2}, moved


@pytest.mark.parametrize("path", ["/tpo-metrics-denied", "/tpo-health-denied"])
def test_ops_handlers_refuse_by_require(httpd, idp, path):
    httpd.ensure(h.standard_conf(idp.issuer) + ops_conf())
    r = requests.get(httpd.url(path), timeout=10)
    assert r.status_code == 403, (r.status_code, r.text[:300])
    assert "tpo_oauth_" not in r.text and '"cache"' not in r.text


def test_ops_handlers_behind_the_module(httpd, idp):
    """Require valid-user with AuthType tp-oauth: a login first."""
    extra = ("<Location /tpo-metrics-login>\n    SetHandler tp-oauth-metrics\n"
             "    AuthType tp-oauth\n    AuthName \"test\"\n    TPOAuthProvider idp\n    Require valid-user\n"
             "</Location>\n")
    httpd.ensure(h.standard_conf(idp.issuer) + ops_conf(extra))
    r = requests.get(httpd.url("/tpo-metrics-login"), allow_redirects=False, timeout=10,
                     headers={"Accept": "text/plain"})
    assert r.status_code == 401 and "tpo_oauth_" not in r.text, r.status_code
    s = login(httpd, "erin")
    r = s.get(httpd.url("/tpo-metrics-login"), timeout=10)
    assert r.status_code == 200 and "tpo_oauth_logins_completed_total" in r.text


def test_ops_handlers_only_get(httpd, idp):
    httpd.ensure(h.standard_conf(idp.issuer) + ops_conf())
    r = requests.post(httpd.url("/tpo-metrics"), data="x", timeout=10)
    assert r.status_code == 405 and "GET" in r.headers.get("Allow", ""), r.status_code


def test_health_shm(httpd, idp):
    httpd.ensure(h.standard_conf(idp.issuer) + ops_conf())
    r = requests.get(httpd.url("/tpo-health"), timeout=10)
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["status"] == "ok", body
    assert body["cache"]["backend"] == "shm" and body["cache"]["ok"] is True, body
    assert body["providers"] == {"idp": {"ok": True, "metadata": "loaded"}}, body


def test_health_provider_metadata_unavailable(httpd, idp):
    """A provider whose discovery cannot be loaded makes the health 503."""
    dead = h.free_port()
    conf = (h.standard_conf(idp.issuer) + ops_conf()
            + h.provider_conf("dead", "http://127.0.0.1:%d" % dead,
                              redirect_uri="/dead/redirect_uri",
                              extra="TPOAuthHTTPTimeout 1 2")
            + h.protect_conf(location="/dead/", provider="dead"))
    httpd.ensure(conf)
    r = requests.get(httpd.url("/tpo-health"), timeout=15)
    assert r.status_code == 503, (r.status_code, r.text)
    body = r.json()
    assert body["status"] == "failing"
    assert body["cache"]["ok"] is True
    assert body["providers"]["dead"] == {"ok": False, "metadata": "unavailable"}, body
    assert body["providers"]["idp"]["ok"] is True, body
    m = scrape(httpd)
    assert val(m, "tpo_oauth_metadata_fetches_total", kind="discovery", result="failed") >= 1
    assert val(m, "tpo_oauth_provider_calls_failed_total", endpoint="discovery") >= 1


def test_status_page_line(httpd, idp):
    load = load_module("status")
    extra = "<Location /server-status>\n    SetHandler server-status\n" \
            "    Require ip 127.0.0.1\n</Location>\n"
    httpd.ensure(load + h.standard_conf(idp.issuer) + ops_conf(extra))
    r = requests.get(httpd.url("/server-status"), timeout=10)
    assert r.status_code == 200
    assert re.search(r"mod_tp_oauth: \d+ logins started, \d+ completed, \d+ failed", r.text), \
        r.text[-2000:]
    r = requests.get(httpd.url("/server-status?auto"), timeout=10)
    assert re.search(r"(?m)^TPOAuth: mod_tp_oauth: \d+ logins started", r.text), r.text[-2000:]


@pytest.fixture(scope="module", params=["memcache", "redis"])
def remote(request, module_path, idp):
    kind = request.param
    if shutil.which("memcached" if kind == "memcache" else "redis-server") is None:
        pytest.fail("%s is not installed" % kind)
    workdir = tempfile.mkdtemp(prefix="tpo-health-")
    os.chmod(workdir, 0o755)
    backend = Backend(kind, workdir, password=REDIS_PASSWORD if kind == "redis" else None)
    server = h.Httpd(module=module_path)
    try:
        backend.start()
        c = "TPOAuthCache %s 127.0.0.1:%d\n" % (kind, backend.port)
        c += 'TPOAuthCachePassphrase "health-test-passphrase-0123456789"\n'
        c += "TPOAuthCacheTimeout 0.5\n"
        if kind == "redis":
            c += "TPOAuthCacheRedisPassword %s\n" % REDIS_PASSWORD
        c += h.provider_conf("idp", idp.issuer) + ops_conf()
        server.start(c)
        yield kind, backend, server
    finally:
        keep = bool(server.problems(since_last=False))
        server.cleanup(keep=keep)
        backend.stop()
        if not keep and not os.environ.get("TPO_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)


def health(server):
    t0 = time.time()
    r = requests.get(server.url("/tpo-health"), timeout=10)
    return r.status_code, r.json(), time.time() - t0


def test_health_follows_the_cache_backend(remote):
    kind, backend, server = remote
    st, body, _ = health(server)
    assert st == 200 and body["cache"] == {"backend": kind, "ok": True,
                                          "ms": body["cache"]["ms"]}, body
    errors0 = val(scrape(server), "tpo_oauth_cache_errors_total", backend=kind)
    backend.stop()
    try:
        st, body, took = health(server)
        assert st == 503, (st, body)
        assert body["status"] == "failing" and body["cache"]["ok"] is False, body
        assert body["cache"]["step"] == "write" and body["cache"]["backend"] == kind, body
        assert took < 3, took    # bounded by TPOAuthCacheTimeout (0.5 s) per operation
        assert "health check: the %s session cache failed (write)" % kind in server.error_log()
        assert val(scrape(server), "tpo_oauth_cache_errors_total", backend=kind) > errors0
    finally:
        backend.start()
    deadline = time.time() + RECOVERY + 5
    while True:
        st, body, _ = health(server)
        if st == 200 or time.time() > deadline:
            break
        time.sleep(0.2)
    assert st == 200 and body["status"] == "ok", (st, body)
    # no shared-memory cache: no cache gauges
    m = scrape(server)
    assert ("tpo_oauth_sessions", frozenset()) not in m
