# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""Providers without discovery that take JSON token requests and answer with
non-standard fields (TropiPay, PayoutID, Xendit accents, emulated on loopback
by test/fakeidp): the login works end to end, the token request has the
configured shape, and the user comes from the profile/userinfo endpoint."""

import re

import pytest
import requests

import tpo_harness as h
from fake_conf import fake_conf

pytestmark = pytest.mark.usefixtures("fake_httpd")


@pytest.fixture(scope="module")
def fake_httpd(httpd, idp, fakeidp):
    httpd.ensure(fake_conf(idp.issuer, fakeidp.base, httpd.server_root))
    return httpd


def last_token_request(fakeidp, mode):
    r = requests.get("%s/__last/%s" % (fakeidp.base, mode), timeout=5)
    assert r.status_code == 200
    return r.json()


@pytest.mark.parametrize("mode", ["tropipay", "tropipay-epoch", "tropipay-seconds",
                                  "payout", "xendit", "xendit-nozone"])
def test_payment_provider_login(fake_httpd, fakeidp, mode):
    s = h.browser_session()
    r = s.get(fake_httpd.url("/m/%s/whoami.cgi" % mode), timeout=20)
    assert r.status_code == 200, r.text
    if mode.startswith("tropipay"):
        # REMOTE_USER from the profile's "id" (a UUID), claims from the profile
        m = re.search(r"REMOTE_USER=([0-9a-f-]{36})", r.text)
        assert m, r.text
        assert "TPO_CLAIM_kycLevel" in r.text
        assert "TPO_CLAIM_surname" in r.text
    else:
        assert "REMOTE_USER=fake-user-1" in r.text
    req = last_token_request(fakeidp, mode)
    assert req["content_type"].startswith("application/json")
    assert req["body_format"] == "json"
    assert req["body"]["grant_type"] == "authorization_code"
    assert req["body"]["client_id"] == "fake-client"
    assert req["body"]["client_secret"] == "<present>"
    assert len(req["body"]["code_verifier"]) == 43
    assert req["authorization"]["present"] is False
    # the session works afterwards without another trip to the provider
    r2 = s.get(fake_httpd.url("/m/%s/whoami.cgi" % mode), allow_redirects=False, timeout=10)
    assert r2.status_code == 200


def test_standard_form_request_with_basic_auth(fake_httpd, fakeidp):
    s = h.browser_session()
    r = s.get(fake_httpd.url("/m/oidc/whoami.cgi"), timeout=20)
    assert r.status_code == 200
    req = last_token_request(fakeidp, "oidc")
    assert req["body_format"] == "form"
    assert req["authorization"]["scheme"].lower() == "basic"
    assert req["authorization"]["basic_client_id"] == "fake-client"
    assert "client_secret" not in req["body"]


def test_client_secret_post_at_real_idp(httpd, idp):
    """client_secret_post against the real oidc-provider (client tpo-post)."""
    conf = (h.provider_conf("idp", idp.issuer, client_id="tpo-post",
                            client_secret="tpo-post-secret",
                            client_auth="client_secret_post")
            + h.protect_conf())
    httpd.ensure(conf)
    s = h.browser_session()
    r = h.oidc_login(s, httpd.url("/app/whoami.cgi"), "postuser")
    assert r.status_code == 200 and "Hello postuser" in r.text


def test_public_client_pkce_only_at_real_idp(httpd, idp):
    """A public client (no secret, TPOAuthClientAuth none): PKCE alone."""
    conf = (h.provider_conf("idp", idp.issuer, client_id="tpo-public", client_secret=None,
                            client_auth="none")
            + h.protect_conf())
    httpd.ensure(conf)
    s = h.browser_session()
    r = h.oidc_login(s, httpd.url("/app/whoami.cgi"), "pubuser")
    assert r.status_code == 200 and "Hello pubuser" in r.text


def test_es256_id_tokens_at_real_idp(httpd, idp):
    """The real IdP signs this client's ID tokens with its ES256 key."""
    conf = (h.provider_conf("idp", idp.issuer, client_id="tpo-es256",
                            client_secret="tpo-es256-secret")
            + h.protect_conf())
    httpd.ensure(conf)
    s = h.browser_session()
    r = h.oidc_login(s, httpd.url("/app/whoami.cgi"), "ecuser")
    assert r.status_code == 200 and "Hello ecuser" in r.text
