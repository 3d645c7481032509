/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Pushed-authorization answers (RFC 9126) from a hostile provider: the first
 * byte picks the HTTP status; an accepted answer has a bounded request_uri
 * of visible ASCII with a scheme and a bounded positive expires_in, an error
 * answer a bounded printable error name; nothing else is set. */
#include "fuzz_common.h"
#include "tpo_par.h"
#include "tpo_defaults.h"

static const int statuses[8] = {201, 200, 400, 401, 500, 503, 302, 204};

static void printable(const char *s, size_t max)
{
    size_t n = strlen(s), i;

    CHECK(n <= max);
    for (i = 0; i < n; i++) {
        CHECK((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] <= 0x7e);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    fuzz_in in = {data, size, 0};
    int status = statuses[fuzz_byte(&in) & 7];
    size_t len, i;
    const char *body = fuzz_rest(&in, p, &len), *detail = NULL;
    tpo_par_response r;
    tpo_par_result res = tpo_par_response_parse(p, body, len, status, &r, &detail);

    switch (res) {
    case TPO_PAR_OK:
        CHECK(status == 200 || status == 201);
        CHECK(r.request_uri != NULL && r.error == NULL);
        CHECK(strlen(r.request_uri) <= TPO_PAR_REQUEST_URI_MAX);
        CHECK(strchr(r.request_uri, ':') != NULL);
        for (i = 0; r.request_uri[i]; i++) {
            CHECK((unsigned char)r.request_uri[i] > 0x20 && (unsigned char)r.request_uri[i] < 0x7f);
        }
        CHECK(r.expires_in >= 1 && r.expires_in <= TPO_PAR_EXPIRES_MAX);
        break;
    case TPO_PAR_ERROR_RESPONSE:
        CHECK(r.request_uri == NULL && r.expires_in == 0 && r.error != NULL);
        printable(r.error, 128);
        if (r.error_description) {
            printable(r.error_description, 512);
        }
        CHECK(detail != NULL);
        break;
    default:
        CHECK(res == TPO_PAR_MALFORMED);
        CHECK(r.request_uri == NULL && r.expires_in == 0 && detail != NULL);
        break;
    }
    apr_pool_destroy(p);
    return 0;
}
