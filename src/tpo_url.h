/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* URL helpers: query strings, percent-encoding, HTML escaping, and the
 * return-URL check that prevents open redirects. */
#ifndef TPO_URL_H
#define TPO_URL_H

#include <apr_pools.h>
#include <apr_tables.h>

/* Percent-encode for application/x-www-form-urlencoded and query values:
 * unreserved chars (ALPHA DIGIT - . _ ~) pass, everything else %XX
 * (space as %20). */
char *tpo_url_encode(apr_pool_t *p, const char *s);

/* Decode %XX and '+' (as space). Returns NULL on a bad %-escape or an
 * encoded NUL. */
char *tpo_url_decode(apr_pool_t *p, const char *s, apr_size_t len);

/* Parse "a=1&b=2" into a table (decoded). A parameter that appears twice is
 * kept twice (caller can reject duplicates with tpo_query_get_unique).
 * Returns NULL on a malformed escape. Limits: at most max_params params. */
apr_table_t *tpo_query_parse(apr_pool_t *p, const char *qs, int max_params);

/* Value of name if it appears exactly once; NULL if absent; *dup set to 1 if
 * it appears more than once (RFC 6749 3.1: parameters must not repeat). */
const char *tpo_query_get_unique(apr_table_t *t, const char *name, int *dup);

/* Append "name=value" (encoded) to a URL that may already have a query. */
char *tpo_url_add_param(apr_pool_t *p, const char *url, const char *name, const char *value);
/* The same for every name,value pair of nv (names and values NULL-free,
 * nv->nelts even) at once: the URL is copied once, not once per parameter. */
char *tpo_url_add_params(apr_pool_t *p, const char *url, const apr_array_header_t *nv);

/* An HTTP quoted-string (RFC 9110 5.6.4) holding s, quotes included:
 * backslash and double quote escaped, control characters other than HTAB
 * replaced by '?'. */
char *tpo_quoted_string(apr_pool_t *p, const char *s);

/* The text of quoted-string content: each backslash pair "\X" becomes X
 * (httpd keeps AuthName in this escaped form). */
char *tpo_quoted_pairs_decode(apr_pool_t *p, const char *s);

/* HTML-escape & < > " ' */
char *tpo_html_escape(apr_pool_t *p, const char *s);

/* A return URL is safe when it is a local absolute path: starts with a single
 * '/', is not "//..." or "/\...", has no backslash, no control characters and
 * no scheme; percent-encoded variants of those ("/%2F", "/%5C") are refused
 * too. Returns 1 if safe. */
int tpo_return_url_is_local(const char *url);

#endif
