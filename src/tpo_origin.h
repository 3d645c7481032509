/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Origins (RFC 6454) as browsers send them, the values of a CORS preflight,
 * and the same-origin tests of the logout endpoint. Plain string checks on
 * values from the network: nothing here trusts its input. */
#ifndef TPO_ORIGIN_H
#define TPO_ORIGIN_H

#include <apr_pools.h>
#include <apr_tables.h>

/* 1 if s[0..len) is an RFC 7230 token (tchar), 1 to 64 characters. */
int tpo_http_token(const char *s, apr_size_t len);

/* Access-Control-Request-Headers: a comma-separated list of tokens (at most
 * 32). Returns the list rebuilt as "a, b" ("" when empty), or NULL when an
 * element is not a token: nothing else can reach a response header. */
const char *tpo_cors_token_list(apr_pool_t *p, const char *v);

/* 1 if origin is "http(s)://host[:port]" (scheme in any case, no path, no
 * userinfo, no whitespace; at most 255 characters). "null" (opaque) is not. */
int tpo_origin_valid(const char *origin);

/* 1 if origin is valid and (any, or equal, case-insensitively, to one of the
 * origins in list). */
int tpo_origin_allowed(const char *origin, const apr_array_header_t *list, int any);

/* When url is origin followed by '/', its local part (from that '/'), else
 * NULL. The caller still checks the local part (tpo_return_url_is_local). */
const char *tpo_url_on_origin(const char *url, const char *origin);

/* 1 if url (a Referer) belongs to origin: origin followed by nothing, '/',
 * '?' or '#'. Case-insensitive. */
int tpo_url_same_origin(const char *url, const char *origin);

#endif
