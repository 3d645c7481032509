/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Token endpoint responses in every provider shape (RFC 6749, string and
 * duration expires_in, expires_at epoch/ISO-8601, error_code/message errors,
 * scopes arrays; see shared/PROVIDERS.md): whatever the body and status,
 * an accepted response has a usable access token and an expiry that is 0 or
 * within (now, now + 10 years]; an error response names its error; and no
 * failure detail quotes a token from the body (checked by changing only that
 * token and seeing the text go from the detail) nor holds a control
 * character (it goes to the error log). The expiry helpers
 * (durations, ISO-8601) run on the raw text too. */
#include <jansson.h>
#include "fuzz_common.h"
#include "tpo_token.h"

#define NOW_SEC 1700000000LL

static const int STATUS[] = {200, 200, 200, 201, 400, 401, 403, 500, 503, 302};

/* 1 if detail quotes the token in `field`: the detail holds it, and no
 * longer does when only that member's value is changed (text that the detail
 * holds anyway, from its own wording or a member it may quote such as a
 * sanitised token_type, does not count). */
static int contains_secret(apr_pool_t *p, const char *detail, json_t *body, const char *field,
                           int status, apr_time_t now)
{
    json_t *v = json_is_object(body) ? json_object_get(body, field) : NULL, *copy;
    const char *s = json_is_string(v) ? json_string_value(v) : NULL, *d2 = NULL;
    tpo_token_response t2;
    char *alt, *text;
    size_t n;
    int quoted;

    if (!detail || !s || (n = strlen(s)) < 8 || strstr(detail, s) == NULL)
        return 0;
    alt = apr_palloc(p, n + 1);
    memset(alt, s[0] == 'Z' ? 'Y' : 'Z', n);
    alt[n] = '\0';
    copy = json_deep_copy(body);
    CHECK(copy != NULL);
    json_object_set_new(copy, field, json_string(alt));
    text = json_dumps(copy, JSON_COMPACT);
    json_decref(copy);
    CHECK(text != NULL);
    memset(&t2, 0, sizeof(t2));
    (void)tpo_token_response_parse(p, text, strlen(text), status, now, &t2, &d2);
    quoted = d2 == NULL || strstr(d2, s) == NULL;
    free(text);
    return quoted;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    fuzz_in in = {data, size, 0};
    int status = STATUS[fuzz_byte(&in) % (sizeof(STATUS) / sizeof(STATUS[0]))];
    size_t len;
    char *body = fuzz_rest(&in, p, &len);
    apr_time_t now = apr_time_from_sec(NOW_SEC);
    tpo_token_response t;
    const char *detail = NULL;
    tpo_token_result r;
    json_t *j;
    const unsigned char *c;

    memset(&t, 0, sizeof(t));
    r = tpo_token_response_parse(p, body, len, status, now, &t, &detail);
    switch (r) {
    case TPO_TOKEN_OK:
        CHECK(t.access_token != NULL && *t.access_token != '\0');
        for (c = (const unsigned char *)t.access_token; *c; c++)
            CHECK(*c >= 0x20 && *c != 0x7f);
        CHECK(t.expires_at == 0 ||
              (t.expires_at > now && t.expires_at <= now + apr_time_from_sec(3660LL * 24 * 3660)));
        break;
    case TPO_TOKEN_ERROR_RESPONSE:
        CHECK(t.error != NULL);
        break;
    case TPO_TOKEN_MALFORMED:
        CHECK(detail != NULL);
        break;
    default:
        CHECK(!"unknown result");
    }
    /* details go to the error log: no control characters (log injection) */
    if (detail) {
        for (c = (const unsigned char *)detail; *c; c++)
            CHECK(*c >= 0x20 && *c != 0x7f);
    }
    j = json_loadb(body, len, JSON_DECODE_ANY, NULL);
    if (j) {
        CHECK(!contains_secret(p, detail, j, "access_token", status, now));
        CHECK(!contains_secret(p, detail, j, "refresh_token", status, now));
        CHECK(!contains_secret(p, detail, j, "id_token", status, now));
        json_decref(j);
    }
    (void)tpo_token_parse_duration(body);
    (void)tpo_token_parse_iso8601(body);
    apr_pool_destroy(p);
    return 0;
}
