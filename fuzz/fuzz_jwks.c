/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* JWK Set parsing on a hostile set (what a compromised or spoofed jwks_uri
 * could serve): the parser survives anything, every key it keeps is usable
 * (a kty, a public key or an oct secret), and tokens signed in this process
 * by keys the input cannot know never verify against the set it makes.
 * Input: "<JWKS JSON>\0<compact token>"; the token is also verified (for
 * crashes: a set and a token both from the input could in theory match). */
#include "fuzz_keys.h"

static const char *fresh_tokens[NKEYS + 1];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *err = NULL;
    int i;

    fuzz_keys_init();
    fuzz_once_begin();
    for (i = 0; i < NKEYS; i++) {
        fresh_tokens[i] = genuine(keys_pool, i, "{\"iss\":\"https://idp.example\",\"sub\":\"u\"}");
    }
    fresh_tokens[NKEYS] = tpo_jws_sign(keys_pool, "HS256", NULL, "{\"sub\":\"u\"}", NULL,
                                       client_secret, sizeof(client_secret), &err);
    CHECK(fresh_tokens[NKEYS] != NULL);
    fuzz_once_end();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    fuzz_in in = {data, size, 0};
    size_t jl;
    const char *json = fuzz_part(&in, p, 0, &jl), *token = fuzz_rest(&in, p, NULL);
    const char *err = NULL;
    tpo_jwks *set = NULL;
    tpo_jws *jws;
    int i;

    if (tpo_jwks_parse(p, json, jl, &set, &err) != APR_SUCCESS) {
        CHECK(err != NULL);
        apr_pool_destroy(p);
        return 0;
    }
    CHECK(set != NULL && set->keys->nelts > 0);
    for (i = 0; i < set->keys->nelts; i++) {
        const tpo_jwk *k = APR_ARRAY_IDX(set->keys, i, const tpo_jwk *);
        CHECK(k != NULL && k->kty != NULL);
        if (strcmp(k->kty, "oct") == 0)
            CHECK(k->secret != NULL || k->secret_len == 0);
        else
            CHECK(k->pkey != NULL);
    }
    for (i = 0; i <= NKEYS; i++) {
        jws = NULL;
        CHECK(tpo_jws_parse(p, fresh_tokens[i], &jws, &err) == APR_SUCCESS);
        CHECK(tpo_jws_verify(p, jws, set, NULL, FUZZ_ALGS, &err) != APR_SUCCESS);
    }
    jws = NULL;
    if (tpo_jws_parse(p, token, &jws, &err) == APR_SUCCESS) {
        (void)tpo_jws_verify(p, jws, set, NULL, FUZZ_ALGS, &err);
    }
    apr_pool_destroy(p);
    return 0;
}
