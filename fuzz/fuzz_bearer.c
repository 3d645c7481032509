/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Bearer tokens (tpo_bearer.c): the Authorization header, the JWT shape,
 * the token syntax, introspection answers, the RFC 6750 challenge and the
 * JWT access-token checks. Oracles: a token taken from a header is a
 * b64token; a challenge is one header line without control characters whose quoted
 * values never end early; an accepted introspection answer is active; and no
 * token made from the input (it cannot be signed by a key of the set, and
 * HS* is never accepted) validates. Input: the first byte picks a mode, the
 * rest is the subject. */
#include "fuzz_keys.h"
#include "tpo_bearer.h"

#define NOW_SEC 1700000000LL

static tpo_bearer_expect expect;
static const char *const AUDS[] = {"https://api.example", NULL};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_pool_t *p;
    json_t *claims = NULL;
    const char *detail = NULL;
    const char *t;

    fuzz_keys_init();
    expect.issuer = "https://idp.example";
    expect.audiences = AUDS;
    expect.now = apr_time_from_sec(NOW_SEC);
    expect.skew_sec = 60;
    expect.allowed_algs = FUZZ_ALGS;
    p = fuzz_pool();
    /* the oracle's premise: a genuine token does validate */
    t = genuine(p, 0,
                "{\"iss\":\"https://idp.example\",\"aud\":\"https://api.example\","
                "\"sub\":\"u\",\"exp\":1700000600}");
    CHECK(tpo_bearer_jwt_validate(p, t, fuzz_set, &expect, &claims, &detail) == TPO_BT_OK);
    apr_pool_destroy(p);
    return 0;
}

static void check_challenge(const char *h)
{
    const char *s;
    int quotes = 0;

    CHECK(h != NULL && strncmp(h, "Bearer realm=\"", 14) == 0);
    for (s = h; *s; s++) {
        /* no control character (the realm may keep obs-text, >= 0x80) */
        CHECK((unsigned char)*s >= 0x20 && (unsigned char)*s != 0x7f);
        if (*s == '\\') {
            CHECK(s[1] != '\0');
            s++;
            continue;
        }
        if (*s == '"') {
            quotes++;
        }
    }
    CHECK(quotes % 2 == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    char *s;
    const char *tok = NULL, *detail = NULL;
    json_t *claims = NULL;
    tpo_introspection in;
    unsigned mode;
    int rc;

    if (size < 1) {
        return 0;
    }
    p = fuzz_pool();
    mode = data[0] % 5;
    s = apr_pstrmemdup(p, (const char *)data + 1, size - 1);
    switch (mode) {
    case 0:
        rc = tpo_bearer_from_header(p, s, &tok);
        CHECK(rc >= -1 && rc <= 1);
        if (rc == 1) {
            CHECK(tpo_bearer_token_ok(tok));
            CHECK(strlen(tok) <= TPO_BEARER_MAX_TOKEN);
        }
        else {
            CHECK(tok == NULL);
        }
        break;
    case 1:
        if (tpo_bearer_looks_like_jwt(s)) {
            const char *d1 = strchr(s, '.');
            CHECK(d1 && strchr(d1 + 1, '.') && !strchr(strchr(d1 + 1, '.') + 1, '.'));
            CHECK(tpo_bearer_token_ok(s) || !*s);
        }
        break;
    case 2: {
        /* realm NUL error NUL description NUL scope */
        const char *parts[4] = {"", NULL, NULL, NULL};
        const char *q = s, *end = s + (size - 1);
        int i;
        for (i = 0; i < 4 && q <= end; i++) {
            parts[i] = q;
            q += strlen(q) + 1;
        }
        check_challenge(tpo_bearer_challenge(p, parts[0], parts[1], parts[2], parts[3]));
        if (parts[1] && parts[2]) {
            const char *m = tpo_bearer_scope_missing(p, parts[1], parts[2]);
            CHECK(m == NULL || *m);
        }
        break;
    }
    case 3:
        rc = tpo_introspection_parse(p, s, size - 1, 200, &expect, &in, &detail);
        if (rc == TPO_BT_OK) {
            CHECK(in.active == 1 && json_is_object(in.json));
        }
        else {
            CHECK(detail != NULL);
            CHECK(rc != TPO_BT_INACTIVE || in.active == 0);
        }
        break;
    default:
        rc = tpo_bearer_jwt_validate(p, s, fuzz_set, &expect, &claims, &detail);
        CHECK(rc != TPO_BT_OK);
        CHECK(claims == NULL && detail != NULL);
        break;
    }
    apr_pool_destroy(p);
    return 0;
}
