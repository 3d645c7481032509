/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "tpo_json_load.h"

#define FAST_MAX_DEPTH 64
#define FAST_MAX_INT_DIGITS 18 /* cannot overflow a json_int_t (long long) */

typedef struct jp {
    const unsigned char *p, *end;
    int depth;
    int reject_dups;
} jp;

static json_t *fast_value(jp *j);

/* Bytes that stand for themselves inside a string: 0x20-0x7f but '"' and '\\'. */
static const unsigned char plain_char[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static void skip_ws(jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t')) {
        j->p++;
    }
}

/* Length of the valid UTF-8 sequence (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF) that starts at s (*s >= 0x80), or 0. */
static size_t utf8_seq(const unsigned char *s, const unsigned char *end)
{
    unsigned char c = *s;
    size_t n, i;
    unsigned long v;

    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
    }
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
    }
    else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
    }
    else {
        return 0;
    }
    if ((size_t)(end - s) < n) {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF))) ||
        (n == 4 && (v < 0x10000 || v > 0x10FFFF))) {
        return 0;
    }
    return n;
}

/* A string at j->p (the opening quote). *out and *len: the text (malloc'd in
 * *heap when escapes had to be decoded, else pointing into the input).
 * 0 when the fast path does not take it. */
static int fast_string(jp *j, const char **out, size_t *len, char **heap)
{
    const unsigned char *s = j->p + 1, *q = s;
    int escapes = 0;
    char *buf, *o;

    *heap = NULL;
    for (;;) {
        /* the plain run: printable ASCII but the quote and the backslash */
        while (q < j->end && plain_char[*q]) {
            q++;
        }
        if (q >= j->end) {
            return 0;
        }
        if (*q == '"') {
            break;
        }
        if (*q == '\\') {
            if (q + 1 >= j->end) {
                return 0;
            }
            switch (q[1]) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't':
                escapes = 1;
                q += 2;
                continue;
            default:
                return 0; /* \u and anything else: jansson */
            }
        }
        if (*q < 0x20) {
            return 0;
        }
        if (*q >= 0x80) {
            size_t n = utf8_seq(q, j->end);
            if (!n) {
                return 0;
            }
            q += n;
            continue;
        }
        q++;
    }
    j->p = q + 1;
    if (!escapes) {
        *out = (const char *)s;
        *len = (size_t)(q - s);
        return 1;
    }
    buf = o = malloc((size_t)(q - s) + 1);
    if (!buf) {
        return 0;
    }
    while (s < q) {
        if (*s != '\\') {
            *o++ = (char)*s++;
            continue;
        }
        switch (s[1]) {
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        default: /* " \ / */
            *o++ = (char)s[1];
            break;
        }
        s += 2;
    }
    *heap = buf;
    *out = buf;
    *len = (size_t)(o - buf);
    return 1;
}

static json_t *fast_object(jp *j)
{
    json_t *obj = json_object();

    if (!obj) {
        return NULL;
    }
    j->p++; /* { */
    skip_ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return obj;
    }
    for (;;) {
        const char *key;
        size_t klen;
        char *heap;
        json_t *v;

        if (j->p >= j->end || *j->p != '"' || !fast_string(j, &key, &klen, &heap)) {
            break;
        }
        skip_ws(j);
        if (j->p >= j->end || *j->p != ':' ||
            (j->reject_dups && json_object_getn(obj, key, klen) != NULL)) {
            free(heap);
            break;
        }
        j->p++;
        skip_ws(j);
        v = fast_value(j);
        if (!v || json_object_setn_new_nocheck(obj, key, klen, v) != 0) {
            free(heap);
            break;
        }
        free(heap);
        skip_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            skip_ws(j);
            continue;
        }
        if (j->p < j->end && *j->p == '}') {
            j->p++;
            return obj;
        }
        break;
    }
    json_decref(obj);
    return NULL;
}

static json_t *fast_array(jp *j)
{
    json_t *arr = json_array();

    if (!arr) {
        return NULL;
    }
    j->p++; /* [ */
    skip_ws(j);
    if (j->p < j->end && *j->p == ']') {
        j->p++;
        return arr;
    }
    for (;;) {
        json_t *v = fast_value(j);
        if (!v || json_array_append_new(arr, v) != 0) {
            break;
        }
        skip_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            skip_ws(j);
            continue;
        }
        if (j->p < j->end && *j->p == ']') {
            j->p++;
            return arr;
        }
        break;
    }
    json_decref(arr);
    return NULL;
}

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static json_t *fast_literal(jp *j, const char *word, size_t n, json_t *v)
{
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0 ||
        (j->p + n < j->end && is_alpha(j->p[n]))) {
        return NULL;
    }
    j->p += n;
    return v;
}

/* An integer: -?(0|[1-9][0-9]*) of at most 18 digits, not followed by a
 * fraction or an exponent (reals go to jansson). */
static json_t *fast_number(jp *j)
{
    const unsigned char *s = j->p;
    int neg = 0, digits = 0;
    long long v = 0;

    if (*s == '-') {
        neg = 1;
        s++;
    }
    if (s >= j->end || *s < '0' || *s > '9') {
        return NULL;
    }
    if (*s == '0') {
        s++;
        digits = 1;
        if (s < j->end && *s >= '0' && *s <= '9') {
            return NULL;
        }
    }
    else {
        while (s < j->end && *s >= '0' && *s <= '9') {
            if (++digits > FAST_MAX_INT_DIGITS) {
                return NULL;
            }
            v = v * 10 + (*s - '0');
            s++;
        }
    }
    if (s < j->end && (*s == '.' || *s == 'e' || *s == 'E')) {
        return NULL;
    }
    j->p = s;
    return json_integer(neg ? -v : v);
}

static json_t *fast_value(jp *j)
{
    json_t *v = NULL;

    if (j->p >= j->end) {
        return NULL;
    }
    if (++j->depth > FAST_MAX_DEPTH) {
        return NULL;
    }
    switch (*j->p) {
    case '{':
        v = fast_object(j);
        break;
    case '[':
        v = fast_array(j);
        break;
    case '"': {
        const char *s;
        size_t n;
        char *heap;
        if (fast_string(j, &s, &n, &heap)) {
            v = json_stringn_nocheck(s, n);
            free(heap);
        }
        break;
    }
    case 't':
        v = fast_literal(j, "true", 4, json_true());
        break;
    case 'f':
        v = fast_literal(j, "false", 5, json_false());
        break;
    case 'n':
        v = fast_literal(j, "null", 4, json_null());
        break;
    default:
        if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) {
            v = fast_number(j);
        }
        break;
    }
    j->depth--;
    return v;
}

json_t *tpo_json_fast_loadb(const char *buf, size_t len, size_t flags)
{
    jp j;
    json_t *v;

    if (!buf || (flags & ~(size_t)JSON_REJECT_DUPLICATES)) {
        return NULL;
    }
    j.p = (const unsigned char *)buf;
    j.end = j.p + len;
    j.depth = 0;
    j.reject_dups = (flags & JSON_REJECT_DUPLICATES) != 0;
    skip_ws(&j);
    /* jansson's default: an object or an array at the top */
    if (j.p >= j.end || (*j.p != '{' && *j.p != '[')) {
        return NULL;
    }
    v = fast_value(&j);
    if (!v) {
        return NULL;
    }
    skip_ws(&j);
    if (j.p != j.end) {
        json_decref(v);
        return NULL;
    }
    return v;
}

json_t *tpo_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *error)
{
    json_t *v = tpo_json_fast_loadb(buf, len, flags);

    if (v) {
        return v;
    }
    return json_loadb(buf, len, flags, error);
}

/* ------------------------------------------------------------ writing */

typedef struct jw {
    apr_pool_t *p;
    char *buf;
    size_t len, cap;
} jw;

static void jw_put(jw *w, const char *s, size_t n)
{
    if (w->len + n + 1 > w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 512;
        char *nb;
        while (ncap < w->len + n + 1) {
            ncap *= 2;
        }
        nb = apr_palloc(w->p, ncap);
        if (w->len) {
            memcpy(nb, w->buf, w->len);
        }
        w->buf = nb;
        w->cap = ncap;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

/* as jansson escapes with JSON_COMPACT: '"', '\\', the short escapes, other
 * control characters as \u00XX (uppercase); everything else as it is */
static int jw_string(jw *w, const char *s, size_t n)
{
    size_t i, run = 0;

    jw_put(w, "\"", 1);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc;
        char u[7];

        if (c >= 0x80) {
            /* jansson refuses a string that is not UTF-8: so do we */
            size_t k = utf8_seq((const unsigned char *)s + i, (const unsigned char *)s + n);
            if (!k) {
                return 0;
            }
            i += k - 1;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        jw_put(w, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            snprintf(u, sizeof(u), "\\u%04X", c);
            esc = u;
            break;
        }
        jw_put(w, esc, strlen(esc));
    }
    jw_put(w, s + run, n - run);
    jw_put(w, "\"", 1);
    return 1;
}

/* 1 written, 0 left to json_dumps */
static int jw_value(jw *w, const json_t *v, int depth)
{
    if (depth > FAST_MAX_DEPTH) {
        return 0;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *m;
        int first = 1;
        jw_put(w, "{", 1);
        json_object_foreach((json_t *)v, k, m)
        {
            if (!first) {
                jw_put(w, ",", 1);
            }
            first = 0;
            if (!jw_string(w, k, json_object_iter_key_len(json_object_key_to_iter(k)))) {
                return 0;
            }
            jw_put(w, ":", 1);
            if (!jw_value(w, m, depth + 1)) {
                return 0;
            }
        }
        jw_put(w, "}", 1);
        return 1;
    }
    case JSON_ARRAY: {
        size_t i;
        jw_put(w, "[", 1);
        for (i = 0; i < json_array_size(v); i++) {
            if (i) {
                jw_put(w, ",", 1);
            }
            if (!jw_value(w, json_array_get(v, i), depth + 1)) {
                return 0;
            }
        }
        jw_put(w, "]", 1);
        return 1;
    }
    case JSON_STRING:
        return jw_string(w, json_string_value(v), json_string_length(v));
    case JSON_INTEGER: {
        char b[32];
        int n = snprintf(b, sizeof(b), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        jw_put(w, b, (size_t)n);
        return 1;
    }
    case JSON_TRUE:
        jw_put(w, "true", 4);
        return 1;
    case JSON_FALSE:
        jw_put(w, "false", 5);
        return 1;
    case JSON_NULL:
        jw_put(w, "null", 4);
        return 1;
    default:
        return 0; /* reals: jansson's own formatting */
    }
}

char *tpo_json_dump_compact(apr_pool_t *p, const json_t *v)
{
    jw w;
    char *j, *out;

    if (!v || (!json_is_object(v) && !json_is_array(v))) {
        return NULL; /* json_dumps without JSON_ENCODE_ANY */
    }
    memset(&w, 0, sizeof(w));
    w.p = p;
    if (jw_value(&w, v, 1)) {
        jw_put(&w, "", 0);
        w.buf[w.len] = '\0';
        return w.buf;
    }
    j = json_dumps(v, JSON_COMPACT);
    out = j ? apr_pstrdup(p, j) : NULL;
    free(j);
    return out;
}
