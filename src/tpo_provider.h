/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Provider metadata: OpenID Connect Discovery 1.0 and RFC 8414
 * authorization-server metadata, or endpoints configured one by one. */
#ifndef TPO_PROVIDER_H
#define TPO_PROVIDER_H

#include <apr_pools.h>
#include <apr_errno.h>

typedef struct tpo_provider_meta {
    const char *issuer;
    const char *authorization_endpoint;
    const char *token_endpoint;
    const char *userinfo_endpoint;
    const char *jwks_uri;
    const char *end_session_endpoint;
    const char *revocation_endpoint;
    const char *introspection_endpoint;
    const char *par_endpoint;    /* pushed_authorization_request_endpoint (RFC 9126) */
    int require_par;             /* require_pushed_authorization_requests is true */
    int iss_parameter_supported; /* authorization_response_iss_parameter_supported */
    int pkce_s256_supported;     /* code_challenge_methods_supported has S256 (or is absent: -1) */
    int backchannel_logout;      /* backchannel_logout_supported is true */
    int backchannel_logout_session; /* backchannel_logout_session_supported is true */
    const char *dpop_algs; /* dpop_signing_alg_values_supported, space-separated; NULL absent */
} tpo_provider_meta;

/* The well-known URL for an issuer: <issuer>/.well-known/openid-configuration */
const char *tpo_provider_discovery_url(apr_pool_t *p, const char *issuer);

/* Parse a discovery document. expected_issuer, when not NULL, must equal
 * "issuer" exactly (OIDC Discovery 4.3). authorization_endpoint and
 * token_endpoint are required; every endpoint must be an absolute http(s) URL.
 * Strings are copied into p. */
apr_status_t tpo_provider_meta_parse(apr_pool_t *p, const char *json, apr_size_t len,
                                     const char *expected_issuer, tpo_provider_meta *out,
                                     const char **err);

/* 1 if s is an absolute http:// or https:// URL with a host. */
int tpo_url_is_http(const char *s);

#endif
