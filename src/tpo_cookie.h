/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Cookie header parsing (RFC 6265 5.4 as browsers send it) and Set-Cookie building. */
#ifndef TPO_COOKIE_H
#define TPO_COOKIE_H

#include <apr_pools.h>

/* Find cookie `name` in a Cookie header value without allocating.
 * Pairs are separated by ';' with optional spaces; names compare exactly
 * (case-sensitive). If the name appears more than once the first is used.
 * Returns 1 and sets *val and *vlen (pointing into header) when found, else 0. */
int tpo_cookie_find(const char *header, const char *name, const char **val, apr_size_t *vlen);

typedef struct tpo_cookie_attrs {
    const char *path;   /* NULL -> "/" */
    const char *domain; /* NULL -> host-only */
    long max_age;       /* < 0: session cookie; 0: delete (Max-Age=0 + past Expires) */
    int secure;
    int http_only;
    const char *same_site; /* "Lax", "Strict", "None" or NULL */
} tpo_cookie_attrs;

/* "name=value; Path=/; HttpOnly; Secure; SameSite=Lax" */
char *tpo_cookie_build(apr_pool_t *p, const char *name, const char *value,
                       const tpo_cookie_attrs *attrs);

/* 1 if s is a valid cookie name token (RFC 6265 / RFC 7230 tchar). */
int tpo_cookie_name_valid(const char *s);

#endif
