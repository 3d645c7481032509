/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* JWS parsing and verification against a JWK Set of keys generated in this
 * process (RSA, P-256, P-384, Ed25519 and an oct key) plus a client secret
 * as HS key, with a forgery oracle: no token made from the input may verify.
 * Inputs are read in four ways (first byte):
 *   0 the compact token as it is;
 *   1 header JSON, payload and signature bytes, base64url-encoded by us;
 *   2 a payload signed by the attacker: with keys of their own under a kid
 *     of the set, or HS* with public material of the set as the secret
 *     (alg confusion);
 *   3 a genuine token (payload from the input, signed by a key of the set)
 *     with bytes changed at positions the input chooses: it verifies if and
 *     only if nothing changed. */
#include "fuzz_keys.h"

static int verifies(apr_pool_t *p, const char *compact)
{
    tpo_jws *jws = NULL;
    const char *err = NULL;
    apr_status_t rv;

    if (tpo_jws_parse(p, compact, &jws, &err) != APR_SUCCESS)
        return 0;
    CHECK(jws != NULL && jws->alg != NULL);
    (void)tpo_jws_alg_supported(jws->alg);
    (void)tpo_jws_payload_json(p, jws, &err);
    rv = tpo_jws_verify(p, jws, fuzz_set, fuzz_hs_key, FUZZ_ALGS, &err);
    CHECK(rv == APR_SUCCESS || rv == APR_ENOENT || rv == APR_EINVAL);
    return rv == APR_SUCCESS;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_pool_t *p;
    int i;

    fuzz_keys_init();
    p = fuzz_pool();
    /* the oracle is not vacuous: genuine tokens of every asymmetric key verify */
    for (i = 0; i < 4; i++)
        CHECK(verifies(p, genuine(p, i, "{\"sub\":\"x\"}")));
    apr_pool_destroy(p);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    fuzz_in in = {data, size, 0};
    char *t;

    p = fuzz_pool();
    switch (fuzz_byte(&in) % 4) {
    case 0:
        CHECK(!verifies(p, fuzz_rest(&in, p, NULL)));
        break;
    case 1:
        CHECK(!verifies(p, structured_token(p, &in)));
        break;
    case 2: {
        fuzz_in hdr = in;
        in.pos = in.pos + 3 <= in.n ? in.pos + 3 : in.n;
        t = attacker_token(p, &hdr, fuzz_rest(&in, p, NULL));
        if (t)
            CHECK(!verifies(p, t));
        break;
    }
    default: {
        unsigned kb = fuzz_byte(&in);
        int k = kb % 16 == 0 ? 0 : 1 + (int)(kb % 3); /* RSA (slow) 1 in 16 */
        int n = (int)(fuzz_byte(&in) % 4), j;
        char *orig;
        size_t tl;

        t = genuine(p, k, fuzz_part(&in, p, 0, NULL));
        orig = apr_pstrdup(p, t);
        tl = strlen(t);
        for (j = 0; j < n; j++) {
            unsigned pos = fuzz_byte(&in) << 8;
            pos |= fuzz_byte(&in);
            t[pos % tl] = (char)(fuzz_byte(&in) | 1); /* never a NUL */
        }
        CHECK(verifies(p, t) == (strcmp(t, orig) == 0));
        break;
    }
    }
    apr_pool_destroy(p);
    return 0;
}
