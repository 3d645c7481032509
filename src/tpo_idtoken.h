/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* OpenID Connect ID token validation (OIDC Core 3.1.3.7). */
#ifndef TPO_IDTOKEN_H
#define TPO_IDTOKEN_H

#include <apr_pools.h>
#include <apr_time.h>
#include <jansson.h>
#include "tpo_jose.h"

typedef struct tpo_idtoken_expect {
    const char *issuer;              /* required: exact match of "iss" */
    const char *client_id;           /* required: in "aud"; "azp" must equal it when present
                                      (and must be present when aud has several values) */
    const char *nonce;               /* when not NULL, "nonce" must equal it */
    apr_time_t now;                  /* current time */
    int skew_sec;                    /* allowed clock skew, seconds (exp, iat, nbf) */
    int max_age_sec;                 /* when > 0: iat must not be older than this */
    const char *const *allowed_algs; /* for tpo_jws_verify */
    const tpo_jwk *hs_key;           /* client secret as HS key, or NULL */
} tpo_idtoken_expect;

/* Name of the check that failed; the glue logs it and shows 401. */
typedef enum {
    TPO_IDT_OK = 0,
    TPO_IDT_MALFORMED, /* not a JWS / bad JSON */
    TPO_IDT_ALG,       /* alg not allowed (incl. none) */
    TPO_IDT_NOKEY,     /* no key in the JWKS fits (kid unknown) */
    TPO_IDT_SIGNATURE,
    TPO_IDT_ISS,
    TPO_IDT_AUD,
    TPO_IDT_AZP,
    TPO_IDT_EXP,
    TPO_IDT_IAT,
    TPO_IDT_NBF,
    TPO_IDT_NONCE,
    TPO_IDT_SUB
} tpo_idtoken_result;

const char *tpo_idtoken_result_name(tpo_idtoken_result r); /* "signature", "iss", ... */

/* Validate the compact ID token. On success *claims is the payload object
 * (decref'd by a pool cleanup). On failure *detail says why in words that
 * never include the token itself. */
tpo_idtoken_result tpo_idtoken_validate(apr_pool_t *p, const char *id_token, const tpo_jwks *jwks,
                                        const tpo_idtoken_expect *expect, json_t **claims,
                                        const char **detail);

#endif
