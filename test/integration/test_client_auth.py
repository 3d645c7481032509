# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""Client authentication (issue 15, item 1) against the real oidc-provider
(test/idp), which requires one method per client:

  * private_key_jwt: the provider fetches the module's keys from
    <redirect URI>/jwks (the client's jwks_uri), or has them inline (copied
    from that endpoint) for RS256, PS256, ES256 and EdDSA keys; rotation by
    listing the next key first;
  * client_secret_jwt (HS256 with the client secret);
  * tls_client_auth and self_signed_tls_client_auth (RFC 8705): the provider
    runs on HTTPS with client certificates (a CA made here with the openssl CLI);

for each: the login (code exchange), a refresh, and a bearer token checked by
introspection (client-authenticated too) work; a wrong key, secret or
certificate is refused by the provider and the module answers 502 with a log
line naming the provider's error, and keeps serving. Two logins in quick
succession never reuse a jti (the provider refuses replays). configtest refuses
unusable keys and certificates.
"""

import json
import os
import shutil
import subprocess
import tempfile

import pytest
import requests

import tpo_harness as h
from test_backend_tokens import EchoBackend, bearer_of

XHR = {"X-Requested-With": "XMLHttpRequest", "Accept": "application/json"}
AUDIENCE = "https://api.example.test/"
SJ_SECRET = "tpo-secjwt-secret-0123456789abcdef-0123456789abcdef"


# ============================================================== keys and certificates

def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True,
                   timeout=60)


def make_material(d):
    """Signing keys, a test CA, the IdP's server certificate, a client certificate
    from the CA and a self-signed one (all test-only, in the test's tmp dir)."""
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
            "-out", "rsa.pem", cwd=d)
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", "wrong.pem", cwd=d)
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", "ec.pem", cwd=d)
    openssl("genpkey", "-algorithm", "ED25519", "-out", "ed.pem", cwd=d)
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024",
            "-out", "rsa1024.pem", cwd=d)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=tpo-test-ca", cwd=d)
    with open(os.path.join(d, "srv.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    with open(os.path.join(d, "cli.ext"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    for name, subj, ext in (("srv", "/CN=127.0.0.1", "srv.ext"),
                            ("cli", "/CN=tpo-mtls", "cli.ext")):
        openssl("req", *ec, "-keyout", name + ".key", "-out", name + ".csr", "-subj", subj,
                cwd=d)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", name + ".crt", "-days", "2", "-extfile", ext, cwd=d)
    openssl("req", "-x509", *ec, "-keyout", "self.key", "-out", "self.crt", "-days", "2",
            "-subj", "/CN=tpo-self", cwd=d)
    # the key files root-only: the module reads them at start
    for name in os.listdir(d):
        if name.endswith((".pem", ".key")):
            os.chmod(os.path.join(d, name), 0o600)


def self_signed_jwk(d):
    """The self-signed certificate as a JWK with x5c (its registration at the IdP)."""
    script = ("const c=require('crypto'),f=require('fs');"
              "const x=new c.X509Certificate(f.readFileSync(process.argv[1]));"
              "const j=x.publicKey.export({format:'jwk'});"
              "j.x5c=[x.raw.toString('base64')];console.log(JSON.stringify(j));")
    out = subprocess.run([h.NODE_BIN, "-e", script, os.path.join(d, "self.crt")],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    return json.loads(out)


# ============================================================== the IdPs

class ClientAuthIdP(h.IdP):
    """test/idp with extra environment (TLS, loopback fetches)."""

    def __init__(self, workdir, clients, env, ca=None):
        super().__init__(workdir, clients)
        self.env = env
        self.ca = ca
        self.name = "idp-tls" if ca else "idp-jwt"
        self.log_path = os.path.join(workdir, "%s.log" % self.name)
        self.clients_file = os.path.join(workdir, "%s-clients.json" % self.name)

    @property
    def issuer(self):
        return "%s://127.0.0.1:%d" % ("https" if self.ca else "http", self.port)

    def get(self, path):
        with requests.Session() as s:
            s.trust_env = False     # REQUESTS_CA_BUNDLE would win over verify
            return s.get(self.issuer + path, verify=self.ca or True, timeout=5)

    def start(self, timeout=20.0):
        with open(self.clients_file, "w") as f:
            json.dump(self.clients, f, indent=2)
        env = {"NODE_NO_WARNINGS": "1"}
        env.update(self.env)
        self._spawn([h.NODE_BIN, h.IDP_SERVER, "--port", str(self.port),
                     "--clients", self.clients_file, "--keys", self.keys_file,
                     "--max-seconds", "3600"], env=env)

        def ready():
            self._check_alive()
            try:
                return self.get("/.well-known/openid-configuration").status_code == 200
            except requests.RequestException:
                return False
        h.wait_until(ready, timeout, what="the IdP's discovery document")
        return self

    def stats(self):
        return self.get("/__stats").json()


# ============================================================== configuration

PREFIXES = ("pk", "pkstatic", "pkwrong", "sj", "sjwrong", "mtls", "self", "mtlswrong")


def clients(http_port, static_jwks, self_jwk):
    base = "http://127.0.0.1:%d" % http_port
    code = ["authorization_code", "refresh_token", "client_credentials"]

    def client(cid, prefixes, **kw):
        c = {"client_id": cid, "grant_types": code,
             "redirect_uris": ["%s/%s/redirect_uri" % (base, p) for p in prefixes]}
        c.update(kw)
        return c
    jwt_clients = [
        client("tpo-pkjwt", ["pk"], token_endpoint_auth_method="private_key_jwt",
               jwks_uri="%s/pk/redirect_uri/jwks" % base),
        client("tpo-pkjwt-static", ["pkstatic", "pkwrong"],
               token_endpoint_auth_method="private_key_jwt", jwks=static_jwks),
        client("tpo-secjwt", ["sj", "sjwrong"], token_endpoint_auth_method="client_secret_jwt",
               client_secret=SJ_SECRET),
    ]
    tls_clients = [
        client("tpo-mtls", ["mtls", "mtlswrong"], token_endpoint_auth_method="tls_client_auth",
               tls_client_auth_subject_dn="CN=tpo-mtls"),
        client("tpo-self", ["self"], token_endpoint_auth_method="self_signed_tls_client_auth",
               jwks={"keys": [self_jwk]}),
    ]
    return jwt_clients, tls_clients


def provider(name, issuer, client_id, extra, secret=None, client_auth=None):
    return h.provider_conf(name, issuer, client_id=client_id, client_secret=secret,
                           client_auth=client_auth, scope="openid email",
                           redirect_uri="/%s/redirect_uri" % name,
                           extra="TPOAuthInfoAccessToken on\nTPOAuthBearerAudience %s\n"
                                 "TPOAuthBearerValidation introspection\n%s"
                                 % (AUDIENCE, extra))


def locations(root, name):
    return ('ScriptAlias /%s/ "%s/app/"\n' % (name, root)
            + h.protect_conf("/%s/" % name, provider=name, authname=name)
            + 'ScriptAlias /%s-api/ "%s/app/"\n' % (name, root)
            + h.protect_conf("/%s-api/" % name, provider=name, authname=name,
                             extra="TPOAuthBearer only"))


class Rig:
    pass


def apply(httpd, conf):
    """The configuration, by a graceful restart when httpd runs: the listening
    socket stays open (a stop and start would free the port for a moment)."""
    if httpd.running and httpd.pid() is not None:
        return httpd.graceful(conf)
    return httpd.ensure(conf)


def build_conf(rig, pk_keys=None, static_key=None):
    d = rig.dir
    key = lambda n: os.path.join(d, n)  # noqa: E731
    pk_keys = pk_keys or ["%s rsa-current" % key("rsa.pem"), "%s ec-next" % key("ec.pem")]
    static_key = static_key or "%s ec-static" % key("ec.pem")
    jwt, tls = rig.jwt_issuer, rig.tls_issuer
    ca = "TPOAuthCACertificate %s\n" % key("ca.crt")
    conf = "TPOAuthCacheSize 16M\n"
    # no TPOAuthClientAuth: a signing key and no secret make it private_key_jwt
    conf += provider("pk", jwt, "tpo-pkjwt", ""
                     + "".join("TPOAuthClientSigningKey %s\n" % k for k in pk_keys))
    conf += provider("pkstatic", jwt, "tpo-pkjwt-static",
                     "TPOAuthClientAuth private_key_jwt\nTPOAuthClientSigningKey %s\n"
                     "TPOAuthClientAssertionAudience issuer\n" % static_key)
    conf += provider("pkwrong", jwt, "tpo-pkjwt-static",
                     "TPOAuthClientAuth private_key_jwt\n"
                     "TPOAuthClientSigningKey %s ec-static\n" % key("wrong.pem"))
    conf += provider("sj", jwt, "tpo-secjwt", "TPOAuthClientAssertionAudience endpoint",
                     secret=SJ_SECRET, client_auth="client_secret_jwt")
    conf += provider("sjwrong", jwt, "tpo-secjwt", "", secret=SJ_SECRET[:-1] + "X",
                     client_auth="client_secret_jwt")
    conf += provider("mtls", tls, "tpo-mtls", ca + "TPOAuthClientAuth tls_client_auth\n"
                     "TPOAuthClientCertificate %s %s\n" % (key("cli.crt"), key("cli.key")))
    conf += provider("self", tls, "tpo-self", ca + "TPOAuthClientAuth self_signed_tls_client_auth\n"
                     "TPOAuthClientCertificate %s %s\n" % (key("self.crt"), key("self.key")))
    conf += provider("mtlswrong", tls, "tpo-mtls", ca + "TPOAuthClientAuth tls_client_auth\n"
                     "TPOAuthClientCertificate %s %s\n" % (key("self.crt"), key("self.key")))
    for name in PREFIXES:
        conf += locations(rig.httpd.server_root, name)
    # a gateway: the client-credentials grant for a backend (TPOAuthBackendToken client)
    for name in ("pk", "sj", "mtls"):
        conf += ("<Location /%s-gw/>\n    TPOAuthProvider %s\n    TPOAuthBackendToken client\n"
                 "    Require all granted\n    ProxyPass http://127.0.0.1:%d/%s-gw/\n</Location>\n"
                 % (name, name, rig.echo.port, name))
    return conf


@pytest.fixture(scope="module")
def rig(httpd, http_port, workdir):
    r = Rig()
    r.httpd = httpd
    r.echo = EchoBackend().start()
    r.dir = tempfile.mkdtemp(prefix="tpo-clientauth-", dir=workdir)
    os.chmod(r.dir, 0o755)
    make_material(r.dir)
    r.jwt_port, r.tls_port = h.free_port(), h.free_port()
    r.jwt_issuer = "http://127.0.0.1:%d" % r.jwt_port
    r.tls_issuer = "https://127.0.0.1:%d" % r.tls_port
    # the module first: the inline key set of tpo-pkjwt-static is what the module
    # publishes for its keys (PS256, ES256, EdDSA with fixed kids)
    d = r.dir
    pub = {}
    for kid, spec in (("rsa-ps", "%s/rsa.pem rsa-ps PS256" % d), ("ec-static", "%s/ec.pem ec-static" % d),
                      ("ed-static", "%s/ed.pem ed-static" % d)):
        apply(httpd, build_conf(r, static_key=spec))
        resp = requests.get(httpd.url("/pkstatic/redirect_uri/jwks"), timeout=5)
        assert resp.status_code == 200, resp.text
        assert resp.headers["Content-Type"] == "application/jwk-set+json"
        (jwk,) = resp.json()["keys"]
        assert jwk["kid"] == kid
        pub[kid] = jwk
    jwt_clients, tls_clients = clients(http_port, {"keys": list(pub.values())},
                                       self_signed_jwk(d))
    r.jwt_idp = ClientAuthIdP(workdir, jwt_clients, {"TPO_IDP_FETCH_LOOPBACK": "1"})
    r.jwt_idp.port = r.jwt_port
    r.tls_idp = ClientAuthIdP(workdir, tls_clients,
                              {"TPO_IDP_TLS_CERT": os.path.join(d, "srv.crt"),
                               "TPO_IDP_TLS_KEY": os.path.join(d, "srv.key"),
                               "TPO_IDP_TLS_CA": os.path.join(d, "ca.crt")},
                              ca=os.path.join(d, "ca.crt"))
    r.tls_idp.port = r.tls_port
    r.jwt_idp.start()
    r.tls_idp.start()
    r.conf = build_conf(r)
    apply(httpd, r.conf)
    yield r
    r.jwt_idp.stop()
    r.tls_idp.stop()
    r.echo.stop()
    # stopped before its key files go: `apache2 -k stop` parses the configuration
    # again, and a missing key file would make it fail (the server would live on)
    httpd.stop()
    if not os.environ.get("TPO_KEEP"):
        shutil.rmtree(r.dir, ignore_errors=True)


# ============================================================== helpers

def session_for(rig, name):
    s = h.browser_session()
    if name in ("mtls", "self", "mtlswrong"):
        s.verify = os.path.join(rig.dir, "ca.crt")
        s.trust_env = False     # REQUESTS_CA_BUNDLE would win over verify
    return s


def login(rig, name, user):
    s = session_for(rig, name)
    r = h.oidc_login(s, rig.httpd.url("/%s/whoami.cgi" % name), user)
    return s, r


def idp_of(rig, name):
    return rig.tls_idp if name in ("mtls", "self", "mtlswrong") else rig.jwt_idp


def full_check(rig, name, user):
    """Login, refresh and a bearer token by introspection, all client-authenticated."""
    s, r = login(rig, name, user)
    assert r.status_code == 200 and "Hello %s" % user in r.text, (r.status_code, r.text[:500])
    idp = idp_of(rig, name)
    info = s.get(rig.httpd.url("/%s/redirect_uri/info" % name), headers=XHR, timeout=10).json()
    before = idp.stats()["token"]["by_grant_type"].get("refresh_token", 0)
    hd = dict(XHR, Origin=rig.httpd.base)
    rr = s.post(rig.httpd.url("/%s/redirect_uri/refresh" % name), headers=hd, timeout=15)
    assert rr.status_code == 200 and rr.json()["refreshed"] is True, rr.text
    assert rr.json()["access_token"] != info["access_token"]
    assert idp.stats()["token"]["by_grant_type"].get("refresh_token", 0) == before + 1
    # the new access token as a bearer token: introspection with the client's auth
    n = idp.stats()["introspection"]
    b = requests.get(rig.httpd.url("/%s-api/whoami.cgi?format=json" % name),
                     headers={"Authorization": "Bearer " + rr.json()["access_token"],
                              "Accept": "application/json"}, timeout=15)
    assert b.status_code == 200, (b.status_code, b.text[:300], log_tail(rig))
    assert b.json()["REMOTE_USER"] == user
    assert idp.stats()["introspection"] == n + 1
    # the session still works
    assert s.get(rig.httpd.url("/%s/whoami.cgi" % name), timeout=10).status_code == 200


def log_tail(rig, n=15):
    return "\n".join(rig.httpd.error_log().splitlines()[-n:])


def refused_login(rig, name, user, idp_error):
    """The provider refuses the client: 502 naming the error, one log line, the
    server keeps serving."""
    idp = idp_of(rig, name)
    reason = "invalid_client: %s" % idp_error
    before = idp.log().count(reason)
    s = session_for(rig, name)
    r = h.oidc_login(s, rig.httpd.url("/%s/whoami.cgi" % name), user)
    assert r.status_code == 502, (r.status_code, r.text[:500])
    assert "refused to issue tokens: invalid_client" in r.text
    line = ("provider %s: login failed: token endpoint answered HTTP 401 error=invalid_client"
            % name)
    assert line in rig.httpd.error_log(), log_tail(rig)
    # the provider's reason (test/idp logs why it refused a client)
    assert idp.log().count(reason) == before + 1, idp.log()[-2000:]
    # the server keeps serving: another provider's login works
    s2, r2 = login(rig, "sj", "after-" + user)
    assert r2.status_code == 200 and "Hello after-%s" % user in r2.text


# ============================================================== private_key_jwt

def test_jwks_endpoint(rig):
    r = requests.get(rig.httpd.url("/pk/redirect_uri/jwks"), timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/jwk-set+json"
    assert "max-age=300" in r.headers["Cache-Control"]
    keys = r.json()["keys"]
    assert [k["kid"] for k in keys] == ["rsa-current", "ec-next"]
    assert [k["alg"] for k in keys] == ["RS256", "ES256"]
    assert all("d" not in k and k["use"] == "sig" for k in keys)
    # no session needed, and no keys: 404
    assert requests.get(rig.httpd.url("/sj/redirect_uri/jwks"), timeout=5).status_code == 404
    assert requests.post(rig.httpd.url("/pk/redirect_uri/jwks"), timeout=5).status_code == 405


def test_private_key_jwt_via_jwks_uri(rig):
    """The IdP fetches <redirect URI>/jwks (jwks_uri) and accepts RS256 assertions."""
    full_check(rig, "pk", "pkuser")
    assert "assertion" not in rig.httpd.error_log()


def test_private_key_jwt_rotation(rig):
    """Rotation: the next key was published; moving it first makes it sign, and
    the provider accepts it without being told."""
    d = rig.dir
    try:
        apply(rig.httpd, build_conf(rig, pk_keys=["%s/ec.pem ec-next" % d,
                                                  "%s/rsa.pem rsa-current" % d]))
        keys = requests.get(rig.httpd.url("/pk/redirect_uri/jwks"), timeout=5).json()["keys"]
        assert [k["kid"] for k in keys] == ["ec-next", "rsa-current"]
        s, r = login(rig, "pk", "rotated")
        assert r.status_code == 200 and "Hello rotated" in r.text
    finally:
        apply(rig.httpd, rig.conf)


@pytest.mark.parametrize("spec,user", [("rsa.pem rsa-ps PS256", "ps256"),
                                       ("ec.pem ec-static", "es256"),
                                       ("ed.pem ed-static", "eddsa")])
def test_private_key_jwt_inline_jwks(rig, spec, user):
    """Inline keys at the IdP (copied from the module's /jwks), aud = the issuer."""
    try:
        apply(rig.httpd, build_conf(rig, static_key="%s/%s" % (rig.dir, spec)))
        full_check(rig, "pkstatic", user)
    finally:
        apply(rig.httpd, rig.conf)


def test_private_key_jwt_wrong_key_refused(rig):
    """Signed with another key under the registered kid: a bad signature."""
    refused_login(rig, "pkwrong", "wrongkey", "signature verification failed")


def test_assertions_never_reuse_a_jti(rig):
    """The IdP refuses a replayed assertion (its jti): logins in quick succession
    all work, so each had its own."""
    rig.jwt_idp.get("/__stats")
    before = rig.jwt_idp.stats()["token"]
    for i in range(3):
        s, r = login(rig, "pk", "quick%d" % i)
        assert r.status_code == 200, r.text[:300]
    after = rig.jwt_idp.stats()["token"]
    assert after["by_grant_type"]["authorization_code"] == \
        before["by_grant_type"].get("authorization_code", 0) + 3
    assert after["errors_by_grant_type"].get("authorization_code", 0) == \
        before["errors_by_grant_type"].get("authorization_code", 0)


# ============================================================== client_secret_jwt

def test_client_secret_jwt(rig):
    full_check(rig, "sj", "sjuser")


def test_client_secret_jwt_wrong_secret_refused(rig):
    refused_login(rig, "sjwrong", "wrongsecret", "signature verification failed")


# ============================================================== mutual TLS (RFC 8705)

def test_tls_client_auth(rig):
    full_check(rig, "mtls", "mtlsuser")


def test_self_signed_tls_client_auth(rig):
    full_check(rig, "self", "selfuser")


def test_tls_client_auth_wrong_certificate_refused(rig):
    """A certificate the provider's CA did not issue: refused."""
    refused_login(rig, "mtlswrong", "wrongcert", "client certificate was not verified")


# ============================================================== configtest

@pytest.mark.parametrize("extra,message", [
    ("TPOAuthClientAuth private_key_jwt", "TPOAuthClientAuth private_key_jwt needs "
                                          "TPOAuthClientSigningKey"),
    ("TPOAuthClientSigningKey {d}/missing.pem", "cannot open {d}/missing.pem"),
    ("TPOAuthClientSigningKey {d}/ca.crt", "holds no PEM private key"),
    ("TPOAuthClientSigningKey {d}/rsa.pem - ES256", "ES256 needs an EC key on P-256"),
    ("TPOAuthClientSigningKey {d}/ec.pem - RS256", "RS256 needs an RSA key"),
    ("TPOAuthClientSigningKey {d}/ec.pem - HS256", "is not an algorithm for a signing key"),
    ("TPOAuthClientSigningKey {d}/rsa1024.pem", "the RSA key has 1024 bits"),
    ("TPOAuthClientSigningKey {d}/rsa.pem a\nTPOAuthClientSigningKey {d}/ec.pem a",
     "the kid a is used by two keys"),
    ("TPOAuthClientAuth tls_client_auth", "TPOAuthClientAuth tls_client_auth needs "
                                          "TPOAuthClientCertificate"),
    ("TPOAuthClientCertificate {d}/cli.crt {d}/self.key", "is not the private key of the "
                                                          "certificate"),
    ("TPOAuthClientCertificate {d}/nope.crt {d}/cli.key", "cannot open {d}/nope.crt"),
    ("TPOAuthClientAuth client_secret_jwt", "TPOAuthClientAuth client_secret_jwt needs "
                                            "TPOAuthClientSecret"),
    ("TPOAuthClientAssertionAudience somewhere", "TPOAuthClientAssertionAudience takes"),
])
def test_configtest_refuses(rig, extra, message):
    d = rig.dir
    conf = h.provider_conf("bad", rig.jwt_issuer, client_id="x", client_secret=None,
                           client_auth=None, extra=extra.format(d=d))
    rc, out = rig.httpd.configtest(conf)
    assert rc != 0, out
    assert message.format(d=d) in out, out


# ============================================================== client credentials

@pytest.mark.parametrize("name", ["pk", "sj", "mtls"])
def test_backend_client_credentials(rig, name):
    """TPOAuthBackendToken client: the gateway's own token, from the
    client-credentials grant authenticated with the provider's method."""
    idp = idp_of(rig, name)
    before = idp.stats()["token"]["by_grant_type"].get("client_credentials", 0)
    r = requests.get(rig.httpd.url("/%s-gw/x" % name), timeout=15)
    token = bearer_of(r)
    assert len(token) > 20
    assert idp.stats()["token"]["by_grant_type"]["client_credentials"] == before + 1


# ============================================================== revocation at logout

@pytest.mark.parametrize("name", ["pk", "sj", "mtls", "self"])
def test_logout_revokes_with_client_auth(rig, name):
    """Logout revokes the refresh and access tokens (RFC 7009), authenticated
    like every other call to the provider."""
    user = "revoke-" + name
    s, r = login(rig, name, user)
    assert r.status_code == 200
    idp = idp_of(rig, name)
    n = idp.stats()["revocation"]
    out = s.get(rig.httpd.url("/%s/redirect_uri/logout" % name), allow_redirects=False,
                timeout=15)
    assert out.status_code in (302, 303), out.status_code
    assert idp.stats()["revocation"] == n + 2
    log = rig.httpd.error_log()
    assert "logout of %s: refresh_token revoked" % user in log, log_tail(rig)
    assert "logout of %s: access_token revoked" % user in log, log_tail(rig)
    # the session is over
    again = s.get(rig.httpd.url("/%s/whoami.cgi" % name), allow_redirects=False, timeout=10)
    assert again.status_code == 302


def test_configtest_warns_about_exposed_keys(rig):
    """A private key readable by others works, with a warning naming the file."""
    d = rig.dir
    exposed = os.path.join(d, "exposed.pem")
    shutil.copyfile(os.path.join(d, "ec.pem"), exposed)
    os.chmod(exposed, 0o644)
    conf = h.provider_conf("warn", rig.jwt_issuer, client_id="x", client_secret=None,
                           client_auth=None, extra="TPOAuthClientSigningKey %s" % exposed)
    rc, out = rig.httpd.configtest(conf)
    assert rc == 0, out
    assert "%s is readable or writable by group or others" % exposed in out, out
    rc, out = rig.httpd.configtest(conf.replace(exposed, os.path.join(d, "ec.pem")))
    assert rc == 0 and "readable or writable by group" not in out, out
