/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Outbound HTTP with libcurl: TLS verification on, connect and total
 * timeouts, a response size cap, no redirects followed, http/https only. */
#ifndef TPO_HTTP_H
#define TPO_HTTP_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_errno.h>
#include <apr_time.h>

#ifndef TPO_VERSION
#define TPO_VERSION "unknown" /* the build passes -DTPO_VERSION (configure.ac's version) */
#endif
/* The User-Agent of every outbound request (default of tpo_http_opts). */
#define TPO_HTTP_USER_AGENT "mod_tp_oauth/" TPO_VERSION

typedef struct tpo_http_opts {
    long connect_timeout_ms; /* default TPO_DEF_HTTP_CONNECT_MS (tpo_defaults.h) */
    long timeout_ms;         /* total; default TPO_DEF_HTTP_TIMEOUT_MS */
    apr_size_t max_response; /* bytes; default TPO_DEF_HTTP_MAX_RESPONSE_BYTES */
    int verify_tls;          /* 1 (default) */
    const char *ca_file;     /* NULL: system store */
    const char *user_agent;  /* default TPO_HTTP_USER_AGENT */
    const char *proxy;       /* outgoing proxy URL (http:// or https://), NULL: none */
    const char *no_proxy;    /* hosts/domains/addresses reached directly ("a,.b,10.0.0.0/8") */
    const char *client_cert; /* PEM client certificate (chain) for TLS (RFC 8705), in
                                memory; NULL: none */
    const char *client_key;  /* its PEM private key, in memory */
} tpo_http_opts;

typedef enum {
    TPO_HTTP_OK = 0,  /* got an HTTP response (any status) */
    TPO_HTTP_CONNECT, /* refused, unreachable, DNS, TLS handshake */
    TPO_HTTP_TIMEOUT,
    TPO_HTTP_TOO_LARGE,
    TPO_HTTP_BAD_URL,
    TPO_HTTP_FAILED /* anything else */
} tpo_http_result;

typedef struct tpo_http_response {
    int status;
    const char *content_type; /* may be NULL */
    char *body;               /* NUL-terminated */
    apr_size_t len;
    const char *error; /* curl's words when result != OK */
    apr_interval_time_t elapsed;
    const char *retry_after; /* the Retry-After header (RFC 9110 10.2.3), NULL if absent */
    const char *dpop_nonce;  /* the DPoP-Nonce header (RFC 9449 8), NULL if absent or too long */
    const char *www_authenticate; /* a WWW-Authenticate header (a DPoP challenge preferred),
                                     NULL if absent or too long */
} tpo_http_response;

void tpo_http_opts_default(tpo_http_opts *o);

/* One request. headers: "Name: value" strings (may be NULL). body NULL for GET. */
tpo_http_result tpo_http_request(apr_pool_t *p, const char *method, const char *url,
                                 const apr_array_header_t *headers, const char *body,
                                 apr_size_t body_len, const tpo_http_opts *opts,
                                 tpo_http_response *resp);

/* Seconds a Retry-After value asks to wait: delta-seconds or an HTTP-date
 * (a date in the past is 0). -1 when the value is NULL or not valid. Not
 * bounded: the caller decides how long it is willing to wait. */
long tpo_http_retry_after(const char *value, apr_time_t now);

/* Once per process, before threads (curl_global_init). */
void tpo_http_global_init(void);

#endif
