/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* DPoP (RFC 9449): the session's ephemeral key, proofs (typ dpop+jwt, the
 * public key as jwk header, jti, htm, htu, iat, ath, nonce), the key's
 * RFC 7638 thumbprint, and the bounded readers of the provider's DPoP-Nonce
 * and WWW-Authenticate answers. ES256 (P-256) and EdDSA (Ed25519) keys. */
#ifndef TPO_DPOP_H
#define TPO_DPOP_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_time.h>
#include <openssl/evp.h>

/* Longest DPoP-Nonce value kept (the RFC sets no limit; a nonce is short). */
#define TPO_DPOP_NONCE_MAX 512
/* Longest WWW-Authenticate value looked at. */
#define TPO_DPOP_WWW_AUTH_MAX 2048

typedef struct tpo_dpop_key {
    const char *alg; /* "ES256" or "EdDSA" */
    EVP_PKEY *pkey;  /* the private key; freed with the pool */
    const char *jwk; /* the public key as a JWK (members in RFC 7638 order) */
    const char *jkt; /* its RFC 7638 thumbprint: base64url(SHA-256(jwk)) */
} tpo_dpop_key;

/* The algorithm for a new key: ES256 when the provider lists it (or lists
 * nothing: supported NULL), else EdDSA when listed, else NULL (none this
 * module implements). supported: the provider's
 * dpop_signing_alg_values_supported, space-separated. */
const char *tpo_dpop_alg_choose(const char *supported);

/* A fresh key for alg ("ES256" or "EdDSA"). */
apr_status_t tpo_dpop_key_generate(apr_pool_t *p, const char *alg, tpo_dpop_key **out,
                                   const char **err);

/* The key as text for the session record: "<alg>:<base64url(DER)>".
 * A secret: never logged. */
char *tpo_dpop_key_export(apr_pool_t *p, const tpo_dpop_key *k);

/* The key back from tpo_dpop_key_export's text. */
apr_status_t tpo_dpop_key_import(apr_pool_t *p, const char *text, tpo_dpop_key **out,
                                 const char **err);

/* The RFC 7638 thumbprint (SHA-256, base64url) of a public EC or OKP JWK
 * (JSON text): its required members in lexicographic order. NULL when the
 * JWK is not an EC or OKP key with string members. */
char *tpo_dpop_jwk_thumbprint(apr_pool_t *p, const char *jwk_json);

/* base64url(SHA-256(access_token)): the proof's "ath". */
char *tpo_dpop_ath(apr_pool_t *p, const char *access_token);

/* The "htu" of a request URL: without query and fragment. NULL when url is
 * not an absolute http(s) URL. */
char *tpo_dpop_htu(apr_pool_t *p, const char *url);

/* A proof for one request. htm: the method; htu: the target URL (query and
 * fragment are dropped); access_token: adds "ath" when not NULL; nonce: the
 * server's last DPoP-Nonce, or NULL. NULL with *err on failure. */
char *tpo_dpop_proof(apr_pool_t *p, const tpo_dpop_key *k, const char *htm, const char *htu,
                     const char *access_token, const char *nonce, apr_time_t now, const char **err);

/* Whether v is a usable DPoP-Nonce: 1 to TPO_DPOP_NONCE_MAX NQCHARs
 * (%x21 / %x23-5B / %x5D-7E, RFC 9449 8.1). */
int tpo_dpop_nonce_ok(const char *v);

/* Whether a WWW-Authenticate value holds a DPoP challenge with
 * error="use_dpop_nonce" (RFC 9449 9). Reads at most
 * TPO_DPOP_WWW_AUTH_MAX bytes; anything malformed is "no". */
int tpo_dpop_www_auth_wants_nonce(const char *www_authenticate);

#endif
