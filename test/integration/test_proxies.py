# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""Behind a proxy (issue 16 item 5), against a real httpd with the module and the real
oidc-provider (test/idp):

- TPOAuthTrustedProxies: from a trusted peer (the test client binds to 127.0.0.2),
  Forwarded / X-Forwarded-* decide the redirect URI, the cookies' Secure attribute and
  the own-origin check of the refresh endpoint; from an untrusted peer (127.0.0.1) the
  same headers change nothing; invalid values from a trusted peer are ignored.
- TPOAuthOutgoingProxy: a complete login whose calls to the provider go through a
  small forward proxy on loopback (written here; it counts what it forwards); with the
  provider's host in the no-proxy list the proxy sees nothing; a proxy that is down
  makes the login fail (so the calls really went through it).
"""

import http.client
import http.server
import socket
import socketserver
import threading
import urllib.parse

import pytest

import tpo_harness as h

WHOAMI = "/app/whoami.cgi"
TRUSTED = "127.0.0.2"
UNTRUSTED = "127.0.0.1"


def conf(idp, provider_extra="", server_extra=""):
    return ("TPOAuthCacheSize 16M\n" + server_extra
            + h.provider_conf("idp", idp.issuer, extra=provider_extra)
            + h.protect_conf())


def get(server, path, peer, headers=None, method="GET", body=None):
    """One request from the loopback address peer; (status, headers list, body)."""
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10,
                                   source_address=(peer, 0))
    try:
        hdrs = {"Accept": h.HTML_ACCEPT}
        hdrs.update(headers or {})
        c.request(method, path, body=body, headers=hdrs)
        r = c.getresponse()
        return r.status, r.getheaders(), r.read()
    finally:
        c.close()


def redirect_uri_of(headers):
    loc = dict((k.lower(), v) for k, v in headers)["location"]
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
    return q["redirect_uri"][0]


def login_cookie_secure(headers):
    cookies = [v for k, v in headers if k.lower() == "set-cookie" and "_login_" in v]
    assert len(cookies) == 1, headers
    return "secure" in [a.strip().lower() for a in cookies[0].split(";")]


@pytest.fixture
def proxied(httpd, idp):
    return httpd.ensure(conf(idp, server_extra="TPOAuthTrustedProxies 10.0.0.0/8 %s ::1\n"
                             % TRUSTED))


def test_trusted_x_forwarded_decide_redirect_uri_and_secure(proxied):
    xf = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example"}
    st, hd, _ = get(proxied, WHOAMI, TRUSTED, xf)
    assert st == 302, hd
    assert redirect_uri_of(hd) == "https://app.example/app/redirect_uri"
    assert login_cookie_secure(hd)
    # a port; several values (only the nearest proxy's, the last, counts)
    xf = {"X-Forwarded-Proto": "http, https", "X-Forwarded-Host": "evil.example, App.Example",
          "X-Forwarded-Port": "8443"}
    st, hd, _ = get(proxied, WHOAMI, TRUSTED, xf)
    assert redirect_uri_of(hd) == "https://app.example:8443/app/redirect_uri"


def test_trusted_forwarded_rfc7239(proxied):
    fwd = {"Forwarded": 'for=192.0.2.1;proto=http;host=evil.example, '
                        'for="[2001:db8::1]:4711";proto=https;host="[2001:db8::2]:8443"',
           "X-Forwarded-Host": "ignored.example"}
    st, hd, _ = get(proxied, WHOAMI, TRUSTED, fwd)
    assert st == 302
    assert redirect_uri_of(hd) == "https://[2001:db8::2]:8443/app/redirect_uri"
    assert login_cookie_secure(hd)


def test_untrusted_peer_headers_ignored(proxied):
    own = proxied.url("/app/redirect_uri")
    for hdrs in ({"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example",
                  "X-Forwarded-Port": "443"},
                 {"Forwarded": "proto=https;host=evil.example"}):
        st, hd, _ = get(proxied, WHOAMI, UNTRUSTED, hdrs)
        assert st == 302, hd
        assert redirect_uri_of(hd) == own
        assert not login_cookie_secure(hd)


def test_trusted_peer_invalid_values_ignored(proxied):
    own = proxied.url("/app/redirect_uri")
    for hdrs in ({"X-Forwarded-Host": "evil.example/path"},
                 {"X-Forwarded-Host": "a@evil.example"},
                 {"X-Forwarded-Proto": "javascript", "X-Forwarded-Port": "0"},
                 {"X-Forwarded-Host": "app.example:99999"},
                 {"Forwarded": 'proto=https;host="unterminated'},
                 {"Forwarded": "proto=https;proto=http"}):
        st, hd, _ = get(proxied, WHOAMI, TRUSTED, hdrs)
        assert st == 302, (hdrs, hd)
        assert redirect_uri_of(hd) == own, hdrs
        assert not login_cookie_secure(hd), hdrs
    assert proxied.pid() is not None


def test_refresh_origin_check_follows_trusted_proxy(proxied):
    """The refresh endpoint's same-origin check: Origin https://app.example is this
    server's origin only when a trusted proxy says so."""
    hdrs = {"Origin": "https://app.example", "X-Requested-With": "XMLHttpRequest",
            "X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example",
            "Accept": "application/json"}
    st, _, body = get(proxied, "/app/redirect_uri/refresh", UNTRUSTED, hdrs, method="POST",
                      body=b"")
    assert st == 403 and b"cross_origin_refused" in body, (st, body)
    st, _, body = get(proxied, "/app/redirect_uri/refresh", TRUSTED, hdrs, method="POST",
                      body=b"")
    # past the origin check: no session
    assert st == 401, (st, body)
    assert b"cross_origin_refused" not in body


# ------------------------------------------------------------- outgoing proxy

class ForwardProxy:
    """A tiny HTTP forward proxy (absolute-URI requests and CONNECT) on loopback that
    counts what it forwards."""

    def __init__(self):
        outer = self
        self.count = 0
        self.targets = []
        self.lock = threading.Lock()

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def note(self, target):
                with outer.lock:
                    outer.count += 1
                    outer.targets.append(target)

            def do_CONNECT(self):
                host, _, port = self.path.rpartition(":")
                self.note("CONNECT " + self.path)
                up = socket.create_connection((host, int(port)), timeout=10)
                self.send_response(200, "Connection established")
                self.end_headers()
                socks = [self.connection, up]
                self.connection.settimeout(10)
                done = threading.Event()

                def pipe(a, b):
                    try:
                        while True:
                            d = a.recv(65536)
                            if not d:
                                break
                            b.sendall(d)
                    except OSError:
                        pass
                    done.set()

                t = threading.Thread(target=pipe, args=(up, self.connection), daemon=True)
                t.start()
                pipe(self.connection, up)
                done.wait(10)
                for s in socks:
                    try:
                        s.close()
                    except OSError:
                        pass
                self.close_connection = True

            def forward(self):
                u = urllib.parse.urlsplit(self.path)
                assert u.scheme == "http" and u.hostname, self.path
                self.note("%s %s" % (self.command, self.path))
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                hdrs = {k: v for k, v in self.headers.items()
                        if k.lower() not in ("proxy-connection", "connection", "host",
                                             "content-length")}
                c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=10)
                path = u.path + ("?" + u.query if u.query else "")
                c.request(self.command, path or "/", body=body, headers=hdrs)
                r = c.getresponse()
                data = r.read()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                c.close()

            do_GET = forward
            do_POST = forward

            def log_message(self, *a):
                pass

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.httpd = S(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fproxy():
    p = ForwardProxy()
    yield p
    p.stop()


def test_login_through_outgoing_proxy(httpd, idp, fproxy):
    server = httpd.ensure(conf(idp, provider_extra="TPOAuthOutgoingProxy %s" % fproxy.url))
    r = h.oidc_login(h.browser_session(), server.url(WHOAMI), "proxied-user")
    assert r.status_code == 200 and "Hello proxied-user" in r.text, (r.status_code, r.text[:500])
    issuer = urllib.parse.urlsplit(idp.issuer)
    seen = " ".join(fproxy.targets)
    # discovery, the JWK Set and the token request went through the proxy
    assert fproxy.count >= 3, fproxy.targets
    assert "/.well-known/openid-configuration" in seen, seen
    assert "POST http://%s" % issuer.netloc in seen, seen


def test_no_proxy_list_bypasses_proxy(httpd, idp, fproxy):
    host = urllib.parse.urlsplit(idp.issuer).hostname
    server = httpd.ensure(conf(idp, provider_extra="TPOAuthOutgoingProxy %s example.net,%s"
                               % (fproxy.url, host)))
    r = h.oidc_login(h.browser_session(), server.url(WHOAMI), "direct-user")
    assert r.status_code == 200 and "Hello direct-user" in r.text, (r.status_code, r.text[:500])
    assert fproxy.count == 0, fproxy.targets


def test_outgoing_proxy_down_fails_login(httpd, idp):
    dead = h.free_port()
    server = httpd.ensure(conf(idp, provider_extra="TPOAuthOutgoingProxy http://127.0.0.1:%d\n"
                                                   "TPOAuthHTTPTimeout 1 2" % dead))
    s = h.browser_session()
    r = s.get(server.url(WHOAMI), allow_redirects=False, timeout=10)
    # discovery is needed for the redirect and cannot be fetched: no redirect
    assert r.status_code in (502, 503, 504), (r.status_code, r.headers)
    assert "Location" not in r.headers


def test_outgoing_proxy_directive_checked(httpd):
    rc, out = httpd.configtest(h.provider_conf("idp", "http://127.0.0.1:9/",
                                               extra="TPOAuthOutgoingProxy socks5://127.0.0.1:1"))
    assert rc != 0 and "TPOAuthOutgoingProxy" in out, out
    rc, out = httpd.configtest("TPOAuthTrustedProxies 10.0.0.0/33\n")
    assert rc != 0 and "TPOAuthTrustedProxies" in out, out
