# SPDX-License-Identifier: Apache-2.0
# Licensed under the Apache License, Version 2.0 (see LICENSE).
"""Configuration for tests against test/fakeidp: one <TPOAuthProvider> and one
protected location per emulated provider, /m/<mode>/, next to the standard
configuration for the real oidc-provider at /app/."""

import tpo_harness as h

FAKE_CLIENT = "fake-client"
FAKE_SECRET = "fake-secret"

# modes that publish a discovery document (name starts with "oidc")
OIDC_MODES = ["oidc", "oidc-es256", "oidc-badsig", "oidc-wrongiss", "oidc-wrongaud",
              "oidc-expired", "oidc-future-iat", "oidc-badnonce", "oidc-nonce-missing",
              "oidc-alg-none", "oidc-hs-confusion", "oidc-unknown-kid", "oidc-slow",
              "oidc-refuse", "oidc-500", "oidc-garbage", "oidc-hs-jwks-oct", "oidc-slow-jwks"]
# payment-provider accents: no discovery, JSON token requests, no ID token
PAYMENT_MODES = ["tropipay", "tropipay-epoch", "tropipay-seconds", "payout", "xendit",
                 "xendit-nozone", "xendit-error", "payout-denied", "payout-error"]
DENIED_MODES = ["denied", "denied-xss"]


def _provider(name, lines):
    return "<TPOAuthProvider %s>\n%s\n</TPOAuthProvider>\n" % (
        name, "\n".join("    " + line for line in lines))


def _location(mode, provider):
    return ("<Location /m/%s/>\n    AuthType tp-oauth\n    AuthName \"%s\"\n"
            "    TPOAuthProvider %s\n    Require valid-user\n</Location>\n"
            % (mode, mode, provider))


def mode_provider(fake_base, mode, extra=()):
    base = "%s/%s" % (fake_base, mode)
    common = ["TPOAuthClientID %s" % FAKE_CLIENT,
              "TPOAuthClientSecret %s" % FAKE_SECRET,
              "TPOAuthRedirectURI /m/%s/redirect_uri" % mode,
              "TPOAuthCookieName tpo_%s" % mode.replace("-", "_")]
    if mode in OIDC_MODES:
        lines = ["TPOAuthIssuer %s" % base,
                 'TPOAuthScope "openid email"'] + common
        if mode == "oidc-slow":
            lines.append("TPOAuthHTTPTimeout 1 1.5")
        if mode == "oidc-slow-jwks":
            lines.append("TPOAuthHTTPTimeout 1 3")
        if mode == "oidc-hs-jwks-oct":
            # HS256 allowed: it may be verified with the client secret, and only with it
            lines.append("TPOAuthIDTokenAlgorithms RS256 HS256")
    elif mode in PAYMENT_MODES:
        user_claim = "id" if mode.startswith("tropipay") else "sub"
        userinfo = "profile" if mode.startswith("tropipay") else "userinfo"
        lines = ["TPOAuthAuthorizationEndpoint %s/authorize" % base,
                 "TPOAuthTokenEndpoint %s/token" % base,
                 "TPOAuthUserinfoEndpoint %s/%s" % (base, userinfo),
                 "TPOAuthTokenRequestEncoding json",
                 "TPOAuthClientAuth client_secret_post",
                 'TPOAuthScope "ALLOW_GET_PROFILE_DATA"',
                 "TPOAuthRemoteUserClaim %s" % user_claim] + common
    else:  # denied*: an OIDC-shaped provider without discovery
        lines = ["TPOAuthIssuer %s" % base,
                 "TPOAuthAuthorizationEndpoint %s/authorize" % base,
                 "TPOAuthTokenEndpoint %s/token" % base,
                 "TPOAuthJWKSURI %s/jwks" % base,
                 'TPOAuthScope "openid"'] + common
    return _provider("m_" + mode.replace("-", "_"), lines + list(extra))


def fake_conf(idp_issuer, fake_base, server_root):
    """The standard /app/ configuration plus every fake mode, plus providers
    whose token endpoint is down, and with a short login timeout."""
    parts = [h.standard_conf(idp_issuer),
             "ScriptAliasMatch ^/m/[^/]+/(.*\\.cgi)$ \"%s/app/$1\"\n" % server_root]
    for mode in OIDC_MODES + PAYMENT_MODES + DENIED_MODES:
        parts.append(mode_provider(fake_base, mode))
        parts.append(_location(mode, "m_" + mode.replace("-", "_")))
    # token endpoint down: nothing listens on port 1
    parts.append(_provider("m_down", [
        "TPOAuthIssuer %s/oidc" % fake_base,
        "TPOAuthAuthorizationEndpoint %s/oidc/authorize" % fake_base,
        "TPOAuthTokenEndpoint http://127.0.0.1:1/token",
        "TPOAuthJWKSURI %s/oidc/jwks" % fake_base,
        'TPOAuthScope "openid"',
        "TPOAuthClientID %s" % FAKE_CLIENT, "TPOAuthClientSecret %s" % FAKE_SECRET,
        "TPOAuthRedirectURI /m/down/redirect_uri", "TPOAuthCookieName tpo_down",
        "TPOAuthHTTPTimeout 1 2"]))
    parts.append(_location("down", "m_down"))
    # a 2-second login timeout, to test expired pending logins
    parts.append(_provider("m_short", [
        "TPOAuthIssuer %s/oidc" % fake_base,
        'TPOAuthScope "openid"',
        "TPOAuthClientID %s" % FAKE_CLIENT, "TPOAuthClientSecret %s" % FAKE_SECRET,
        "TPOAuthRedirectURI /m/short/redirect_uri", "TPOAuthCookieName tpo_short",
        "TPOAuthLoginTimeout 2"]))
    parts.append(_location("short", "m_short"))
    return "".join(parts)
