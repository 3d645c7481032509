/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* A form POST kept across a login (tpo_post.c) on hostile input: the record
 * decoder (a cache is untrusted: an accepted record survives a round trip,
 * its body byte for byte), the replay body (an id is found only in exactly
 * TPO_POST_FIELD=<43 base64url>), the size limit and the form type (no
 * reads past the end), and the replay page (every name, value and action
 * escaped: one form, one input per field, no script but ours).
 * First input byte picks the mode:
 *   0 record  "<record bytes>"
 *   1 marker  "<body bytes>"
 *   2 limit   "<directive argument>"
 *   3 type    "<Content-Type>"
 *   4 page    "<action>\n<nonce>\n<name>\n<value>\n<name>\n<value>..." */
#include "fuzz_common.h"
#include "tpo_post.h"

static int count(const char *hay, const char *needle)
{
    int n = 0;
    const char *s = hay;

    while ((s = strstr(s, needle)) != NULL) {
        n++;
        s += strlen(needle);
    }
    return n;
}

static void record(fuzz_in *in, apr_pool_t *p)
{
    size_t len;
    char *buf = fuzz_rest(in, p, &len), *enc;
    tpo_post_rec a, b;
    apr_size_t elen;

    if (tpo_post_decode(p, buf, len, &a) != APR_SUCCESS) {
        return;
    }
    CHECK(a.url && a.content_type && a.body && a.body_len <= TPO_POST_MAX_BYTES);
    enc = tpo_post_encode(p, &a, &elen);
    CHECK(tpo_post_decode(p, enc, elen, &b) == APR_SUCCESS);
    CHECK(a.created == b.created && a.expires == b.expires);
    CHECK(strcmp(a.url, b.url) == 0 && strcmp(a.content_type, b.content_type) == 0);
    CHECK((a.session == NULL) == (b.session == NULL));
    CHECK(!a.session || strcmp(a.session, b.session) == 0);
    CHECK(a.body_len == b.body_len && memcmp(a.body, b.body, a.body_len) == 0);
}

static void marker(fuzz_in *in, apr_pool_t *p)
{
    size_t len;
    char *buf = fuzz_rest(in, p, &len);
    const char *id = tpo_post_marker_id(p, buf, len);

    if (id) {
        CHECK(tpo_post_id_ok(id));
        CHECK(len == TPO_POST_MARKER_LEN);
        CHECK(memcmp(tpo_post_marker_body(p, id), buf, len) == 0);
    }
}

static void limit(fuzz_in *in, apr_pool_t *p)
{
    char *arg = fuzz_rest(in, p, NULL);
    long v = -7;

    if (tpo_post_limit_parse(arg, &v) == NULL) {
        CHECK(v >= 0 && v <= TPO_POST_MAX_BYTES);
    }
    else {
        CHECK(v == -7);
    }
}

static void type(fuzz_in *in, apr_pool_t *p)
{
    char *ct = fuzz_rest(in, p, NULL);
    int t = tpo_post_form_type(ct);

    CHECK(t == TPO_POST_FORM_NONE || t == TPO_POST_FORM_URLENCODED || t == TPO_POST_FORM_MULTIPART);
    CHECK(t == tpo_post_form_type(apr_pstrdup(p, ct)));
}

static void page(fuzz_in *in, apr_pool_t *p)
{
    const char *action = fuzz_part(in, p, '\n', NULL), *nonce = fuzz_part(in, p, '\n', NULL);
    tpo_form_field f[8];
    int n = 0, scripts;
    char *html, *csp;

    while (n < 8 && in->pos < in->n) {
        f[n].name = fuzz_part(in, p, '\n', NULL);
        f[n].value = fuzz_part(in, p, '\n', NULL);
        n++;
    }
    html = tpo_post_page(p, action, f, n, nonce);
    csp = tpo_post_page_csp(p, nonce);
    CHECK(count(html, "<form") == 1 && count(html, "<input") == n);
    CHECK(count(html, "\"") % 2 == 0);
    scripts = count(html, "<script");
    CHECK(scripts == count(csp, "'nonce-"));
    CHECK(scripts <= 1);
    CHECK(count(csp, ";") == 2 + scripts);
    if (scripts) {
        CHECK(strstr(html, "<script nonce=\"") != NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    fuzz_in in = {data, size, 0};

    switch (fuzz_byte(&in) % 5) {
    case 0:
        record(&in, p);
        break;
    case 1:
        marker(&in, p);
        break;
    case 2:
        limit(&in, p);
        break;
    case 3:
        type(&in, p);
        break;
    default:
        page(&in, p);
        break;
    }
    apr_pool_destroy(p);
    return 0;
}
