/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Client assertions for private_key_jwt and client_secret_jwt
 * (tpo_client_assertion.h). The assertion is a credential: it never reaches
 * a log line. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <jansson.h>
#include <openssl/rand.h>
#include "tpo_b64.h"
#include "tpo_client_assertion.h"
#include "tpo_jose.h"

#define TPO_CLIENT_ASSERTION_JTI_BYTES 16

char *tpo_client_assertion_build(apr_pool_t *p, const char *client_id, const char *audience,
                                 apr_time_t now, int lifetime_sec, const tpo_client_key *key,
                                 const char *secret, const char **err)
{
    unsigned char rnd[TPO_CLIENT_ASSERTION_JTI_BYTES];
    json_t *claims;
    char *payload, *jws;
    json_int_t iat = (json_int_t)apr_time_sec(now);

    if (!client_id || !audience) {
        *err = "no client_id or no audience";
        return NULL;
    }
    if (!key && (!secret || !*secret)) {
        *err = "no signing key and no client secret";
        return NULL;
    }
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        *err = "no randomness for the jti";
        return NULL;
    }
    claims = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "iss", client_id, "sub", client_id, "aud",
                       audience, "jti", tpo_b64url_encode(p, rnd, sizeof(rnd)), "iat", iat, "exp",
                       iat + (json_int_t)lifetime_sec);
    if (!claims) {
        *err = "the client_id or the audience is not valid UTF-8";
        return NULL;
    }
    payload = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(claims);
    if (!payload) {
        *err = "out of memory";
        return NULL;
    }
    if (key) {
        jws = tpo_jws_sign(p, key->alg, key->kid, payload, key->pkey, NULL, 0, err);
    }
    else {
        jws = tpo_jws_sign(p, "HS256", NULL, payload, NULL, (const unsigned char *)secret,
                           strlen(secret), err);
    }
    free(payload);
    return jws;
}
