/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Origins, CORS preflight values and same-origin tests (see tpo_origin.h). */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include "tpo_origin.h"

#define TOKEN_MAX 64
#define TOKEN_LIST_MAX 32
#define ORIGIN_MAX 255

int tpo_http_token(const char *s, apr_size_t len)
{
    apr_size_t i;

    if (!s || len == 0 || len > TOKEN_MAX) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(apr_isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c)))) {
            return 0;
        }
    }
    return 1;
}

const char *tpo_cors_token_list(apr_pool_t *p, const char *v)
{
    const char *out = NULL;
    int n = 0;

    if (!v) {
        return NULL;
    }
    while (*v) {
        const char *start, *end;
        while (*v == ' ' || *v == '\t' || *v == ',') {
            v++;
        }
        if (!*v) {
            break;
        }
        start = v;
        while (*v && *v != ',') {
            v++;
        }
        end = v;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }
        if (!tpo_http_token(start, (apr_size_t)(end - start)) || ++n > TOKEN_LIST_MAX) {
            return NULL;
        }
        out = out ? apr_pstrcat(p, out, ", ", apr_pstrmemdup(p, start, end - start), NULL)
                  : apr_pstrmemdup(p, start, end - start);
    }
    return out ? out : "";
}

int tpo_origin_valid(const char *o)
{
    const char *c, *port;

    if (!o || strlen(o) > ORIGIN_MAX) {
        return 0;
    }
    if (!strncasecmp(o, "https://", 8)) {
        o += 8;
    }
    else if (!strncasecmp(o, "http://", 7)) {
        o += 7;
    }
    else {
        return 0;
    }
    /* host: a name or IPv4 address, or an IPv6 literal in brackets */
    if (*o == '[') {
        for (c = o + 1; *c && *c != ']'; c++) {
            if (!apr_isxdigit(*c) && *c != ':' && *c != '.') {
                return 0;
            }
        }
        if (*c != ']' || c == o + 1) {
            return 0;
        }
        c++;
    }
    else {
        for (c = o; apr_isalnum(*c) || *c == '-' || *c == '.'; c++) {
        }
        if (c == o) {
            return 0;
        }
    }
    if (*c == '\0') {
        return 1;
    }
    if (*c != ':') {
        return 0;
    }
    /* port: 1 to 5 digits */
    for (port = ++c; apr_isdigit(*c); c++) {
    }
    return *c == '\0' && c > port && c - port <= 5;
}

int tpo_origin_allowed(const char *origin, const apr_array_header_t *list, int any)
{
    int i;

    if (!tpo_origin_valid(origin)) {
        return 0;
    }
    if (any) {
        return 1;
    }
    for (i = 0; list && i < list->nelts; i++) {
        if (!strcasecmp(origin, APR_ARRAY_IDX(list, i, const char *))) {
            return 1;
        }
    }
    return 0;
}

const char *tpo_url_on_origin(const char *url, const char *origin)
{
    apr_size_t n;

    if (!url || !origin) {
        return NULL;
    }
    n = strlen(origin);
    if (n == 0 || strncasecmp(url, origin, n) != 0 || url[n] != '/') {
        return NULL;
    }
    return url + n;
}

int tpo_url_same_origin(const char *url, const char *origin)
{
    apr_size_t n;

    if (!url || !origin) {
        return 0;
    }
    n = strlen(origin);
    return n > 0 && strncasecmp(url, origin, n) == 0 &&
           (url[n] == '\0' || url[n] == '/' || url[n] == '?' || url[n] == '#');
}
