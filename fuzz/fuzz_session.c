/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The session record decoder on hostile bytes (what a tampered or corrupt
 * cache would hand it): it never reads outside the record, every string it
 * returns lies inside the record and ends there, and a record it accepts
 * survives encode/decode both as a whole (pairs copied as they are) and
 * field by field (pairs rebuilt from the decoded arrays). */
#include "fuzz_common.h"
#include "tpo_session.h"

static const char *buf_lo, *buf_hi;

static void in_record(const char *s)
{
    if (s == NULL)
        return;
    CHECK(s >= buf_lo && s < buf_hi);
    CHECK(memchr(s, '\0', (size_t)(buf_hi - s)) != NULL);
}

static void pair_cb(void *baton, const char *name, const char *value)
{
    (*(int *)baton)++;
    in_record(name);
    in_record(value);
}

static int same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void same_pairs(const apr_array_header_t *a, const apr_array_header_t *b)
{
    int i;

    CHECK(a->nelts == b->nelts);
    for (i = 0; i < a->nelts; i++) {
        CHECK(strcmp(APR_ARRAY_IDX(a, i, const char *), APR_ARRAY_IDX(b, i, const char *)) == 0);
    }
}

static void same_session(apr_pool_t *p, const tpo_session *a, const tpo_session *b)
{
    CHECK(a->created == b->created && a->expires == b->expires);
    CHECK(a->last_seen == b->last_seen && a->at_expires == b->at_expires);
    CHECK(a->at_obtained == b->at_obtained);
    CHECK(same(a->provider, b->provider) && same(a->user, b->user) && same(a->sub, b->sub));
    CHECK(same(a->access_token, b->access_token) && same(a->refresh_token, b->refresh_token));
    CHECK(same(a->id_token, b->id_token) && same(a->scope, b->scope));
    CHECK(same(a->claims, b->claims) && same(a->op_sid, b->op_sid));
    CHECK(same(a->acr, b->acr) && a->auth_time == b->auth_time);
    same_pairs(tpo_session_pairs(a, TPO_SESSION_PAIRS_ENV, p),
               tpo_session_pairs(b, TPO_SESSION_PAIRS_ENV, p));
    same_pairs(tpo_session_pairs(a, TPO_SESSION_PAIRS_HEADERS, p),
               tpo_session_pairs(b, TPO_SESSION_PAIRS_HEADERS, p));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    /* an exact-size copy: ASan sees any read past the record's end */
    char *buf = size ? apr_pmemdup(p, data, size) : NULL;
    tpo_session s, again, rebuilt;
    apr_size_t len;
    char *enc;
    int n = 0;

    if (tpo_session_decode(p, buf, size, &s) != APR_SUCCESS) {
        apr_pool_destroy(p);
        return 0;
    }
    buf_lo = buf;
    buf_hi = buf + size;
    in_record(s.provider);
    in_record(s.user);
    in_record(s.sub);
    in_record(s.access_token);
    in_record(s.refresh_token);
    in_record(s.id_token);
    in_record(s.scope);
    in_record(s.claims);
    in_record(s.op_sid);
    in_record(s.acr);
    CHECK(s.user != NULL && s.provider != NULL);
    if (s.pairs)
        CHECK(s.pairs >= buf && s.pairs + s.pairs_len == buf + size);
    tpo_session_pairs_each(&s, TPO_SESSION_PAIRS_ENV, pair_cb, &n);
    tpo_session_pairs_each(&s, TPO_SESSION_PAIRS_HEADERS, pair_cb, &n);

    /* written back unchanged (pairs copied as they are) */
    enc = tpo_session_encode(p, &s, &len);
    CHECK(tpo_session_decode(p, enc, len, &again) == APR_SUCCESS);
    same_session(p, &s, &again);

    /* rebuilt from the decoded pairs */
    rebuilt = s;
    rebuilt.env = tpo_session_pairs(&s, TPO_SESSION_PAIRS_ENV, p);
    rebuilt.headers = tpo_session_pairs(&s, TPO_SESSION_PAIRS_HEADERS, p);
    CHECK(rebuilt.env->nelts + rebuilt.headers->nelts == 2 * n);
    rebuilt.pairs = NULL;
    rebuilt.pairs_len = 0;
    enc = tpo_session_encode(p, &rebuilt, &len);
    CHECK(tpo_session_decode(p, enc, len, &again) == APR_SUCCESS);
    same_session(p, &s, &again);
    apr_pool_destroy(p);
    return 0;
}
