/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Behind a proxy: the list of trusted proxy addresses (IPv4/IPv6 addresses
 * and CIDRs) and the scheme, host and port a trusted proxy reports in
 * RFC 7239 Forwarded or X-Forwarded-Proto/-Host/-Port. The header values are
 * hostile input: anything not strictly valid is ignored (never guessed). */
#ifndef TPO_FORWARDED_H
#define TPO_FORWARDED_H

#include <apr_pools.h>
#include <apr_tables.h>

/* One address or network. */
typedef struct tpo_cidr {
    int v6;                 /* 0: IPv4 (4 bytes of addr), 1: IPv6 (16) */
    unsigned char addr[16]; /* network byte order, host bits cleared */
    int bits;               /* prefix length */
} tpo_cidr;

/* Parses "192.0.2.1", "10.0.0.0/8", "::1", "2001:db8::/32". 1 on success
 * (host bits are cleared), 0 if s is not an address or the prefix is out of
 * range. */
int tpo_cidr_parse(const char *s, tpo_cidr *out);

/* 1 if the textual address ip is in one of the n networks. An IPv4-mapped
 * IPv6 address (::ffff:a.b.c.d) also matches IPv4 networks. 0 for anything
 * that is not an address. */
int tpo_cidr_match(const tpo_cidr *list, int n, const char *ip);

/* What the nearest proxy reported. */
typedef struct tpo_fwd {
    const char *proto; /* "http" or "https", NULL: not reported */
    const char *host;  /* lowercase host name, or "[v6]"; NULL: not reported */
    int port;          /* 1..65535, 0: not reported */
} tpo_fwd;

/* Valid proto/host/port from the headers' values (each NULL when absent).
 * When forwarded is present (even partly invalid) it alone is used, else
 * the X-Forwarded-* values. Of a list (several proxies, or a header sent
 * twice, which httpd joins with ", ") only the LAST element counts: the one
 * the nearest, trusted, proxy added; earlier ones came from further away.
 * An invalid value leaves its field unset. Returns 1 if any field is set. */
int tpo_fwd_parse(apr_pool_t *p, const char *forwarded, const char *xf_proto, const char *xf_host,
                  const char *xf_port, tpo_fwd *out);

/* The URL of uri ("" or an absolute path) as the client sees it: starts from
 * the connection's own scheme, host and port and applies f (may be NULL).
 * A reported scheme or host without a port means the scheme's default port.
 * The port is left out when it is the scheme's default. */
const char *tpo_fwd_url(apr_pool_t *p, const tpo_fwd *f, const char *scheme, const char *host,
                        int port, const char *uri);

#endif
