# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""Bearer tokens (issue 13 items 1-3): access tokens from `Authorization: Bearer`
validated locally (JWT, RFC 9068) or by introspection (RFC 7662), answered as
RFC 6750 says, with the identity exported as for sessions.

The real oidc-provider (test/idp/server.mjs) runs with TPO_IDP_RESOURCE: the
client-credentials grant with resource=RESOURCE gives RFC 9068 JWT access
tokens, without resource opaque ones (checked by introspection). Forged tokens
are signed here with the IdP's own keys (its --keys file)."""

import base64
import concurrent.futures
import json
import math
import os
import random
import re
import time

import pytest
import requests
from urllib3.util.retry import Retry

import tpo_harness as h

RESOURCE = "https://api.test"
REFETCH = 3          # TPOAuthJWKSRefetchInterval
INTRO_MAX = 3        # TPOAuthIntrospectionCacheMax
INTRO_INACTIVE = 2   # TPOAuthIntrospectionInactiveCache


class BearerIdP(h.IdP):
    """The test IdP with the resource server of these tests (JWT access tokens)."""

    name = "idp-bearer"

    def _spawn(self, argv, env=None):
        env = dict(env or {})
        env["TPO_IDP_RESOURCE"] = RESOURCE
        super()._spawn(argv, env)


@pytest.fixture(scope="module")
def bidp(workdir, http_port):
    server = BearerIdP(workdir, h.idp_clients(http_port),
                       keys_file=os.path.join(workdir, "idp-bearer-keys.json"))
    server.start()
    yield server
    server.stop()


def bearer_conf(issuer, root):
    provider = h.provider_conf("api", issuer, scope="openid", extra="""
        TPOAuthBearerAudience https://other.test %s
        TPOAuthBearerTokenType at+jwt
        TPOAuthIntrospectionCacheMax %d
        TPOAuthIntrospectionInactiveCache %d
        TPOAuthJWKSRefetchInterval %d
        TPOAuthUserinfo off
    """ % (RESOURCE, INTRO_MAX, INTRO_INACTIVE, REFETCH))
    conf = "TPOAuthCacheSize 16M\n" + provider
    # the same provider checked one way only, and with a wrong client secret
    for name, extra, secret in (
            ("apijwt", "TPOAuthBearerValidation jwt", h.CLIENT_SECRET),
            ("apiintro", "TPOAuthBearerValidation introspection", h.CLIENT_SECRET),
            ("apibad", "", "wrong-secret")):
        conf += h.provider_conf(name, issuer, scope="openid", client_secret=secret,
                                extra="TPOAuthBearerAudience %s\n%s" % (RESOURCE, extra))
    # /app/ (the redirect URI lives there): sessions and tokens
    conf += h.protect_conf("/app/", provider="api", authname="api", extra="""
        TPOAuthBearer on
        TPOAuthUnauthenticated login
        TPOAuthExport both
    """)
    for alias, extra in (
            ("/api/", "TPOAuthBearer only\nTPOAuthExport both"),
            ("/api-admin/", "TPOAuthBearer only\nTPOAuthBearerScope \"read admin\""),
            ("/api-claim/", "TPOAuthBearer only"),
            ("/api-rscope/", "TPOAuthBearer only"),
            ("/api-off/", "TPOAuthUnauthenticated 401"),
            ("/api-jwt/", "TPOAuthBearer only"),
            ("/api-intro/", "TPOAuthBearer only"),
            ("/api-bad/", "TPOAuthBearer only"),
            ("/api-q/", "TPOAuthBearer only\nTPOAuthBearerQuery on")):
        conf += 'ScriptAlias %s "%s/app/"\n' % (alias, root)
        provider_name = {"/api-jwt/": "apijwt", "/api-intro/": "apiintro",
                         "/api-bad/": "apibad"}.get(alias, "api")
        lines = ["<Location %s>" % alias, "    AuthType tp-oauth", '    AuthName "api"',
                 "    TPOAuthProvider %s" % provider_name]
        lines += ["    " + x for x in extra.splitlines()]
        if alias == "/api-claim/":
            lines.append("    Require oauth-claim groups=api-clients")
        elif alias == "/api-rscope/":
            lines.append("    Require oauth-scope admin")
        else:
            lines.append("    Require valid-user")
        lines.append("</Location>")
        conf += "\n".join(lines) + "\n"
    return conf


@pytest.fixture(scope="module")
def bhttpd(httpd, bidp):
    httpd.ensure(bearer_conf(bidp.issuer, httpd.server_root))
    return httpd


# ------------------------------------------------------------------ tokens

def cc_token(idp, resource=RESOURCE, scope="read write"):
    data = {"grant_type": "client_credentials"}
    if resource:
        data["resource"] = resource
    if scope:
        data["scope"] = scope
    r = requests.post(idp.issuer + "/token", data=data, auth=("tpo-cc", "tpo-cc-secret"),
                      timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_int(s):
    return int.from_bytes(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)), "big")


def idp_keys(idp):
    with open(idp.keys_file) as f:
        return {k["kty"]: k for k in json.load(f)["keys"]}


def rsa_private(jwk):
    from cryptography.hazmat.primitives.asymmetric import rsa
    pub = rsa.RSAPublicNumbers(b64u_int(jwk["e"]), b64u_int(jwk["n"]))
    return rsa.RSAPrivateNumbers(
        b64u_int(jwk["p"]), b64u_int(jwk["q"]), b64u_int(jwk["d"]), b64u_int(jwk["dp"]),
        b64u_int(jwk["dq"]), b64u_int(jwk["qi"]), pub).private_key()


def sign(idp, claims, header=None, alg="RS256", kid=None, key=None, fake_sig=False):
    """A JWS over claims, signed with the IdP's RSA key (alg RS256) unless
    told otherwise."""
    from cryptography.hazmat.primitives import hashes, hmac
    from cryptography.hazmat.primitives.asymmetric import padding
    rsa_jwk = idp_keys(idp)["RSA"]
    hdr = {"alg": alg, "typ": "at+jwt", "kid": kid or rsa_jwk["kid"]}
    hdr.update(header or {})
    hdr = {k: v for k, v in hdr.items() if v is not None}
    signing_input = (b64u(json.dumps(hdr)) + "." + b64u(json.dumps(claims))).encode()
    if fake_sig:
        sig = os.urandom(256)
    elif alg == "RS256":
        sig = (key or rsa_private(rsa_jwk)).sign(signing_input, padding.PKCS1v15(),
                                                 hashes.SHA256())
    elif alg == "HS256":
        mac = hmac.HMAC(key, hashes.SHA256())
        mac.update(signing_input)
        sig = mac.finalize()
    else:
        sig = b"x"
    return signing_input.decode() + "." + b64u(sig)


def good_claims(idp, **over):
    now = int(time.time())
    c = {"iss": idp.issuer, "aud": RESOURCE, "sub": "forged-but-valid", "client_id": "tpo-cc",
         "scope": "read write", "iat": now - 5, "exp": now + 600, "jti": b64u(os.urandom(12))}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


# ------------------------------------------------------------------ requests

def api(httpd, path, token=None, headers=None, **kw):
    hdrs = {"Accept": "application/json"}
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    hdrs.update(headers or {})
    return requests.get(httpd.url(path), headers=hdrs, allow_redirects=False, timeout=15, **kw)


def whoami(httpd, token, path="/api/whoami.cgi?format=json", **kw):
    r = api(httpd, path, token, **kw)
    assert r.status_code == 200, (r.status_code, r.headers, r.text[:300])
    return r.json()


def challenge(r):
    """The WWW-Authenticate Bearer challenge as a dict (realm, error, ...)."""
    hdr = r.headers.get("WWW-Authenticate", "")
    m = re.search(r'Bearer (.*)$', hdr)
    assert m, "no Bearer challenge in %r" % hdr
    return dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1)))


def assert_refused(r, status=401, error="invalid_token", desc_rx=None):
    assert r.status_code == status, (r.status_code, r.headers, r.text[:300])
    assert "Location" not in r.headers
    assert "Set-Cookie" not in r.headers
    ch = challenge(r)
    assert ch.get("realm") == "api"
    if error is None:
        assert "error" not in ch, ch
    else:
        assert ch.get("error") == error, ch
    if desc_rx:
        assert re.search(desc_rx, ch.get("error_description", "")), ch
    return ch


# ------------------------------------------------------------------ accepted

def test_jwt_access_token_accepted_identity_as_for_sessions(bhttpd, bidp):
    token = cc_token(bidp)
    env = whoami(bhttpd, token, headers={"X-TPO-User": "admin", "Remote-User": "admin",
                                         "X-TPO-Claim-groups": "admins"})
    assert env["REMOTE_USER"] == "tpo-cc"
    assert env["AUTH_TYPE"] == "Bearer"
    assert env["TPO_CLAIM_groups"] == "api-clients"
    assert env["TPO_CLAIM_client_id"] == "tpo-cc"
    assert env["TPO_SCOPE"] == "read write"
    # the same identity as request headers (TPOAuthExport both), client copies stripped
    assert env["HTTP_X_TPO_USER"] == "tpo-cc"
    assert env["HTTP_X_TPO_CLAIM_GROUPS"] == "api-clients"
    assert "HTTP_REMOTE_USER" not in env
    # the token itself is not exported again
    assert "TPO_ACCESS_TOKEN" not in env


def test_opaque_token_accepted_by_introspection(bhttpd, bidp):
    token = cc_token(bidp, resource=None, scope=None)
    assert token.count(".") == 0
    bidp.reset_stats()
    env = whoami(bhttpd, token)
    assert env["REMOTE_USER"] == "tpo-cc"
    assert env["AUTH_TYPE"] == "Bearer"
    # the answer is remembered: the second request does not ask again
    whoami(bhttpd, token)
    assert bidp.stats()["introspection"] == 1


def test_verified_jwt_is_remembered(bhttpd, bidp):
    token = cc_token(bidp)
    before = bhttpd.error_log().count("bearer JWT of tpo-cc verified")
    for _ in range(20):
        whoami(bhttpd, token)
    # one signature check for 20 requests: the memo (keyed by a hash of the token)
    assert bhttpd.error_log().count("bearer JWT of tpo-cc verified") - before == 1
    assert token not in bhttpd.error_log()


def test_forged_but_correctly_signed_token_accepted(bhttpd, bidp):
    """The control for the refusals below: the forging itself is right."""
    env = whoami(bhttpd, sign(bidp, good_claims(bidp)))
    assert env["REMOTE_USER"] == "forged-but-valid"


# ------------------------------------------------------------------ refused

def _tampered(bidp):
    token = cc_token(bidp)
    h64, p64, s64 = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(p64 + "=" * (-len(p64) % 4)))
    claims["sub"] = "admin"
    return h64 + "." + b64u(json.dumps(claims)) + "." + s64


def _hmac_with_public_key(bidp):
    from cryptography.hazmat.primitives import serialization
    pub = rsa_private(idp_keys(bidp)["RSA"]).public_key()
    pem = pub.public_bytes(serialization.Encoding.PEM,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return sign(bidp, good_claims(bidp), alg="HS256", key=pem)


CASES = {
    "tampered": (_tampered, r"signature"),
    "expired": (lambda i: sign(i, good_claims(i, exp=int(time.time()) - 3600,
                                              iat=int(time.time()) - 7200)), r"expired"),
    "not-yet-valid": (lambda i: sign(i, good_claims(i, nbf=int(time.time()) + 3600)),
                      r"not valid before"),
    "wrong-audience": (lambda i: sign(i, good_claims(i, aud="https://evil.test")), r"aud"),
    "no-audience": (lambda i: sign(i, good_claims(i, aud=None)), r"aud is missing"),
    "wrong-issuer": (lambda i: sign(i, good_claims(i, iss="http://127.0.0.1:1")), r"iss"),
    "alg-none": (lambda i: sign(i, good_claims(i), alg="none"), r"alg"),
    "hmac-with-public-key": (_hmac_with_public_key, r"alg"),
    "unknown-kid": (lambda i: sign(i, good_claims(i), kid="no-such-key"), r"no key for kid"),
    "no-typ": (lambda i: sign(i, good_claims(i), header={"typ": None}), r"typ"),
    "id-token-typ": (lambda i: sign(i, good_claims(i), header={"typ": "JWT"}), r"typ"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_jwt_refused_rfc6750(bhttpd, bidp, case):
    make, desc_rx = CASES[case]
    token = make(bidp)
    r = api(bhttpd, "/api/whoami.cgi?format=json", token)
    assert_refused(r, desc_rx=desc_rx)
    assert "whoami" not in r.text
    # the log names the check, never the token
    log = bhttpd.error_log()
    assert "bearer token refused" in log
    assert token not in log and token.split(".")[2] not in log
    # the server keeps serving: a good token still works
    whoami(bhttpd, cc_token(bidp))


def test_alg_none_without_signature_refused(bhttpd, bidp):
    hdr = b64u(json.dumps({"alg": "none", "typ": "at+jwt"}))
    token = hdr + "." + b64u(json.dumps(good_claims(bidp))) + "."
    assert_refused(api(bhttpd, "/api/whoami.cgi?format=json", token))


def test_random_opaque_token_refused(bhttpd, bidp):
    assert_refused(api(bhttpd, "/api/whoami.cgi?format=json", b64u(os.urandom(32))),
                   desc_rx="not active")


def test_missing_token_401_without_error(bhttpd):
    r = api(bhttpd, "/api/whoami.cgi?format=json")
    assert_refused(r, error=None)
    # a browser navigation too: never a redirect on a bearer-only location
    r = api(bhttpd, "/api/whoami.cgi", headers={"Accept": h.HTML_ACCEPT})
    assert_refused(r, error=None)


def test_malformed_authorization_400(bhttpd):
    r = requests.get(bhttpd.url("/api/whoami.cgi"), headers={"Authorization": "Bearer a b"},
                     allow_redirects=False, timeout=10)
    assert_refused(r, status=400, error="invalid_request")


def test_insufficient_scope_403(bhttpd, bidp):
    r = api(bhttpd, "/api-admin/whoami.cgi?format=json", cc_token(bidp, scope="read"))
    ch = assert_refused(r, status=403, error="insufficient_scope")
    assert ch["scope"] == "read admin"
    env = whoami(bhttpd, cc_token(bidp, scope="read admin"),
                 path="/api-admin/whoami.cgi?format=json")
    assert env["TPO_SCOPE"] == "read admin"


def test_require_rules_on_bearer_identity(bhttpd, bidp):
    token = cc_token(bidp)
    assert whoami(bhttpd, token, path="/api-claim/whoami.cgi?format=json")["REMOTE_USER"] \
        == "tpo-cc"
    r = api(bhttpd, "/api-rscope/whoami.cgi?format=json", token)
    ch = assert_refused(r, status=403, error="insufficient_scope")
    assert ch["scope"] == "admin"
    assert whoami(bhttpd, cc_token(bidp, scope="admin"),
                  path="/api-rscope/whoami.cgi?format=json")["TPO_SCOPE"] == "admin"


def test_validation_jwt_only_refuses_opaque(bhttpd, bidp):
    assert whoami(bhttpd, cc_token(bidp), path="/api-jwt/whoami.cgi?format=json")
    n = bidp.stats()["introspection"]
    r = api(bhttpd, "/api-jwt/whoami.cgi?format=json", cc_token(bidp, resource=None, scope=None))
    assert_refused(r, desc_rx="not a JWT")
    assert bidp.stats()["introspection"] == n


def test_validation_introspection_for_every_token(bhttpd, bidp):
    opaque = cc_token(bidp, resource=None, scope=None)
    assert whoami(bhttpd, opaque, path="/api-intro/whoami.cgi?format=json")["REMOTE_USER"] \
        == "tpo-cc"
    # the provider does not introspect its JWT access tokens (unsupported_token_type)
    n = bidp.stats()["introspection"]
    assert_refused(api(bhttpd, "/api-intro/whoami.cgi?format=json", cc_token(bidp)),
                   desc_rx="cannot introspect")
    assert bidp.stats()["introspection"] == n + 1


def test_introspection_client_auth_failure_502(bhttpd, bidp):
    r = api(bhttpd, "/api-bad/whoami.cgi?format=json", cc_token(bidp, resource=None, scope=None))
    assert r.status_code == 502
    assert "Set-Cookie" not in r.headers and "Location" not in r.headers
    assert "apibad: introspection answer unusable" in bhttpd.error_log()
    # JWTs are still checked locally there
    assert whoami(bhttpd, cc_token(bidp), path="/api-bad/whoami.cgi?format=json")


def test_query_parameter_only_where_enabled(bhttpd, bidp):
    token = cc_token(bidp)
    r = api(bhttpd, "/api-q/whoami.cgi?format=json&access_token=" + token)
    assert r.status_code == 200 and r.json()["REMOTE_USER"] == "tpo-cc"
    assert r.headers.get("Cache-Control") == "private" or "private" in r.headers["Cache-Control"]
    # not enabled: the parameter is no token (401 without error)
    assert_refused(api(bhttpd, "/api/whoami.cgi?format=json&access_token=" + token), error=None)
    # twice, or together with the header: 400 invalid_request
    r = api(bhttpd, "/api-q/whoami.cgi?access_token=%s&access_token=%s" % (token, token))
    assert_refused(r, status=400, error="invalid_request")
    r = api(bhttpd, "/api-q/whoami.cgi?access_token=" + token, token)
    assert_refused(r, status=400, error="invalid_request")
    # a bad token in the query is refused like one in the header
    assert_refused(api(bhttpd, "/api-q/whoami.cgi?access_token=" + _tampered(bidp)),
                   desc_rx="signature")


def test_bearer_off_location_ignores_tokens(bhttpd, bidp):
    r = api(bhttpd, "/api-off/whoami.cgi?format=json", cc_token(bidp))
    assert r.status_code == 401
    assert "Bearer" not in r.headers.get("WWW-Authenticate", "")


@pytest.mark.parametrize("line, word", [
    ("TPOAuthBearer maybe", "TPOAuthBearer"),
    ("TPOAuthBearerScope", "TPOAuthBearerScope"),
])
def test_bad_location_directives_refused(bhttpd, bidp, line, word):
    conf = bearer_conf(bidp.issuer, bhttpd.server_root) + \
        "<Location /x/>\n    %s\n</Location>\n" % line
    rc, out = bhttpd.configtest(conf)
    assert rc != 0 and word in out, out


@pytest.mark.parametrize("line, word", [
    ("TPOAuthBearerValidation sometimes", "TPOAuthBearerValidation"),
    ("TPOAuthIntrospectionEndpoint not-a-url", "TPOAuthIntrospectionEndpoint"),
    ("TPOAuthJWKSRefetchInterval 0", "TPOAuthJWKSRefetchInterval"),
    ("TPOAuthIntrospectionCacheMax -1", "TPOAuthIntrospectionCacheMax"),
])
def test_bad_provider_directives_refused(bhttpd, bidp, line, word):
    conf = bearer_conf(bidp.issuer, bhttpd.server_root).replace(
        "    TPOAuthUserinfo off\n", "    TPOAuthUserinfo off\n    %s\n" % line)
    assert line in conf
    rc, out = bhttpd.configtest(conf)
    assert rc != 0 and word in out, out


# ------------------------------------------------------------------ revocation

def test_revoked_opaque_token_refused_after_cache_time(bhttpd, bidp):
    token = cc_token(bidp, resource=None, scope=None)
    whoami(bhttpd, token)
    disc = bidp.discovery()
    r = requests.post(disc["revocation_endpoint"], data={"token": token},
                      auth=("tpo-cc", "tpo-cc-secret"), timeout=10)
    assert r.status_code == 200, r.text
    # remembered as active for at most TPOAuthIntrospectionCacheMax
    deadline = time.monotonic() + INTRO_MAX + 3
    while True:
        r = api(bhttpd, "/api/whoami.cgi?format=json", token)
        if r.status_code != 200:
            break
        assert time.monotonic() < deadline, "revoked token still accepted after the cache time"
        time.sleep(0.25)
    assert_refused(r, desc_rx="not active")
    # the inactive answer is remembered briefly: no new introspection meanwhile
    n = bidp.stats()["introspection"]
    assert_refused(api(bhttpd, "/api/whoami.cgi?format=json", token))
    assert bidp.stats()["introspection"] == n


# ------------------------------------------------------------------ mixed

def test_mixed_location_session_token_neither(bhttpd, bidp):
    browser = h.browser_session()
    try:
        resp = h.oidc_login(browser, bhttpd.url("/app/whoami.cgi?format=json"), "alice")
        assert resp.status_code == 200, resp.text[:300]
        env = browser.get(bhttpd.url("/app/whoami.cgi?format=json"), timeout=10).json()
        assert env["REMOTE_USER"] == "alice"
        assert env["AUTH_TYPE"] == "tp-oauth"
        # a bearer token on the same location: the token's identity
        env = whoami(bhttpd, cc_token(bidp), path="/app/whoami.cgi?format=json")
        assert env["REMOTE_USER"] == "tpo-cc"
        assert env["AUTH_TYPE"] == "Bearer"
        # a bad token is refused even next to a good session cookie
        r = browser.get(bhttpd.url("/app/whoami.cgi?format=json"), timeout=10,
                        headers={"Authorization": "Bearer " + b64u(os.urandom(20))},
                        allow_redirects=False)
        assert_refused(r)
    finally:
        browser.close()
    # neither: as configured (login for a navigation, 401 with both challenges for an API call)
    r = requests.get(bhttpd.url("/app/whoami.cgi"), headers={"Accept": h.HTML_ACCEPT},
                     allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"].startswith(bidp.issuer)
    r = requests.get(bhttpd.url("/app/whoami.cgi"), headers={"Accept": "application/json"},
                     allow_redirects=False, timeout=10)
    assert r.status_code == 401
    assert "TP-OAuth" in r.headers["WWW-Authenticate"]
    assert challenge(r) == {"realm": "api"}


# ------------------------------------------------------------------ kid flood

@pytest.mark.slow
def test_random_kid_flood_one_jwks_fetch_per_interval(bhttpd, bidp):
    # every process has its key set (or finds it in the shared cache)
    for _ in range(8):
        whoami(bhttpd, sign(bidp, good_claims(bidp)))
    bidp.reset_stats()
    claims = good_claims(bidp)
    duration = 10.0
    start = time.monotonic()
    statuses = {}

    def flood():
        s = requests.Session()
        # a kept-alive connection the server closes meanwhile (a child that
        # exits) is retried once: GET, idempotent
        s.mount("http://", requests.adapters.HTTPAdapter(max_retries=Retry(
            total=2, connect=2, read=2, allowed_methods=None, status_forcelist=())))
        n = 0
        while time.monotonic() - start < duration:
            token = sign(bidp, claims, kid="kid-%016x" % random.getrandbits(64),
                         fake_sig=True)
            r = s.get(bhttpd.url("/api/whoami.cgi"), timeout=10,
                      headers={"Authorization": "Bearer " + token})
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            n += 1
        s.close()
        return n

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        total = sum(ex.map(lambda _: flood(), range(4)))
    elapsed = time.monotonic() - start
    fetches = bidp.stats()["jwks"]
    print("kid flood: %d requests in %.1f s, %d JWKS fetches, pids %s" % (
        total, elapsed, fetches, sorted({e["pid"] for e in bhttpd.access_entries()[-total:]})))
    assert total > 50, total
    assert set(statuses) == {401}, statuses
    # at most one fetch per started interval, across all processes
    assert 1 <= fetches <= math.floor(elapsed / REFETCH) + 1, (fetches, elapsed, total)
    # and the module still serves good tokens
    whoami(bhttpd, cc_token(bidp))


# ------------------------------------------------------------------ key rotation (runs last)

def test_key_rotation_new_keys_used_by_every_process(bhttpd, bidp):
    """The provider rotates its keys: the first token with the new kid makes
    one process fetch the key set; the others take it from the shared cache
    (no fetch of their own, even within their own refetch interval)."""
    whoami(bhttpd, cc_token(bidp))  # every key set in use is the old one
    time.sleep(REFETCH + 0.5)       # the gate of earlier tests has expired
    os.unlink(bidp.keys_file)
    bidp.restart()                  # same issuer, new keys (new kids)
    bidp.reset_stats()
    # the first token with a new kid (a brand-new kid arriving in several
    # processes while one fetches may be refused there for that moment)
    whoami(bhttpd, cc_token(bidp))
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        envs = list(ex.map(lambda _: whoami(bhttpd, cc_token(bidp)), range(24)))
    assert all(e["REMOTE_USER"] == "tpo-cc" for e in envs)
    assert bidp.stats()["jwks"] == 1
    pids = {e["pid"] for e in bhttpd.access_entries()[-25:]}
    assert len(pids) >= 2, pids
    print("rotation: %d requests served by processes %s" % (len(envs), sorted(pids)))
