/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* URL helpers: percent-encoding, query parsing, HTML escaping and the
 * return-URL check. Everything here sees browser input: no assumption on
 * lengths or characters. */
#include <string.h>
#include <apr_strings.h>
#include "tpo_url.h"

#define TPO_QUERY_DEFAULT_MAX_PARAMS 100

static const char hexdig[] = "0123456789ABCDEF";

/* RFC 3986 unreserved: A-Z a-z 0-9 - . _ ~ */
static const unsigned char unreserved[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static APR_INLINE int is_unreserved(unsigned char c)
{
    return unreserved[c];
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

char *tpo_url_encode(apr_pool_t *p, const char *s)
{
    apr_size_t n = 0, i;
    const unsigned char *u = (const unsigned char *)(s ? s : "");
    char *out, *o;

    for (i = 0; u[i]; i++) {
        n += is_unreserved(u[i]) ? 1 : 3;
    }
    out = o = apr_palloc(p, n + 1);
    for (i = 0; u[i]; i++) {
        if (is_unreserved(u[i])) {
            *o++ = (char)u[i];
        }
        else {
            *o++ = '%';
            *o++ = hexdig[u[i] >> 4];
            *o++ = hexdig[u[i] & 0x0f];
        }
    }
    *o = '\0';
    return out;
}

char *tpo_url_decode(apr_pool_t *p, const char *s, apr_size_t len)
{
    char *out, *o;
    apr_size_t i;

    if (s == NULL) {
        return NULL;
    }
    out = o = apr_palloc(p, len + 1);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\0') {
            return NULL;
        }
        if (c == '+') {
            *o++ = ' ';
        }
        else if (c == '%') {
            int hi, lo;
            if (i + 2 >= len) {
                return NULL;
            }
            hi = hexval((unsigned char)s[i + 1]);
            lo = hi < 0 ? -1 : hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                return NULL;
            }
            *o++ = (char)((hi << 4) | lo);
            i += 2;
        }
        else {
            *o++ = (char)c;
        }
    }
    *o = '\0';
    return out;
}

apr_table_t *tpo_query_parse(apr_pool_t *p, const char *qs, int max_params)
{
    apr_table_t *t;
    const char *seg;
    int count = 0;

    if (max_params <= 0) {
        max_params = TPO_QUERY_DEFAULT_MAX_PARAMS;
    }
    t = apr_table_make(p, max_params < 8 ? max_params : 8);
    if (qs == NULL) {
        return t;
    }
    seg = qs;
    while (*seg) {
        const char *end = strchr(seg, '&');
        const char *eq;
        apr_size_t slen = end ? (apr_size_t)(end - seg) : strlen(seg);
        char *name, *value;

        if (slen > 0) {
            if (++count > max_params) {
                return NULL;
            }
            eq = memchr(seg, '=', slen);
            if (eq) {
                name = tpo_url_decode(p, seg, (apr_size_t)(eq - seg));
                value = tpo_url_decode(p, eq + 1, slen - (apr_size_t)(eq - seg) - 1);
            }
            else {
                name = tpo_url_decode(p, seg, slen);
                value = "";
            }
            if (name == NULL || value == NULL) {
                return NULL;
            }
            apr_table_addn(t, name, value);
        }
        if (!end) {
            break;
        }
        seg = end + 1;
    }
    return t;
}

const char *tpo_query_get_unique(apr_table_t *t, const char *name, int *dup)
{
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    const char *found = NULL;
    int i, n = 0;

    if (dup) {
        *dup = 0;
    }
    if (t == NULL || name == NULL) {
        return NULL;
    }
    /* apr_table_get() compares keys case-insensitively; query parameter
     * names are case-sensitive, so walk the entries. */
    arr = apr_table_elts(t);
    e = (const apr_table_entry_t *)arr->elts;
    for (i = 0; i < arr->nelts; i++) {
        if (e[i].key && strcmp(e[i].key, name) == 0) {
            if (n++ == 0) {
                found = e[i].val;
            }
        }
    }
    if (n > 1) {
        if (dup) {
            *dup = 1;
        }
        return NULL;
    }
    return found;
}

char *tpo_url_add_param(apr_pool_t *p, const char *url, const char *name, const char *value)
{
    const char *hash, *q, *sep;
    apr_size_t base_len;
    char *param;

    if (url == NULL) {
        url = "";
    }
    param = apr_pstrcat(p, tpo_url_encode(p, name), "=", tpo_url_encode(p, value), NULL);
    hash = strchr(url, '#');
    base_len = hash ? (apr_size_t)(hash - url) : strlen(url);
    q = memchr(url, '?', base_len);
    if (q == NULL) {
        sep = "?";
    }
    else if (url[base_len - 1] == '?' || url[base_len - 1] == '&') {
        sep = "";
    }
    else {
        sep = "&";
    }
    return apr_pstrcat(p, apr_pstrmemdup(p, url, base_len), sep, param, hash ? hash : "", NULL);
}

char *tpo_url_add_params(apr_pool_t *p, const char *url, const apr_array_header_t *nv)
{
    const char *hash, *q, *sep, **parts;
    const char *const *kv = (const char *const *)nv->elts;
    apr_size_t base_len;
    int i, n = 0;

    if (url == NULL) {
        url = "";
    }
    if (nv->nelts < 2) {
        return apr_pstrdup(p, url);
    }
    hash = strchr(url, '#');
    base_len = hash ? (apr_size_t)(hash - url) : strlen(url);
    q = memchr(url, '?', base_len);
    if (q == NULL) {
        sep = "?";
    }
    else if (url[base_len - 1] == '?' || url[base_len - 1] == '&') {
        sep = "";
    }
    else {
        sep = "&";
    }
    parts = apr_palloc(p, sizeof(*parts) * (apr_size_t)(2 * nv->nelts + 4));
    parts[n++] = apr_pstrmemdup(p, url, base_len);
    for (i = 0; i + 1 < nv->nelts; i += 2) {
        parts[n++] = i ? "&" : sep;
        parts[n++] =
            apr_pstrcat(p, tpo_url_encode(p, kv[i]), "=", tpo_url_encode(p, kv[i + 1]), NULL);
    }
    parts[n++] = hash ? hash : "";
    {
        struct iovec *v = apr_palloc(p, sizeof(*v) * (apr_size_t)n);
        for (i = 0; i < n; i++) {
            v[i].iov_base = (void *)parts[i];
            v[i].iov_len = strlen(parts[i]);
        }
        return apr_pstrcatv(p, v, (apr_size_t)n, NULL);
    }
}

char *tpo_quoted_pairs_decode(apr_pool_t *p, const char *s)
{
    char *out, *o;

    if (s == NULL) {
        return apr_pstrdup(p, "");
    }
    o = out = apr_palloc(p, strlen(s) + 1);
    for (; *s; s++) {
        if (*s == '\\' && s[1]) {
            s++;
        }
        *o++ = *s;
    }
    *o = '\0';
    return out;
}

char *tpo_quoted_string(apr_pool_t *p, const char *s)
{
    apr_size_t n = 2;
    const unsigned char *u;
    char *out, *o;

    if (s == NULL) {
        s = "";
    }
    for (u = (const unsigned char *)s; *u; u++) {
        n += (*u == '"' || *u == '\\') ? 2 : 1;
    }
    o = out = apr_palloc(p, n + 1);
    *o++ = '"';
    for (u = (const unsigned char *)s; *u; u++) {
        if (*u == '"' || *u == '\\') {
            *o++ = '\\';
            *o++ = (char)*u;
        }
        else if ((*u < 0x20 && *u != '\t') || *u == 0x7f) {
            *o++ = '?';
        }
        else {
            *o++ = (char)*u;
        }
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

char *tpo_html_escape(apr_pool_t *p, const char *s)
{
    apr_size_t n = 0, i;
    char *out, *o;

    if (s == NULL) {
        return apr_pstrdup(p, "");
    }
    for (i = 0; s[i]; i++) {
        switch (s[i]) {
        case '&':
            n += 5;
            break;
        case '<':
        case '>':
            n += 4;
            break;
        case '"':
            n += 6;
            break;
        case '\'':
            n += 5;
            break;
        default:
            n += 1;
        }
    }
    out = o = apr_palloc(p, n + 1);
    for (i = 0; s[i]; i++) {
        const char *rep = NULL;
        switch (s[i]) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            *o++ = s[i];
        }
        if (rep) {
            apr_size_t rl = strlen(rep);
            memcpy(o, rep, rl);
            o += rl;
        }
    }
    *o = '\0';
    return out;
}

/* Decode one level of %XX into out (at most cap-1 chars), leaving invalid
 * escapes as they are. Returns the number of chars written. */
static apr_size_t lenient_decode(const char *in, char *out, apr_size_t cap)
{
    apr_size_t o = 0;
    const char *s = in;

    while (*s && o + 1 < cap) {
        if (s[0] == '%' && s[1] && s[2]) {
            int hi = hexval((unsigned char)s[1]);
            int lo = hexval((unsigned char)s[2]);
            if (hi >= 0 && lo >= 0) {
                out[o++] = (char)((hi << 4) | lo);
                s += 3;
                continue;
            }
        }
        out[o++] = *s++;
    }
    out[o] = '\0';
    return o;
}

/* Checks on a (possibly decoded) form of the URL: must begin with exactly
 * one '/' and the path (before '?' / '#') must not hold a backslash or a
 * control character. */
static int local_form_ok(const char *u)
{
    const unsigned char *s = (const unsigned char *)u;

    if (s[0] != '/' || s[1] == '/' || s[1] == '\\') {
        return 0;
    }
    for (; *s && *s != '?' && *s != '#'; s++) {
        if (*s == '\\' || *s < 0x20 || *s == 0x7f) {
            return 0;
        }
    }
    return 1;
}

#define TPO_RETURN_URL_MAX 8192

int tpo_return_url_is_local(const char *url)
{
    const unsigned char *s;
    char buf_a[256], buf_b[256];
    char *cur, *next;
    int round;

    if (url == NULL || url[0] != '/') {
        return 0;
    }
    /* The raw form: browsers drop TAB/CR/LF inside URLs ("/\t/evil" becomes
     * "//evil") and treat '\' like '/', so refuse all of them anywhere, and
     * anything that is not printable ASCII. */
    for (s = (const unsigned char *)url; *s; s++) {
        if (*s <= 0x20 || *s >= 0x7f || *s == '\\') {
            return 0;
        }
        if ((const char *)s - url > TPO_RETURN_URL_MAX) {
            return 0;
        }
    }
    if (!local_form_ok(url)) {
        return 0;
    }
    /* Encoded variants ("/%2F%2Fevil", "/%5Cevil", double encodings): only
     * the beginning and the path matter, so a bounded prefix is enough to
     * decide about "//" and "/\", and the path check runs on what fits. */
    apr_cpystrn(buf_a, url, sizeof(buf_a));
    cur = buf_a;
    next = buf_b;
    for (round = 0; round < 3; round++) {
        char *tmp;
        lenient_decode(cur, next, sizeof(buf_a));
        if (strcmp(next, cur) == 0) {
            break;
        }
        if (!local_form_ok(next)) {
            return 0;
        }
        tmp = cur;
        cur = next;
        next = tmp;
    }
    return 1;
}
