/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Query strings and return URLs (tpo_url): hostile query strings parse
 * within the parameter limit and survive encode/re-parse; percent-decoding
 * inverts percent-encoding; HTML escaping leaves no markup character; and a
 * return URL judged local cannot send the browser elsewhere: it starts with
 * one '/', holds only printable ASCII without '\', and neither its decoded
 * nor its twice-decoded form starts with "//" or "/\". */
#include <apr_tables.h>
#include "fuzz_common.h"
#include "tpo_url.h"

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* %XX decoding that keeps anything malformed as it is (as a lenient
 * server behind a redirect might). */
static char *pct_decode(apr_pool_t *p, const char *s)
{
    char *out = apr_palloc(p, strlen(s) + 1), *o = out;

    while (*s) {
        if (s[0] == '%' && hexval((unsigned char)s[1]) >= 0 && hexval((unsigned char)s[2]) >= 0) {
            *o++ = (char)(hexval((unsigned char)s[1]) * 16 + hexval((unsigned char)s[2]));
            s += 3;
        }
        else {
            *o++ = *s++;
        }
    }
    *o = '\0';
    return out;
}

static int escapes_origin(const char *u)
{
    return u[0] != '/' || u[1] == '/' || u[1] == '\\';
}

static void check_return_url(apr_pool_t *p, const char *url)
{
    const unsigned char *s;
    char *d1, *d2;

    if (!tpo_return_url_is_local(url))
        return;
    CHECK(!escapes_origin(url));
    for (s = (const unsigned char *)url; *s; s++) {
        CHECK(*s > 0x20 && *s < 0x7f && *s != '\\');
    }
    d1 = pct_decode(p, url);
    d2 = pct_decode(p, d1);
    CHECK(!escapes_origin(d1));
    CHECK(!escapes_origin(d2));
}

static void check_query(apr_pool_t *p, const char *qs, int max)
{
    apr_table_t *t = tpo_query_parse(p, qs, max), *t2;
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    const char *q = "";
    int i, dup;

    if (t == NULL)
        return;
    arr = apr_table_elts(t);
    CHECK(arr->nelts <= max);
    e = (const apr_table_entry_t *)arr->elts;
    for (i = 0; i < arr->nelts; i++) {
        const char *v = tpo_query_get_unique(t, e[i].key, &dup);
        CHECK(e[i].key != NULL && e[i].val != NULL);
        CHECK(v == NULL ? dup : !dup);
        q = apr_pstrcat(p, q, i ? "&" : "", tpo_url_encode(p, e[i].key), "=",
                        tpo_url_encode(p, e[i].val), NULL);
    }
    /* re-encoded, the same parameters come back (a name without '=' and an
     * empty name aside: re-encoding them gives "name=" and "=v") */
    t2 = tpo_query_parse(p, q, max);
    if (t2 != NULL) {
        const apr_array_header_t *a2 = apr_table_elts(t2);
        const apr_table_entry_t *e2 = (const apr_table_entry_t *)a2->elts;
        if (a2->nelts == arr->nelts) {
            for (i = 0; i < arr->nelts; i++) {
                CHECK(strcmp(e[i].key, e2[i].key) == 0 && strcmp(e[i].val, e2[i].val) == 0);
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    fuzz_in in = {data, size, 0};
    int max = (int)(fuzz_byte(&in) % 40) + 1;
    size_t len;
    char *s = fuzz_rest(&in, p, &len), *enc, *dec, *h;
    const char *c;

    check_return_url(p, s);
    check_query(p, s, max);

    /* decode never grows; encode then decode is the identity */
    dec = tpo_url_decode(p, s, len);
    if (dec)
        CHECK(strlen(dec) <= len);
    enc = tpo_url_encode(p, s);
    CHECK(strspn(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%") ==
          strlen(enc));
    dec = tpo_url_decode(p, enc, strlen(enc));
    CHECK(dec != NULL && strcmp(dec, s) == 0);

    h = tpo_html_escape(p, s);
    CHECK(strpbrk(h, "<>\"'") == NULL);
    for (c = strchr(h, '&'); c; c = strchr(c + 1, '&')) {
        CHECK(strchr(c, ';') != NULL);
    }

    c = tpo_url_add_param(p, "/x?a=1", "return", s);
    CHECK(c != NULL && strpbrk(c, " \r\n\"<>") == NULL);
    apr_pool_destroy(p);
    return 0;
}
