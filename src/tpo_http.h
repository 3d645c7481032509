/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Outbound HTTP with libcurl: TLS verification on, connect and total
 * timeouts, a response size cap, no redirects followed, http/https only. */
#ifndef TPO_HTTP_H
#define TPO_HTTP_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_errno.h>

#ifndef TPO_VERSION
#define TPO_VERSION "unknown"   /* the build passes -DTPO_VERSION (configure.ac's version) */
#endif
/* The User-Agent of every outbound request (default of tpo_http_opts). */
#define TPO_HTTP_USER_AGENT "mod_tp_oauth/" TPO_VERSION

typedef struct tpo_http_opts {
    long connect_timeout_ms;   /* default 3000 */
    long timeout_ms;           /* total; default 10000 */
    apr_size_t max_response;   /* bytes; default 1 MiB */
    int verify_tls;            /* 1 (default) */
    const char *ca_file;       /* NULL: system store */
    const char *user_agent;    /* default TPO_HTTP_USER_AGENT */
} tpo_http_opts;

typedef enum {
    TPO_HTTP_OK = 0,          /* got an HTTP response (any status) */
    TPO_HTTP_CONNECT,         /* refused, unreachable, DNS, TLS handshake */
    TPO_HTTP_TIMEOUT,
    TPO_HTTP_TOO_LARGE,
    TPO_HTTP_BAD_URL,
    TPO_HTTP_FAILED           /* anything else */
} tpo_http_result;

typedef struct tpo_http_response {
    int status;
    const char *content_type;  /* may be NULL */
    char *body;                /* NUL-terminated */
    apr_size_t len;
    const char *error;         /* curl's words when result != OK */
    apr_interval_time_t elapsed;
} tpo_http_response;

void tpo_http_opts_default(tpo_http_opts *o);

/* One request. headers: "Name: value" strings (may be NULL). body NULL for GET. */
tpo_http_result tpo_http_request(apr_pool_t *p, const char *method, const char *url,
                                 const apr_array_header_t *headers,
                                 const char *body, apr_size_t body_len,
                                 const tpo_http_opts *opts, tpo_http_response *resp);

/* Once per process, before threads (curl_global_init). */
void tpo_http_global_init(void);

#endif
