/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Randomness and PKCE (RFC 7636). */
#ifndef TPO_PKCE_H
#define TPO_PKCE_H

#include <apr_pools.h>
#include <apr_errno.h>

/* nbytes from the OpenSSL CSPRNG. APR_EGENERAL when the RNG fails. */
apr_status_t tpo_random_bytes(unsigned char *buf, apr_size_t nbytes);

/* nbytes of randomness, base64url-encoded (e.g. 32 bytes -> 43 chars).
 * nbytes must be 1..4096 (APR_EINVAL otherwise). */
apr_status_t tpo_random_token(apr_pool_t *p, apr_size_t nbytes, char **out);
/* n such tokens (out[0..n-1]) from one draw of the generator. */
apr_status_t tpo_random_tokens(apr_pool_t *p, apr_size_t nbytes, int n, char **out);

/* A fresh code_verifier: 32 random bytes, base64url (43 chars). */
apr_status_t tpo_pkce_verifier(apr_pool_t *p, char **out);

/* code_challenge = BASE64URL(SHA256(ASCII(verifier))). */
char *tpo_pkce_challenge_s256(apr_pool_t *p, const char *verifier);

/* 1 when verifier is 43..128 chars of [A-Za-z0-9-._~] (RFC 7636 4.1). */
int tpo_pkce_verifier_valid(const char *verifier);

#endif
