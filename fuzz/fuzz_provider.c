/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Discovery documents (OIDC Discovery / RFC 8414) from a hostile provider:
 * an accepted document has the issuer asked for and an absolute http(s) URL
 * for every endpoint it names; the URL check itself runs on raw text. */
#include <strings.h>
#include "fuzz_common.h"
#include "tpo_provider.h"

#define ISSUER "https://idp.example"

static void url_or_null(const char *s, int required)
{
    if (s == NULL) {
        CHECK(!required);
        return;
    }
    CHECK(tpo_url_is_http(s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    fuzz_in in = {data, size, 0};
    int want_issuer = (int)(fuzz_byte(&in) & 1);
    size_t len;
    const char *json = fuzz_rest(&in, p, &len), *err = NULL;
    tpo_provider_meta m;

    memset(&m, 0, sizeof(m));
    if (tpo_provider_meta_parse(p, json, len, want_issuer ? ISSUER : NULL, &m, &err) ==
        APR_SUCCESS) {
        if (want_issuer)
            CHECK(m.issuer != NULL && strcmp(m.issuer, ISSUER) == 0);
        url_or_null(m.authorization_endpoint, 1);
        url_or_null(m.token_endpoint, 1);
        url_or_null(m.userinfo_endpoint, 0);
        url_or_null(m.jwks_uri, 0);
        url_or_null(m.end_session_endpoint, 0);
        url_or_null(m.revocation_endpoint, 0);
        url_or_null(m.introspection_endpoint, 0);
        if (m.dpop_algs) {
            /* algorithm names joined by single spaces, nothing else */
            CHECK(strspn(m.dpop_algs, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                      "0123456789-_+. ") == strlen(m.dpop_algs));
            CHECK(strstr(m.dpop_algs, "  ") == NULL && m.dpop_algs[0] != ' ');
        }
        url_or_null(m.par_endpoint, 0);
        CHECK(m.require_par == 0 || m.require_par == 1);
    }
    else {
        CHECK(err != NULL);
    }
    if (tpo_url_is_http(json)) {
        CHECK(strncmp(json, "http://", 7) == 0 || strncmp(json, "https://", 8) == 0 ||
              strncasecmp(json, "http", 4) == 0);
    }
    (void)tpo_provider_discovery_url(p, json);
    apr_pool_destroy(p);
    return 0;
}
