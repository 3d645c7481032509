# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""Per-location authorization requests and step-up authentication (issue 15
item 4): TPOAuthAuthRequestParam, TPOAuthRequireACR, TPOAuthMaxAuthAge.

The real oidc-provider (test/idp/server.mjs) runs with TPO_IDP_ACR="bronze
silver gold": the password typed at its login form is the login's acr (the
harness's default password gives bronze), and a request whose acr_values the
provider session does not meet shows the login form again. max_age and
prompt=login are oidc-provider's own."""

import base64
import html
import json
import os
import re
import time
import urllib.parse
import uuid

import pytest
import requests

import tpo_harness as h

COOKIE = "tp_oauth_idp"
SKEW = 1          # TPOAuthClockSkew of the provider
MAX_AUTH_AGE = 3  # TPOAuthMaxAuthAge of /fresh/
XHR = {"X-Requested-With": "XMLHttpRequest", "Accept": "application/json"}
RESOURCE = "https://api.test"  # TPOAuthBearerAudience (bearer tokens, RFC 9470)


class AcrIdP(h.IdP):
    """The test IdP with acr values (TPO_IDP_ACR)."""

    name = "idp-acr"

    def _spawn(self, argv, env=None):
        env = dict(env or {})
        env["TPO_IDP_ACR"] = "bronze silver gold"
        super()._spawn(argv, env)


@pytest.fixture(scope="module")
def acr_idp(workdir, http_port):
    server = AcrIdP(workdir, h.idp_clients(http_port),
                    keys_file=os.path.join(workdir, "idp-acr-keys.json"))
    server.start()
    yield server
    server.stop()


def admin_conf():
    load = ""
    if "authz_host" not in h.apache_builtin_modules():
        load = "LoadModule authz_host_module %s\n" % os.path.join(h.APACHE_MODULES,
                                                                  "mod_authz_host.so")
    return load + "<Location /tpo-admin>\n    SetHandler tp-oauth-admin\n    Require local\n" \
                  "</Location>\n"


def stepup_conf(httpd, issuer):
    app = os.path.join(httpd.server_root, "app")
    conf = "TPOAuthCacheSize 16M\n"
    conf += h.provider_conf("idp", issuer, extra="""
        TPOAuthClockSkew %d
        TPOAuthAuthParam ui_locales fr
        TPOAuthBearerAudience %s
    """ % (SKEW, RESOURCE))
    for alias in ("/gold/", "/fresh/", "/params/", "/pass401/", "/api-gold/", "/api-fresh/"):
        conf += 'ScriptAlias %s "%s/"\n' % (alias, app)
    conf += h.protect_conf("/app/")
    conf += h.protect_conf("/gold/", extra="TPOAuthRequireACR gold")
    conf += h.protect_conf("/fresh/", extra="TPOAuthMaxAuthAge %d" % MAX_AUTH_AGE)
    conf += h.protect_conf("/params/", extra="""
        TPOAuthAuthRequestParam scope "openid email"
        TPOAuthAuthRequestParam acr_values silver
        TPOAuthAuthRequestParam max_age 600
        TPOAuthAuthRequestParam prompt login
        TPOAuthAuthRequestParam login_hint dora@example.test
        TPOAuthAuthRequestParam ui_locales "de-CH en"
    """)
    # a sub-location: its own prompt, everything else from /params/
    conf += ("<Location /params/sub/>\n    TPOAuthAuthRequestParam prompt consent\n"
             "</Location>\n")
    conf += h.protect_conf("/pass401/", extra="TPOAuthRequireACR gold\n"
                                              "TPOAuthUnauthenticated 401")
    conf += h.protect_conf("/api-gold/", extra="TPOAuthBearer only\nTPOAuthRequireACR gold silver")
    conf += h.protect_conf("/api-fresh/", extra="TPOAuthBearer only\nTPOAuthMaxAuthAge %d"
                           % MAX_AUTH_AGE)
    return conf + admin_conf()


@pytest.fixture
def server(httpd, acr_idp):
    return httpd.ensure(stepup_conf(httpd, acr_idp.issuer))


def user(prefix):
    """A fresh login name per test (sessions outlive the tests)."""
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def whoami(resp):
    assert resp.status_code == 200, "%s %s:\n%s" % (resp.status_code, resp.url, resp.text[:2000])
    assert resp.headers.get("Content-Type", "").startswith("application/json"), resp.text[:2000]
    return resp.json()


def page(server, path):
    return server.url(path + "whoami.cgi?format=json")


def login(server, name, path="/app/", password="any-password", session=None):
    s = session or h.browser_session()
    r = h.oidc_login(s, page(server, path), name, password=password)
    return s, r


def authz_query(resp):
    assert resp.status_code == 302, "%s:\n%s" % (resp.status_code, resp.text[:2000])
    parts = urllib.parse.urlsplit(resp.headers["Location"])
    q = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    assert all(len(v) == 1 for v in q.values()), q
    return {k: v[0] for k, v in q.items()}


def sessions_of(server, sub):
    r = requests.get(server.url("/tpo-admin"), params={"sub": sub}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["sessions"]


def challenge_params(value):
    """auth-params of a WWW-Authenticate value 'Bearer a="b", c="d"'."""
    assert value.startswith("Bearer "), value
    return dict(re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', value))


def log_since(server, mark):
    return server.error_log()[mark:]


# ------------------------------------------------------------ per-location parameters

def test_location_params_in_the_authorization_request(server, acr_idp):
    b = h.browser_session()
    # the provider's parameters where the location sets none
    q = authz_query(b.get(page(server, "/app/"), allow_redirects=False, timeout=10))
    assert q["scope"] == "openid email profile groups" and q["ui_locales"] == "fr", q
    for name in ("acr_values", "max_age", "prompt", "login_hint"):
        assert name not in q, q
    # the location's replace them
    q = authz_query(b.get(page(server, "/params/"), allow_redirects=False, timeout=10))
    assert q["scope"] == "openid email", q
    assert q["acr_values"] == "silver" and q["max_age"] == "600" and q["prompt"] == "login", q
    assert q["login_hint"] == "dora@example.test" and q["ui_locales"] == "de-CH en", q
    assert q["nonce"] and q["code_challenge_method"] == "S256", q
    # a sub-location merges parameter by parameter
    q = authz_query(b.get(page(server, "/params/sub/"), allow_redirects=False, timeout=10))
    assert q["prompt"] == "consent" and q["scope"] == "openid email", q
    assert q["acr_values"] == "silver" and q["login_hint"] == "dora@example.test", q


def test_location_params_login_completes(server, acr_idp):
    """The provider takes the parameters; acr_values alone demands nothing of
    the result (a bronze login is fine on /params/)."""
    name = user("dora")
    s, r = login(server, name, path="/params/")
    me = whoami(r)
    assert me["REMOTE_USER"] == name
    # the ID token carries the acr the provider gave (not the one asked for) and,
    # max_age having been asked, auth_time
    assert me.get("TPO_CLAIM_acr") == "bronze", me
    assert abs(int(me["TPO_CLAIM_auth_time"]) - time.time()) < 60, me
    r = s.get(page(server, "/params/"), timeout=10)
    assert whoami(r)["REMOTE_USER"] == name


@pytest.mark.parametrize("line, message", [
    ("TPOAuthAuthRequestParam max_age -1", "max_age: expected a whole number"),
    ("TPOAuthAuthRequestParam max_age 5m", "max_age: expected a whole number"),
    ("TPOAuthAuthRequestParam prompt silent", "'silent' is not one of"),
    ("TPOAuthAuthRequestParam prompt \"none login\"", "none cannot be combined"),
    ("TPOAuthAuthRequestParam scope \"openid  email\"", "scope: expected"),
    ("TPOAuthAuthRequestParam ui_locales de_CH", "ui_locales: expected"),
    ("TPOAuthAuthRequestParam state abc", "'state' is not one of"),
    ("TPOAuthRequireACR \"gold silver\"", "is not an acr value"),
    ("TPOAuthRequireACR", "needs at least one acr value"),
    ("TPOAuthMaxAuthAge 0", "TPOAuthMaxAuthAge: '0' must be a whole number from 1"),
    ("TPOAuthMaxAuthAge soon", "TPOAuthMaxAuthAge: 'soon' must be a whole number"),
])
def test_configtest_refuses_bad_values(httpd, acr_idp, line, message):
    conf = h.provider_conf("idp", acr_idp.issuer) + h.protect_conf("/app/", extra=line)
    rc, out = httpd.configtest(conf)
    assert rc != 0 and message in out, out


def test_configtest_refuses_params_in_provider(httpd, acr_idp):
    conf = (h.provider_conf("idp", acr_idp.issuer, extra="TPOAuthRequireACR gold")
            + h.protect_conf("/app/"))
    rc, out = httpd.configtest(conf)
    assert rc != 0 and "TPOAuthRequireACR not allowed in <TPOAuthProvider>" in out, out


# ------------------------------------------------------------ step-up by acr

def test_stepup_acr_second_login_one_session(server, acr_idp):
    name = user("alice")
    s, r = login(server, name)
    assert whoami(r)["REMOTE_USER"] == name
    first = s.cookies.get(COOKIE)
    assert first and len(sessions_of(server, name)) == 1

    # an XHR gets the RFC 9470 challenge, never a redirect or a login cookie
    r = s.get(page(server, "/gold/"), headers=XHR, allow_redirects=False, timeout=10)
    assert r.status_code == 401, r.text[:1000]
    params = challenge_params(r.headers["WWW-Authenticate"])
    assert params["error"] == "insufficient_user_authentication", params
    assert params["acr_values"] == "gold" and "max_age" not in params, params
    assert params["error_description"], params
    assert not any("_login_" in c for c in h.set_cookie_headers(r)), h.set_cookie_headers(r)

    # a navigation is sent to log in again, with acr_values and no prompt
    r = s.get(page(server, "/gold/"), allow_redirects=False, timeout=10)
    q = authz_query(r)
    assert q["acr_values"] == "gold" and "prompt" not in q and "max_age" not in q, q
    assert q["ui_locales"] == "fr", q  # the provider's own parameters stay

    # the provider asks again (its session is bronze); a gold login brings the user back
    r = h.oidc_login(s, page(server, "/gold/"), name, password="gold")
    assert whoami(r)["REMOTE_USER"] == name
    assert any("acr_values=gold" in (x.headers.get("Location") or "") for x in r.tpo_steps)
    assert any("/interaction/" in x.url for x in r.tpo_steps), "no second login at the IdP"
    second = s.cookies.get(COOKIE)
    assert second and second != first  # a fresh id for the stronger authentication

    # one session: the same cookie opens both locations, the old id is gone
    assert whoami(s.get(page(server, "/gold/"), timeout=10))["REMOTE_USER"] == name
    assert whoami(s.get(page(server, "/app/"), timeout=10))["REMOTE_USER"] == name
    r = s.get(page(server, "/gold/"), headers=XHR, allow_redirects=False, timeout=10)
    assert r.status_code == 200, r.text[:500]
    assert len(sessions_of(server, name)) == 1
    old = requests.get(page(server, "/app/"), headers=XHR, cookies={COOKIE: first}, timeout=10,
                       allow_redirects=False)
    assert old.status_code == 401, old.text[:500]
    assert "step-up of %s through provider idp" % name in server.error_log()


def test_stepup_without_session_logs_in_with_acr(server, acr_idp):
    name = user("bert")
    b = h.browser_session()
    q = authz_query(b.get(page(server, "/gold/"), allow_redirects=False, timeout=10))
    assert q["acr_values"] == "gold" and "prompt" not in q, q
    s, r = login(server, name, path="/gold/", password="gold", session=b)
    assert whoami(r)["REMOTE_USER"] == name
    assert len(sessions_of(server, name)) == 1


def test_stepup_insufficient_acr_refused_old_session_kept(server, acr_idp):
    name = user("bob")
    s, r = login(server, name)
    first = s.cookies.get(COOKIE)
    mark = len(server.error_log())
    # the user picks silver where gold is demanded
    r = h.oidc_login(s, page(server, "/gold/"), name, password="silver")
    assert r.status_code == 403, "%s %s\n%s" % (r.status_code, r.url, r.text[:2000])
    assert "Stronger authentication required" in r.text
    assert urllib.parse.urlsplit(r.url).path == h.REDIRECT_PATH
    log = log_since(server, mark)
    assert re.search(r'step-up for %s refused: the ID token has acr "silver" \(the location '
                     r'demands acr one of gold\)' % re.escape(name), log), log[-3000:]
    # the old session is untouched, still not enough for /gold/
    assert s.cookies.get(COOKIE) == first
    assert whoami(s.get(page(server, "/app/"), timeout=10))["REMOTE_USER"] == name
    r = s.get(page(server, "/gold/"), headers=XHR, allow_redirects=False, timeout=10)
    assert r.status_code == 401 and "insufficient_user_authentication" in \
        r.headers["WWW-Authenticate"]
    assert len(sessions_of(server, name)) == 1
    # a first login on /gold/ with too weak an acr opens no session at all
    other = user("bob2")
    b, r = login(server, other, path="/gold/")
    assert r.status_code == 403, r.text[:1000]
    assert not b.cookies.get(COOKIE)
    assert sessions_of(server, other) == []


def test_stepup_by_another_user_refused(server, acr_idp):
    name, intruder = user("carol"), user("mallory")
    s, r = login(server, name)
    first = s.cookies.get(COOKIE)
    mark = len(server.error_log())
    # at the provider's login form somebody else signs in, with the right acr
    r = h.oidc_login(s, page(server, "/gold/"), intruder, password="gold")
    assert r.status_code == 403, "%s %s\n%s" % (r.status_code, r.url, r.text[:2000])
    assert "Login refused" in r.text and "different user" in html.unescape(r.text)
    log = log_since(server, mark)
    assert ("step-up for the session of %s refused: %s logged in (another subject); the "
            "session is kept" % (name, intruder)) in log, log[-3000:]
    # the session is the user's, unchanged; the intruder has none
    assert s.cookies.get(COOKIE) == first
    assert whoami(s.get(page(server, "/app/"), timeout=10))["REMOTE_USER"] == name
    assert len(sessions_of(server, name)) == 1
    assert sessions_of(server, intruder) == []


def test_stepup_401_location_never_redirects(server, acr_idp):
    """TPOAuthUnauthenticated 401: a navigation lacking acr gets the
    challenge too."""
    name = user("erin")
    s, r = login(server, name)
    r = s.get(page(server, "/pass401/"), allow_redirects=False, timeout=10)
    assert r.status_code == 401, r.text[:500]
    assert challenge_params(r.headers["WWW-Authenticate"])["acr_values"] == "gold"


# ------------------------------------------------------------ step-up by age

def test_stepup_max_age(server, acr_idp):
    name = user("frank")
    s, r = login(server, name)
    # the first login asked for no max_age: its auth_time is unknown, too old for /fresh/
    r = s.get(page(server, "/fresh/"), headers=XHR, allow_redirects=False, timeout=10)
    assert r.status_code == 401, r.text[:500]
    params = challenge_params(r.headers["WWW-Authenticate"])
    assert params["error"] == "insufficient_user_authentication", params
    assert params["max_age"] == str(MAX_AUTH_AGE) and "acr_values" not in params, params
    q = authz_query(s.get(page(server, "/fresh/"), allow_redirects=False, timeout=10))
    assert q["max_age"] == str(MAX_AUTH_AGE) and q["prompt"] == "login", q
    # the provider asks for the password again (prompt=login)
    r = h.oidc_login(s, page(server, "/fresh/"), name)
    assert whoami(r)["REMOTE_USER"] == name
    assert any("/interaction/" in x.url for x in r.tpo_steps), "no login at the IdP"
    assert len(sessions_of(server, name)) == 1
    # fresh now, for XHRs too
    r = s.get(page(server, "/fresh/"), headers=XHR, allow_redirects=False, timeout=10)
    assert r.status_code == 200, r.text[:500]
    # once older than TPOAuthMaxAuthAge (+ the clock skew) it is stale again
    time.sleep(MAX_AUTH_AGE + SKEW + 1.5)
    r = s.get(page(server, "/fresh/"), headers=XHR, allow_redirects=False, timeout=10)
    assert r.status_code == 401, r.text[:500]
    q = authz_query(s.get(page(server, "/fresh/"), allow_redirects=False, timeout=10))
    assert q["max_age"] == str(MAX_AUTH_AGE) and q["prompt"] == "login", q
    # /app/ demands nothing: the session goes on there
    assert whoami(s.get(page(server, "/app/"), timeout=10))["REMOTE_USER"] == name
    r = h.oidc_login(s, page(server, "/fresh/"), name)
    assert whoami(r)["REMOTE_USER"] == name
    assert len(sessions_of(server, name)) == 1


# ------------------------------------------------------------ bearer tokens (RFC 9470)

def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_int(v):
    return int.from_bytes(base64.urlsafe_b64decode(v + "=" * (-len(v) % 4)), "big")


def access_token(idp, **claims):
    """A JWT access token signed with the IdP's own RSA key (its --keys file)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    with open(idp.keys_file) as f:
        jwk = [k for k in json.load(f)["keys"] if k["kty"] == "RSA"][0]
    pub = rsa.RSAPublicNumbers(b64u_int(jwk["e"]), b64u_int(jwk["n"]))
    key = rsa.RSAPrivateNumbers(b64u_int(jwk["p"]), b64u_int(jwk["q"]), b64u_int(jwk["d"]),
                                b64u_int(jwk["dp"]), b64u_int(jwk["dq"]), b64u_int(jwk["qi"]),
                                pub).private_key()
    now = int(time.time())
    body = {"iss": idp.issuer, "aud": RESOURCE, "sub": "api-user", "scope": "read",
            "iat": now - 2, "exp": now + 600, "jti": b64u(os.urandom(12))}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    signing_input = (b64u(json.dumps({"alg": "RS256", "typ": "at+jwt", "kid": jwk["kid"]}))
                     + "." + b64u(json.dumps(body))).encode()
    sig = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return signing_input.decode() + "." + b64u(sig)


def bearer_get(server, path, token):
    return requests.get(server.url(path + "whoami.cgi?format=json"), timeout=10,
                        headers={"Authorization": "Bearer " + token,
                                 "Accept": "application/json"}, allow_redirects=False)


def test_bearer_token_acr_checked(server, acr_idp):
    ok = access_token(acr_idp, acr="silver")
    for _ in range(2):  # checked, then remembered: the memo keeps acr too
        r = bearer_get(server, "/api-gold/", ok)
        assert whoami(r)["REMOTE_USER"] == "api-user"
    for claims in ({"acr": "bronze"}, {"acr": None}, {"acr": 5}):
        token = access_token(acr_idp, **claims)
        for _ in range(2):
            r = bearer_get(server, "/api-gold/", token)
            assert r.status_code == 401, (claims, r.status_code, r.text[:500])
            params = challenge_params(r.headers["WWW-Authenticate"])
            assert params["error"] == "insufficient_user_authentication", params
            assert params["acr_values"] == "gold silver" and "max_age" not in params, params
    assert "bearer token of api-user lacks the authentication this location demands (acr)" \
        in server.error_log()


def test_bearer_token_auth_time_checked(server, acr_idp):
    now = int(time.time())
    r = bearer_get(server, "/api-fresh/", access_token(acr_idp, auth_time=now - 1))
    assert whoami(r)["REMOTE_USER"] == "api-user"
    for claims in ({"auth_time": now - 60}, {"auth_time": None}, {"auth_time": "now"}):
        r = bearer_get(server, "/api-fresh/", access_token(acr_idp, **claims))
        assert r.status_code == 401, (claims, r.status_code, r.text[:500])
        params = challenge_params(r.headers["WWW-Authenticate"])
        assert params["error"] == "insufficient_user_authentication", params
        assert params["max_age"] == str(MAX_AUTH_AGE) and "acr_values" not in params, params
