/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Claim rendering (names and values) from hostile claims, as an IdP or a
 * userinfo endpoint could send them: every variable name is [A-Za-z0-9_]
 * and every header name [A-Za-z0-9-] (non-empty), every header value is
 * printable ASCII without '%' except as a %XX escape, no variable value holds
 * a control character; the helpers (path, match, merge, filter, scalar)
 * survive the same input. Input: "<claims JSON>\0<userinfo JSON>\0<path>". */
#include <jansson.h>
#include "fuzz_common.h"
#include "tpo_claims.h"

static int hexd(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static void check_pairs(const apr_array_header_t *a, int headers)
{
    int i;

    CHECK(a != NULL && a->nelts % 2 == 0);
    for (i = 0; i < a->nelts; i += 2) {
        const unsigned char *n = APR_ARRAY_IDX(a, i, const unsigned char *);
        const unsigned char *v = APR_ARRAY_IDX(a, i + 1, const unsigned char *);

        CHECK(n != NULL && *n != '\0' && v != NULL);
        for (; *n; n++) {
            CHECK((*n >= 'A' && *n <= 'Z') || (*n >= 'a' && *n <= 'z') ||
                  (*n >= '0' && *n <= '9') || *n == (headers ? '-' : '_'));
        }
        for (; *v; v++) {
            if (headers) {
                CHECK(*v >= 0x20 && *v < 0x7f);
                if (*v == '%')
                    CHECK(hexd((char)v[1]) && hexd((char)v[2]));
            }
            else {
                CHECK(*v >= 0x20 && *v != 0x7f);
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    fuzz_in in = {data, size, 0};
    size_t cl, ul;
    const char *ctext = fuzz_part(&in, p, 0, &cl), *utext = fuzz_part(&in, p, 0, &ul);
    const char *path = fuzz_rest(&in, p, NULL);
    json_t *claims = json_loadb(ctext, cl, 0, NULL), *ui = json_loadb(utext, ul, 0, NULL);
    tpo_claims_render cfg = {"TPO_CLAIM_", "X-TPO-", NULL, "_", ","};
    tpo_claims_out out;
    const char *const allow[] = {"email", "name", "groups", NULL};
    const char *const deny[] = {"groups", NULL};
    const char *s;

    s = tpo_claims_header_value(p, ctext);
    for (; *s; s++)
        CHECK(*s >= 0x20 && *s < 0x7f);
    s = tpo_claims_env_value(p, ctext);
    for (; *s; s++)
        CHECK((unsigned char)*s >= 0x20 && *s != 0x7f);

    if (json_is_object(claims)) {
        memset(&out, 0, sizeof(out));
        tpo_claims_render_all(p, &cfg, "user\x01name", claims, "at-\r\nx", 1700000000LL,
                              "openid email", &out);
        check_pairs(out.env, 0);
        check_pairs(out.headers, 1);
        (void)tpo_claims_path(claims, path);
        (void)tpo_claims_match(claims, path, utext);
        (void)tpo_claims_scalar(p, tpo_claims_path(claims, path));
        if (json_is_object(ui)) {
            (void)tpo_claims_merge(claims, ui);
            tpo_claims_filter(ui, size & 1 ? allow : NULL, deny);
        }
        tpo_claims_filter(claims, size & 2 ? allow : NULL, deny);
        CHECK(json_object_size(claims) <= 4 || !(size & 2));
        memset(&out, 0, sizeof(out));
        tpo_claims_render_all(p, &cfg, "u", claims, NULL, 0, NULL, &out);
        check_pairs(out.env, 0);
        check_pairs(out.headers, 1);
    }
    json_decref(claims);
    json_decref(ui);
    apr_pool_destroy(p);
    return 0;
}
