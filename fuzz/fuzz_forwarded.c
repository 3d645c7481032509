/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Forwarded / X-Forwarded-* values and trusted-proxy CIDRs (tpo_forwarded):
 * whatever is accepted is safe to put into a URL and a Location header:
 * proto is http or https, the host is a plain lowercase host name or a
 * bracketed IPv6 address, the port 0..65535, and the URL built from them has
 * exactly that authority (no userinfo, path, query or control character).
 * With Forwarded present the X-Forwarded-* values change nothing. A parsed
 * network contains its own network address and rejects the address of the
 * other family. */
#include "fuzz_common.h"
#include <arpa/inet.h>
#include "tpo_forwarded.h"

/* "\x01" as a whole field means "header absent" */
static const char *field(fuzz_in *in, apr_pool_t *p)
{
    const char *s = fuzz_part(in, p, '\n', NULL);
    return strcmp(s, "\x01") == 0 ? NULL : s;
}

static void check_host(const char *h)
{
    size_t n = strlen(h), i;

    CHECK(n >= 1);
    if (h[0] == '[') {
        char buf[64];
        unsigned char a[16];
        CHECK(n >= 3 && n - 2 < sizeof(buf) && h[n - 1] == ']');
        memcpy(buf, h + 1, n - 2);
        buf[n - 2] = '\0';
        CHECK(inet_pton(AF_INET6, buf, a) == 1);
        return;
    }
    CHECK(n <= 253);
    for (i = 0; i < n; i++) {
        CHECK((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= '0' && h[i] <= '9') || h[i] == '-' ||
              h[i] == '.' || h[i] == '_');
    }
}

static void check_fwd(apr_pool_t *p, const tpo_fwd *f)
{
    const char *url, *auth, *c;
    char *expect;

    CHECK(f->proto == NULL || !strcmp(f->proto, "http") || !strcmp(f->proto, "https"));
    if (f->host) {
        check_host(f->host);
    }
    CHECK(f->port >= 0 && f->port <= 65535);
    url = tpo_fwd_url(p, f, "http", "rp.test", 8080, "/cb");
    CHECK(!strncmp(url, "http://", 7) || !strncmp(url, "https://", 8));
    for (c = url; *c; c++) {
        CHECK(*c > 0x20 && *c < 0x7f && *c != '\\' && *c != '@' && *c != '?' && *c != '#');
    }
    auth = strstr(url, "://") + 3;
    CHECK(strchr(auth, '/') != NULL && !strcmp(strchr(auth, '/'), "/cb"));
    expect = apr_pstrcat(p, f->host ? f->host : "rp.test", NULL);
    CHECK(!strncmp(auth, expect, strlen(expect)));
    c = auth + strlen(expect);
    CHECK(*c == '/' || *c == ':');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    fuzz_in in = {data, size, 0};
    const char *fwd = field(&in, p), *xp = field(&in, p), *xh = field(&in, p);
    const char *xport = field(&in, p), *net = field(&in, p), *ip = field(&in, p);
    tpo_fwd f, g;
    tpo_cidr c;
    int any;

    any = tpo_fwd_parse(p, fwd, xp, xh, xport, &f);
    CHECK(any == (f.proto || f.host || f.port));
    check_fwd(p, &f);
    if (fwd) {
        any = tpo_fwd_parse(p, fwd, "https", "other.test", "1", &g);
        CHECK((f.proto == g.proto || (f.proto && g.proto && !strcmp(f.proto, g.proto))) &&
              f.port == g.port &&
              (f.host == g.host || (f.host && g.host && !strcmp(f.host, g.host))));
    }
    if (net && tpo_cidr_parse(net, &c)) {
        char buf[64];
        CHECK(c.bits >= 0 && c.bits <= (c.v6 ? 128 : 32));
        CHECK(inet_ntop(c.v6 ? AF_INET6 : AF_INET, c.addr, buf, sizeof(buf)) != NULL);
        CHECK(tpo_cidr_match(&c, 1, buf) == 1);
        CHECK(tpo_cidr_match(&c, 1, c.v6 ? "192.0.2.1" : "2001:db8::1") == 0);
        if (ip) {
            int m = tpo_cidr_match(&c, 1, ip);
            CHECK(m == 0 || m == 1);
        }
    }
    apr_pool_destroy(p);
    return 0;
}
