/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The module's figures: counters in one block of shared memory (the glue
 * places it in an APR segment made by the parent, so every child adds to
 * the same counters and they outlive graceful restarts), rendered in the
 * Prometheus text exposition format (version 0.0.4).
 *
 * Counting is one relaxed atomic add (C11 atomics on 64-bit words, lock-free
 * and address-free, so they work across processes); a provider call adds
 * three (the call, its histogram bucket, its latency sum). Nothing is
 * counted on the hot path of an authenticated request. Reading (rendering)
 * takes no lock either: each value is read atomically, the set is not a
 * snapshot (a scrape may see a login counted as started and not yet as
 * completed). */
#ifndef TPO_METRICS_H
#define TPO_METRICS_H

#include <stdatomic.h>
#include <stdint.h>
#include <apr_pools.h>
#include <apr_time.h>

/* Why a login failed (the label `cause`). */
typedef enum {
    TPO_LF_ACCESS_DENIED = 0, /* the provider answered error=access_denied */
    TPO_LF_PROVIDER_ERROR,    /* any other error= from the provider */
    TPO_LF_BAD_CALLBACK,      /* malformed, unknown, expired or replayed callback (400) */
    TPO_LF_REFUSED,           /* the user was refused after the tokens (403: claims, mapping) */
    TPO_LF_PROVIDER,          /* token, userinfo or metadata endpoint failed (502/504) */
    TPO_LF_TOKEN,             /* the provider's tokens were not acceptable (401) */
    TPO_LF_SESSION_STORE,     /* the session cache failed (503) */
    TPO_LF_OTHER,
    TPO_LF__COUNT
} tpo_login_fail;

/* Why a refresh failed (the label `cause`). */
typedef enum {
    TPO_RF_REJECTED = 0, /* the provider refused the refresh token: the session ended */
    TPO_RF_UNAVAILABLE,  /* the provider could not be reached or answered 5xx */
    TPO_RF_TIMEOUT,
    TPO_RF_STORE, /* the refreshed session could not be stored */
    TPO_RF__COUNT
} tpo_refresh_fail;

/* The provider's endpoints the module calls (the label `endpoint`). */
typedef enum {
    TPO_EP_DISCOVERY = 0,
    TPO_EP_JWKS,
    TPO_EP_TOKEN,
    TPO_EP_USERINFO,
    TPO_EP_REVOCATION,
    TPO_EP_PAR, /* pushed authorization requests (RFC 9126) */
    TPO_EP__COUNT
} tpo_endpoint;

/* The cache backends (the label `backend`). */
typedef enum { TPO_CB_SHM = 0, TPO_CB_MEMCACHE, TPO_CB_REDIS, TPO_CB__COUNT } tpo_cache_backend;

/* Plain counters. */
typedef enum {
    TPO_M_LOGIN_STARTED = 0,
    TPO_M_LOGIN_COMPLETED,
    TPO_M_LOGIN_TAKEN,  /* callbacks that took a started login (its state): it ends here */
    TPO_M_LOGIN_FAILED, /* + tpo_login_fail */
    TPO_M_REFRESH_OK = TPO_M_LOGIN_FAILED + TPO_LF__COUNT,
    TPO_M_REFRESH_COALESCED,                                /* waited for another's refresh */
    TPO_M_REFRESH_FAILED,                                   /* + tpo_refresh_fail */
    TPO_M_LOGOUT = TPO_M_REFRESH_FAILED + TPO_RF__COUNT,    /* sessions ended by a logout */
    TPO_M_FETCH_OK,                                         /* + 0 discovery, 1 JWKS */
    TPO_M_FETCH_FAILED = TPO_M_FETCH_OK + 2,                /* + 0 discovery, 1 JWKS */
    TPO_M_CALL_FAILED = TPO_M_FETCH_FAILED + 2,             /* + tpo_endpoint: no answer or 5xx */
    TPO_M_CACHE_ERRORS = TPO_M_CALL_FAILED + TPO_EP__COUNT, /* + tpo_cache_backend */
    TPO_M__COUNT = TPO_M_CACHE_ERRORS + TPO_CB__COUNT
} tpo_metric;

/* Latency buckets of the provider calls, upper bounds in milliseconds
 * (Prometheus `le`, in seconds); one more bucket holds the rest (+Inf). */
#define TPO_METRICS_BUCKETS 11
extern const unsigned tpo_metrics_bucket_ms[TPO_METRICS_BUCKETS];

#define TPO_METRICS_MAGIC 0x54504f4d45545231ULL /* "TPOMETR1" */

typedef struct tpo_metrics {
    uint64_t magic;
    _Atomic uint64_t c[TPO_M__COUNT];
    /* per endpoint: calls per bucket (not cumulative; the last is +Inf) */
    _Atomic uint64_t call_bucket[TPO_EP__COUNT][TPO_METRICS_BUCKETS + 1];
    _Atomic uint64_t call_sum_us[TPO_EP__COUNT];
} tpo_metrics;

/* Formats mem (at least sizeof(tpo_metrics) bytes, suitably aligned) as
 * zeroed counters; memory that already holds counters is kept as it is
 * (reuse across graceful restarts). Returns the counters. */
tpo_metrics *tpo_metrics_init(void *mem);

static inline void tpo_metrics_add(tpo_metrics *m, tpo_metric which)
{
    if (m) {
        atomic_fetch_add_explicit(&m->c[which], 1, memory_order_relaxed);
    }
}

static inline uint64_t tpo_metrics_get(const tpo_metrics *m, tpo_metric which)
{
    return atomic_load_explicit(&((tpo_metrics *)m)->c[which], memory_order_relaxed);
}

/* One call to the provider and how long it took; failed: no HTTP answer, or
 * a 5xx. */
void tpo_metrics_call(tpo_metrics *m, tpo_endpoint ep, apr_interval_time_t elapsed, int failed);

/* Figures read at render time from elsewhere (the shared-memory cache);
 * has_cache 0: the distributed caches keep their own figures. */
typedef struct tpo_metrics_gauges {
    int has_cache;
    uint64_t sessions;   /* entries in the session cache */
    uint64_t bytes_used; /* of its blocks */
    uint64_t bytes_free;
    uint64_t evictions; /* LRU evictions since the cache was made */
} tpo_metrics_gauges;

/* The Prometheus text (HELP and TYPE lines, then the samples), in p. */
char *tpo_metrics_render(apr_pool_t *p, const tpo_metrics *m, const tpo_metrics_gauges *g);

/* Label values, for logs and tests. */
const char *tpo_login_fail_name(tpo_login_fail f);
const char *tpo_refresh_fail_name(tpo_refresh_fail f);
const char *tpo_endpoint_name(tpo_endpoint ep);
const char *tpo_cache_backend_name(tpo_cache_backend b);

/* A cache that forwards to `inner` and counts its failures (any status but
 * success, not found, exists, no space, invalid key) as errors of backend b
 * in m. Allocated in p. */
struct tpo_cache;
struct tpo_cache *tpo_metrics_cache_wrap(apr_pool_t *p, struct tpo_cache *inner, tpo_metrics *m,
                                         tpo_cache_backend b);

#endif
