/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Bearer tokens at a resource server: the token from the request
 * (RFC 6750 2.1), JWT access tokens (RFC 9068 `at+jwt` and plain JWTs)
 * validated locally, token introspection answers (RFC 7662), the
 * WWW-Authenticate challenge (RFC 6750 3) and the key under which a verified
 * token is remembered. Plain C, no httpd headers. */
#ifndef TPO_BEARER_H
#define TPO_BEARER_H

#include <apr_pools.h>
#include <apr_time.h>
#include <jansson.h>
#include "tpo_jose.h"

/* Longest bearer token accepted from a request (a JWT with many claims). */
#define TPO_BEARER_MAX_TOKEN (16 * 1024)

/* The token of an Authorization header value "Bearer <b64token>" (scheme
 * without case, one or more spaces). Returns 1 with *tok set (pointing into
 * hdr's copy in p), 0 when the header is of another scheme (or NULL), -1
 * when it says Bearer but the token is missing, too long or not b64token
 * syntax. */
int tpo_bearer_from_header(apr_pool_t *p, const char *hdr, const char **tok);

/* 1 when tok is a b64token (RFC 6750 2.1) of at most TPO_BEARER_MAX_TOKEN
 * bytes: the check tpo_bearer_from_header applies, for a token from the
 * access_token query parameter. */
int tpo_bearer_token_ok(const char *tok);

/* 1 when tok has the shape of a JWS compact serialization (three
 * dot-separated base64url parts, header and payload not empty; an empty
 * signature, as of an unsigned alg-none token, counts): such tokens are
 * validated locally, the others (opaque) by introspection. */
int tpo_bearer_looks_like_jwt(const char *tok);

typedef struct tpo_bearer_expect {
    const char *issuer;              /* required: exact match of "iss" */
    const char *const *audiences;    /* required, NULL-terminated: one of them in "aud" */
    apr_time_t now;                  /* current time */
    int skew_sec;                    /* allowed clock skew (exp, nbf, iat) */
    const char *const *allowed_algs; /* as for ID tokens; HS* never (no shared key) */
    const char *typ;                 /* when not NULL: the JOSE header's typ must be this
                                        media type (RFC 9068: "at+jwt"; compared without case,
                                        an "application/" prefix is ignored) */
} tpo_bearer_expect;

/* The check that failed. */
typedef enum {
    TPO_BT_OK = 0,
    TPO_BT_MALFORMED, /* not a JWS, payload not a JSON object */
    TPO_BT_ALG,       /* alg none, unsupported or not allowed */
    TPO_BT_NOKEY,     /* no key of the JWKS fits (unknown kid): refetch, rate-limited */
    TPO_BT_SIGNATURE,
    TPO_BT_TYP,
    TPO_BT_ISS,
    TPO_BT_AUD,
    TPO_BT_EXP,
    TPO_BT_NBF,
    TPO_BT_IAT,
    TPO_BT_INACTIVE /* introspection: active is not true */
} tpo_bearer_result;

const char *tpo_bearer_result_name(tpo_bearer_result r);

/* Validate a JWT access token. On success *claims is the payload (decref'd
 * by a pool cleanup). On failure *detail says why, in words that never
 * include the token. exp is required; nbf and iat are checked when present. */
tpo_bearer_result tpo_bearer_jwt_validate(apr_pool_t *p, const char *token, const tpo_jwks *jwks,
                                          const tpo_bearer_expect *expect, json_t **claims,
                                          const char **detail);

/* The scopes granted by a token's claims or an introspection answer:
 * "scope" (space-separated string, RFC 8693 / 9068 / 7662) or "scp" (a
 * string or an array of strings, as some providers send), as one
 * space-separated string; NULL when there is none. */
const char *tpo_bearer_scope(apr_pool_t *p, json_t *claims);

/* The required scopes (space-separated) that granted (space-separated, may
 * be NULL) lacks, space-separated; NULL when none is missing. */
const char *tpo_bearer_scope_missing(apr_pool_t *p, const char *granted, const char *required);

/* An introspection answer (RFC 7662 2.2). */
typedef struct tpo_introspection {
    int active;
    apr_time_t exp; /* 0: not given */
    const char *scope;
    json_t *json; /* the whole answer: the token's claims (decref'd by a pool cleanup) */
} tpo_introspection;

/* Parse and check an introspection answer of HTTP status http_status.
 * TPO_BT_OK for an active token that passes the checks that apply to an
 * answer (exp, nbf with the skew; iss when given must be expect->issuer; aud
 * when given must hold one of expect->audiences; token_type when given must
 * be an access token's), TPO_BT_INACTIVE for `"active": false`,
 * TPO_BT_MALFORMED for an answer that is not one (status not 200, not a JSON
 * object, active missing or not a boolean): out->json NULL; and also for a
 * 400 with error "unsupported_token_type" (the provider does not introspect
 * tokens of this kind: refuse the token): out->json the error. *out is
 * filled for OK and INACTIVE. expect->allowed_algs and ->typ are not used. */
tpo_bearer_result tpo_introspection_parse(apr_pool_t *p, const char *body, apr_size_t len,
                                          int http_status, const tpo_bearer_expect *expect,
                                          tpo_introspection *out, const char **detail);

/* The value of WWW-Authenticate for a bearer answer (RFC 6750 3):
 *   Bearer realm="<realm>"[, error="<error>"][, error_description="<desc>"]
 *   [, scope="<scope>"]
 * error NULL: none (a request without a token). realm is a quoted-string
 * (quotes and backslashes escaped); error_description and scope keep only
 * the characters RFC 6750 allows there (others become '?' / are dropped),
 * and the description is cut at 200 characters. */
const char *tpo_bearer_challenge(apr_pool_t *p, const char *realm, const char *error,
                                 const char *desc, const char *scope);

/* The cache key of a token: prefix + base64url(SHA-256(context NUL token)),
 * context naming what the token was checked against (the provider). Never
 * the token itself. NULL when hashing fails. */
const char *tpo_bearer_key(apr_pool_t *p, const char *prefix, const char *context,
                           const char *token);

#endif
