# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""Metadata freshness (issue 16 item 6), against a real httpd with the module and the
fake provider (test/fakeidp, `oidc` mode): with TPOAuthMetadataRefresh, the discovery
document and the JWK Set are fetched again once they have aged, by a request that
needs them (here: logins), not only after a failure; with 0 they are fetched once per
process. The module logs each load at debug level (TPO00052, TPO00054) with the
process id, which is what is counted here.
"""

import collections
import json
import re
import time

import tpo_harness as h
from fake_conf import mode_provider

PAGE = "/m/oidc/whoami.cgi"
PID_RX = re.compile(r"\[pid (\d+)(?::tid \d+)?\]")


def conf(fakeidp, root, refresh):
    c = "LogLevel warn tp_oauth:debug\n"
    c += mode_provider(fakeidp.base, "oidc", ["TPOAuthMetadataRefresh %d" % refresh])
    c += 'ScriptAliasMatch "^/m/[^/]+/(.*\\.cgi)$" "%s/app/$1"\n' % root
    c += ("<Location /m/oidc/>\n    AuthType tp-oauth\n    AuthName \"m\"\n"
          "    TPOAuthProvider m_oidc\n    Require valid-user\n</Location>\n")
    return c


def login(server):
    s = h.browser_session()
    r = s.get(server.url(PAGE), timeout=10)
    assert r.status_code == 200 and "Hello fake-user-1" in r.text, (r.status_code, r.url,
                                                                    r.text[:300])


def loads_per_pid(log, logno):
    n = collections.Counter()
    for line in log.splitlines():
        if logno in line and "provider m_oidc" in line:
            m = PID_RX.search(line)
            assert m, line
            n[m.group(1)] += 1
    return n


def logins_for(server, seconds):
    end = time.monotonic() + seconds
    count = 0
    while time.monotonic() < end:
        login(server)
        count += 1
        time.sleep(0.1)
    return count


def test_metadata_refetched_when_aged(module_path, fakeidp):
    server = h.Httpd(module=module_path)
    try:
        server.start(conf(fakeidp, server.server_root, 1))
        mark = len(server.error_log())
        assert logins_for(server, 4.0) > 5
        log = server.error_log()[mark:]
        meta, jwks = loads_per_pid(log, "TPO00052"), loads_per_pid(log, "TPO00054")
        # some process loaded each of them again after it had aged
        assert meta and max(meta.values()) >= 2, (meta, log[-3000:])
        assert jwks and max(jwks.values()) >= 2, (jwks, log[-3000:])
        assert "could not be refreshed" not in log
    finally:
        server.cleanup(keep=bool(server.problems(since_last=False)))


def test_metadata_fetched_once_without_refresh(module_path, fakeidp):
    server = h.Httpd(module=module_path)
    try:
        server.start(conf(fakeidp, server.server_root, 0))
        mark = len(server.error_log())
        assert logins_for(server, 3.0) > 5
        log = server.error_log()[mark:]
        meta, jwks = loads_per_pid(log, "TPO00052"), loads_per_pid(log, "TPO00054")
        assert meta and set(meta.values()) == {1}, meta
        assert jwks and set(jwks.values()) == {1}, jwks
    finally:
        server.cleanup(keep=bool(server.problems(since_last=False)))


class DocServer:
    """A discovery document on a loopback port that the test can change or break."""

    def __init__(self, doc):
        import http.server
        import threading
        outer = self
        self.doc, self.status = doc, 200

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps(outer.doc).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self):
        return "http://127.0.0.1:%d/discovery" % self.port

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_metadata_change_and_failed_refresh(module_path, fakeidp):
    """The provider's document breaks (500): logins go on with the copy, one warning;
    then its authorization endpoint moves: new logins are sent there, no restart."""
    status, body = h.http_get(fakeidp.base + "/oidc/.well-known/openid-configuration")
    assert status == 200
    doc = json.loads(body)
    ds = DocServer(doc)
    server = h.Httpd(module=module_path)
    try:
        c = conf(fakeidp, server.server_root, 1).replace(
            "TPOAuthMetadataRefresh 1", "TPOAuthMetadataRefresh 1\n    TPOAuthDiscovery %s"
            % ds.url())
        assert "TPOAuthDiscovery" in c
        server.start(c)
        # every child process has its copy (StartServers 2)
        for _ in range(40):
            login(server)
            if len(loads_per_pid(server.error_log(), "TPO00052")) >= 2:
                break
        assert len(loads_per_pid(server.error_log(), "TPO00052")) >= 2
        ds.status = 500
        time.sleep(1.5)
        mark = len(server.error_log())
        for _ in range(4):
            login(server)
        log = server.error_log()[mark:]
        assert "the discovery document could not be refreshed; the copy of" in log, log[-3000:]
        # moved
        ds.status = 200
        ds.doc = dict(doc, authorization_endpoint=fakeidp.base + "/oidc/authorize-moved")
        time.sleep(6.5)   # past the refresh interval and the back-off after the failure
        end, moved = time.monotonic() + 10, False
        while time.monotonic() < end and not moved:
            r = h.browser_session().get(server.url(PAGE), allow_redirects=False, timeout=10)
            assert r.status_code == 302, r.status_code
            moved = r.headers["Location"].startswith(fakeidp.base + "/oidc/authorize-moved?")
            time.sleep(0.2)
        assert moved, r.headers["Location"]
    finally:
        server.cleanup(keep=bool(server.problems(since_last=False)))
        ds.stop()
