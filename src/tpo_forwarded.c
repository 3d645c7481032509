/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Trusted proxy addresses and the Forwarded / X-Forwarded-* values of the
 * nearest proxy. Strict: a value either parses completely or is ignored. */
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "tpo_forwarded.h"

#define MAX_HOST 253
#define MAX_HEADER 8192

int tpo_cidr_parse(const char *s, tpo_cidr *out)
{
    char buf[64];
    const char *slash;
    apr_size_t alen;
    int max, i;

    if (!s || !out) {
        return 0;
    }
    memset(out, 0, sizeof(*out));
    slash = strchr(s, '/');
    alen = slash ? (apr_size_t)(slash - s) : strlen(s);
    if (alen == 0 || alen >= sizeof(buf)) {
        return 0;
    }
    memcpy(buf, s, alen);
    buf[alen] = '\0';
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->v6 = 0;
        max = 32;
    }
    else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->v6 = 1;
        max = 128;
    }
    else {
        return 0;
    }
    out->bits = max;
    if (slash) {
        const char *d = slash + 1;
        int b = 0;
        if (!*d || strlen(d) > 3) {
            return 0;
        }
        for (; *d; d++) {
            if (!apr_isdigit(*d)) {
                return 0;
            }
            b = b * 10 + (*d - '0');
        }
        if (b > max) {
            return 0;
        }
        out->bits = b;
    }
    /* clear the host bits */
    for (i = 0; i < max / 8; i++) {
        int keep = out->bits - i * 8;
        if (keep <= 0) {
            out->addr[i] = 0;
        }
        else if (keep < 8) {
            out->addr[i] &= (unsigned char)(0xff << (8 - keep));
        }
    }
    return 1;
}

static int prefix_eq(const unsigned char *a, const unsigned char *net, int bits)
{
    int full = bits / 8, rest = bits % 8;

    if (full && memcmp(a, net, (size_t)full) != 0) {
        return 0;
    }
    if (rest) {
        unsigned char m = (unsigned char)(0xff << (8 - rest));
        return (a[full] & m) == (net[full] & m);
    }
    return 1;
}

int tpo_cidr_match(const tpo_cidr *list, int n, const char *ip)
{
    unsigned char a4[4], a6[16];
    int have4 = 0, have6 = 0, i;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (!ip || !list || n <= 0 || strlen(ip) >= 64) {
        return 0;
    }
    if (inet_pton(AF_INET, ip, a4) == 1) {
        have4 = 1;
    }
    else if (inet_pton(AF_INET6, ip, a6) == 1) {
        have6 = 1;
        if (!memcmp(a6, mapped, sizeof(mapped))) {
            memcpy(a4, a6 + 12, 4);
            have4 = 1;
        }
    }
    else {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (list[i].v6 ? (have6 && prefix_eq(a6, list[i].addr, list[i].bits))
                       : (have4 && prefix_eq(a4, list[i].addr, list[i].bits))) {
            return 1;
        }
    }
    return 0;
}

/* 1..65535 from exactly the digits s[0..len), else 0 */
static int parse_port(const char *s, apr_size_t len)
{
    int v = 0;
    apr_size_t i;

    if (len == 0 || len > 5) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (!apr_isdigit(s[i])) {
            return 0;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 && v <= 65535 ? v : 0;
}

/* "host", "host:port", "[v6]" or "[v6]:port" (s[0..len)): 1 and the
 * normalised host (lowercase) and the port (0: none), else 0. */
static int parse_host(apr_pool_t *p, const char *s, apr_size_t len, const char **host, int *port)
{
    apr_size_t hlen, i;
    const char *rest;
    char *h;

    *port = 0;
    if (len == 0 || len > MAX_HOST + 8) {
        return 0;
    }
    if (s[0] == '[') {
        char buf[64];
        unsigned char a6[16];
        const char *end = memchr(s, ']', len);
        if (!end || (apr_size_t)(end - s - 1) >= sizeof(buf) || end == s + 1) {
            return 0;
        }
        memcpy(buf, s + 1, (apr_size_t)(end - s - 1));
        buf[end - s - 1] = '\0';
        if (inet_pton(AF_INET6, buf, a6) != 1) {
            return 0;
        }
        hlen = (apr_size_t)(end - s) + 1;
    }
    else {
        const char *colon = memchr(s, ':', len);
        hlen = colon ? (apr_size_t)(colon - s) : len;
        if (hlen == 0 || hlen > MAX_HOST) {
            return 0;
        }
        for (i = 0; i < hlen; i++) {
            if (!apr_isalnum(s[i]) && s[i] != '-' && s[i] != '.' && s[i] != '_') {
                return 0;
            }
        }
    }
    rest = s + hlen;
    if (hlen < len) {
        if (*rest != ':' || !(*port = parse_port(rest + 1, len - hlen - 1))) {
            return 0;
        }
    }
    h = apr_pstrmemdup(p, s, hlen);
    for (i = 0; i < hlen; i++) {
        h[i] = (char)apr_tolower(h[i]);
    }
    *host = h;
    return 1;
}

static const char *parse_proto(const char *s, apr_size_t len)
{
    if (len == 4 && !strncasecmp(s, "http", 4)) {
        return "http";
    }
    if (len == 5 && !strncasecmp(s, "https", 5)) {
        return "https";
    }
    return NULL;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* The last comma-separated element of v, OWS trimmed (may be empty). */
static void last_element(const char *v, const char **s, apr_size_t *len)
{
    const char *start = strrchr(v, ',');
    const char *end = v + strlen(v);

    start = start ? start + 1 : v;
    while (start < end && is_ows(*start)) {
        start++;
    }
    while (end > start && is_ows(end[-1])) {
        end--;
    }
    *s = start;
    *len = (apr_size_t)(end - start);
}

static int tchar(char c)
{
    return apr_isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The start of the last element of a Forwarded value (commas inside
 * quoted-strings do not split), or NULL on a syntax error (unterminated
 * quoted-string, a control character). */
static const char *forwarded_last(const char *v)
{
    const char *last = v, *c;
    int quoted = 0;

    for (c = v; *c; c++) {
        unsigned char u = (unsigned char)*c;
        if ((u < 0x20 && u != '\t') || u == 0x7f) {
            return NULL;
        }
        if (quoted) {
            if (*c == '\\') {
                if (!c[1]) {
                    return NULL;
                }
                c++;
            }
            else if (*c == '"') {
                quoted = 0;
            }
        }
        else if (*c == '"') {
            quoted = 1;
        }
        else if (*c == ',') {
            last = c + 1;
        }
    }
    return quoted ? NULL : last;
}

/* One forwarded-element: pairs separated by ';'. Sets proto/host/port;
 * 0 on a syntax error or a pair given twice. */
static int forwarded_element(apr_pool_t *p, const char *e, tpo_fwd *out)
{
    int seen_proto = 0, seen_host = 0;
    const char *c = e;

    for (;;) {
        const char *name;
        apr_size_t nlen;
        char *val;
        apr_size_t vlen = 0;

        while (is_ows(*c)) {
            c++;
        }
        if (!*c) {
            return 1;
        }
        if (*c == ';') { /* an empty pair */
            c++;
            continue;
        }
        name = c;
        while (tchar(*c)) {
            c++;
        }
        nlen = (apr_size_t)(c - name);
        if (!nlen || *c != '=') {
            return 0;
        }
        c++;
        val = apr_palloc(p, strlen(c) + 1);
        if (*c == '"') {
            for (c++; *c != '"'; c++) {
                if (!*c) {
                    return 0;
                }
                if (*c == '\\') {
                    c++;
                    if (!*c) {
                        return 0;
                    }
                }
                val[vlen++] = *c;
            }
            c++;
        }
        else {
            while (tchar(*c)) {
                val[vlen++] = *c++;
            }
            if (!vlen) {
                return 0;
            }
        }
        val[vlen] = '\0';
        while (is_ows(*c)) {
            c++;
        }
        if (*c && *c != ';') {
            return 0;
        }
        if (*c) {
            c++;
        }
        if (nlen == 5 && !strncasecmp(name, "proto", 5)) {
            if (seen_proto++) {
                return 0;
            }
            out->proto = parse_proto(val, vlen);
        }
        else if (nlen == 4 && !strncasecmp(name, "host", 4)) {
            if (seen_host++) {
                return 0;
            }
            if (!parse_host(p, val, vlen, &out->host, &out->port)) {
                out->host = NULL;
                out->port = 0;
            }
        }
    }
}

int tpo_fwd_parse(apr_pool_t *p, const char *forwarded, const char *xf_proto, const char *xf_host,
                  const char *xf_port, tpo_fwd *out)
{
    const char *s;
    apr_size_t len;

    memset(out, 0, sizeof(*out));
    if (forwarded) {
        const char *last = strlen(forwarded) <= MAX_HEADER ? forwarded_last(forwarded) : NULL;
        if (!last || !forwarded_element(p, last, out)) {
            memset(out, 0, sizeof(*out));
        }
        return out->proto || out->host;
    }
    if (xf_proto && strlen(xf_proto) <= MAX_HEADER) {
        last_element(xf_proto, &s, &len);
        out->proto = parse_proto(s, len);
    }
    if (xf_host && strlen(xf_host) <= MAX_HEADER) {
        last_element(xf_host, &s, &len);
        if (!parse_host(p, s, len, &out->host, &out->port)) {
            out->host = NULL;
            out->port = 0;
        }
    }
    if (xf_port && !out->port && strlen(xf_port) <= MAX_HEADER) {
        last_element(xf_port, &s, &len);
        out->port = parse_port(s, len);
    }
    return out->proto || out->host || out->port;
}

const char *tpo_fwd_url(apr_pool_t *p, const tpo_fwd *f, const char *scheme, const char *host,
                        int port, const char *uri)
{
    int def;

    if (f && (f->proto || f->host || f->port)) {
        if (f->proto) {
            scheme = f->proto;
        }
        if (f->host) {
            host = f->host;
        }
        port = f->port ? f->port : (!strcmp(scheme, "https") ? 443 : 80);
    }
    def = !strcmp(scheme, "https") ? 443 : !strcmp(scheme, "http") ? 80 : 0;
    if (port == def || port <= 0) {
        return apr_pstrcat(p, scheme, "://", host, uri, NULL);
    }
    return apr_psprintf(p, "%s://%s:%d%s", scheme, host, port, uri);
}
