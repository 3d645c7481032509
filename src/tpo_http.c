/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Outbound HTTP with libcurl: an easy handle per request, owned by the
 * request's pool; each thread keeps one handle between its requests (reset,
 * but with its connection and DNS caches: a login's token and userinfo
 * requests share one connection, and no handle is built per request). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <apr_date.h>
#include <curl/curl.h>
#include "tpo_http.h"
#include "tpo_provider.h" /* tpo_url_is_http */
#include "tpo_log.h"
#include "tpo_defaults.h"


void tpo_http_opts_default(tpo_http_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->connect_timeout_ms = TPO_DEF_HTTP_CONNECT_MS;
    o->timeout_ms = TPO_DEF_HTTP_TIMEOUT_MS;
    o->max_response = TPO_DEF_HTTP_MAX_RESPONSE_BYTES;
    o->verify_tls = 1;
    o->ca_file = NULL;
    o->user_agent = TPO_HTTP_USER_AGENT;
}

void tpo_http_global_init(void)
{
    static int done;

    if (!done) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        done = 1;
    }
}

/* Everything a request owns; released by the pool cleanup (or earlier by
 * apr_pool_cleanup_run once the request is over). */
typedef struct http_ctx {
    CURL *curl;
    struct curl_slist *headers;
    char *buf; /* malloc'd response body, owned here */
    apr_size_t len;
    apr_size_t cap;
    apr_size_t max;
    int too_large;
    apr_pool_t *pool;
    const char *retry_after; /* of the last response (1xx answers reset it) */
    const char *dpop_nonce;
    const char *www_authenticate;
} http_ctx;

/* The thread's idle handle (NULL while a request of this thread uses it). */
static _Thread_local CURL *idle_handle;

static CURL *handle_take(void)
{
    CURL *h = idle_handle;

    if (h) {
        idle_handle = NULL;
        return h;
    }
    return curl_easy_init();
}

static apr_status_t handle_cleanup(void *data)
{
    http_ctx *c = data;

    if (c->curl) {
        if (!idle_handle) {
            curl_easy_reset(c->curl); /* options (our pointers) gone, caches kept */
            idle_handle = c->curl;
        }
        else {
            curl_easy_cleanup(c->curl);
        }
        c->curl = NULL;
    }
    if (c->headers) {
        curl_slist_free_all(c->headers);
        c->headers = NULL;
    }
    return APR_SUCCESS;
}

static apr_status_t body_cleanup(void *data)
{
    http_ctx *c = data;

    free(c->buf);
    c->buf = NULL;
    return APR_SUCCESS;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    http_ctx *c = userdata;
    size_t n = size * nmemb;

    if (n == 0) {
        return 0;
    }
    if (n > c->max || c->len > c->max - n) {
        c->too_large = 1;
        return 0; /* CURLE_WRITE_ERROR */
    }
    if (c->len + n + 1 > c->cap) {
        apr_size_t ncap = c->cap ? c->cap : 4096;
        char *nb;
        while (ncap < c->len + n + 1) {
            ncap *= 2;
        }
        if (ncap > c->max + 1) {
            ncap = c->max + 1;
        }
        nb = realloc(c->buf, ncap);
        if (nb == NULL) {
            return 0;
        }
        c->buf = nb;
        c->cap = ncap;
    }
    memcpy(c->buf + c->len, ptr, n);
    c->len += n;
    c->buf[c->len] = '\0';
    return n;
}

/* The value of header line ptr[0..n) when it is the header name (with its
 * colon) and the value is shorter than max; else NULL. */
static const char *header_value(http_ctx *c, const char *ptr, size_t n, const char *name,
                                size_t max)
{
    size_t k = strlen(name);
    const char *v, *e;

    if (n <= k || strncasecmp(ptr, name, k) != 0 || n - k >= max) {
        return NULL;
    }
    v = ptr + k;
    e = ptr + n;
    while (v < e && (*v == ' ' || *v == '\t')) {
        v++;
    }
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t')) {
        e--;
    }
    return apr_pstrmemdup(c->pool, v, (apr_size_t)(e - v));
}

/* Keeps the Retry-After, DPoP-Nonce and WWW-Authenticate headers of the
 * final response (bounded); every other header is ignored. A status line
 * starts a response (after a 100 Continue) anew. */
static size_t header_cb(char *ptr, size_t size, size_t nitems, void *userdata)
{
    http_ctx *c = userdata;
    size_t n = size * nitems;
    const char *v;

    if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        c->retry_after = NULL;
        c->dpop_nonce = NULL;
        c->www_authenticate = NULL;
    }
    else if ((v = header_value(c, ptr, n, "Retry-After:", 128)) != NULL) {
        c->retry_after = v;
    }
    else if ((v = header_value(c, ptr, n, "DPoP-Nonce:", 1024)) != NULL) {
        c->dpop_nonce = v;
    }
    else if ((v = header_value(c, ptr, n, "WWW-Authenticate:", 4096)) != NULL) {
        /* several challenges may come in several headers: a DPoP one wins */
        if (!c->www_authenticate || strncasecmp(v, "DPoP", 4) == 0) {
            c->www_authenticate = v;
        }
    }
    return n;
}

long tpo_http_retry_after(const char *value, apr_time_t now)
{
    const char *c;
    long v = 0;
    apr_time_t t;

    if (value == NULL || *value == '\0') {
        return -1;
    }
    for (c = value; *c >= '0' && *c <= '9'; c++) {
        if (c - value >= 9) {
            return -1; /* more than 30 years: not a sane value */
        }
        v = v * 10 + (*c - '0');
    }
    if (*c == '\0') {
        return v;
    }
    if (c != value) {
        return -1; /* "10s", "1.5": neither form */
    }
    t = apr_date_parse_http(value);
    if (t == APR_DATE_BAD) {
        return -1;
    }
    return t <= now ? 0 : (long)apr_time_sec(t - now + APR_USEC_PER_SEC - 1);
}

static int header_ok(const char *h)
{
    const char *colon = strchr(h, ':');

    if (colon == NULL || colon == h) {
        return 0;
    }
    for (; *h; h++) {
        if (*h == '\r' || *h == '\n') {
            return 0;
        }
    }
    return 1;
}

static tpo_http_result map_error(CURLcode rc, const http_ctx *c)
{
    switch (rc) {
    case CURLE_OK:
        return TPO_HTTP_OK;
    case CURLE_WRITE_ERROR:
        return c->too_large ? TPO_HTTP_TOO_LARGE : TPO_HTTP_FAILED;
    case CURLE_FILESIZE_EXCEEDED:
        return TPO_HTTP_TOO_LARGE;
    case CURLE_OPERATION_TIMEDOUT:
        return TPO_HTTP_TIMEOUT;
    case CURLE_URL_MALFORMAT:
        return TPO_HTTP_BAD_URL;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
#if LIBCURL_VERSION_NUM >= 0x074d00 /* 7.77.0 */
    case CURLE_SSL_CLIENTCERT:
#endif
    case CURLE_USE_SSL_FAILED:
        return TPO_HTTP_CONNECT;
    default:
        /* includes CURLE_UNSUPPORTED_PROTOCOL, which libcurl also reports
         * for an HTTP/0.9 answer; URL schemes are checked before */
        return TPO_HTTP_FAILED;
    }
}

tpo_http_result tpo_http_request(apr_pool_t *p, const char *method, const char *url,
                                 const apr_array_header_t *headers, const char *body,
                                 apr_size_t body_len, const tpo_http_opts *opts,
                                 tpo_http_response *resp)
{
    tpo_http_opts o;
    http_ctx *c;
    char errbuf[CURL_ERROR_SIZE];
    int have_accept = 0, i;
    apr_time_t start = apr_time_now();
    CURLcode rc;
    tpo_http_result res;
    long status = 0;
    char *ct = NULL;

    memset(resp, 0, sizeof(*resp));
    resp->body = apr_pstrdup(p, "");
    if (opts) {
        o = *opts;
    }
    else {
        tpo_http_opts_default(&o);
    }
    if (o.connect_timeout_ms <= 0) {
        o.connect_timeout_ms = TPO_DEF_HTTP_CONNECT_MS;
    }
    if (o.timeout_ms <= 0) {
        o.timeout_ms = TPO_DEF_HTTP_TIMEOUT_MS;
    }
    if (o.max_response == 0) {
        o.max_response = TPO_DEF_HTTP_MAX_RESPONSE_BYTES;
    }
    if (method == NULL) {
        method = body ? "POST" : "GET";
    }

    if (!tpo_url_is_http(url)) {
        resp->error = "URL is not an absolute http(s) URL";
        return TPO_HTTP_BAD_URL;
    }

    c = apr_pcalloc(p, sizeof(*c));
    c->max = o.max_response;
    c->pool = p;
    apr_pool_cleanup_register(p, c, body_cleanup, apr_pool_cleanup_null);
    c->curl = handle_take();
    if (c->curl == NULL) {
        resp->error = "curl_easy_init failed";
        return TPO_HTTP_FAILED;
    }
    apr_pool_cleanup_register(p, c, handle_cleanup, apr_pool_cleanup_null);

    if (headers) {
        for (i = 0; i < headers->nelts; i++) {
            const char *h = APR_ARRAY_IDX(headers, i, const char *);
            struct curl_slist *nl;
            if (h == NULL) {
                continue;
            }
            if (!header_ok(h)) {
                resp->error = "invalid request header";
                apr_pool_cleanup_run(p, c, handle_cleanup);
                return TPO_HTTP_FAILED;
            }
            if (strncasecmp(h, "Accept:", 7) == 0) {
                have_accept = 1;
            }
            nl = curl_slist_append(c->headers, h);
            if (nl == NULL) {
                resp->error = "out of memory";
                apr_pool_cleanup_run(p, c, handle_cleanup);
                return TPO_HTTP_FAILED;
            }
            c->headers = nl;
        }
    }
    {
        /* default Accept; no "Expect: 100-continue" round trip */
        const char *extra[2];
        int k, n = 0;
        if (!have_accept) {
            extra[n++] = "Accept: application/json";
        }
        extra[n++] = "Expect:";
        for (k = 0; k < n; k++) {
            struct curl_slist *nl = curl_slist_append(c->headers, extra[k]);
            if (nl == NULL) {
                resp->error = "out of memory";
                apr_pool_cleanup_run(p, c, handle_cleanup);
                return TPO_HTTP_FAILED;
            }
            c->headers = nl;
        }
    }

    errbuf[0] = '\0';
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c->curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(c->curl, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, o.connect_timeout_ms);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, o.timeout_ms);
    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, o.verify_tls == 0 ? 0L : 1L);
    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, o.verify_tls == 0 ? 0L : 2L);
    if (o.ca_file) {
        curl_easy_setopt(c->curl, CURLOPT_CAINFO, o.ca_file);
    }
    if (o.user_agent) {
        curl_easy_setopt(c->curl, CURLOPT_USERAGENT, o.user_agent);
    }
    if (o.proxy) {
        curl_easy_setopt(c->curl, CURLOPT_PROXY, o.proxy);
        curl_easy_setopt(c->curl, CURLOPT_NOPROXY, o.no_proxy ? o.no_proxy : "");
    }
    if (o.client_cert && o.client_key) {
        /* from memory: the files may be readable by root only */
        struct curl_blob cert, key;
        cert.data = (void *)o.client_cert;
        cert.len = strlen(o.client_cert);
        cert.flags = CURL_BLOB_COPY;
        key.data = (void *)o.client_key;
        key.len = strlen(o.client_key);
        key.flags = CURL_BLOB_COPY;
        curl_easy_setopt(c->curl, CURLOPT_SSLCERT_BLOB, &cert);
        curl_easy_setopt(c->curl, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(c->curl, CURLOPT_SSLKEY_BLOB, &key);
        curl_easy_setopt(c->curl, CURLOPT_SSLKEYTYPE, "PEM");
    }
    curl_easy_setopt(c->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o.max_response);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);

    if (strcmp(method, "GET") == 0 && body == NULL) {
        curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
    }
    else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c->curl, CURLOPT_NOBODY, 1L);
    }
    else {
        if (body || strcmp(method, "POST") == 0) {
            curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)(body ? body_len : 0));
            curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body ? body : "");
        }
        if (strcmp(method, "POST") != 0) {
            curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
        }
    }

    rc = curl_easy_perform(c->curl);
    resp->elapsed = apr_time_now() - start;
    res = map_error(rc, c);

    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    resp->status = (int)status;
    if (curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct) {
        resp->content_type = apr_pstrdup(p, ct);
    }
    if (res == TPO_HTTP_OK) {
        resp->retry_after = c->retry_after;
        resp->dpop_nonce = c->dpop_nonce;
        resp->www_authenticate = c->www_authenticate;
        if (c->buf) {
            resp->body = c->buf; /* freed by body_cleanup with the pool */
            resp->len = c->len;
        }
    }
    else {
        resp->error = apr_pstrdup(p, errbuf[0] ? errbuf : curl_easy_strerror(rc));
        if (res == TPO_HTTP_TOO_LARGE) {
            resp->error =
                apr_psprintf(p, "response larger than %" APR_SIZE_T_FMT " bytes", o.max_response);
        }
        tpo_log(TPO_LOG_MARK, TPO_LOG_DEBUG,
                TPO_APLOGNO(00070) "HTTP %s failed after %" APR_TIME_T_FMT " ms: %s", method,
                apr_time_as_msec(resp->elapsed), resp->error);
    }
    apr_pool_cleanup_run(p, c, handle_cleanup);
    return res;
}
