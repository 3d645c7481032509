/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* ID token validation (OIDC Core 3.1.3.7) against keys generated in this
 * process. Forgery oracle: a token made from the input (as it is, from
 * header/payload/signature parts, or signed by the attacker's keys or with
 * the set's public material as an HMAC secret) never validates. Claims
 * oracle: for claims from the input signed by a key of the set, validation
 * succeeds only when an independent check of iss, aud, azp, exp, iat, nbf,
 * nonce and sub agrees. */
#include <math.h>
#include "fuzz_keys.h"
#include "tpo_idtoken.h"

#define NOW_SEC 1700000000LL
#define SKEW 60
#define ISSUER "https://idp.example"
#define CLIENT "client-1"
#define NONCE "n-0S6_WzA2Mj"

static tpo_idtoken_expect expect;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_pool_t *p;
    json_t *claims = NULL;
    const char *detail = NULL;
    int i;

    fuzz_keys_init();
    expect.issuer = ISSUER;
    expect.client_id = CLIENT;
    expect.nonce = NONCE;
    expect.now = apr_time_from_sec(NOW_SEC);
    expect.skew_sec = SKEW;
    expect.max_age_sec = 0;
    expect.allowed_algs = FUZZ_ALGS;
    expect.hs_key = fuzz_hs_key;
    p = fuzz_pool();
    for (i = 0; i < 4; i++) {
        const char *t = genuine(p, i,
                                "{\"iss\":\"" ISSUER "\",\"aud\":\"" CLIENT "\","
                                "\"sub\":\"u\",\"exp\":1700000600,\"iat\":1700000000,"
                                "\"nonce\":\"" NONCE "\"}");
        CHECK(tpo_idtoken_validate(p, t, fuzz_set, &expect, &claims, &detail) == TPO_IDT_OK);
    }
    apr_pool_destroy(p);
    return 0;
}

static int exact_string(json_t *v, const char *want)
{
    return json_is_string(v) && json_string_length(v) == strlen(want) &&
           memcmp(json_string_value(v), want, strlen(want)) == 0;
}

static int number_ok(json_t *c, const char *name, int required, int (*ok)(double))
{
    json_t *v = json_object_get(c, name);

    if (v == NULL)
        return !required;
    return json_is_number(v) && ok(json_number_value(v));
}

static int exp_ok(double v)
{
    return v >= (double)(NOW_SEC - SKEW);
}
static int past_ok(double v)
{
    return v <= (double)(NOW_SEC + SKEW);
}

/* What OIDC Core 3.1.3.7 requires of the claims, written independently. */
static int claims_acceptable(json_t *c)
{
    json_t *aud = json_object_get(c, "aud"), *azp = json_object_get(c, "azp");
    json_t *sub = json_object_get(c, "sub");
    size_t naud = 0, i;
    int found = 0;

    if (!json_is_object(c) || !exact_string(json_object_get(c, "iss"), ISSUER))
        return 0;
    if (json_is_string(aud)) {
        naud = 1;
        found = exact_string(aud, CLIENT);
    }
    else if (json_is_array(aud)) {
        naud = json_array_size(aud);
        for (i = 0; i < naud; i++) {
            if (!json_is_string(json_array_get(aud, i)))
                return 0;
            if (exact_string(json_array_get(aud, i), CLIENT))
                found = 1;
        }
    }
    if (!found)
        return 0;
    if (azp ? !exact_string(azp, CLIENT) : naud > 1)
        return 0;
    if (!number_ok(c, "exp", 1, exp_ok) || !number_ok(c, "iat", 1, past_ok) ||
        !number_ok(c, "nbf", 0, past_ok)) {
        return 0;
    }
    if (!exact_string(json_object_get(c, "nonce"), NONCE))
        return 0;
    return json_is_string(sub) && json_string_length(sub) > 0 &&
           strlen(json_string_value(sub)) == json_string_length(sub);
}

static tpo_idtoken_result validate(apr_pool_t *p, const char *t, json_t **claims)
{
    const char *detail = NULL;
    tpo_idtoken_result r;

    *claims = NULL;
    r = tpo_idtoken_validate(p, t, fuzz_set, &expect, claims, &detail);
    CHECK(r >= TPO_IDT_OK && r <= TPO_IDT_SUB);
    CHECK(strcmp(tpo_idtoken_result_name(r), "unknown") != 0);
    if (r != TPO_IDT_OK)
        CHECK(detail != NULL);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    fuzz_in in = {data, size, 0};
    json_t *claims;
    char *t;

    switch (fuzz_byte(&in) % 4) {
    case 0:
        CHECK(validate(p, fuzz_rest(&in, p, NULL), &claims) != TPO_IDT_OK);
        break;
    case 1:
        CHECK(validate(p, structured_token(p, &in), &claims) != TPO_IDT_OK);
        break;
    case 2: {
        fuzz_in hdr = in;
        in.pos = in.pos + 3 <= in.n ? in.pos + 3 : in.n;
        t = attacker_token(p, &hdr, fuzz_rest(&in, p, NULL));
        if (t)
            CHECK(validate(p, t, &claims) != TPO_IDT_OK);
        break;
    }
    default: {
        /* claims from the input, genuinely signed (EC/Ed25519: cheap) */
        int k = 1 + (int)(fuzz_byte(&in) % 3);
        const char *payload = fuzz_rest(&in, p, NULL);
        json_t *parsed = json_loads(payload, JSON_REJECT_DUPLICATES, NULL);
        tpo_idtoken_result r;

        t = genuine(p, k, payload);
        r = validate(p, t, &claims);
        if (r == TPO_IDT_OK) {
            CHECK(claims != NULL && claims_acceptable(claims));
            CHECK(parsed == NULL || claims_acceptable(parsed));
        }
        else if (parsed && r != TPO_IDT_MALFORMED) {
            CHECK(!claims_acceptable(parsed));
        }
        if (parsed)
            json_decref(parsed);
        break;
    }
    }
    apr_pool_destroy(p);
    return 0;
}
