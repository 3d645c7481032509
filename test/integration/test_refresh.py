# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""Transparent refresh, single flight (DESIGN.md "Refresh, single flight",
LESSONS.md item 5): the acceptance criteria of the refresh issue, against a
real httpd with the module and a real oidc-provider whose access tokens live
10 s and whose refresh tokens rotate on every use (reuse of a spent one
revokes the whole grant).

Everything here is started by this module (conftest-free design): its own IdP
(at_ttl=10), its own httpd, a small token-endpoint proxy (to make the token
endpoint slow, to capture refresh tokens, to hand back another user's ID
token), and for the fleet test memcached, redis-server, one IdP and two httpd
per backend. The session-wide ``idp``/``httpd`` fixtures are not used.

Timing facts used below. The module stores ``at_expires`` in whole seconds
(now_sec + expires_in) and ``at_obtained`` precisely, so a "10 s" token lives
L in (9, 10] s, and a session refreshes L/4 before ``at_expires`` (the 3/4
rule, TPOAuthRefreshBefore 60 being larger): between 6.75 s and 7.5 s after
the token was obtained. (A refresh also starts at least TPOAuthHTTPTimeout +
0.25 s before expiry: the providers here have total timeouts of 2 s or less,
so that never decides, except for ``pxlong`` (3.5 s), which tests it.) Times are taken from the session's
``access_token_expires`` (GET <redirect URI>/info, which never refreshes):
``exp - 1.9`` is always inside the refresh window, ``exp - 0.25`` still valid.

The tests: 1 one session, 50 connections, 60 s (slow); 2 two httpd sharing
memcached / Redis (slow; both backends run at the same time); 3 two minutes of
clicking (slow); 4 provider down; 5 refresh token revoked (IdP restart, the
revocation endpoint, reuse detection); 6 provider slower than
TPOAuthHTTPTimeout; 7 POST <redirect URI>/refresh, also six at once; 8 a
refreshed ID token naming another subject; 9 a logout while a refresh is in
flight; 10 the interop defects of issue 12: temporary refusals (429/503/408/
5xx with an error body) keep the session and honour Retry-After, failure
answers are logged once per retry window, a refresh window long enough for
the HTTP timeout, 20 forced refreshes at once spend the refresh token once,
a forced refresh that times out waiting for the lock answers one JSON
document. Non-slow: about 2 min. Slow (-m slow): about 3 min 45 s.
"""

import base64
import hashlib
import hmac
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import requests

import tpo_harness as h

AT_TTL = 10
PERIOD_MAX = AT_TTL * 0.75          # the "7.5 s rule"
IN_WINDOW = 1.9                     # exp - 1.9: surely in the refresh window
STILL_VALID = 0.25                  # exp - 0.25: surely still valid
PROBE = "probe.txt"
PROBE_TEXT = "tpo-refresh-probe: authenticated content\n"
PROBE_MARKER = "tpo-refresh-probe"
MAIN_COOKIE = "tp_oauth_idp"
XHR = {"X-Requested-With": "XMLHttpRequest", "Accept": "application/json"}
NAV = {"Accept": h.HTML_ACCEPT}
WRK = shutil.which("wrk") or "/usr/bin/wrk"

# provider name -> (location prefix, cookie name)
PROVIDERS = {
    "idp": ("/app", MAIN_COOKIE),          # defaults; /app/ (CGI) and /prot/ (static)
    "down502": ("/d502", "tpo_d502"),      # TPOAuthRefreshFailure 502, RetryAfter 2
    "downlogin": ("/dlogin", "tpo_dlogin"),  # TPOAuthRefreshFailure login, RetryAfter 2
    "px": ("/px", "tpo_px"),               # token endpoint through TokenProxy, timeout 1.5 s
    "pxt": ("/pxt", "tpo_pxt"),            # like px, RetryAfter 2 (temporary refusals)
    "pxlong": ("/pxlong", "tpo_pxlong"),   # like px, timeout 3.5 s, RetryAfter 2
}
RETRY_AFTER_DOWN = 2
# The providers that do not test timeouts get a total TPOAuthHTTPTimeout of 2 s:
# a refresh starts at least TPOAuthHTTPTimeout + 0.25 s before expiry, and with
# 2 s that is still less than the last quarter of a 10 s token (> 2.25 s), so
# the 3/4 rule below decides (with the default 10 s it would be half the
# lifetime).
RIG_TIMEOUT = "TPOAuthHTTPTimeout 1 2"


# ============================================================== helpers

def module_path():
    path = os.environ.get("TPO_MODULE") or os.path.join(h.REPO, "build", "src", ".libs",
                                                       "mod_tp_oauth.so")
    path = os.path.abspath(path)
    if not os.path.exists(path):
        pytest.fail("mod_tp_oauth.so not found at %s (build it, or set TPO_MODULE)" % path)
    return path


def sleep_until(t):
    d = t - time.time()
    if d > 0:
        time.sleep(d)


def cookie_hdr(name, value):
    return "%s=%s" % (name, value)


def get(url, cookie=None, headers=None, timeout=15):
    hd = dict(headers or NAV)
    if cookie:
        hd["Cookie"] = cookie
    return requests.get(url, headers=hd, allow_redirects=False, timeout=timeout)


def clears_cookie(resp, name):
    for sc in h.set_cookie_headers(resp):
        n, v, attrs = h.parse_set_cookie(sc)
        if n == name and (v == "" or attrs.get("max-age") == "0"):
            return True
    return False


def log_tail(server, n=40):
    return "\n".join(server.error_log().splitlines()[-n:])


def count_refresh_attempts(text, user):
    """Refresh attempts that failed or were rejected, as the module logs them
    ("refresh for <user> failed: ..." / "refresh for <user> rejected ...")."""
    return len(re.findall(r"refresh for %s (?:failed|rejected)" % re.escape(user), text))


def notable(text, limit=30):
    """The error log's warnings and errors (at most `limit`), else its tail."""
    lines = [l for l in text.splitlines()
             if re.search(r"\[(?:[a-z_]+:)?(?:warn|error|crit|alert|emerg)\]", l)]
    if not lines:
        return text[-2000:]
    return "\n".join(lines[:limit] + (["... %d more" % (len(lines) - limit)]
                                       if len(lines) > limit else []))


def count_refreshed(text, user):
    return text.count("refreshed the access token of %s" % user)


def jwt_payload(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def refresh_stats(idp):
    st = idp.stats()["token"]
    return (st["by_grant_type"].get("refresh_token", 0),
            st["errors_by_grant_type"].get("refresh_token", 0))


def burst(url, cookie, n, headers=None):
    """n requests released at once; [(status, seconds)] in thread order."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def one(i):
        barrier.wait(5)
        t0 = time.time()
        try:
            results[i] = (get(url, cookie, headers).status_code, round(time.time() - t0, 3))
        except requests.RequestException as e:
            results[i] = (repr(e), round(time.time() - t0, 3))
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def problems_of(*servers):
    found = []
    for s in servers:
        found += s.problems()
    return found


# ============================================================== token proxy

class TokenProxy:
    """A loopback HTTP proxy in front of the IdP's token endpoint.

    It forwards every request unchanged, and remembers each user's newest
    refresh token (from the ID token's sub in the response). For refresh_token
    grants only it can wait ``delay`` seconds first (a slow provider; the
    request is then forwarded as usual, as a slow provider would still
    process it), wait ``delay_answer`` seconds after the provider answered
    (a slow network back), or substitute the refresh token of ``swap_sub`` (so that the
    provider answers with another user's ID token). ``fail[sub]`` = (status,
    body, headers) answers that user's refresh grants itself, without
    forwarding them (a provider that refuses for now: 429, 503, ...)."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.delay = 0.0
        self.delay_answer = 0.0
        self.swap_sub = None
        self.fail = {}           # sub -> (status, body bytes, {header: value})
        self.refresh_requests = 0
        self.refresh_by_sub = {}
        self.in_flight = 0       # requests not yet answered (a delayed one may outlive its test)
        self.latest_rt = {}
        self.rt_owner = {}
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_POST(self):
                proxy._handle(self)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d/token" % self.port

    def reset(self):
        with self.lock:
            self.delay = 0.0
            self.delay_answer = 0.0
            self.swap_sub = None
            self.fail = {}
            self.refresh_requests = 0
            self.refresh_by_sub = {}

    def _handle(self, req):
        with self.lock:
            self.in_flight += 1
        try:
            self._forward(req)
        finally:
            with self.lock:
                self.in_flight -= 1

    def idle(self, timeout=10):
        """Wait (bounded) until no request is in flight: a refresh the module
        gave up on (timeout) still reaches the provider after the delay, and
        must not be counted by the next test."""
        h.wait_until(lambda: self.in_flight == 0, timeout, interval=0.05,
                     what="the token proxy's requests in flight")

    def _forward(self, req):
        n = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(n) if n else b""
        fields = urllib.parse.parse_qs(body.decode("ascii", "replace"), keep_blank_values=True)
        grant = (fields.get("grant_type") or [""])[0]
        delay_answer = 0.0
        if grant == "refresh_token":
            with self.lock:
                self.refresh_requests += 1
                owner = self.rt_owner.get((fields.get("refresh_token") or [""])[0], "?")
                self.refresh_by_sub[owner] = self.refresh_by_sub.get(owner, 0) + 1
                delay, delay_answer, swap = self.delay, self.delay_answer, self.swap_sub
                fail = self.fail.get(owner)
            if fail:
                # a provider refusing for now: answered here, never forwarded
                status, rbody, extra = fail
                try:
                    req.send_response(status)
                    req.send_header("Content-Type", extra.get("Content-Type",
                                                              "application/json"))
                    for k, v in extra.items():
                        if k != "Content-Type":
                            req.send_header(k, v)
                    req.send_header("Content-Length", str(len(rbody)))
                    req.end_headers()
                    req.wfile.write(rbody)
                except OSError:
                    pass
                return
            if delay:
                time.sleep(delay)
            if swap and swap in self.latest_rt:
                fields["refresh_token"] = [self.latest_rt[swap]]
                body = urllib.parse.urlencode(fields, doseq=True).encode()
        headers = {"Content-Type": req.headers.get("Content-Type",
                                                   "application/x-www-form-urlencoded")}
        if req.headers.get("Authorization"):
            headers["Authorization"] = req.headers["Authorization"]
        fwd = urllib.request.Request(self.upstream, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(fwd, timeout=10) as r:
                status, rbody, ctype = r.status, r.read(), r.headers.get("Content-Type")
        except urllib.error.HTTPError as e:
            status, rbody, ctype = e.code, e.read(), e.headers.get("Content-Type")
        except OSError:
            status, rbody, ctype = 502, b'{"error":"upstream_unreachable"}', "application/json"
        try:
            doc = json.loads(rbody)
            if status == 200 and doc.get("id_token") and doc.get("refresh_token"):
                sub = jwt_payload(doc["id_token"]).get("sub")
                with self.lock:
                    self.latest_rt[sub] = doc["refresh_token"]
                    self.rt_owner[doc["refresh_token"]] = sub
        except (ValueError, AttributeError, IndexError):
            pass
        if delay_answer:
            time.sleep(delay_answer)     # processed at the provider, answer late
        try:
            req.send_response(status)
            req.send_header("Content-Type", ctype or "application/json")
            req.send_header("Content-Length", str(len(rbody)))
            req.send_header("Cache-Control", "no-store")
            req.end_headers()
            req.wfile.write(rbody)
        except OSError:
            pass     # the module gave up waiting (timeout): expected when slow

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ============================================================== configuration

def location(prefix, provider):
    return ("<Location %s/>\n    AuthType tp-oauth\n    AuthName \"%s\"\n"
            "    TPOAuthProvider %s\n    Require valid-user\n</Location>\n"
            % (prefix, provider, provider))


# Enough worker threads for 50 connections at once (the harness's base
# configuration has 16): every connection can be a request inside the module
# at the same time, and mpm_event never has to close keep-alive connections
# for lack of workers. Unlimited keep-alive requests: wrk counts the server's
# close after the 100th request as a socket read error, and this test wants to
# assert that there is no socket error at all.
MPM_CONF = """<IfModule mpm_event_module>
    ThreadLimit 32
    ThreadsPerChild 32
    ServerLimit 3
    MaxRequestWorkers 96
    MaxSpareThreads 96
</IfModule>
MaxKeepAliveRequests 0
"""


def rig_conf(idp, disco, proxy, root):
    """One httpd, six providers (see PROVIDERS). Static locations alias the
    server root's static/ directory, so /prot/probe.txt is a small file that
    only an authenticated request gets (200 means authenticated)."""
    issuer = idp.issuer
    c = "LogLevel warn tp_oauth:info\nTPOAuthCacheSize 16M\n" + MPM_CONF
    c += h.provider_conf("idp", issuer, extra="TPOAuthInfoAccessToken on\n" + RIG_TIMEOUT)
    c += h.protect_conf(location="/app/", provider="idp")
    c += 'Alias /prot/ "%s/static/"\n' % root
    c += location("/prot", "idp")
    c += h.provider_conf("down502", issuer, redirect_uri="/d502/redirect_uri", extra="""
        TPOAuthCookieName tpo_d502
        %s
        TPOAuthRefreshFailure 502
        TPOAuthRefreshRetryAfter %d""" % (RIG_TIMEOUT, RETRY_AFTER_DOWN))
    c += 'Alias /d502/ "%s/static/"\n' % root + location("/d502", "down502")
    # No discovery: the login redirect after a failed refresh must not depend on
    # whether this child fetched the metadata before the provider went down.
    c += h.provider_conf("downlogin", issuer, redirect_uri="/dlogin/redirect_uri", extra="""
        TPOAuthDiscovery off
        TPOAuthAuthorizationEndpoint %s
        TPOAuthTokenEndpoint %s
        TPOAuthJWKSURI %s
        TPOAuthCookieName tpo_dlogin
        %s
        TPOAuthRefreshFailure login
        TPOAuthRefreshRetryAfter %d""" % (disco["authorization_endpoint"],
                                           disco["token_endpoint"], disco["jwks_uri"],
                                           RIG_TIMEOUT, RETRY_AFTER_DOWN))
    c += 'Alias /dlogin/ "%s/static/"\n' % root + location("/dlogin", "downlogin")
    c += h.provider_conf("px", issuer, redirect_uri="/px/redirect_uri", extra="""
        TPOAuthTokenEndpoint %s
        TPOAuthCookieName tpo_px
        TPOAuthHTTPTimeout 1 1.5""" % proxy.url)
    c += 'Alias /px/ "%s/static/"\n' % root + location("/px", "px")
    c += h.provider_conf("pxt", issuer, redirect_uri="/pxt/redirect_uri", extra="""
        TPOAuthTokenEndpoint %s
        TPOAuthCookieName tpo_pxt
        TPOAuthHTTPTimeout 1 1.5
        TPOAuthRefreshRetryAfter 2""" % proxy.url)
    c += 'Alias /pxt/ "%s/static/"\n' % root + location("/pxt", "pxt")
    c += h.provider_conf("pxlong", issuer, redirect_uri="/pxlong/redirect_uri", extra="""
        TPOAuthTokenEndpoint %s
        TPOAuthCookieName tpo_pxlong
        TPOAuthHTTPTimeout 1 3.5
        TPOAuthRefreshRetryAfter 2""" % proxy.url)
    c += 'Alias /pxlong/ "%s/static/"\n' % root + location("/pxlong", "pxlong")
    return c


def write_probe(server):
    path = os.path.join(server.server_root, "static", PROBE)
    with open(path, "w") as f:
        f.write(PROBE_TEXT)
    os.chmod(path, 0o644)


class Rig:
    def __init__(self, idp, httpd, proxy, disco):
        self.idp, self.httpd, self.proxy, self.disco = idp, httpd, proxy, disco

    def url(self, path):
        return self.httpd.url(path)

    def probe_url(self, provider):
        prefix = "/prot" if provider == "idp" else PROVIDERS[provider][0]
        return self.url("%s/%s" % (prefix, PROBE))

    def endpoint(self, provider, sub):
        return self.url("%s/redirect_uri/%s" % (PROVIDERS[provider][0], sub))

    def login(self, provider, user):
        """A fresh browser logs in; returns the Cookie header value of its session."""
        s = h.browser_session()
        r = h.oidc_login(s, self.probe_url(provider), user)
        for _ in range(3):
            # a provider whose token endpoint an earlier test made fail is "down" for
            # new logins until the next probe (503 + Retry-After, issue 16): wait as asked
            if r.status_code != 503 or "Retry-After" not in r.headers:
                break
            time.sleep(min(int(r.headers["Retry-After"]), 6) + 0.2)
            r = h.oidc_login(s, self.probe_url(provider), user)
        assert r.status_code == 200 and PROBE_MARKER in r.text, (
            "login of %s at %s failed: %s %s\n%s" % (user, provider, r.status_code, r.url,
                                                     r.text[:1000]))
        name = PROVIDERS[provider][1]
        value = s.cookies.get(name)
        assert value, "no %s cookie after the login" % name
        s.close()
        return cookie_hdr(name, value)

    def info(self, provider, cookie):
        r = get(self.endpoint(provider, "info"), cookie, XHR)
        assert r.status_code == 200, "info: %s %s" % (r.status_code, r.text)
        return r.json()

    def at_expires(self, provider, cookie):
        return self.info(provider, cookie)["access_token_expires"]

    def refresh(self, provider, cookie, origin=None, extra=None, method="POST"):
        hd = {"X-Requested-With": "XMLHttpRequest", "Accept": "application/json",
              "Origin": origin or self.httpd.base}
        if extra is not None:
            hd = extra
        if cookie:
            hd["Cookie"] = cookie
        return requests.request(method, self.endpoint(provider, "refresh"), headers=hd,
                                allow_redirects=False, timeout=15)

    def is_login_redirect(self, resp):
        loc = resp.headers.get("Location", "")
        return resp.status_code == 302 and loc.startswith(self.disco["authorization_endpoint"])


@pytest.fixture(scope="module")
def workdir_refresh():
    d = tempfile.mkdtemp(prefix="tpo-refresh-")
    os.chmod(d, 0o755)
    yield d
    if not os.environ.get("TPO_KEEP"):
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def rig(workdir_refresh):
    """Own IdP (10 s access tokens) + token proxy + one httpd with the six
    providers. Stopped at the end of the module."""
    mod = module_path()
    port = h.free_port()
    paths = ["/%s/redirect_uri" % p.strip("/") for p, _ in PROVIDERS.values() if p != "/app"]
    idp = h.IdP(workdir_refresh, h.idp_clients(port, extra_redirect_paths=paths), at_ttl=AT_TTL)
    httpd = h.Httpd(module=mod, port=port)
    proxy = None
    try:
        idp.start()
        disco = idp.discovery()
        proxy = TokenProxy(disco["token_endpoint"])
        write_probe(httpd)
        httpd.start(rig_conf(idp, disco, proxy, httpd.server_root))
        r = get(httpd.url("/prot/" + PROBE), None, XHR)
        assert r.status_code == 401, "the probe file must be protected: %s" % r.status_code
        r = get(httpd.url("/prot/" + PROBE), None, NAV)
        assert r.status_code == 302, "the probe file must be protected: %s" % r.status_code
        yield Rig(idp, httpd, proxy, disco)
    finally:
        httpd.stop()
        problems = httpd.problems(since_last=False)
        httpd.cleanup(keep=bool(problems))
        if proxy:
            proxy.close()
        idp.stop()


@pytest.fixture(autouse=True)
def _rig_health(request):
    yield
    if "rig" not in request.fixturenames:
        return
    rig = request.getfixturevalue("rig")
    rig.proxy.idle()
    rig.proxy.reset()
    if rig.idp.proc is None:          # a test stopped it and failed before restarting it
        rig.idp.start()
    found = problems_of(rig.httpd)
    if found:
        pytest.fail("httpd reported problems (server root %s):\n%s"
                    % (rig.httpd.server_root, "\n".join(found)[:12000]), pytrace=False)


# ============================================================== wrk

WRK_LUA = r"""
-- Counts every response that is not a 200 carrying the protected file.
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) total = 0; bad_status = 0; bad_body = 0; first = "" end
function response(status, headers, body)
  total = total + 1
  if status ~= 200 then
    bad_status = bad_status + 1
    if #first < 120 then first = first .. status .. " " end
  elseif body == nil or not string.find(body, "%(marker)s", 1, true) then
    bad_body = bad_body + 1
  end
end
function done(summary, latency, requests)
  local t, s, b, f = 0, 0, 0, ""
  for _, th in ipairs(threads) do
    t = t + th:get("total"); s = s + th:get("bad_status"); b = b + th:get("bad_body")
    f = f .. th:get("first")
  end
  io.write(string.format("TPO-RESULT total=%%d bad_status=%%d bad_body=%%d first=[%%s]\n",
                         t, s, b, f))
  local e = summary.errors
  io.write(string.format("TPO-ERRORS connect=%%d read=%%d write=%%d status=%%d timeout=%%d\n",
                         e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def wrk_script(directory):
    path = os.path.join(directory, "count200.lua")
    with open(path, "w") as f:
        f.write(WRK_LUA % {"marker": PROBE_MARKER})
    return path


def wrk_start(url, cookie, script, threads, conns, seconds):
    argv = [WRK, "-t%d" % threads, "-c%d" % conns, "-d%ds" % seconds, "--timeout", "10s",
            "-s", script, "-H", "Cookie: " + cookie, "-H", "Accept: " + h.HTML_ACCEPT,
            # one request per connection: mpm_event closes busy servers' idle
            # keep-alive connections, and a request wrk sends on one at that
            # moment gets no answer (never reaching the module); that race is
            # not what this test is about
            "-H", "Connection: close", url]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wrk_result(proc, seconds):
    out, _ = proc.communicate(timeout=seconds + 60)
    m = re.search(r"TPO-RESULT total=(\d+) bad_status=(\d+) bad_body=(\d+) first=\[([^\]]*)\]",
                  out)
    e = re.search(r"TPO-ERRORS connect=(\d+) read=(\d+) write=(\d+) status=(\d+) timeout=(\d+)",
                  out)
    assert proc.returncode == 0 and m and e, "wrk failed (%s):\n%s" % (proc.returncode, out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"total": int(m.group(1)), "bad_status": int(m.group(2)),
            "bad_body": int(m.group(3)), "first_bad": m.group(4).strip(),
            "errors": dict(zip(("connect", "read", "write", "status", "timeout"),
                               map(int, e.groups()))),
            "non2xx": int(non2xx.group(1)) if non2xx else 0, "output": out}


def assert_all_200(res, what, log=""):
    assert res["total"] > 1000, "%s: only %d responses:\n%s" % (what, res["total"], res["output"])
    assert res["bad_status"] == 0 and res["non2xx"] == 0, (
        "%s: %d of %d responses were not 200 (first: %s):\n%s\n%s"
        % (what, res["bad_status"], res["total"], res["first_bad"], res["output"], log))
    assert res["bad_body"] == 0, "%s: %d 200s without the protected file" % (what, res["bad_body"])
    # A request gets no response at all only when the server closes a
    # keep-alive connection at the moment wrk reuses it (mpm_event's connection
    # management; seen once in ~10 runs of 1.5 million requests): the request
    # never reached the module (the access log shows every request that did
    # was a 200). At most 1 in 100,000 is tolerated (seen: 8 in 1.7 million on
    # a loaded machine); a crashed child is caught by the error-log check; a
    # timeout is never tolerated.
    e = res["errors"]
    allowed = max(5, res["total"] // 100000)
    assert e["timeout"] == 0 and e["connect"] == 0 and e["read"] + e["write"] <= allowed, (
        "%s: socket errors %s:\n%s" % (what, e, res["output"]))


def access_check(server, path_prefix, user, since=0):
    """(requests, [bad access-log lines]) for path_prefix after line `since`:
    bad = not a 200 or not authenticated as `user`."""
    n, bad = 0, []
    for e in server.access_entries()[since:]:
        parts = e["request"].split(" ")
        if len(parts) < 2 or not parts[1].startswith(path_prefix):
            continue
        n += 1
        if e["status"] != 200 or e["user"] != user:
            if len(bad) < 10:
                bad.append(e["line"])
            else:
                bad.append("...")
                break
    return n, bad


def expected_refreshes(elapsed):
    """Refresh periods in `elapsed` seconds after the login by the 7.5 s rule."""
    return int(elapsed // PERIOD_MAX)


# ============================================================== 1. one session, 50 connections

@pytest.mark.slow
def test_single_session_50_connections_60s(rig, workdir_refresh):
    """50 concurrent connections on one session for 60 s across 8 expiries of
    a 10 s token: every response a 200 with the protected file, exactly one
    refresh per period at the provider, no refresh_token error (a second spend
    of a rotated refresh token would revoke the grant and show up as errors and
    non-200s)."""
    seconds = 60
    cookie = rig.login("idp", "alice")
    t_login = time.time()
    rig.idp.reset_stats()
    mark_log = len(rig.httpd.error_log())
    mark_access = len(rig.httpd.access_log())
    proc = wrk_start(rig.probe_url("idp"), cookie, wrk_script(workdir_refresh), 2, 50, seconds)
    res = wrk_result(proc, seconds)
    elapsed = time.time() - t_login
    refreshes, errors = refresh_stats(rig.idp)
    log = rig.httpd.error_log()[mark_log:]
    assert_all_200(res, "wrk", "error log:\n" + log[-3000:])
    n, bad = access_check(rig.httpd, "/prot/", "alice", since=mark_access)
    assert n >= res["total"] and not bad, "access log: %d requests, not 200/alice:\n%s" % (
        n, "\n".join(bad))
    expected = expected_refreshes(elapsed)
    assert errors == 0, "refresh_token errors at the provider: %s\n%s" % (
        rig.idp.stats()["token"], log_tail(rig.httpd))
    assert abs(refreshes - expected) <= 1, (
        "%d refresh_token grants at the provider in %.1f s, expected %d +-1 (one per %.1f s)"
        % (refreshes, elapsed, expected, PERIOD_MAX))
    assert count_refreshed(log, "alice") == refreshes, "module and provider disagree:\n" + log[-3000:]
    print("50 connections, %.1f s after the login: %d responses, all 200; %d refreshes "
          "(expected %d +-1), no refresh_token error" % (elapsed, res["total"], refreshes,
                                                         expected))
    # the session is still alive and usable after the run
    assert get(rig.probe_url("idp"), cookie).status_code == 200


# ============================================================== 2. two servers, shared cache

BACKENDS = ("memcache", "redis")
FLEET_SECONDS = 30


def start_cache_server(kind, port, logdir):
    if kind == "memcache":
        argv = ["memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "64"]
        if h.running_as_root():
            argv += ["-u", "nobody"]
    else:
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", logdir]
    log = open(os.path.join(logdir, "%s.log" % kind), "ab")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    h.wait_until(lambda: proc.poll() is None and h.port_open(port), 10,
                 what="%s on port %d" % (kind, port))
    return proc, log


def fleet_run(kind, cache_port, workdir, mod, script):
    """One backend: its own IdP, two httpd sharing the cache, one session, wrk
    against both at once. Returns a dict of findings (or {"error": ...})."""
    wd = os.path.join(workdir, "fleet-" + kind)
    os.makedirs(wd, exist_ok=True)
    os.chmod(wd, 0o755)
    ports = [h.free_port(), h.free_port()]
    clients = h.idp_clients(ports[0])
    for c in clients:
        if c.get("redirect_uris"):
            c["redirect_uris"] = c["redirect_uris"] + [
                "http://127.0.0.1:%d%s" % (ports[1], h.REDIRECT_PATH)]
    idp = h.IdP(wd, clients, at_ttl=AT_TTL)
    servers = [h.Httpd(module=mod, port=p) for p in ports]
    out = {"kind": kind}
    try:
        idp.start()
        cache = ("TPOAuthCache %s 127.0.0.1:%d\nTPOAuthCachePassphrase tpo-fleet-test-passphrase\n"
                 % (kind, cache_port))
        for s in servers:
            write_probe(s)
        conf = ("LogLevel warn tp_oauth:info\n" + MPM_CONF + cache + h.standard_conf(idp.issuer, provider_extra=RIG_TIMEOUT)
                + 'Alias /prot/ "%s/static/"\n' % servers[0].server_root
                + location("/prot", "idp"))
        rc, text = servers[0].configtest(conf)
        if rc != 0:
            out["error"] = ("configtest refuses the %s backend configuration:\n%s%s"
                            % (kind, cache, text))
            return out
        for s in servers:
            s.start(conf.replace(servers[0].server_root, s.server_root))
        sess = h.browser_session()
        r = h.oidc_login(sess, servers[0].url("/prot/" + PROBE), "alice")
        if r.status_code != 200 or PROBE_MARKER not in r.text:
            out["error"] = "login failed: %s %s" % (r.status_code, r.text[:500])
            return out
        cookie = cookie_hdr(MAIN_COOKIE, sess.cookies.get(MAIN_COOKIE))
        t_login = time.time()
        r = get(servers[1].url("/prot/" + PROBE), cookie)
        if r.status_code != 200:
            out["error"] = ("the session opened on server A is unknown to server B "
                            "(%s): the cache is not shared" % r.status_code)
            return out
        idp.reset_stats()
        marks = [(len(s.error_log()), len(s.access_log())) for s in servers]
        procs = [wrk_start(s.url("/prot/" + PROBE), cookie, script, 1, 25, FLEET_SECONDS)
                 for s in servers]
        out["wrk"] = [wrk_result(p, FLEET_SECONDS) for p in procs]
        out["elapsed"] = time.time() - t_login
        out["stats"] = idp.stats()["token"]
        out["access"] = [access_check(s, "/prot/", "alice", since=m[1])
                         for s, m in zip(servers, marks)]
        logs = [s.error_log()[m[0]:] for s, m in zip(servers, marks)]
        out["refreshed"] = [count_refreshed(t, "alice") for t in logs]
        out["log_tails"] = [notable(t) for t in logs]
        out["after"] = [get(s.url("/prot/" + PROBE), cookie).status_code for s in servers]
        out["problems"] = problems_of(*servers)
        return out
    except Exception as e:  # noqa: BLE001 - reported by the test
        out["error"] = "%s: %s" % (type(e).__name__, e)
        return out
    finally:
        for s in servers:
            try:
                s.stop()
                s.cleanup(keep=bool(s.problems(since_last=False)))
            except Exception:  # noqa: BLE001
                pass
        idp.stop()


@pytest.fixture(scope="module")
def fleet(request, workdir_refresh):
    """Runs every selected backend at the same time (each with its own IdP,
    cache server and pair of httpd) and returns {backend: findings}."""
    wanted = sorted({item.callspec.params["backend"] for item in request.session.items
                     if "fleet" in getattr(item, "fixturenames", ())
                     and hasattr(item, "callspec") and "backend" in item.callspec.params})
    mod = module_path()
    script = wrk_script(workdir_refresh)
    caches, results, threads = [], {}, []
    try:
        for kind in wanted:
            port = h.free_port()
            try:
                proc, log = start_cache_server(kind, port, workdir_refresh)
            except Exception as e:  # noqa: BLE001
                results[kind] = {"error": "cannot start the %s server: %s" % (kind, e)}
                continue
            caches.append((proc, log))

            def run(kind=kind, port=port):
                results[kind] = fleet_run(kind, port, workdir_refresh, mod, script)
            t = threading.Thread(target=run)
            t.start()
            threads.append(t)
        for t in threads:
            t.join(FLEET_SECONDS + 180)
        yield results
    finally:
        for proc, log in caches:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            log.close()


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_two_servers_shared_cache(fleet, backend):
    """Two Apache instances share the session through memcached/Redis; 25
    connections on each for 30 s with the same session cookie: every response
    a 200, one refresh per period in the whole fleet (the refresh lock is
    distributed), no refresh_token error at the provider."""
    res = fleet.get(backend)
    assert res is not None, "the %s fleet did not finish" % backend
    if res.get("error"):
        pytest.fail("%s backend: %s" % (backend, res["error"]), pytrace=False)
    for name, w, log in zip("AB", res["wrk"], res["log_tails"]):
        assert_all_200(w, "server %s" % name, "error log:\n" + log)
    for name, (n, bad) in zip("AB", res["access"]):
        assert n > 0 and not bad, "server %s access log:\n%s" % (name, "\n".join(bad))
    stats = res["stats"]
    errors = stats["errors_by_grant_type"].get("refresh_token", 0)
    refreshes = stats["by_grant_type"].get("refresh_token", 0)
    expected = expected_refreshes(res["elapsed"])
    assert errors == 0, "refresh_token errors at the provider: %s\n%s" % (stats, res["log_tails"])
    assert abs(refreshes - expected) <= 1, (
        "%d refresh_token grants in %.1f s across both servers, expected %d +-1:\n%s"
        % (refreshes, res["elapsed"], expected, res["log_tails"]))
    assert sum(res["refreshed"]) == refreshes, (res["refreshed"], refreshes)
    assert res["after"] == [200, 200]
    print("%s: %d + %d responses, all 200; %d refreshes in %.1f s (expected %d +-1), "
          "by server %s" % (backend, res["wrk"][0]["total"], res["wrk"][1]["total"], refreshes,
                            res["elapsed"], expected, res["refreshed"]))
    assert not res["problems"], "\n".join(res["problems"])[:8000]


# ============================================================== 3. two minutes of clicking

@pytest.mark.slow
def test_user_clicking_for_two_minutes_never_sees_login(rig):
    """Sequential navigations every ~0.5 s for 120 s across 16 expiries: every
    response is the application's 200 page (never a redirect to the login),
    and the provider saw at least 12 refreshes."""
    duration = 120
    s = h.browser_session()
    r = h.oidc_login(s, rig.url("/app/whoami.cgi"), "clicker")
    assert r.status_code == 200 and "Hello clicker" in r.text
    rig.idp.reset_stats()
    t_end = time.time() + duration
    n, bad, tokens = 0, [], set()
    while time.time() < t_end:
        r = s.get(rig.url("/app/whoami.cgi"), allow_redirects=False, timeout=15)
        n += 1
        if r.status_code != 200 or "<h1>Hello clicker</h1>" not in r.text:
            bad.append("%.1f s before the end: %s %s" % (t_end - time.time(), r.status_code,
                                                         r.headers.get("Location", "")))
        time.sleep(0.5)
    tokens = rig.info("idp", cookie_hdr(MAIN_COOKIE, s.cookies.get(MAIN_COOKIE)))
    refreshes, errors = refresh_stats(rig.idp)
    assert not bad, "%d of %d navigations were not the page:\n%s\n%s" % (
        len(bad), n, "\n".join(bad[:20]), log_tail(rig.httpd))
    assert errors == 0, rig.idp.stats()["token"]
    assert refreshes >= 12, "only %d refreshes in %d s" % (refreshes, duration)
    assert refreshes <= duration / (PERIOD_MAX * 0.9) + 2, "too many refreshes: %d" % refreshes
    assert tokens["access_token_expires"] > time.time()
    print("%d navigations in %d s, all 200; %d refreshes" % (n, duration, refreshes))


# ============================================================== 4. provider down

def test_provider_down_during_refresh(rig):
    """The IdP is stopped after the login. In the refresh window the current
    token is still valid: 200. After expiry: the 502 page (TPOAuthRefreshFailure
    502) or a redirect to the authorization endpoint (TPOAuthRefreshFailure
    login). Meanwhile one refresh attempt per TPOAuthRefreshRetryAfter window
    (2 s here), not one per request."""
    c502 = rig.login("down502", "down502user")
    clogin = rig.login("downlogin", "downloginuser")
    cburst = rig.login("down502", "downburst")
    exp502 = rig.at_expires("down502", c502)
    explogin = rig.at_expires("downlogin", clogin)
    mark = len(rig.httpd.error_log())
    rig.idp.stop()
    try:
        u502, ulogin = rig.probe_url("down502"), rig.probe_url("downlogin")
        first = min(exp502, explogin) - IN_WINDOW
        last = max(exp502, explogin) + 3.0
        sleep_until(first)
        seen = {"502": [], "login": []}
        started = {"502": None, "login": None}
        ended = {"502": None, "login": None}
        n = 0
        while time.time() < last:
            for key, url, cookie, exp in (("502", u502, c502, exp502),
                                          ("login", ulogin, clogin, explogin)):
                now = time.time()
                if now < exp - IN_WINDOW or exp - STILL_VALID <= now < exp + 0.3:
                    continue        # before the window, or too close to the expiry to say
                r = get(url, cookie)
                started[key] = started[key] or now
                ended[key] = time.time()
                seen[key].append((now - exp, r))
                n += 1
            time.sleep(0.1)
        # a third session, idle until now (expired, no attempt yet): 8 at once
        burst_results = burst(rig.probe_url("down502"), cburst, 8)
        log = rig.httpd.error_log()[mark:]
    finally:
        rig.idp.start()
    for key, user in (("502", "down502user"), ("login", "downloginuser")):
        valid = [(dt, r) for dt, r in seen[key] if dt < 0]
        expired = [(dt, r) for dt, r in seen[key] if dt > 0]
        assert len(valid) >= 5 and len(expired) >= 10, (key, len(valid), len(expired))
        wrong = ["%.2f: %s" % (dt, r.status_code) for dt, r in valid
                 if r.status_code != 200 or PROBE_MARKER not in r.text]
        assert not wrong, "%s: not served while the token was valid: %s\n%s" % (
            key, wrong, log[-3000:])
        if key == "502":
            wrong = ["%.2f: %s" % (dt, r.status_code) for dt, r in expired
                     if r.status_code != 502 or "Session cannot be renewed" not in r.text]
        else:
            # sent to log in again: a redirect, or, once the failed refresh has marked
            # the provider down, 503 + Retry-After instead of a redirect to a dead
            # provider (issue 16)
            wrong = ["%.2f: %s %s" % (dt, r.status_code, r.headers.get("Location", "")[:60])
                     for dt, r in expired
                     if not rig.is_login_redirect(r)
                     and not (r.status_code == 503 and "Retry-After" in r.headers)]
        assert not wrong, "%s: after expiry: %s\n%s" % (key, wrong, log[-3000:])
        duration = ended[key] - started[key]
        attempts = count_refresh_attempts(log, user)
        windows = int(duration // RETRY_AFTER_DOWN)
        assert windows <= attempts <= windows + 1, (
            "%s: %d refresh attempts logged for %d requests in %.1f s; expected one per "
            "%d s window (%d..%d):\n%s" % (key, attempts, len(seen[key]), duration,
                                         RETRY_AFTER_DOWN, windows, windows + 1, log[-4000:]))
        # every failure answer has a log line, at most one per session and window
        expired_span = max(dt for dt, _ in expired) - min(dt for dt, _ in expired)
        notes = len(re.findall(r"session of %s at provider %s: (?:answered 502|sent to log in "
                               r"again): the token has expired and its refresh failed"
                               % (user, "down502" if key == "502" else "downlogin"), log))
        assert 1 <= notes <= int(expired_span // RETRY_AFTER_DOWN) + 2, (
            "%s: %d log lines for %d failure answers in %.1f s; expected one per %d s "
            "window\n%s" % (key, notes, len(expired), expired_span, RETRY_AFTER_DOWN,
                            log[-4000:]))
    # the burst: one attempt; the requests that waited for it share its failure
    assert [code for code, _ in burst_results] == [502] * 8, burst_results
    assert count_refresh_attempts(log, "downburst") == 1, (
        "8 concurrent requests after expiry, provider down: %d refresh attempts\n%s"
        % (count_refresh_attempts(log, "downburst"), log[-3000:]))


# ============================================================== 5. refresh token revoked

def test_revoked_refresh_token_ends_session(rig):
    """The IdP restarts and forgets every grant: the next refresh gets
    invalid_grant. A navigation then goes to the login (302 to the
    authorization endpoint), an XHR gets 401, the old cookie no longer works;
    requests that were waiting for that refresh get 401 too."""
    nav_cookie = rig.login("idp", "revnav")
    xhr_cookie = rig.login("idp", "revxhr")
    burst_cookie = rig.login("px", "revburst")
    exp_nav = rig.at_expires("idp", nav_cookie)
    exp_xhr = rig.at_expires("idp", xhr_cookie)
    exp_burst = rig.at_expires("px", burst_cookie)
    mark = len(rig.httpd.error_log())
    rig.idp.restart()
    # a navigation in the refresh window: the refresh is rejected -> login
    sleep_until(exp_nav - IN_WINDOW)
    assert time.time() < exp_nav - STILL_VALID
    r = get(rig.probe_url("idp"), nav_cookie)
    assert rig.is_login_redirect(r), "navigation: %s %s\n%s" % (
        r.status_code, r.headers.get("Location"), log_tail(rig.httpd))
    assert clears_cookie(r, MAIN_COOKIE), h.set_cookie_headers(r)
    r = get(rig.probe_url("idp"), nav_cookie, XHR)
    assert r.status_code == 401, "the old cookie still works: %s" % r.status_code
    r = get(rig.probe_url("idp"), nav_cookie)
    assert rig.is_login_redirect(r)
    r = get(rig.endpoint("idp", "info"), nav_cookie, XHR)
    assert r.status_code == 401
    # an XHR in the refresh window: 401 with WWW-Authenticate, never a redirect
    sleep_until(exp_xhr - IN_WINDOW)
    r = get(rig.probe_url("idp"), xhr_cookie, XHR)
    assert r.status_code == 401, "xhr: %s %s" % (r.status_code, r.headers.get("Location"))
    assert r.headers.get("WWW-Authenticate", "").startswith("TP-OAuth")
    assert get(rig.probe_url("idp"), xhr_cookie, XHR).status_code == 401
    # after expiry, 12 XHRs at once while the (0.5 s) refresh is being rejected:
    # one spends the refresh token, the others wait for it; all must get 401.
    rig.proxy.delay = 0.5
    sleep_until(exp_burst + 0.3)
    results = [code for code, _ in burst(rig.probe_url("px"), burst_cookie, 12, XHR)]
    log = rig.httpd.error_log()[mark:]
    assert results == [401] * 12, "concurrent requests after a rejected refresh: %s\n%s" % (
        results, log[-3000:])
    assert rig.proxy.refresh_requests == 1, "the refresh token was spent %d times" % (
        rig.proxy.refresh_requests)
    for user in ("revnav", "revxhr", "revburst"):
        assert "refresh for %s rejected by the provider: error=invalid_grant" % user in log


@pytest.mark.parametrize("how", ["revocation", "reuse"])
def test_refresh_token_revoked_or_reused_elsewhere(rig, how):
    """The refresh token the session holds is revoked at the provider's
    revocation endpoint, or spent by somebody else (so the module's next use is
    a reuse: oidc-provider revokes the grant): the next refresh ends the
    session (the refresh endpoint says 401 session_ended), then navigations go
    to the login and the cookie is dead."""
    user = "rev" + how
    cookie = rig.login("px", user)
    rt = rig.proxy.latest_rt.get(user)
    assert rt, "the proxy saw no refresh token for %s" % user
    auth = "Basic " + base64.b64encode(b"%s:%s" % (h.CLIENT_ID.encode(),
                                                   h.CLIENT_SECRET.encode())).decode()
    if how == "revocation":
        url = rig.disco["revocation_endpoint"]
        body = {"token": rt, "token_type_hint": "refresh_token"}
    else:
        url = rig.disco["token_endpoint"]
        body = {"grant_type": "refresh_token", "refresh_token": rt}
    r = requests.post(url, data=body, headers={"Authorization": auth}, timeout=10)
    assert r.status_code == 200, r.text
    r = rig.refresh("px", cookie)
    assert r.status_code == 401 and r.json() == {"error": "session_ended"}, (r.status_code, r.text)
    r = get(rig.probe_url("px"), cookie)
    assert rig.is_login_redirect(r), (r.status_code, r.headers.get("Location"))
    assert get(rig.probe_url("px"), cookie, XHR).status_code == 401


# ============================================================== 6. provider slow

def test_provider_slow_during_refresh(rig):
    """The token endpoint takes 3 s, TPOAuthHTTPTimeout is 1.5 s.
    In the refresh window every request is served 200 with the current token
    (only the one that tried the refresh waited for the timeout), the failure
    is logged once (TPOAuthRefreshRetryAfter 30 s), and after expiry the 504
    page (a timeout, as in README's failure table) comes without another
    attempt. A second session whose first refresh attempt comes after expiry,
    from six requests at once: one attempt (the other five wait for it and
    share its failure), six 504 pages, nobody waits much longer than one
    timeout."""
    cookie = rig.login("px", "slowuser")
    burst_cookie = rig.login("px", "slowburst")
    exp = rig.at_expires("px", cookie)
    exp_burst = rig.at_expires("px", burst_cookie)
    rig.proxy.delay = 3.0
    mark = len(rig.httpd.error_log())
    sleep_until(exp - IN_WINDOW)
    t_stop = exp - STILL_VALID - 0.1
    lock = threading.Lock()
    seen = []

    def clicker():
        while time.time() < t_stop:
            t0 = time.time()
            r = get(rig.probe_url("px"), cookie, NAV)
            with lock:
                seen.append((round(t0 - exp, 2), round(time.time() - t0, 3), r.status_code,
                             PROBE_MARKER in r.text))
            time.sleep(0.1)
    threads = [threading.Thread(target=clicker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    log = rig.httpd.error_log()[mark:]
    wrong = [x for x in seen if x[2] != 200 or not x[3] or x[0] > 0]
    assert len(seen) >= 15 and not wrong, "in the window: %s\n%s" % (wrong or len(seen),
                                                                     log[-3000:])
    slow = [x for x in seen if x[1] > 1.0]
    assert len(slow) == 1, "requests that waited for the slow provider: %s" % slow
    assert 1.3 <= slow[0][1] <= 3.0, "the refresh did not time out after 1.5 s: %s" % slow
    assert rig.proxy.refresh_by_sub == {"slowuser": 1}, rig.proxy.refresh_by_sub
    assert count_refresh_attempts(log, "slowuser") == 1, log[-3000:]
    assert re.search(r"refresh for slowuser failed: token endpoint \S+: timed out", log), log
    sleep_until(exp + 0.3)
    for _ in range(5):
        r = get(rig.probe_url("px"), cookie)
        assert r.status_code == 504 and "Session cannot be renewed" in r.text, r.status_code
        assert "did not answer in time" in r.text
    # the second session: six requests at once after expiry
    sleep_until(exp_burst + 0.3)
    results = burst(rig.probe_url("px"), burst_cookie, 6)
    log = rig.httpd.error_log()[mark:]
    assert count_refresh_attempts(log, "slowuser") == 1, log[-3000:]
    assert [code for code, _ in results] == [504] * 6, results
    attempts = count_refresh_attempts(log, "slowburst")
    assert rig.proxy.refresh_by_sub == {"slowuser": 1, "slowburst": 1} and attempts == 1, (
        "6 concurrent requests after expiry, slow provider: %d refresh attempts (proxy: "
        "%s); latencies %s" % (attempts, rig.proxy.refresh_by_sub, [t for _, t in results]))
    assert max(t for _, t in results) < 2.5, "waited for more than one timeout: %s" % results


# ============================================================== 7. the refresh endpoint

def test_refresh_endpoint(rig):
    """POST <redirect URI>/refresh: same-origin with X-Requested-With refreshes
    (200 JSON, later expiry, one grant at the provider); everything else is
    refused without spending the refresh token."""
    cookie = rig.login("idp", "spa")
    before = rig.info("idp", cookie)
    time.sleep(1.1)     # access_token_expires has a one-second resolution
    rig.idp.reset_stats()
    r = rig.refresh("idp", cookie)
    assert r.status_code == 200, (r.status_code, r.text, log_tail(rig.httpd))
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["refreshed"] is True
    assert body["access_token_expires"] > before["access_token_expires"]
    assert body["access_token"] != before["access_token"]      # TPOAuthInfoAccessToken on
    after = rig.info("idp", cookie)
    assert after["access_token_expires"] == body["access_token_expires"]
    assert after["access_token"] == body["access_token"]
    assert refresh_stats(rig.idp) == (1, 0)
    # Sec-Fetch-Site: same-origin without Origin is same-origin too
    r = rig.refresh("idp", cookie, extra={"X-Requested-With": "XMLHttpRequest",
                                          "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 200 and r.json()["refreshed"] is True, r.text
    assert refresh_stats(rig.idp) == (2, 0)
    # refused: nothing reaches the provider
    r = rig.refresh("idp", cookie, origin="http://evil.example")
    assert r.status_code == 403 and r.json()["error"] == "cross_origin_refused", r.text
    r = rig.refresh("idp", cookie, extra={"X-Requested-With": "XMLHttpRequest",
                                          "Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
    r = rig.refresh("idp", cookie, extra={"Origin": rig.httpd.base})
    assert r.status_code == 403, "without X-Requested-With: %s" % r.status_code
    r = rig.refresh("idp", cookie, extra={"X-Requested-With": "XMLHttpRequest"})
    assert r.status_code == 403, "neither Origin nor Sec-Fetch-Site: %s" % r.status_code
    r = rig.refresh("idp", cookie, method="GET")
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"
    r = rig.refresh("idp", None)
    assert r.status_code == 401 and r.json()["error"] == "no_session", r.text
    r = rig.refresh("idp", cookie_hdr(MAIN_COOKIE, "x" * 43))
    assert r.status_code == 401
    assert refresh_stats(rig.idp) == (2, 0)
    # the session still works with the refreshed token
    assert get(rig.probe_url("idp"), cookie).status_code == 200


def test_refresh_endpoint_concurrent_single_flight(rig):
    """Six forced refreshes of one session at once (the token endpoint takes
    0.5 s): the refresh token is spent once, every caller gets the new token."""
    cookie = rig.login("px", "spa6")
    before = rig.info("px", cookie)
    time.sleep(1.1)
    rig.proxy.reset()
    rig.proxy.delay = 0.5
    barrier = threading.Barrier(6)
    results = [None] * 6

    def one(i):
        barrier.wait(5)
        r = rig.refresh("px", cookie)
        results[i] = (r.status_code, r.json() if r.status_code in (200, 401, 502) else r.text)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert rig.proxy.refresh_requests == 1, "%d refreshes: %s" % (rig.proxy.refresh_requests,
                                                                 results)
    assert all(r and r[0] == 200 and r[1]["refreshed"] is True for r in results), results
    exps = {r[1]["access_token_expires"] for r in results}
    assert len(exps) == 1 and exps.pop() > before["access_token_expires"], results
    assert get(rig.probe_url("px"), cookie).status_code == 200


# ============================================================== 8. another subject

def test_refresh_with_another_subject_ends_session(rig):
    """The refresh answer carries a valid ID token for another user (the proxy
    spends bob's refresh token in place of alice's): the session ends, alice
    never becomes bob."""
    rig.login("px", "bob")
    cookie = rig.login("px", "alice")
    assert "bob" in rig.proxy.latest_rt and "alice" in rig.proxy.latest_rt
    mark = len(rig.httpd.error_log())
    rig.proxy.swap_sub = "bob"
    r = rig.refresh("px", cookie)
    log = rig.httpd.error_log()[mark:]
    assert rig.proxy.refresh_requests == 1
    assert "refresh for alice: the new ID token names another subject" in log, log
    assert r.status_code == 401 and r.json() == {"error": "session_ended"}, (r.status_code, r.text)
    r = get(rig.probe_url("px"), cookie)
    assert rig.is_login_redirect(r), (r.status_code, r.headers.get("Location"))
    r = get(rig.endpoint("px", "info"), cookie, XHR)
    assert r.status_code == 401


# ============================================================== 9. logout during a refresh

def test_logout_during_refresh_is_not_undone(rig):
    """A refresh is in flight (the provider has already rotated the tokens,
    its answer is on the way back) when the user logs out: the logout must
    win. The refresh must not write the session back under the old id: the
    old cookie must stay dead."""
    cookie = rig.login("px", "leaver")
    r = get(rig.url("/px/redirect_uri/logout?return=/"), "x=y")
    if r.status_code == 404:
        pytest.skip("no <redirect URI>/logout endpoint in this build")
    rig.proxy.delay_answer = 1.0
    out = {}

    def refresh():
        out["r"] = rig.refresh("px", cookie)
    t = threading.Thread(target=refresh)
    t.start()
    h.wait_until(lambda: rig.proxy.refresh_requests == 1, 5, interval=0.02,
                 what="the refresh to reach the provider")
    time.sleep(0.2)
    mark = len(rig.httpd.error_log())
    r = get(rig.url("/px/redirect_uri/logout?return=/"), cookie)
    assert r.status_code in (200, 302), r.status_code
    assert clears_cookie(r, "tpo_px")
    assert get(rig.probe_url("px"), cookie, XHR).status_code == 401
    t.join(15)
    log = rig.httpd.error_log()[mark:]
    r = get(rig.probe_url("px"), cookie, XHR)
    assert r.status_code == 401, (
        "the session came back after the logout (the in-flight refresh answered %s %s and "
        "wrote it back): %s\n%s" % (out["r"].status_code, out["r"].text, r.status_code, log))
    r = get(rig.endpoint("px", "info"), cookie, XHR)
    assert r.status_code == 401, r.text


# ============================================================== 10. interop (issue 12)

HTML_503 = (b"<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head>"
            b"<body><h1>Service Unavailable</h1></body></html>\n")


@pytest.mark.parametrize("case", ["429-invalid_grant", "503-html", "500-invalid_grant",
                                  "408-invalid_request"])
def test_temporary_refusal_keeps_session(rig, case):
    """The token endpoint refuses the refresh for now (429 with Retry-After and
    an invalid_grant body, 503 with Retry-After as an HTTP-date and an HTML
    body, 500 with invalid_grant, 408 with invalid_request): the session does
    not end. In the window the still-valid token is used (200); after expiry
    the 502 page, not the login, and the cookie stays; no new attempt before
    max(Retry-After, TPOAuthRefreshRetryAfter 2 s); once the provider is back
    the next attempt refreshes and the same cookie works again."""
    status = int(case.split("-")[0])
    retry_after = None
    if status == 429:
        body, headers, retry_after = (b'{"error":"invalid_grant","error_description":"slow down"}',
                                      {"Retry-After": "4"}, 4)
    elif status == 503:
        # an HTTP-date 5 s after the attempt (set below, just before it)
        body, headers, retry_after = HTML_503, {"Content-Type": "text/html"}, 5
    else:
        body, headers = json.dumps({"error": case.split("-", 1)[1]}).encode(), {}
    window = max(retry_after or 0, 2)
    user = "tmp" + str(status)
    cookie = rig.login("pxt", user)
    exp = rig.at_expires("pxt", cookie)
    mark = len(rig.httpd.error_log())
    sleep_until(exp - IN_WINDOW)
    if status == 503:
        headers["Retry-After"] = time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                                               time.gmtime(time.time() + 5))
    rig.proxy.fail[user] = (status, body, headers)
    t_fail = time.time()
    r = get(rig.probe_url("pxt"), cookie)
    log = rig.httpd.error_log()[mark:]
    assert r.status_code == 200 and PROBE_MARKER in r.text, (r.status_code, log[-3000:])
    assert rig.proxy.refresh_by_sub.get(user) == 1, rig.proxy.refresh_by_sub
    assert "refresh for %s rejected" % user not in log
    assert get(rig.probe_url("pxt"), cookie, XHR).status_code == 200
    assert rig.proxy.refresh_by_sub.get(user) == 1, "retried inside the window"
    # after expiry: the failure page, the session (and its cookie) stay
    sleep_until(exp + 0.3)
    codes = []
    if retry_after:
        # past TPOAuthRefreshRetryAfter, inside Retry-After: the provider is
        # back, but no attempt yet
        rig.proxy.fail.pop(user)
        sleep_until(t_fail + 2.4)
    for _ in range(3):
        r = get(rig.probe_url("pxt"), cookie)
        codes.append(r.status_code)
        assert not rig.is_login_redirect(r) and not clears_cookie(r, "tpo_pxt"), (
            r.status_code, r.headers)
        time.sleep(0.1)
    t_last = time.time()      # the last failed attempt was before this
    assert codes == [502] * 3, (codes, rig.proxy.refresh_by_sub,
                                rig.httpd.error_log()[mark:][-3000:])
    assert "Session cannot be renewed" in r.text
    if retry_after:
        assert rig.proxy.refresh_by_sub.get(user) == 1, (
            "Retry-After %d s not honoured: %s" % (retry_after, rig.proxy.refresh_by_sub))
        assert 1 <= int(r.headers.get("Retry-After", "0")) <= window
    rig.proxy.fail.pop(user, None)
    # the provider is back: after the window the next request refreshes
    sleep_until((t_fail if retry_after else t_last) + window + 0.3)
    r = get(rig.probe_url("pxt"), cookie)
    log = rig.httpd.error_log()[mark:]
    assert r.status_code == 200 and PROBE_MARKER in r.text, (r.status_code, log[-3000:])
    assert "refreshed the access token of %s" % user in log
    assert rig.at_expires("pxt", cookie) > exp
    # the failure answers had their log line, once in this window (5xx and 429
    # alike: a temporary refusal)
    assert len(re.findall(r"session of %s at provider pxt: answered 502" % user, log)) == 1, (
        log[-3000:])
    assert re.search(r"refresh for %s failed: token endpoint answered HTTP %d .*a temporary "
                     r"refusal, the session stays" % (user, status), log), log[-3000:]


def test_refresh_window_fits_the_http_timeout(rig):
    """TPOAuthHTTPTimeout 3.5 s and 10 s tokens: the last quarter (<= 2.5 s)
    is too short for a refresh that may take the whole timeout, so the refresh
    starts TPOAuthHTTPTimeout + 0.25 s before expiry. A request 3.2 s before
    expiry refreshes; the provider takes 2.5 s, and the new token is there
    before the old one expires."""
    cookie = rig.login("pxlong", "longwin")
    exp = rig.at_expires("pxlong", cookie)
    rig.proxy.delay = 2.5
    sleep_until(exp - 3.2)
    t0 = time.time()
    r = get(rig.probe_url("pxlong"), cookie)
    took = time.time() - t0
    assert r.status_code == 200 and PROBE_MARKER in r.text, (r.status_code, log_tail(rig.httpd))
    assert rig.proxy.refresh_by_sub.get("longwin") == 1, (
        "no refresh 3.2 s before expiry: %s" % rig.proxy.refresh_by_sub)
    assert 2.3 < took and time.time() < exp, "took %.2f s" % took
    rig.proxy.delay = 0
    assert rig.at_expires("pxlong", cookie) > exp


def raw_post(port, path, headers, hold=None, timeout=15):
    """POST on a raw socket; with ``hold`` (an Event) the request line goes out
    at once and the headers only once hold is set (a request that is in
    flight but reaches the module late, as on a busy server). (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        c.sendall(("POST %s HTTP/1.1\r\n" % path).encode())
        if hold is not None:
            hold.wait(timeout)
        head = "".join("%s: %s\r\n" % kv for kv in headers.items())
        c.sendall(("Host: 127.0.0.1:%d\r\n%sContent-Length: 0\r\nConnection: close\r\n\r\n"
                   % (port, head)).encode())
        data = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        out, rest = b"", body
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size, 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        body = out
    return status, body.decode("utf-8", "replace")


def test_refresh_endpoint_20_concurrent_one_grant(rig):
    """20 forced refreshes of one session at once (same-origin POSTs; the
    token endpoint takes 0.3 s): one refresh grant, every caller gets the new
    token. Ten of them send their request line at once but their headers only
    after the refresh has completed (in flight, but reaching the module late,
    as on a busy server): they started before the refresh completed, so they
    take its result too instead of spending the refresh token again."""
    cookie = rig.login("px", "spa20")
    before = rig.info("px", cookie)
    time.sleep(1.1)
    rig.proxy.reset()
    rig.idp.reset_stats()
    rig.proxy.delay = 0.3
    n, late = 20, 10
    barrier = threading.Barrier(n)
    hold = threading.Event()
    results = [None] * n
    hdrs = {"X-Requested-With": "XMLHttpRequest", "Accept": "application/json",
            "Origin": rig.httpd.base, "Cookie": cookie}

    def one(i):
        barrier.wait(5)
        try:
            st, body = raw_post(rig.httpd.port, "/px/redirect_uri/refresh", hdrs,
                                hold if i < late else None)
            results[i] = (st, json.loads(body) if st in (200, 401, 502, 504) else body)
        except (OSError, ValueError) as e:
            results[i] = (repr(e), None)
        if i >= late:
            hold.set()        # the first answer: the refresh has completed
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    hold.set()
    assert refresh_stats(rig.idp) == (1, 0), "%s refresh grants: %s" % (
        refresh_stats(rig.idp), results)
    assert rig.proxy.refresh_requests == 1
    assert all(r and r[0] == 200 and r[1]["refreshed"] is True for r in results), results
    exps = {r[1]["access_token_expires"] for r in results}
    assert len(exps) == 1 and exps.pop() > before["access_token_expires"], results
    assert get(rig.probe_url("px"), cookie).status_code == 200


# -- a forced refresh that times out waiting for the lock: one JSON document

def _hkdf_sha256(ikm, salt, info):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def cache_inner_key(passphrase, key):
    """The backend key of a module cache key (src/tpo_cache_crypt.c: scrypt of the
    passphrase with the documented salt, HKDF-SHA256 to k_mac, then
    base64url(HMAC-SHA256(k_mac, key)))."""
    master = hashlib.scrypt(passphrase.encode(), salt=b"mod_tp_oauth cache passphrase scrypt v2",
                            n=2 ** 15, r=8, p=1, maxmem=64 * 1024 * 1024, dklen=32)
    kmac = _hkdf_sha256(master, b"mod_tp_oauth cache encryption v2",
                        b"mod_tp_oauth cache key hmac")
    mac = hmac.new(kmac, key.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def redis_cmd(port, *args):
    """One command in RESP; the first line of the reply."""
    msg = b"*%d\r\n" % len(args) + b"".join(
        b"$%d\r\n%s\r\n" % (len(a), a) for a in (x.encode() for x in args))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(msg)
        return c.recv(4096).split(b"\r\n")[0].decode()


def test_forced_refresh_lock_timeout_writes_one_json_body(workdir_refresh):
    """A forced POST <redirect URI>/refresh of a session whose token has
    expired finds the session's refresh lock held for longer than it waits
    (TPOAuthHTTPTimeout + 2 s; the lock is set directly in Redis here, as a
    stuck holder would leave it): it answers 504 with exactly one JSON
    document (not an HTML page followed by JSON), and spends nothing."""
    mod = module_path()
    wd = os.path.join(workdir_refresh, "lockwait")
    os.makedirs(wd, exist_ok=True)
    os.chmod(wd, 0o755)
    rport, port = h.free_port(), h.free_port()
    passphrase = "tpo-lockwait-test-passphrase"
    proc, rlog = start_cache_server("redis", rport, wd)
    idp = h.IdP(wd, h.idp_clients(port), at_ttl=3)
    httpd = h.Httpd(module=mod, port=port)
    try:
        idp.start()
        write_probe(httpd)
        conf = ("LogLevel warn tp_oauth:info\nTPOAuthCache redis 127.0.0.1:%d\n"
                "TPOAuthCachePassphrase %s\n" % (rport, passphrase)
                + h.provider_conf("idp", idp.issuer, extra="TPOAuthHTTPTimeout 1 1")
                + h.protect_conf(location="/app/", provider="idp")
                + 'Alias /prot/ "%s/static/"\n' % httpd.server_root + location("/prot", "idp"))
        httpd.start(conf)
        s = h.browser_session()
        r = h.oidc_login(s, httpd.url("/prot/" + PROBE), "lockwait")
        assert r.status_code == 200 and PROBE_MARKER in r.text, r.status_code
        sid = s.cookies.get(MAIN_COOKIE)
        cookie = cookie_hdr(MAIN_COOKIE, sid)
        r = get(httpd.url(h.REDIRECT_PATH + "/info"), cookie, XHR)
        exp = r.json()["access_token_expires"]
        # the key derivation is right: the session is where we expect it
        assert redis_cmd(rport, "EXISTS", cache_inner_key(passphrase, "s:" + sid)) == ":1"
        sleep_until(exp + 0.3)
        idp.reset_stats()
        assert redis_cmd(rport, "SET", cache_inner_key(passphrase, "rl:" + sid), "x",
                         "NX", "PX", "20000") == "+OK"
        t0 = time.time()
        r = requests.post(httpd.url(h.REDIRECT_PATH + "/refresh"), timeout=15, headers={
            "X-Requested-With": "XMLHttpRequest", "Accept": "application/json",
            "Origin": httpd.base, "Cookie": cookie})
        took = time.time() - t0
        log = httpd.error_log()
        assert r.status_code == 504, (r.status_code, r.text[:500])
        assert r.headers["Content-Type"].startswith("application/json"), r.headers
        assert "<" not in r.text, "an HTML page in the JSON answer: %r" % r.text[:500]
        assert json.loads(r.text) == {"error": "refresh_failed"}, r.text
        assert 2.8 <= took < 6, took
        assert refresh_stats(idp)[0] == 0
        assert re.search(r"session of lockwait at provider idp: answered 504 to a forced "
                         r"refresh: another request's refresh did not finish in time", log), (
            log[-3000:])
        assert not httpd.problems(since_last=False)
    finally:
        httpd.stop()
        httpd.cleanup(keep=bool(httpd.problems(since_last=False)))
        idp.stop()
        proc.terminate()
        proc.wait(10)
        rlog.close()
