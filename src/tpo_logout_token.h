/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* OpenID Connect Back-Channel Logout 1.0, section 2.6: validation of a
 * logout token, and its one-time use (the jti is remembered with the cache's
 * atomic add() for as long as the token could be accepted). */
#ifndef TPO_LOGOUT_TOKEN_H
#define TPO_LOGOUT_TOKEN_H

#include <apr_pools.h>
#include <apr_time.h>
#include "tpo_cache.h"
#include "tpo_jose.h"

#define TPO_BACKCHANNEL_EVENT "http://schemas.openid.net/event/backchannel-logout"
#define TPO_LT_MAX_JTI 256 /* longest jti accepted */

typedef struct tpo_logout_expect {
    const char *issuer;    /* exact match of "iss" */
    const char *client_id; /* in "aud" */
    apr_time_t now;
    int skew_sec;                    /* allowed clock skew (iat, exp) */
    int max_age_sec;                 /* iat not older than this (+ skew) */
    const char *const *allowed_algs; /* the provider's ID-token allow-list */
    const tpo_jwk *hs_key;           /* client secret as HS key, or NULL */
} tpo_logout_expect;

typedef enum {
    TPO_LT_OK = 0,
    TPO_LT_MALFORMED, /* not a JWS, bad JSON, bad typ */
    TPO_LT_ALG,
    TPO_LT_NOKEY,
    TPO_LT_SIGNATURE,
    TPO_LT_ISS,
    TPO_LT_AUD,
    TPO_LT_IAT,
    TPO_LT_EXP,
    TPO_LT_JTI,
    TPO_LT_EVENTS,
    TPO_LT_NONCE,
    TPO_LT_SUBSID,
    TPO_LT_REPLAY
} tpo_lt_result;

typedef struct tpo_logout_claims {
    const char *sub; /* NULL when absent */
    const char *sid; /* NULL when absent */
    const char *jti;
    apr_time_t iat;
    apr_time_t until; /* after this the token is refused anyway: the jti marker's lifetime */
} tpo_logout_claims;

const char *tpo_lt_result_name(tpo_lt_result r);

/* Validate a compact logout token. On failure *detail says why (never the
 * token or its parts). */
tpo_lt_result tpo_logout_token_validate(apr_pool_t *p, const char *token, const tpo_jwks *jwks,
                                        const tpo_logout_expect *ex, tpo_logout_claims *out,
                                        const char **detail);

/* The one-time use: add() a marker for (issuer, jti) until lc->until.
 * TPO_LT_OK the first time; TPO_LT_REPLAY with *rv APR_SUCCESS when it was
 * seen; TPO_LT_REPLAY with another *rv when the cache failed (the caller
 * answers 503, nothing was ended). */
tpo_lt_result tpo_logout_token_consume(tpo_cache *c, apr_pool_t *p, const char *issuer,
                                       const tpo_logout_claims *lc, apr_status_t *rv);

/* Undo a consume whose logout could not be carried out, so that the
 * provider's retry of the same token is not taken for a replay. */
void tpo_logout_token_release(tpo_cache *c, apr_pool_t *p, const char *issuer,
                              const tpo_logout_claims *lc);

#endif
