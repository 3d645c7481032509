/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Cookie header parsing: find a name (fixed ones and one from the input) in a
 * hostile Cookie header; a hit points inside the header, after a '=', and
 * a value never runs into the next pair. Set-Cookie building
 * round-trips a valid name and a value without separators. */
#include "fuzz_common.h"
#include "tpo_cookie.h"

static const char *const NAMES[] = {"tpo_session", "tpo_login", "__Host-tpo", "a", "x y", "", NULL};

static void find_one(const char *header, size_t hlen, const char *name)
{
    const char *val = NULL;
    apr_size_t vlen = 0;
    size_t nlen = strlen(name);

    if (!tpo_cookie_find(header, name, &val, &vlen))
        return;
    CHECK(val >= header + nlen + 1 && val + vlen <= header + hlen);
    CHECK(memchr(header, '=', (size_t)(val - header)) != NULL);
    CHECK(memchr(val, ';', vlen) == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    fuzz_in in = {data, size, 0};
    size_t hlen;
    const char *name = fuzz_part(&in, p, '\n', NULL);
    const char *header = fuzz_rest(&in, p, &hlen);
    int i;

    hlen = strlen(header);
    for (i = 0; NAMES[i]; i++)
        find_one(header, hlen, NAMES[i]);
    find_one(header, hlen, name);

    if (tpo_cookie_name_valid(name)) {
        tpo_cookie_attrs a = {"/", NULL, (long)(size % 3) - 1, 1, 1, "Lax"};
        const char *v = apr_pstrndup(p, header, strcspn(header, "; \t\r\n,\""));
        char *sc = tpo_cookie_build(p, name, v, &a);
        const unsigned char *u;
        const char *got = NULL;
        apr_size_t glen = 0;
        int octets_ok = 1;

        for (u = (const unsigned char *)v; *u; u++) {
            if (*u < 0x21 || *u > 0x7e || *u == '\\')
                octets_ok = 0;
        }
        CHECK((sc != NULL) == octets_ok); /* built exactly when it is cookie-octets */
        if (sc != NULL) {
            CHECK(strchr(sc, '\r') == NULL && strchr(sc, '\n') == NULL);
            sc[strlen(name) + 1 + strlen(v)] = '\0'; /* "name=value" as a Cookie header */
            CHECK(tpo_cookie_find(sc, name, &got, &glen));
            CHECK(glen == strlen(v) && memcmp(got, v, glen) == 0);
        }
    }
    apr_pool_destroy(p);
    return 0;
}
