/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* JOSE: JWK / JWK Set parsing (RFC 7517, 7518, 8037) and JWS compact
 * verification (RFC 7515). OpenSSL 3 EVP only; jansson for JSON.
 *
 * Everything here treats its input as hostile: size limits, strict
 * base64url, exact types, and no algorithm is ever taken from the key
 * set or token alone without being in the caller's allow-list.
 */
#ifndef TPO_JOSE_H
#define TPO_JOSE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_errno.h>
#include <jansson.h>
#include <openssl/evp.h>

/* Longest JWS accepted. Responses from the provider are already capped by
 * TPOAuthHTTPMaxResponse (1 MiB by default); this bound only protects the
 * parser from unbounded input (a user in hundreds of groups has an ID token of
 * several hundred KB). */
#define TPO_JOSE_MAX_COMPACT (4 * 1024 * 1024)
#define TPO_JOSE_MAX_JWKS (256 * 1024) /* largest JWK Set accepted */

typedef struct tpo_jwk {
    const char *kid;             /* may be NULL */
    const char *kty;             /* "RSA", "EC", "OKP", "oct" */
    const char *alg;             /* may be NULL */
    const char *use;             /* may be NULL; keys with use other than "sig" are skipped */
    const char *crv;             /* EC/OKP curve, else NULL */
    EVP_PKEY *pkey;              /* public key (RSA/EC/OKP); freed by a pool cleanup */
    const unsigned char *secret; /* kty "oct" only */
    apr_size_t secret_len;
} tpo_jwk;

typedef struct tpo_jwks {
    apr_array_header_t *keys; /* of tpo_jwk* */
} tpo_jwks;

/* Parse a JWK Set. Keys of unknown kty/crv, with use != "sig", or that fail
 * to load are skipped (not an error); a set with no usable key is an error.
 * EVP_PKEYs are freed when p is destroyed. On failure returns APR_EINVAL and
 * sets *err to a short reason (no key material in it). */
apr_status_t tpo_jwks_parse(apr_pool_t *p, const char *json, apr_size_t len, tpo_jwks **out,
                            const char **err);

/* A symmetric key (for HS256/384/512 with a client secret). */
tpo_jwk *tpo_jwk_from_secret(apr_pool_t *p, const char *secret, apr_size_t len);

typedef struct tpo_jws {
    const char *alg;     /* from the protected header (required) */
    const char *kid;     /* may be NULL */
    const char *typ;     /* may be NULL */
    json_t *header;      /* parsed header; decref'd by a pool cleanup */
    const char *payload; /* decoded payload, NUL-terminated */
    apr_size_t payload_len;
    const char *signing_input; /* "b64(header).b64(payload)" */
    apr_size_t signing_input_len;
    const unsigned char *sig; /* decoded signature */
    apr_size_t sig_len;
} tpo_jws;

/* Split and decode a compact JWS (three parts). Rejects JWE (five parts),
 * a missing or non-string alg, a header with "crit", oversized input and bad
 * base64url. */
apr_status_t tpo_jws_parse(apr_pool_t *p, const char *compact, tpo_jws **out, const char **err);

/* 1 when alg is one this module implements (RS*, PS*, ES*, EdDSA, HS*);
 * "none" is not. For checking configured allow-lists and for telling an
 * unacceptable alg apart from a bad signature. */
int tpo_jws_alg_supported(const char *alg);

/* Verify jws against the key set.
 *  allowed_algs: NULL-terminated list, e.g. {"RS256","PS256","ES256",NULL};
 *    the token's alg must be in it. "none" is always refused.
 *  HS* algorithms are verified only with hs_key (the client secret), never
 *  with a key of the set: an "oct" key published in a JWK Set is public and
 *  is never selected, and an RSA/EC/OKP key never verifies HS* (no alg
 *  confusion).
 *  Key selection: kid match when the token has a kid (a key without kid is not
 *  used then, unless the set has exactly one candidate of the right type);
 *  the key's kty (and crv) must fit the alg; a key with its own "alg" must
 *  equal the token's alg.
 * Returns APR_SUCCESS, APR_ENOENT when no key fits (caller may refetch the
 * JWKS, rate-limited), or APR_EINVAL with *err naming the failure. */
apr_status_t tpo_jws_verify(apr_pool_t *p, const tpo_jws *jws, const tpo_jwks *jwks,
                            const tpo_jwk *hs_key, const char *const *allowed_algs,
                            const char **err);

/* Parse the payload of a verified JWS as a JSON object (decref'd by pool
 * cleanup). NULL with *err on failure. */
json_t *tpo_jws_payload_json(apr_pool_t *p, const tpo_jws *jws, const char **err);

/* Helper used by tests and the fake IdP: sign (RS256/384/512, PS256/384/512,
 * ES256/384/512, EdDSA, HS256/384/512) with a private EVP_PKEY (or secret for
 * HS*). The header is {"alg":..,"kid":..} (kid only when not NULL). Returns
 * the compact JWS or NULL with *err. */
char *tpo_jws_sign(apr_pool_t *p, const char *alg, const char *kid, const char *payload_json,
                   EVP_PKEY *priv, const unsigned char *secret, apr_size_t secret_len,
                   const char **err);

/* Sign with a header of the caller's (a JSON object; "alg" names an
 * asymmetric algorithm that fits priv), e.g. a DPoP proof's typ and jwk.
 * Returns the compact JWS or NULL with *err. */
char *tpo_jws_sign_header(apr_pool_t *p, json_t *header, const char *payload_json, EVP_PKEY *priv,
                          const char **err);

#endif
