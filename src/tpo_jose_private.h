/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Private to tpo_jwk.c and tpo_jws.c: the algorithm and curve tables and
 * the small JSON/pool helpers both halves of the JOSE code use. Not part of
 * the public API (tpo_jose.h). */
#ifndef TPO_JOSE_PRIVATE_H
#define TPO_JOSE_PRIVATE_H

#include <apr_pools.h>
#include <jansson.h>
#include "tpo_jose.h"

/* Internal to libtpo: not exported, calls stay direct. */
#define TPO_JOSE_INTERNAL __attribute__((visibility("hidden")))

#define JWKS_MAX_KEYS 128 /* entries looked at in a JWK Set */

typedef enum { FAM_RSA_PKCS1, FAM_RSA_PSS, FAM_EC, FAM_EDDSA, FAM_HMAC } alg_family;

typedef struct {
    const char *name;
    alg_family fam;
    const char *md;   /* digest name (NULL for EdDSA) */
    const char *crv;  /* EC: JWK curve name */
    apr_size_t coord; /* EC: bytes per coordinate / per R and S */
    apr_size_t hlen;  /* HMAC: output length */
} alg_info;

/* The JWS algorithm named alg (tpo_jws.c); NULL when not implemented. */
TPO_JOSE_INTERNAL const alg_info *tpo_jose_alg_lookup(const char *alg);

typedef struct {
    const char *jwk_crv;
    const char *group; /* OpenSSL group name */
    apr_size_t coord;
} ec_curve;

/* The EC curve with JWK name crv (tpo_jwk.c); NULL when unknown. */
TPO_JOSE_INTERNAL const ec_curve *tpo_jose_curve_lookup(const char *crv);

/* json_decref(j) when p goes away (tpo_jwk.c). */
TPO_JOSE_INTERNAL void tpo_jose_pool_own_json(apr_pool_t *p, json_t *j);

/* A JSON string member as a C string (tpo_jwk.c). Returns 1 when absent
 * (*out NULL), 1 with *out set when a string without embedded NUL, 0
 * otherwise. */
TPO_JOSE_INTERNAL int tpo_jose_json_opt_string(json_t *obj, const char *name, const char **out);

#endif
