/* Token endpoint responses in every provider shape (RFC 6749, string and
 * duration expires_in, expires_at epoch/ISO-8601, error_code/message errors,
 * scopes arrays; see shared/PROVIDERS.md): whatever the body and status,
 * an accepted response has a usable access token and an expiry that is 0 or
 * within (now, now + 10 years]; an error response names its error; and no
 * failure detail repeats a token from the body (unless the same text is also
 * in a member the detail may quote, such as token_type) nor holds a control
 * character (it goes to the error log). The expiry helpers
 * (durations, ISO-8601) run on the raw text too. */
#include <jansson.h>
#include "fuzz_common.h"
#include "tpo_token.h"

#define NOW_SEC 1700000000LL

static const int STATUS[] = { 200, 200, 200, 201, 400, 401, 403, 500, 503, 302 };

/* 1 if detail quotes the token in `field`. A detail may quote other
 * members (an error code, an unsupported token_type): a token that also
 * appears inside one of those does not count. */
static int contains_secret(const char *detail, json_t *body, const char *field)
{
    json_t *v = json_is_object(body) ? json_object_get(body, field) : NULL, *o;
    const char *s = json_is_string(v) ? json_string_value(v) : NULL, *name;

    if (!detail || !s || strlen(s) < 6 || strstr(detail, s) == NULL) return 0;
    json_object_foreach(body, name, o) {
        if (strcmp(name, field) != 0 && json_is_string(o) && strstr(json_string_value(o), s)) {
            return 0;
        }
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    fuzz_in in = { data, size, 0 };
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
        for (c = (const unsigned char *)t.access_token; *c; c++) CHECK(*c >= 0x20 && *c != 0x7f);
        CHECK(t.expires_at == 0
              || (t.expires_at > now && t.expires_at <= now + apr_time_from_sec(3660LL * 24 * 3660)));
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
        for (c = (const unsigned char *)detail; *c; c++) CHECK(*c >= 0x20 && *c != 0x7f);
    }
    j = json_loadb(body, len, JSON_DECODE_ANY, NULL);
    if (j) {
        CHECK(!contains_secret(detail, j, "access_token"));
        CHECK(!contains_secret(detail, j, "refresh_token"));
        CHECK(!contains_secret(detail, j, "id_token"));
        json_decref(j);
    }
    (void)tpo_token_parse_duration(body);
    (void)tpo_token_parse_iso8601(body);
    apr_pool_destroy(p);
    return 0;
}
