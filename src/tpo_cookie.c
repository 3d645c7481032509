/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Cookie header lookup (hot path: no allocation) and Set-Cookie building. */
#include <string.h>
#include <apr_strings.h>
#include "tpo_cookie.h"

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

int tpo_cookie_find(const char *header, const char *name, const char **val, apr_size_t *vlen)
{
    const char *s = header;
    apr_size_t nlen;

    if (header == NULL || name == NULL || *name == '\0') {
        return 0;
    }
    nlen = strlen(name);
    while (*s) {
        const char *ns, *ne, *vs, *ve, *pe;

        while (is_ows(*s) || *s == ';') {
            s++;
        }
        if (*s == '\0') {
            break;
        }
        /* one pair: [ns, pe) up to ';' or end */
        ns = s;
        pe = strchr(s, ';');
        if (pe == NULL) {
            pe = s + strlen(s);
        }
        s = pe;
        ne = memchr(ns, '=', (apr_size_t)(pe - ns));
        if (ne == NULL) {
            continue; /* no '=': not a name=value pair (RFC 6265 5.2) */
        }
        vs = ne + 1;
        while (ne > ns && is_ows(ne[-1])) {
            ne--;
        }
        if ((apr_size_t)(ne - ns) != nlen || memcmp(ns, name, nlen) != 0) {
            continue;
        }
        while (vs < pe && is_ows(*vs)) {
            vs++;
        }
        ve = pe;
        while (ve > vs && is_ows(ve[-1])) {
            ve--;
        }
        if (ve - vs >= 2 && vs[0] == '"' && ve[-1] == '"') {
            vs++;
            ve--;
        }
        if (val) {
            *val = vs;
        }
        if (vlen) {
            *vlen = (apr_size_t)(ve - vs);
        }
        return 1;
    }
    return 0;
}

static int is_tchar(unsigned char c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
        return 1;
    }
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int tpo_cookie_name_valid(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;

    if (s == NULL || *s == '\0') {
        return 0;
    }
    for (; *u; u++) {
        if (!is_tchar(*u)) {
            return 0;
        }
    }
    return 1;
}

/* cookie-octet (RFC 6265 4.1.1) */
static int value_valid(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;

    for (; *u; u++) {
        if (*u < 0x21 || *u > 0x7e || *u == '"' || *u == ',' || *u == ';' || *u == '\\') {
            return 0;
        }
    }
    return 1;
}

/* Path and Domain attribute values: printable ASCII, no ';' */
static int attr_valid(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;

    if (*u == '\0') {
        return 0;
    }
    for (; *u; u++) {
        if (*u < 0x21 || *u > 0x7e || *u == ';') {
            return 0;
        }
    }
    return 1;
}

char *tpo_cookie_build(apr_pool_t *p, const char *name, const char *value,
                       const tpo_cookie_attrs *attrs)
{
    static const tpo_cookie_attrs defaults = {NULL, NULL, -1, 0, 0, NULL};
    const char *path, *max_age = "", *same_site = "";

    if (attrs == NULL) {
        attrs = &defaults;
    }
    if (value == NULL) {
        value = "";
    }
    path = attrs->path ? attrs->path : "/";
    if (!tpo_cookie_name_valid(name) || !value_valid(value) || !attr_valid(path) ||
        (attrs->domain && !attr_valid(attrs->domain))) {
        return NULL;
    }
    if (attrs->same_site) {
        if (strcmp(attrs->same_site, "Lax") != 0 && strcmp(attrs->same_site, "Strict") != 0 &&
            strcmp(attrs->same_site, "None") != 0) {
            return NULL;
        }
        same_site = apr_pstrcat(p, "; SameSite=", attrs->same_site, NULL);
    }
    if (attrs->max_age == 0) {
        max_age = "; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT";
    }
    else if (attrs->max_age > 0) {
        max_age = apr_psprintf(p, "; Max-Age=%ld", attrs->max_age);
    }
    return apr_pstrcat(p, name, "=", value, "; Path=", path, attrs->domain ? "; Domain=" : "",
                       attrs->domain ? attrs->domain : "", max_age, attrs->secure ? "; Secure" : "",
                       attrs->http_only ? "; HttpOnly" : "", same_site, NULL);
}
