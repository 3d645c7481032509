# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""Tokens for backends (issue 13, item 4), against a real httpd with the module and
mod_proxy, the real oidc-provider (test/idp, client-credentials grant, resource
indicators, introspection), the fake provider for a JSON-body provider, memcached and
Redis, and a small echo backend on 127.0.0.1 started here that records the headers of
every request it gets:

  * TPOAuthBackendToken user: the backend gets the user's own access token (checked by
    introspection at the provider) and the ID token (serialized, or its payload as
    JSON); a forged Authorization or ID-token header from the client never reaches it;
  * TPOAuthBackendToken client: the backend gets the gateway's client-credentials token
    with the location's scope (introspection) or resource/audience (the JWT's aud, and
    what the provider was asked, from its /__cc log); form (oidc-provider) and JSON
    (fake PayoutID) token requests;
  * single flight: 100 concurrent requests cause one grant per token lifetime, counted
    at the provider, on one server and on two servers sharing memcached or Redis;
  * failures: token endpoint down or refusing -> 502 with a log line naming the cause,
    no retry storm (remembered for TPOAuthRefreshRetryAfter), the server keeps serving
    and recovers.
"""

import base64
import concurrent.futures
import http.server
import json
import os
import re
import shutil
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import pytest
import requests

import tpo_harness as h
from fake_conf import mode_provider
from test_sessions import PASSPHRASE, REDIS_PASSWORD, Backend

CC_TTL = 8                    # seconds a client-credentials token lives at the IdP
RESOURCE = "https://orders.example.test/"
XHR = {"Accept": "application/json", "X-Requested-With": "XMLHttpRequest"}


# ============================================================== the echo backend

class EchoBackend:
    """An HTTP server on 127.0.0.1 that answers every request with the headers it got
    (as JSON) and keeps them."""

    def __init__(self):
        self.seen = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                headers = [[k, v] for k, v in self.headers.items()]
                with outer.lock:
                    outer.seen.append({"path": self.path, "headers": headers})
                body = json.dumps({"path": self.path, "headers": headers}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def header_values(answer, name):
    return [v for k, v in answer["headers"] if k.lower() == name.lower()]


def bearer_of(resp):
    assert resp.status_code == 200, (resp.status_code, resp.text[:500])
    auth = header_values(resp.json(), "Authorization")
    assert len(auth) == 1, auth
    assert auth[0].startswith("Bearer "), auth
    return auth[0][len("Bearer "):]


def jwt_payload(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


# ============================================================== the provider

class CcIdP(h.IdP):
    """test/idp with the client-credentials options of its opt-in block."""

    def start(self, timeout=20.0):
        with open(self.clients_file, "w") as f:
            json.dump(self.clients, f, indent=2)
        self._spawn([h.NODE_BIN, h.IDP_SERVER, "--port", str(self.port),
                     "--clients", self.clients_file, "--keys", self.keys_file,
                     "--at-ttl", str(self.at_ttl), "--max-seconds", "3600",
                     "--cc-ttl", str(CC_TTL), "--cc-resource", RESOURCE],
                    env={"NODE_NO_WARNINGS": "1"})

        def ready():
            self._check_alive()
            status, _ = h.http_get(self.issuer + "/.well-known/openid-configuration")
            return status == 200
        h.wait_until(ready, timeout, what="the IdP's discovery document")
        return self

    def cc_log(self):
        status, body = h.http_get(self.issuer + "/__cc")
        assert status == 200
        return json.loads(body)["requests"]

    def introspect(self, token):
        r = requests.post(self.issuer + "/token/introspection", data={"token": token},
                          auth=(h.CLIENT_ID, h.CLIENT_SECRET), timeout=5)
        assert r.status_code == 200, r.text
        return r.json()


def cc_clients(http_port):
    clients = h.idp_clients(http_port)
    for c in clients:
        if c["client_id"] == h.CLIENT_ID:
            c["grant_types"] = c["grant_types"] + ["client_credentials"]
    return clients


@pytest.fixture(scope="module")
def ccidp(workdir, http_port):
    server = CcIdP(workdir, cc_clients(http_port), keys_file=os.path.join(workdir, "cc-keys.json"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def echo():
    server = EchoBackend().start()
    yield server
    server.stop()


# ============================================================== configuration

def side_provider(name, issuer, extra):
    """A provider at the same IdP (discovery) with its own cookie and redirect URI."""
    return h.provider_conf(name, issuer, redirect_uri="/%s/redirect_uri" % name,
                           extra="TPOAuthCookieName tpo_%s\n%s" % (name, extra))


def proxied(path, echo, lines):
    return ("<Location %s>\n%s\n    ProxyPass http://127.0.0.1:%d%s\n</Location>\n"
            % (path, "\n".join("    " + line for line in lines), echo.port, path))


def gateway(path, echo, provider, *extra):
    return proxied(path, echo, ["TPOAuthProvider %s" % provider, "TPOAuthBackendToken client",
                                "Require all granted"] + list(extra))


def user_location(path, echo, *extra):
    return proxied(path, echo, ["AuthType tp-oauth", 'AuthName "backend"',
                                "TPOAuthProvider idp", "Require valid-user",
                                "TPOAuthBackendToken user"] + list(extra))


def backend_conf(ccidp, echo, fakeidp):
    issuer = ccidp.issuer
    c = "TPOAuthCacheSize 16M\n"
    c += h.provider_conf("idp", issuer, extra="TPOAuthRefreshRetryAfter 2")
    c += h.protect_conf()
    # the token endpoint is down (nothing listens on port 1) / refuses the client
    c += side_provider("down", issuer, "TPOAuthTokenEndpoint http://127.0.0.1:1/token\n"
                                       "TPOAuthHTTPTimeout 1 2\nTPOAuthRefreshRetryAfter 2")
    c += side_provider("refused", issuer, "TPOAuthRefreshRetryAfter 2").replace(
        "TPOAuthClientSecret %s" % h.CLIENT_SECRET, "TPOAuthClientSecret wrong-secret")
    c += mode_provider(fakeidp.base, "payout")
    c += user_location("/u/", echo, "TPOAuthBackendIDToken X-ID-Token")
    c += user_location("/up/", echo, "TPOAuthBackendIDToken X-ID-Claims payload")
    c += gateway("/g/", echo, "idp", 'TPOAuthBackendScope "email"')
    c += gateway("/g2/", echo, "idp", 'TPOAuthBackendScope "profile"')
    c += gateway("/gr/", echo, "idp", 'TPOAuthBackendScope "email"',
                 "TPOAuthBackendResource %s" % RESOURCE, "TPOAuthBackendAudience orders-api")
    c += gateway("/gc/", echo, "idp", 'TPOAuthBackendScope "email profile"')
    c += gateway("/gx/", echo, "idp", 'TPOAuthBackendScope "address"')
    c += gateway("/gdown/", echo, "down")
    c += gateway("/grefused/", echo, "refused", 'TPOAuthBackendScope "email"')
    c += gateway("/gp/", echo, "m_payout", 'TPOAuthBackendScope "BLAISP"')
    # a location open to everyone that identifies users who have a session
    c += proxied("/upass/", echo, ["AuthType tp-oauth", 'AuthName "backend"',
                                   "TPOAuthProvider idp", "TPOAuthUnauthenticated pass",
                                   "Require all granted", "TPOAuthBackendToken user",
                                   "TPOAuthBackendIDToken X-ID-Token"])
    # a gateway token without a provider to ask: 500 and a log line
    c += proxied("/gnoprov/", echo, ["TPOAuthBackendToken client", "Require all granted"])
    # no TPOAuthBackendToken: the client's header goes through (the control)
    c += proxied("/n/", echo, ["Require all granted"])
    return c


@pytest.fixture(scope="module")
def server(httpd, ccidp, echo, fakeidp):
    httpd.ensure(backend_conf(ccidp, echo, fakeidp))
    return httpd


def get(server, path, headers=None, session=None, timeout=10):
    hdrs = dict(XHR)
    hdrs.update(headers or {})
    return (session or requests).get(server.url(path), headers=hdrs, allow_redirects=False,
                                     timeout=timeout)


def cc_requests(ccidp, scope=None, resource=None):
    return [r for r in ccidp.cc_log()
            if (scope is None or r["scope"] == scope) and (resource is None
                                                            or r["resource"] == resource)]


# ============================================================== the user's token

def test_user_token_reaches_backend_forged_header_does_not(server, ccidp, echo):
    s = h.browser_session()
    r = h.oidc_login(s, server.url("/u/first"), "alice")
    assert r.status_code == 200, (r.status_code, r.url, r.text[:300])
    forged = {"Authorization": "Bearer forged-by-the-client", "X-ID-Token": "forged.id.token"}
    r = get(server, "/u/echo", forged, session=s)
    token = bearer_of(r)
    assert "forged" not in token
    info = ccidp.introspect(token)
    assert info["active"] is True and info["sub"] == "alice", info
    assert info["client_id"] == h.CLIENT_ID
    idt = header_values(r.json(), "X-ID-Token")
    assert len(idt) == 1 and idt[0] != "forged.id.token"
    claims = jwt_payload(idt[0])
    assert claims["sub"] == "alice" and claims["iss"] == ccidp.issuer
    # the same user on a location with the ID token's payload as JSON
    r = get(server, "/up/echo", {"X-ID-Claims": '{"sub":"admin"}'}, session=s)
    assert bearer_of(r) == token
    payload = header_values(r.json(), "X-ID-Claims")
    assert len(payload) == 1 and json.loads(payload[0])["sub"] == "alice", payload
    # no session: 401 from the module, the backend sees nothing
    before = len(echo.seen)
    r = get(server, "/u/echo", forged)
    assert r.status_code == 401
    assert len(echo.seen) == before


def test_user_token_follows_refresh(server, ccidp):
    """After the session's access token is refreshed (here: forced, as a single-page app
    does), the backend gets the new one; the old one is no longer sent."""
    s = h.browser_session()
    assert h.oidc_login(s, server.url("/u/first"), "carol").status_code == 200
    before = bearer_of(get(server, "/u/echo", session=s))
    r = s.post(server.url(h.REDIRECT_PATH + "/refresh"), timeout=15,
               headers={"X-Requested-With": "XMLHttpRequest", "Accept": "application/json",
                        "Origin": server.base})
    assert r.status_code == 200 and r.json()["refreshed"] is True, r.text
    after = bearer_of(get(server, "/u/echo", session=s))
    assert after != before
    info = ccidp.introspect(after)
    assert info["active"] is True and info["sub"] == "carol", info


def test_user_token_refreshed_transparently(module_path, workdir, echo):
    """Access tokens of 4 s: after half their life the session refreshes on the next
    request, and the backend gets the new token (no forced refresh, no new login)."""
    port = h.free_port()
    idp = CcIdP(workdir, cc_clients(port), at_ttl=4,
                keys_file=os.path.join(workdir, "cc-keys.json"))
    srv = h.Httpd(module=module_path, port=port)
    try:
        idp.start()
        srv.start("TPOAuthCacheSize 16M\n" + h.provider_conf("idp", idp.issuer)
                  + user_location("/u/", echo))
        s = h.browser_session()
        assert h.oidc_login(s, srv.url("/u/first"), "dave").status_code == 200
        first = bearer_of(get(srv, "/u/echo", session=s))
        assert bearer_of(get(srv, "/u/echo", session=s)) == first
        time.sleep(2.5)
        second = bearer_of(get(srv, "/u/echo", session=s))
        assert second != first
        info = idp.introspect(second)
        assert info["active"] is True and info["sub"] == "dave", info
        assert idp.stats()["token"]["by_grant_type"].get("refresh_token") == 1
        assert not srv.problems()
    finally:
        keep = bool(srv.problems(since_last=False))
        srv.stop()
        srv.cleanup(keep=keep)
        idp.stop()


def test_user_token_pass_location_without_session_forwards_nothing(server, echo):
    r = get(server, "/upass/echo", {"Authorization": "Bearer forged", "X-ID-Token": "x.y.z"})
    assert r.status_code == 200, r.status_code
    assert header_values(r.json(), "Authorization") == []
    assert header_values(r.json(), "X-ID-Token") == []
    # with a session the same location sends the user's token
    s = h.browser_session()
    assert h.oidc_login(s, server.url("/u/first"), "bob").status_code == 200
    r = get(server, "/upass/echo", {"Authorization": "Bearer forged"}, session=s)
    assert ccidp_sub(r) == "bob"
    assert bearer_of(r) != "forged"


def ccidp_sub(resp):
    idt = header_values(resp.json(), "X-ID-Token")
    assert len(idt) == 1
    return jwt_payload(idt[0])["sub"]


def test_gateway_token_without_provider_500_logged(server, echo):
    mark = len(server.error_log())
    before = len(echo.seen)
    r = get(server, "/gnoprov/echo", {"Authorization": "Bearer forged"})
    assert r.status_code == 500
    assert len(echo.seen) == before
    assert re.search(r"TPO003\d\d: TPOAuthBackendToken client needs TPOAuthProvider",
                     server.error_log()[mark:])


def test_without_backend_token_the_client_header_passes(server):
    # the control: the module only replaces the header where it sets one
    r = get(server, "/n/echo", {"Authorization": "Bearer from-the-client"})
    assert bearer_of(r) == "from-the-client"


# ============================================================== the gateway's token

def test_gateway_token_reaches_backend_with_the_location_scope(server, ccidp):
    r = get(server, "/g/echo", {"Authorization": "Bearer forged-by-the-client"})
    token = bearer_of(r)
    assert "forged" not in token
    info = ccidp.introspect(token)
    assert info["active"] is True, info
    assert info["client_id"] == h.CLIENT_ID and "sub" not in info, info
    assert info["scope"] == "email", info
    # cached: the next request gets the same token without a new grant
    n = len(cc_requests(ccidp, "email", None))
    assert bearer_of(get(server, "/g/echo")) == token
    assert len(cc_requests(ccidp, "email", None)) == n
    # another location's scope is another token
    other = bearer_of(get(server, "/g2/echo"))
    assert other != token
    assert ccidp.introspect(other)["scope"] == "profile"


def test_gateway_token_resource_and_audience(server, ccidp):
    token = bearer_of(get(server, "/gr/echo"))
    claims = jwt_payload(token)        # resource indicators: a JWT for the resource server
    assert claims["aud"] == RESOURCE, claims
    assert claims["client_id"] == h.CLIENT_ID and claims["scope"] == "email", claims
    asked = cc_requests(ccidp, resource=RESOURCE)
    assert asked and asked[-1]["audience"] == "orders-api" and asked[-1]["scope"] == "email"
    assert asked[-1]["content_type"].startswith("application/x-www-form-urlencoded")


def test_gateway_token_json_body_provider(server, fakeidp):
    token = bearer_of(get(server, "/gp/echo", {"Authorization": "Basic Zm9yZ2VkOng="}))
    status, body = h.http_get(fakeidp.base + "/__last/payout")
    assert status == 200
    last = json.loads(body)
    assert last["body_format"] == "json", last
    assert last["body"]["grant_type"] == "client_credentials"
    assert last["body"]["scope"] == "BLAISP"
    assert token and "forged" not in token


def burst(server, path, n=100, workers=100):
    def one(_):
        try:
            r = get(server, path, timeout=30)
            return r.status_code, (bearer_of(r) if r.status_code == 200 else r.text[:200])
        except requests.RequestException as e:
            return -1, str(e)
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        return list(ex.map(one, range(n)))


@pytest.mark.slow
def test_gateway_token_single_flight_one_grant_per_lifetime(server, ccidp):
    scope = "email profile"
    assert not cc_requests(ccidp, scope)           # nobody asked for this one yet
    t0 = time.time()
    results = burst(server, "/gc/echo")
    assert all(status == 200 for status, _ in results), results[:5]
    tokens = {tok for _, tok in results}
    assert len(tokens) == 1
    assert len(cc_requests(ccidp, scope)) == 1
    # in its renewal window (3/4 of the lifetime) one request renews it, the others go on
    # with the current one; a burst later still uses one token per grant
    deadline = t0 + CC_TTL * 0.75 + 0.5
    time.sleep(max(0, deadline - time.time()))
    results = burst(server, "/gc/echo")
    assert all(status == 200 for status, _ in results), results[:5]
    assert len(cc_requests(ccidp, scope)) == 2
    # requests for two token lifetimes: at most one grant per 3/4 lifetime
    start = time.time()
    seen = set()
    while time.time() - start < 2 * CC_TTL:
        for status, tok in burst(server, "/gc/echo", n=20, workers=10):
            assert status == 200, tok
            seen.add(tok)
    grants = len(cc_requests(ccidp, scope))
    assert grants - 2 <= int(2 * CC_TTL / (CC_TTL * 0.75)) + 1, grants
    # every grant's token was used, none was fetched twice
    assert len(seen) <= grants - 1 and len(seen) >= grants - 2, (len(seen), grants)
    info = ccidp.introspect(bearer_of(get(server, "/gc/echo")))
    assert info["active"] is True and info["client_id"] == h.CLIENT_ID, info


# ============================================================== failures

def static_ok(server):
    return requests.get(server.url("/static/hello.txt"), timeout=5).status_code == 200


def test_token_endpoint_down_502_logged_server_keeps_serving(server):
    mark = len(server.error_log())
    r = get(server, "/gdown/echo")
    assert r.status_code == 502, r.status_code
    assert "Service token unavailable" in r.text
    log = server.error_log()[mark:]
    assert re.search(r"TPO003\d\d: provider down: gateway token \(client credentials\) failed: "
                     r"token endpoint http://127\.0\.0\.1:1/token", log), log[-2000:]
    # remembered: the next requests get the same answer at once, with Retry-After
    t = time.time()
    for _ in range(5):
        r = get(server, "/gdown/echo")
        assert r.status_code == 502 and r.headers.get("Retry-After") in ("1", "2"), r.headers
    assert time.time() - t < 2.5
    assert server.error_log()[mark:].count("gateway token (client credentials) failed") == 1
    assert static_ok(server)
    assert get(server, "/g/echo").status_code == 200


def test_token_endpoint_refusing_502_logged_no_retry_storm(server, ccidp):
    mark = len(server.error_log())
    n0 = len([x for x in ccidp.cc_log() if x["status"] >= 400])
    statuses = [get(server, "/grefused/echo").status_code for _ in range(10)]
    assert statuses == [502] * 10
    refused = [x for x in ccidp.cc_log() if x["status"] >= 400]
    assert len(refused) - n0 == 1             # asked once in the retry window
    log = server.error_log()[mark:]
    assert re.search(r"TPO003\d\d: provider refused: gateway token \(client credentials\) "
                     r"refused: token endpoint \S+ answered HTTP 401 \(error=invalid_client",
                     log), log[-2000:]
    assert "wrong-secret" not in log
    # after TPOAuthRefreshRetryAfter (2 s) the provider is asked again
    time.sleep(2.2)
    assert get(server, "/grefused/echo").status_code == 502
    assert len([x for x in ccidp.cc_log() if x["status"] >= 400]) - n0 == 2
    assert static_ok(server)


def test_provider_stops_and_comes_back(server, ccidp):
    """The IdP goes away: a location that needs a new gateway token gets 502 and the
    server keeps serving; once the IdP is back (and the retry window has passed) the
    location works again. Last in this file: the IdP forgets its tokens."""
    ccidp.stop()
    try:
        mark = len(server.error_log())
        r = get(server, "/gx/echo")
        assert r.status_code == 502, r.status_code
        assert "TPO003" in server.error_log()[mark:]
        assert static_ok(server)
    finally:
        ccidp.start()
    time.sleep(2.2)                      # TPOAuthRefreshRetryAfter 2
    token = bearer_of(get(server, "/gx/echo"))
    assert ccidp.introspect(token)["scope"] == "address"


# ============================================================== two servers, one cache

@pytest.fixture(scope="module", params=["memcache", "redis"])
def cluster(request, module_path, ccidp, echo):
    kind = request.param
    if shutil.which("memcached" if kind == "memcache" else "redis-server") is None:
        pytest.fail("%s is not installed (test.sh installs it)" % kind)
    workdir = tempfile.mkdtemp(prefix="tpo-bt-cluster-")
    os.chmod(workdir, 0o755)
    backend = Backend(kind, workdir, password=REDIS_PASSWORD if kind == "redis" else None)
    servers = []
    try:
        backend.start()
        conf = "TPOAuthCache %s 127.0.0.1:%d\n" % (kind, backend.port)
        conf += 'TPOAuthCachePassphrase "%s"\n' % PASSPHRASE
        if kind == "redis":
            conf += "TPOAuthCacheRedisPassword %s\n" % REDIS_PASSWORD
        conf += h.provider_conf("idp", ccidp.issuer)
        conf += gateway("/cl/", echo, "idp", 'TPOAuthBackendScope "groups %s"' % kind)
        for _ in range(2):
            server = h.Httpd(module=module_path)
            servers.append(server)
            server.start(conf)
        yield kind, backend, servers
    finally:
        keep = any(server.problems(since_last=False) for server in servers)
        for server in servers:
            server.cleanup(keep=keep)
        backend.stop()
        if not keep and not os.environ.get("TPO_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)


def test_cluster_100_concurrent_one_grant(cluster, ccidp):
    kind, backend, (a, b) = cluster
    scope = "groups %s" % kind
    assert not cc_requests(ccidp, scope)

    def one(i):
        server = a if i % 2 else b
        r = get(server, "/cl/echo", {"Authorization": "Bearer forged"}, timeout=30)
        return r.status_code, (bearer_of(r) if r.status_code == 200 else r.text[:200])
    with concurrent.futures.ThreadPoolExecutor(100) as ex:
        results = list(ex.map(one, range(100)))
    assert all(status == 200 for status, _ in results), results[:5]
    tokens = {tok for _, tok in results}
    assert len(tokens) == 1 and "forged" not in tokens
    assert len(cc_requests(ccidp, scope)) == 1
    # the token is in the shared cache, encrypted: never in clear
    token = tokens.pop()
    dump = backend.dump()
    assert dump and not any(token.encode() in v or token.encode() in k for k, v in dump.items())
    for server in (a, b):
        assert not server.problems()
