/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Tokens for backends (tpo_backend_token.c) on hostile bytes: the gateway
 * token's cache record (the cache is not trusted), the token endpoint's
 * answer to the client-credentials grant, and the ID token whose payload
 * goes into a request header. The first byte picks the parser (and the
 * HTTP status). Oracles: whatever is accepted can go into a header (visible
 * ASCII only, no CR/LF/space: tpo_bt_token_ok), an accepted record survives
 * encode/decode unchanged, an accepted answer has a lifetime longer than
 * TPO_BT_MIN_REMAINING_S, a refused one names its error, the timing decision
 * never lets a token be used at or after its usable end, and a payload
 * header value is one line of printable ASCII that parses as a JSON
 * object. */
#include <jansson.h>
#include "fuzz_common.h"
#include "tpo_backend_token.h"
#include "tpo_defaults.h"

#define NOW_SEC 1700000000LL

static const int STATUS[] = {200, 200, 201, 400, 401, 500};

static void check_token(const char *t)
{
    const unsigned char *c;

    CHECK(t != NULL && *t != '\0');
    for (c = (const unsigned char *)t; *c; c++)
        CHECK(*c > 0x20 && *c < 0x7f);
}

static void check_decisions(const tpo_bt_token *t, const uint8_t *data, size_t size)
{
    apr_interval_time_t before = apr_time_from_sec(size ? data[0] : 60);
    apr_time_t probes[6];
    int i;

    probes[0] = t->obtained;
    probes[1] = tpo_bt_renew_at(t, before);
    probes[2] = tpo_bt_usable_until(t);
    probes[3] = t->expires;
    probes[4] = t->obtained + (t->expires - t->obtained) / 2;
    probes[5] = apr_time_from_sec(NOW_SEC);
    for (i = 0; i < 6; i++) {
        tpo_bt_decision d = tpo_bt_decide(t, probes[i], before);
        if (d != TPO_BT_FETCH)
            CHECK(probes[i] < tpo_bt_usable_until(t) && probes[i] < t->expires);
        if (d == TPO_BT_USE)
            CHECK(probes[i] < tpo_bt_renew_at(t, before));
    }
    CHECK(tpo_bt_decide(NULL, probes[5], before) == TPO_BT_FETCH);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    fuzz_in in = {data, size, 0};
    unsigned sel = fuzz_byte(&in);
    size_t len;
    char *rest = fuzz_rest(&in, p, &len);
    apr_time_t now = apr_time_from_sec(NOW_SEC);
    tpo_bt_token t, t2;

    switch (sel % 3) {
    case 0: /* the cache record */
        if (tpo_bt_decode(p, rest, len, &t) == APR_SUCCESS) {
            const char *enc;
            apr_size_t elen;
            check_token(t.access_token);
            CHECK(t.expires > t.obtained);
            enc = tpo_bt_encode(p, &t, &elen);
            CHECK(tpo_bt_decode(p, enc, elen, &t2) == APR_SUCCESS);
            CHECK(strcmp(t.access_token, t2.access_token) == 0);
            CHECK(t.obtained == t2.obtained && t.expires == t2.expires);
            check_decisions(&t, data, size);
        }
        break;
    case 1: { /* the token endpoint's answer */
        int status = STATUS[(sel / 3) % (sizeof(STATUS) / sizeof(STATUS[0]))];
        const char *error = NULL, *detail = NULL;
        switch (tpo_bt_response(p, rest, len, status, now, 3600, &t, &error, &detail)) {
        case TPO_BT_OK:
            check_token(t.access_token);
            CHECK(t.obtained == now);
            CHECK(t.expires > now + apr_time_from_sec(TPO_BT_MIN_REMAINING_S));
            check_decisions(&t, data, size);
            break;
        case TPO_BT_REFUSED:
            CHECK(error != NULL);
            break;
        case TPO_BT_BAD:
            CHECK(detail != NULL);
            break;
        }
        break;
    }
    default: { /* the ID token's payload for a header */
        const char *j = tpo_bt_jwt_payload_json(p, rest);
        if (j) {
            const unsigned char *c;
            json_error_t err;
            json_t *o;
            for (c = (const unsigned char *)j; *c; c++)
                CHECK(*c >= 0x20 && *c < 0x7f);
            o = json_loads(j, 0, &err);
            CHECK(o != NULL && json_is_object(o));
            json_decref(o);
        }
        break;
    }
    }
    apr_pool_destroy(p);
    return 0;
}
