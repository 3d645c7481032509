/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Counters in shared memory and their Prometheus text (tpo_metrics.h). */
#include <stdarg.h>
#include <string.h>
#include <apr_strings.h>
#include "tpo_cache.h"
#include "tpo_metrics.h"

const unsigned tpo_metrics_bucket_ms[TPO_METRICS_BUCKETS] = {5,   10,   25,   50,   100,  250,
                                                             500, 1000, 2500, 5000, 10000};

static const char *const login_fail_names[TPO_LF__COUNT] = {
    "access_denied", "provider_error", "bad_callback",  "refused",
    "provider",      "token",          "session_store", "other"};
static const char *const refresh_fail_names[TPO_RF__COUNT] = {"rejected", "unavailable", "timeout",
                                                              "store"};
static const char *const endpoint_names[TPO_EP__COUNT] = {"discovery", "jwks",       "token",
                                                          "userinfo",  "revocation", "par"};
static const char *const backend_names[TPO_CB__COUNT] = {"shm", "memcache", "redis"};

const char *tpo_login_fail_name(tpo_login_fail f)
{
    return (unsigned)f < TPO_LF__COUNT ? login_fail_names[f] : "other";
}

const char *tpo_refresh_fail_name(tpo_refresh_fail f)
{
    return (unsigned)f < TPO_RF__COUNT ? refresh_fail_names[f] : "other";
}

const char *tpo_endpoint_name(tpo_endpoint ep)
{
    return (unsigned)ep < TPO_EP__COUNT ? endpoint_names[ep] : "other";
}

const char *tpo_cache_backend_name(tpo_cache_backend b)
{
    return (unsigned)b < TPO_CB__COUNT ? backend_names[b] : "other";
}

tpo_metrics *tpo_metrics_init(void *mem)
{
    tpo_metrics *m = mem;

    if (m->magic != TPO_METRICS_MAGIC) {
        memset(m, 0, sizeof(*m));
        m->magic = TPO_METRICS_MAGIC;
    }
    return m;
}

void tpo_metrics_call(tpo_metrics *m, tpo_endpoint ep, apr_interval_time_t elapsed, int failed)
{
    uint64_t us = elapsed > 0 ? (uint64_t)elapsed : 0;
    unsigned b = 0;

    if (!m || (unsigned)ep >= TPO_EP__COUNT) {
        return;
    }
    while (b < TPO_METRICS_BUCKETS && us > (uint64_t)tpo_metrics_bucket_ms[b] * 1000) {
        b++;
    }
    atomic_fetch_add_explicit(&m->call_bucket[ep][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->call_sum_us[ep], us, memory_order_relaxed);
    if (failed) {
        atomic_fetch_add_explicit(&m->c[TPO_M_CALL_FAILED + ep], 1, memory_order_relaxed);
    }
}

static uint64_t load(const _Atomic uint64_t *a)
{
    return atomic_load_explicit((_Atomic uint64_t *)a, memory_order_relaxed);
}

/* An output buffer in a pool, doubled when full. */
typedef struct {
    apr_pool_t *p;
    char *buf;
    apr_size_t len, cap;
} outbuf;

static void put(outbuf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(outbuf *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = apr_vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        /* apr_vsnprintf returns what it wrote; a full buffer may be short */
        if (n >= 0 && o->len + (apr_size_t)n + 1 < o->cap) {
            o->len += (apr_size_t)n;
            return;
        }
        {
            char *nb = apr_palloc(o->p, o->cap * 2);
            memcpy(nb, o->buf, o->len);
            o->buf = nb;
            o->cap *= 2;
        }
    }
}

static void head(outbuf *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

char *tpo_metrics_render(apr_pool_t *p, const tpo_metrics *m, const tpo_metrics_gauges *g)
{
    outbuf o = {p, apr_palloc(p, 8192), 0, 8192};
    uint64_t started, done, taken;
    int i, b;

    o.buf[0] = '\0';
    started = tpo_metrics_get(m, TPO_M_LOGIN_STARTED);
    head(&o, "tpo_oauth_logins_started_total", "counter",
         "Logins started (browsers sent to the provider).");
    put(&o, "tpo_oauth_logins_started_total %" APR_UINT64_T_FMT "\n", started);
    done = tpo_metrics_get(m, TPO_M_LOGIN_COMPLETED);
    head(&o, "tpo_oauth_logins_completed_total", "counter",
         "Logins completed (a session was opened).");
    put(&o, "tpo_oauth_logins_completed_total %" APR_UINT64_T_FMT "\n", done);
    head(&o, "tpo_oauth_logins_failed_total", "counter", "Logins that failed at the callback.");
    for (i = 0; i < TPO_LF__COUNT; i++) {
        uint64_t v = tpo_metrics_get(m, (tpo_metric)(TPO_M_LOGIN_FAILED + i));
        put(&o, "tpo_oauth_logins_failed_total{cause=\"%s\"} %" APR_UINT64_T_FMT "\n",
            login_fail_names[i], v);
    }
    taken = tpo_metrics_get(m, TPO_M_LOGIN_TAKEN);
    head(&o, "tpo_oauth_logins_pending", "gauge",
         "Logins started whose callback has not come back (abandoned ones stay counted).");
    put(&o, "tpo_oauth_logins_pending %" APR_UINT64_T_FMT "\n",
        started > taken ? started - taken : 0);

    head(&o, "tpo_oauth_refreshes_total", "counter", "Access tokens refreshed.");
    put(&o, "tpo_oauth_refreshes_total %" APR_UINT64_T_FMT "\n",
        tpo_metrics_get(m, TPO_M_REFRESH_OK));
    head(&o, "tpo_oauth_refreshes_coalesced_total", "counter",
         "Requests that took the result of a refresh another request made.");
    put(&o, "tpo_oauth_refreshes_coalesced_total %" APR_UINT64_T_FMT "\n",
        tpo_metrics_get(m, TPO_M_REFRESH_COALESCED));
    head(&o, "tpo_oauth_refreshes_failed_total", "counter", "Refreshes that failed.");
    for (i = 0; i < TPO_RF__COUNT; i++) {
        put(&o, "tpo_oauth_refreshes_failed_total{cause=\"%s\"} %" APR_UINT64_T_FMT "\n",
            refresh_fail_names[i], tpo_metrics_get(m, (tpo_metric)(TPO_M_REFRESH_FAILED + i)));
    }
    head(&o, "tpo_oauth_logouts_total", "counter", "Sessions ended by a logout.");
    put(&o, "tpo_oauth_logouts_total %" APR_UINT64_T_FMT "\n", tpo_metrics_get(m, TPO_M_LOGOUT));

    head(&o, "tpo_oauth_metadata_fetches_total", "counter",
         "Discovery documents and JWK Sets fetched from the providers.");
    for (i = 0; i < 2; i++) {
        put(&o,
            "tpo_oauth_metadata_fetches_total{kind=\"%s\",result=\"ok\"} %" APR_UINT64_T_FMT "\n"
            "tpo_oauth_metadata_fetches_total{kind=\"%s\",result=\"failed\"} %" APR_UINT64_T_FMT
            "\n",
            endpoint_names[i], tpo_metrics_get(m, (tpo_metric)(TPO_M_FETCH_OK + i)),
            endpoint_names[i], tpo_metrics_get(m, (tpo_metric)(TPO_M_FETCH_FAILED + i)));
    }

    head(&o, "tpo_oauth_provider_calls_failed_total", "counter",
         "Calls to a provider endpoint without an answer or answered with a 5xx.");
    for (i = 0; i < TPO_EP__COUNT; i++) {
        put(&o, "tpo_oauth_provider_calls_failed_total{endpoint=\"%s\"} %" APR_UINT64_T_FMT "\n",
            endpoint_names[i], tpo_metrics_get(m, (tpo_metric)(TPO_M_CALL_FAILED + i)));
    }
    head(&o, "tpo_oauth_provider_call_duration_seconds", "histogram",
         "Calls to the provider's endpoints and how long they took.");
    for (i = 0; i < TPO_EP__COUNT; i++) {
        uint64_t cum = 0;
        for (b = 0; b <= TPO_METRICS_BUCKETS; b++) {
            cum += load(&m->call_bucket[i][b]);
            if (b < TPO_METRICS_BUCKETS) {
                unsigned ms = tpo_metrics_bucket_ms[b];
                put(&o,
                    "tpo_oauth_provider_call_duration_seconds_bucket{endpoint=\"%s\",le=\"%u.%"
                    "03u\"}"
                    " %" APR_UINT64_T_FMT "\n",
                    endpoint_names[i], ms / 1000, ms % 1000, cum);
            }
            else {
                put(&o,
                    "tpo_oauth_provider_call_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"}"
                    " %" APR_UINT64_T_FMT "\n",
                    endpoint_names[i], cum);
            }
        }
        {
            uint64_t us = load(&m->call_sum_us[i]);
            put(&o,
                "tpo_oauth_provider_call_duration_seconds_sum{endpoint=\"%s\"} %" APR_UINT64_T_FMT
                ".%06u\n"
                "tpo_oauth_provider_call_duration_seconds_count{endpoint=\"%s\"} %" APR_UINT64_T_FMT
                "\n",
                endpoint_names[i], us / 1000000, (unsigned)(us % 1000000), endpoint_names[i], cum);
        }
    }

    head(&o, "tpo_oauth_cache_errors_total", "counter",
         "Session cache operations that failed in the backend.");
    for (i = 0; i < TPO_CB__COUNT; i++) {
        put(&o, "tpo_oauth_cache_errors_total{backend=\"%s\"} %" APR_UINT64_T_FMT "\n",
            backend_names[i], tpo_metrics_get(m, (tpo_metric)(TPO_M_CACHE_ERRORS + i)));
    }
    if (g && g->has_cache) {
        head(&o, "tpo_oauth_sessions", "gauge",
             "Entries in the shared-memory session cache (sessions and their short-lived "
             "markers; expired ones until reclaimed).");
        put(&o, "tpo_oauth_sessions %" APR_UINT64_T_FMT "\n", g->sessions);
        head(&o, "tpo_oauth_cache_bytes", "gauge",
             "Bytes of the shared-memory session cache's blocks in use and free.");
        put(&o,
            "tpo_oauth_cache_bytes{state=\"used\"} %" APR_UINT64_T_FMT "\n"
            "tpo_oauth_cache_bytes{state=\"free\"} %" APR_UINT64_T_FMT "\n",
            g->bytes_used, g->bytes_free);
        head(&o, "tpo_oauth_cache_evictions_total", "counter",
             "Entries the shared-memory session cache evicted to make room.");
        put(&o, "tpo_oauth_cache_evictions_total %" APR_UINT64_T_FMT "\n", g->evictions);
    }
    return o.buf;
}

/* The counting cache wrapper */
typedef struct {
    tpo_cache *inner;
    tpo_metrics *m;
    tpo_cache_backend b;
} counting;

static apr_status_t counted(tpo_cache *c, apr_status_t rv)
{
    counting *k = c->impl;

    if (rv != APR_SUCCESS && rv != APR_NOTFOUND && rv != APR_EEXIST && rv != APR_ENOSPC &&
        rv != APR_EINVAL) {
        tpo_metrics_add(k->m, (tpo_metric)(TPO_M_CACHE_ERRORS + k->b));
    }
    return rv;
}

static apr_status_t w_get(tpo_cache *c, const char *key, apr_pool_t *p, char **val, apr_size_t *len)
{
    counting *k = c->impl;
    return counted(c, tpo_cache_get(k->inner, key, p, val, len));
}

static apr_status_t w_set(tpo_cache *c, const char *key, const void *val, apr_size_t len,
                          apr_time_t expiry)
{
    counting *k = c->impl;
    return counted(c, tpo_cache_set(k->inner, key, val, len, expiry));
}

static apr_status_t w_add(tpo_cache *c, const char *key, const void *val, apr_size_t len,
                          apr_time_t expiry)
{
    counting *k = c->impl;
    return counted(c, tpo_cache_add(k->inner, key, val, len, expiry));
}

static apr_status_t w_del(tpo_cache *c, const char *key)
{
    counting *k = c->impl;
    return counted(c, tpo_cache_del(k->inner, key));
}

tpo_cache *tpo_metrics_cache_wrap(apr_pool_t *p, tpo_cache *inner, tpo_metrics *m,
                                  tpo_cache_backend b)
{
    tpo_cache_ops *ops;
    counting *k;
    tpo_cache *c;

    if (!inner || !m) {
        return inner;
    }
    ops = apr_pcalloc(p, sizeof(*ops));
    ops->name = inner->ops->name;
    ops->get = w_get;
    ops->set = w_set;
    ops->add = w_add;
    ops->del = w_del;
    k = apr_palloc(p, sizeof(*k));
    k->inner = inner;
    k->m = m;
    k->b = b;
    c = apr_palloc(p, sizeof(*c));
    c->ops = ops;
    c->impl = k;
    return c;
}
