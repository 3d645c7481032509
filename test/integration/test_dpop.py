# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""DPoP (RFC 9449; issue 15, item 3) against a real httpd with the module and mod_proxy,
the real oidc-provider (test/idp: DPoP is on in oidc-provider 9; one instance requires
nonces, one offers only EdDSA) and a DPoP-checking resource server (test/rs/dpop_rs.mjs)
that verifies each proof and compares its key with the token's cnf.jkt from introspection:

  * TPOAuthDPoP on: the login's token request, the userinfo request and every refresh carry
    a proof; the provider issues DPoP-bound tokens (introspection: token_type DPoP, cnf.jkt of
    the session's key, the same key after a refresh);
  * the provider's nonce: use_dpop_nonce answered by a second request with DPoP-Nonce, on the
    token endpoint (400) and at userinfo (401 + WWW-Authenticate);
  * the algorithm from dpop_signing_alg_values_supported (ES256, else EdDSA);
  * backends: TPOAuthDPoPProof gives the proxied request Authorization: DPoP and a fresh proof
    the resource server accepts (htu from mod_proxy's target, or from a configured URL base);
    the same token without its proof is refused (401); a client's own DPoP header never
    reaches the backend;
  * failures: the provider refuses the proof -> 502 page naming it and a log line, other
    sessions keep working, the server keeps serving; TPOAuthDPoPProof's bad arguments are
    refused by configtest.
"""

import base64
import json
import os
import subprocess
import urllib.request

import pytest
import requests

import tpo_harness as h

RS_SERVER = os.path.join(h.REPO, "test", "rs", "dpop_rs.mjs")
XHR = {"Accept": "application/json", "X-Requested-With": "XMLHttpRequest"}


class DpopIdP(h.IdP):
    """test/idp with the DPoP options of its opt-in block (env)."""

    def __init__(self, workdir, clients, name, env):
        super().__init__(workdir, clients, keys_file=os.path.join(workdir, "dpop-keys.json"))
        self.name = name
        self.log_path = os.path.join(workdir, "%s.log" % name)
        self.env = env

    def start(self, timeout=20.0):
        self.clients_file = os.path.join(self.workdir, "%s-clients.json" % self.name)
        with open(self.clients_file, "w") as f:
            json.dump(self.clients, f, indent=2)
        env = {"NODE_NO_WARNINGS": "1"}
        env.update(self.env)
        self._spawn([h.NODE_BIN, h.IDP_SERVER, "--port", str(self.port),
                     "--clients", self.clients_file, "--keys", self.keys_file,
                     "--at-ttl", "3600", "--max-seconds", "3600"], env=env)

        def ready():
            self._check_alive()
            status, _ = h.http_get(self.issuer + "/.well-known/openid-configuration")
            return status == 200
        h.wait_until(ready, timeout, what="the IdP's discovery document")
        return self

    def dpop_stats(self):
        status, body = h.http_get(self.issuer + "/__dpop")
        assert status == 200
        return json.loads(body)

    def refuse(self, on):
        req = urllib.request.Request(self.issuer + "/__dpop/refuse",
                                     data=json.dumps({"on": on}).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=3) as r:
            assert json.loads(r.read())["refuse"] is on

    def introspect(self, token):
        r = requests.post(self.issuer + "/token/introspection", data={"token": token},
                          auth=(h.CLIENT_ID, h.CLIENT_SECRET), timeout=5)
        assert r.status_code == 200, r.text
        return r.json()


class ResourceServer(h._NodeServer):
    name = "dpop_rs"

    def __init__(self, workdir, issuer):
        super().__init__(workdir)
        self.port = h.free_port()
        self.issuer = issuer

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, timeout=20.0):
        self._spawn([h.NODE_BIN, RS_SERVER, "--port", str(self.port), "--issuer", self.issuer,
                     "--client-id", h.CLIENT_ID, "--client-secret", h.CLIENT_SECRET,
                     "--max-seconds", "3600"])

        def ready():
            self._check_alive()
            return h.http_get(self.base + "/__log")[0] == 200
        h.wait_until(ready, timeout, what="the DPoP resource server")
        return self

    def log_entries(self):
        status, body = h.http_get(self.base + "/__log")
        assert status == 200
        return json.loads(body)

    def reset(self):
        req = urllib.request.Request(self.base + "/__log/reset", data=b"", method="POST")
        urllib.request.urlopen(req, timeout=3).read()


PATHS = ["/app/redirect_uri", "/nonce/redirect_uri", "/ed/redirect_uri", "/off/redirect_uri",
         "/rsa/redirect_uri"]


@pytest.fixture(scope="module")
def idps(workdir, http_port):
    clients = h.idp_clients(http_port, PATHS[1:])
    servers = {
        "idp": DpopIdP(workdir, clients, "dpop-idp", {}),
        "nonce": DpopIdP(workdir, clients, "dpop-nonce-idp", {"TPO_IDP_DPOP_NONCE": "1"}),
        "ed": DpopIdP(workdir, clients, "dpop-ed-idp", {"TPO_IDP_DPOP_ALGS": "EdDSA"}),
        "rsa": DpopIdP(workdir, clients, "dpop-rsa-idp", {"TPO_IDP_DPOP_ALGS": "PS256"}),
    }
    for s in servers.values():
        s.start()
    yield servers
    for s in servers.values():
        s.stop()


@pytest.fixture(scope="module")
def rs(workdir, idps):
    server = ResourceServer(workdir, idps["idp"].issuer).start()
    yield server
    server.stop()


def dpop_conf(httpd, idps, rs):
    root = httpd.server_root
    c = "TPOAuthCacheSize 16M\n"
    c += h.provider_conf("idp", idps["idp"].issuer,
                         extra="TPOAuthDPoP on\nTPOAuthInfoAccessToken on")
    c += h.protect_conf()
    for name, idp_name, extra in (("nonce", "nonce", "TPOAuthDPoP on"),
                                  ("ed", "ed", "TPOAuthDPoP on"),
                                  ("rsa", "rsa", "TPOAuthDPoP on"),
                                  ("off", "idp", "")):
        c += h.provider_conf(name, idps[idp_name].issuer, redirect_uri="/%s/redirect_uri" % name,
                             extra="TPOAuthCookieName tpo_%s\nTPOAuthInfoAccessToken on\n%s"
                                   % (name, extra))
        c += 'ScriptAlias /%s/ "%s/app/"\n' % (name, root)
        c += h.protect_conf("/%s/" % name, provider=name)

    def proxied(path, provider, *lines):
        body = "\n".join("    " + x for x in ["AuthType tp-oauth", 'AuthName "api"',
                                                "TPOAuthProvider %s" % provider,
                                                "Require valid-user",
                                                "TPOAuthBackendToken user"] + list(lines))
        return "<Location %s>\n%s\n    ProxyPass %s%s\n</Location>\n" % (path, body, rs.base, path)
    c += proxied("/api/", "idp", "TPOAuthDPoPProof on")
    c += proxied("/apib/", "idp", "TPOAuthDPoPProof %s/" % rs.base)
    c += proxied("/apinp/", "idp")
    return c


@pytest.fixture(scope="module")
def rig(httpd, idps, rs):
    httpd.ensure(dpop_conf(httpd, idps, rs))
    return httpd


def login(httpd, prefix, user, cookie_name):
    s = h.browser_session()
    r = h.oidc_login(s, httpd.url("%s/whoami.cgi?format=json" % prefix), user)
    assert r.status_code == 200, (r.status_code, r.url, r.text[:1500],
                                  httpd.log_lines()[-10:])
    assert r.json()["REMOTE_USER"] == user
    assert s.cookies.get(cookie_name)
    return s


def info(httpd, s, prefix):
    r = s.get(httpd.url("%s/redirect_uri/info" % prefix), headers=XHR, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def refresh(httpd, s, prefix):
    hd = dict(XHR, Origin=httpd.base)
    return s.post(httpd.url("%s/redirect_uri/refresh" % prefix), headers=hd, timeout=15)


# ============================================================== login, userinfo, refresh

def test_login_gets_dpop_bound_token(rig, idps):
    idp = idps["idp"]
    idp.refuse(False)           # also clears the counters
    s = login(rig, "/app", "dpopuser", "tp_oauth_idp")
    i = info(rig, s, "/app")
    assert i["token_type"] == "DPoP"
    at = i["access_token"]
    intro = idp.introspect(at)
    assert intro["active"] is True
    assert intro["token_type"] == "DPoP", intro
    assert intro["cnf"]["jkt"], intro
    stats = idp.dpop_stats()
    # a proof on the code exchange and on userinfo (TPOAuthUserinfo on by default)
    assert stats["proofs"].get("token") == 1, stats
    assert stats["proofs"].get("userinfo") == 1, stats
    assert stats["algs"] == {"ES256": 2}, stats    # ES256 preferred
    assert stats["use_dpop_nonce"] == 0
    # the same token as Bearer is refused by the provider's own userinfo
    r = requests.get(idp.discovery()["userinfo_endpoint"],
                     headers={"Authorization": "Bearer " + at}, timeout=5)
    assert r.status_code in (400, 401), r.status_code
    # the session keeps working
    assert s.get(rig.url("/app/whoami.cgi?format=json"), timeout=5).json()["REMOTE_USER"] == "dpopuser"
    s.close()


def test_refresh_keeps_the_binding(rig, idps):
    idp = idps["idp"]
    s = login(rig, "/app", "refresher", "tp_oauth_idp")
    at1 = info(rig, s, "/app")["access_token"]
    jkt1 = idp.introspect(at1)["cnf"]["jkt"]
    idp.refuse(False)
    r = refresh(rig, s, "/app")
    assert r.status_code == 200 and r.json()["refreshed"] is True, (r.status_code, r.text)
    at2 = info(rig, s, "/app")["access_token"]
    assert at2 != at1 and info(rig, s, "/app")["token_type"] == "DPoP"
    intro = idp.introspect(at2)
    assert intro["token_type"] == "DPoP" and intro["cnf"]["jkt"] == jkt1, intro
    assert idp.dpop_stats()["proofs"].get("token") == 1
    # another session has another key
    s2 = login(rig, "/app", "refresher", "tp_oauth_idp")
    assert idp.introspect(info(rig, s2, "/app")["access_token"])["cnf"]["jkt"] != jkt1
    s.close()
    s2.close()


def test_nonce_challenge_answered(rig, idps):
    """The provider requires nonces: every first proof gets use_dpop_nonce (400 at the
    token endpoint, 401 at userinfo), the module answers it once with the nonce."""
    idp = idps["nonce"]
    idp.refuse(False)
    s = login(rig, "/nonce", "noncer", "tpo_nonce")
    stats = idp.dpop_stats()
    # token: challenged then accepted; userinfo: challenged then accepted
    assert stats["proofs"].get("token") == 2, stats
    assert stats["proofs"].get("userinfo") == 2, stats
    assert stats["use_dpop_nonce"] == 2, stats
    at = info(rig, s, "/nonce")["access_token"]
    assert idp.introspect(at)["token_type"] == "DPoP"
    # the refresh uses the remembered nonce (or is challenged once more when it changed)
    r = refresh(rig, s, "/nonce")
    assert r.status_code == 200 and r.json()["refreshed"] is True, (r.status_code, r.text)
    assert idp.introspect(info(rig, s, "/nonce")["access_token"])["token_type"] == "DPoP"
    assert "DPoP nonce" in rig.error_log()
    s.close()


def test_eddsa_when_the_provider_offers_only_eddsa(rig, idps):
    idp = idps["ed"]
    assert idp.discovery()["dpop_signing_alg_values_supported"] == ["EdDSA"]
    idp.refuse(False)
    s = login(rig, "/ed", "eddy", "tpo_ed")
    assert idp.dpop_stats()["algs"] == {"EdDSA": 2}
    intro = idp.introspect(info(rig, s, "/ed")["access_token"])
    assert intro["token_type"] == "DPoP" and intro["cnf"]["jkt"]
    s.close()


def test_dpop_off_keeps_bearer(rig, idps):
    idp = idps["idp"]
    idp.refuse(False)
    s = login(rig, "/off", "plain", "tpo_off")
    assert info(rig, s, "/off")["token_type"] == "Bearer"
    intro = idp.introspect(info(rig, s, "/off")["access_token"])
    assert intro["token_type"] == "Bearer" and "cnf" not in intro, intro
    assert idp.dpop_stats()["proofs"] == {}
    s.close()


# ============================================================== backends

def test_backend_gets_token_with_fresh_proof(rig, idps, rs):
    idp = idps["idp"]
    s = login(rig, "/app", "apiuser", "tp_oauth_idp")
    jkt = idp.introspect(info(rig, s, "/app")["access_token"])["cnf"]["jkt"]
    rs.reset()
    for path in ("/api/orders/1?x=1&y=2", "/api/orders/1", "/apib/things"):
        r = s.get(rig.url(path), headers={"Accept": "application/json"}, timeout=10)
        assert r.status_code == 200, (path, r.status_code, r.text, rs.log_entries())
        body = r.json()
        assert body["sub"] == "apiuser" and body["jkt"] == jkt and body["token_type"] == "DPoP"
    # a POST gets a proof for POST (htm)
    r = s.post(rig.url("/api/orders"), data=b"{}", headers={"Accept": "application/json"},
               timeout=10)
    assert r.status_code == 200, (r.status_code, r.text)
    entries = rs.log_entries()
    assert [e["status"] for e in entries] == [200, 200, 200, 200], entries
    s.close()


def test_token_without_proof_is_refused(rig, idps, rs):
    s = login(rig, "/app", "noproof", "tp_oauth_idp")
    at = info(rig, s, "/app")["access_token"]
    rs.reset()
    # through the gateway without TPOAuthDPoPProof: Bearer, refused
    r = s.get(rig.url("/apinp/x"), headers={"Accept": "application/json"}, timeout=10)
    assert r.status_code == 401, (r.status_code, r.text)
    assert r.json()["reason"] == "a DPoP-bound token presented as Bearer"
    # directly: as DPoP without a proof, as Bearer
    r = requests.get(rs.base + "/api/x", headers={"Authorization": "DPoP " + at}, timeout=5)
    assert r.status_code == 401 and r.json()["error"] == "invalid_dpop_proof", r.text
    assert 'DPoP error="invalid_dpop_proof"' in r.headers["WWW-Authenticate"]
    r = requests.get(rs.base + "/api/x", headers={"Authorization": "Bearer " + at}, timeout=5)
    assert r.status_code == 401, r.text
    # the same session through the proof location: accepted
    r = s.get(rig.url("/api/x"), headers={"Accept": "application/json"}, timeout=10)
    assert r.status_code == 200, r.text
    s.close()


def test_client_dpop_header_never_reaches_backend(rig, rs):
    s = login(rig, "/app", "forger", "tp_oauth_idp")
    rs.reset()
    forged = "eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.AAAA"
    r = s.get(rig.url("/apinp/x"), headers={"DPoP": forged, "Accept": "application/json"},
              timeout=10)
    assert r.status_code == 401
    r = s.get(rig.url("/api/x"), headers={"DPoP": forged, "Authorization": "DPoP forged",
                                          "Accept": "application/json"}, timeout=10)
    assert r.status_code == 200, r.text      # the module's one proof, not the client's
    entries = rs.log_entries()
    assert entries[0]["had_dpop"] is False, entries
    assert entries[1]["had_dpop"] is True and entries[1]["status"] == 200, entries
    assert "removed the client's DPoP header" in rig.error_log()
    s.close()


# ============================================================== failures

def test_provider_refuses_proof(rig, idps, rs):
    idp = idps["idp"]
    idp.refuse(False)
    other = login(rig, "/app", "bystander", "tp_oauth_idp")
    mark = len(rig.error_log())
    idp.refuse(True)
    try:
        s = h.browser_session()
        r = h.oidc_login(s, rig.url("/app/whoami.cgi?format=json"), "refused")
        assert r.status_code == 502, (r.status_code, r.text[:500])
        assert "invalid_dpop_proof" in r.text
        assert "refused to issue tokens" in r.text
        assert not s.cookies.get("tp_oauth_idp")
        log = rig.error_log()[mark:]
        assert "error=invalid_dpop_proof" in log, log[-2000:]
        # the other session and the server keep working (its backend call needs no provider)
        r = other.get(rig.url("/app/whoami.cgi?format=json"), timeout=5)
        assert r.status_code == 200 and r.json()["REMOTE_USER"] == "bystander"
        r = other.get(rig.url("/api/x"), headers={"Accept": "application/json"}, timeout=10)
        assert r.status_code == 200, r.text
        # a refresh refused for the proof is temporary: the session stays
        r = refresh(rig, other, "/app")
        assert r.status_code in (502, 503), (r.status_code, r.text)
        assert other.get(rig.url("/app/whoami.cgi?format=json"), timeout=5).status_code == 200
    finally:
        idp.refuse(False)
    s = h.browser_session()
    assert login(rig, "/app", "refused", "tp_oauth_idp")
    s.close()
    other.close()


def test_provider_without_a_usable_alg(rig, idps):
    """dpop_signing_alg_values_supported lists only PS256: the login fails with a page and a
    log line naming it; nothing reaches the token endpoint."""
    idp = idps["rsa"]
    assert idp.discovery()["dpop_signing_alg_values_supported"] == ["PS256"]
    idp.reset_stats()
    mark = len(rig.error_log())
    s = h.browser_session()
    r = h.oidc_login(s, rig.url("/rsa/whoami.cgi?format=json"), "rsauser")
    assert r.status_code == 502, (r.status_code, r.text[:500])
    assert "accepts no DPoP key" in r.text
    assert "lists neither ES256 nor EdDSA" in rig.error_log()[mark:]
    assert idp.stats()["token"]["total"] == 0
    assert not s.cookies.get("tp_oauth_rsa")
    s.close()
    # the server keeps serving the other providers
    s = login(rig, "/app", "afterrsa", "tp_oauth_idp")
    s.close()


@pytest.mark.parametrize("arg", ["maybe", "ftp://x/", "http://x/?q=1", "/relative"])
def test_dpop_proof_bad_argument(httpd, idps, arg):
    conf = (h.standard_conf(idps["idp"].issuer)
            + "<Location /z/>\n    TPOAuthDPoPProof %s\n</Location>\n" % arg)
    rc, out = httpd.configtest(conf)
    assert rc != 0 and "TPOAuthDPoPProof" in out, out
