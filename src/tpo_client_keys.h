/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The module's own signing keys for client authentication (private_key_jwt,
 * RFC 7523 / OIDC Core 9): loaded from PEM files at configuration time, with
 * a kid (configured, or the RFC 7638 thumbprint) and an algorithm that fits
 * the key; their public halves as a JWK Set for the provider. */
#ifndef TPO_CLIENT_KEYS_H
#define TPO_CLIENT_KEYS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <openssl/evp.h>

typedef struct tpo_client_key {
    EVP_PKEY *pkey;         /* private key; freed when the pool goes */
    const char *kid;        /* configured, or the RFC 7638 thumbprint */
    const char *alg;        /* RS256, PS256, ES256, ES384, ES512, EdDSA, ... */
    const char *jwk_public; /* the public JWK as compact JSON (kty, kid, alg, use) */
} tpo_client_key;

/* The algorithm a key of pkey's type signs with when none is configured:
 * RSA RS256, EC P-256/P-384/P-521 ES256/ES384/ES512, Ed25519 EdDSA; NULL
 * for other keys. */
const char *tpo_client_key_default_alg(EVP_PKEY *pkey);

/* Whether alg fits pkey (RSA of at least 2048 bits for RS and PS, the
 * curve of an ES alg, Ed25519 for EdDSA): NULL, or why not. */
const char *tpo_client_key_alg_problem(apr_pool_t *p, EVP_PKEY *pkey, const char *alg);

/* RFC 7638 thumbprint (SHA-256, base64url) of pkey's public key; NULL with
 * *err for a key type without a JWK form here. */
const char *tpo_jwk_thumbprint(apr_pool_t *p, EVP_PKEY *pkey, const char **err);

/* A client key from pkey (ownership passes to the pool). kid NULL: the
 * thumbprint; alg NULL: tpo_client_key_default_alg. NULL with *err. */
tpo_client_key *tpo_client_key_make(apr_pool_t *p, EVP_PKEY *pkey, const char *kid, const char *alg,
                                    const char **err);

/* Load an unencrypted PEM private key (PKCS#8 or traditional) from path.
 * NULL with *err (names the file, never key material). */
tpo_client_key *tpo_client_key_load(apr_pool_t *p, const char *path, const char *kid,
                                    const char *alg, const char **err);

/* Read a client certificate (PEM, with its chain) and its unencrypted PEM
 * private key (tls_client_auth, RFC 8705) into memory, so that they need not
 * be readable by the server's user later: NULL with *cert_pem and *key_pem
 * set, or what is wrong (a missing file, no certificate, not its key). */
const char *tpo_client_cert_load(apr_pool_t *p, const char *cert_path, const char *key_path,
                                 const char **cert_pem, const char **key_pem);

/* {"keys":[...]} of the public keys of keys (tpo_client_key*), in order. */
const char *tpo_client_keys_jwks(apr_pool_t *p, const apr_array_header_t *keys);

#endif
