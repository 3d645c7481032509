/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Randomness and PKCE (RFC 7636). */
#include <limits.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "tpo_b64.h"
#include "tpo_evp.h"
#include "tpo_pkce.h"

#define TPO_PKCE_VERIFIER_BYTES 32
#define TPO_RANDOM_TOKEN_MAX 4096 /* no caller needs more */

apr_status_t tpo_random_bytes(unsigned char *buf, apr_size_t nbytes)
{
    while (nbytes > 0) {
        int chunk = nbytes > (apr_size_t)INT_MAX ? INT_MAX : (int)nbytes;
        if (RAND_bytes(buf, chunk) != 1) {
            return APR_EGENERAL;
        }
        buf += chunk;
        nbytes -= (apr_size_t)chunk;
    }
    return APR_SUCCESS;
}

apr_status_t tpo_random_token(apr_pool_t *p, apr_size_t nbytes, char **out)
{
    unsigned char buf[TPO_RANDOM_TOKEN_MAX];
    apr_status_t rv;

    *out = NULL;
    if (nbytes == 0 || nbytes > sizeof(buf)) {
        return APR_EINVAL;
    }
    rv = tpo_random_bytes(buf, nbytes);
    if (rv == APR_SUCCESS) {
        *out = tpo_b64url_encode(p, buf, nbytes);
    }
    OPENSSL_cleanse(buf, nbytes);
    return rv;
}

apr_status_t tpo_random_tokens(apr_pool_t *p, apr_size_t nbytes, int n, char **out)
{
    unsigned char buf[TPO_RANDOM_TOKEN_MAX];
    apr_status_t rv;
    int i;

    for (i = 0; i < n; i++) {
        out[i] = NULL;
    }
    if (nbytes == 0 || n <= 0 || nbytes * (apr_size_t)n > sizeof(buf)) {
        return APR_EINVAL;
    }
    rv = tpo_random_bytes(buf, nbytes * (apr_size_t)n);
    for (i = 0; rv == APR_SUCCESS && i < n; i++) {
        out[i] = tpo_b64url_encode(p, buf + nbytes * (apr_size_t)i, nbytes);
    }
    OPENSSL_cleanse(buf, nbytes * (apr_size_t)n);
    return rv;
}

apr_status_t tpo_pkce_verifier(apr_pool_t *p, char **out)
{
    return tpo_random_token(p, TPO_PKCE_VERIFIER_BYTES, out);
}

char *tpo_pkce_challenge_s256(apr_pool_t *p, const char *verifier)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (!verifier) {
        return NULL;
    }
    if (EVP_Digest(verifier, strlen(verifier), md, &mdlen, tpo_evp_sha256(), NULL) != 1 ||
        mdlen != 32) {
        return NULL;
    }
    return tpo_b64url_encode(p, md, mdlen);
}

int tpo_pkce_verifier_valid(const char *verifier)
{
    apr_size_t n = 0;
    const char *s;

    if (!verifier) {
        return 0;
    }
    for (s = verifier; *s; s++) {
        char c = *s;
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '.' || c == '_' || c == '~';
        if (!ok || ++n > 128) {
            return 0;
        }
    }
    return n >= 43;
}
