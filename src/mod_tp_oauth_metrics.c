/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The module's figures: counters in one anonymous shared-memory segment,
 * their text, the health check (mod_tp_oauth_metrics.h). */
#include <apr_shm.h>
#include <apr_strings.h>
#include <unistd.h>
#include <string.h>
#include <jansson.h>
#include "tpo_provider.h"
#include "tpo_cache_shm.h"
#include "mod_tp_oauth_metrics.h"
#include "mod_tp_oauth_provider.h"
#include "mod_tp_oauth_session.h"

tpo_metrics *tpa_metrics;

/* the layout's size in the key: a module with another layout (an upgrade at
 * a graceful restart) makes its own segment */
#define METRICS_KEY "tpo_metrics_shm"

/* The segment lives in the process pool, like the shared-memory session
 * cache: made once per server start, found again at a graceful restart, so
 * the counters go on. */
int tpa_metrics_post_config(server_rec *s)
{
    apr_pool_t *pp = s->process->pool;
    apr_shm_t *shm = NULL;
    void *data = NULL;
    const char *key = apr_psprintf(pp, METRICS_KEY "_%" APR_UINT64_T_FMT "_%" APR_SIZE_T_FMT,
                                   (apr_uint64_t)TPO_METRICS_MAGIC, sizeof(tpo_metrics));
    apr_status_t rv;

    apr_pool_userdata_get(&data, key, pp);
    if (data) {
        tpa_metrics = data;
        return OK;
    }
    rv = apr_shm_create(&shm, sizeof(tpo_metrics), NULL, pp);
    if (rv != APR_SUCCESS) {
        /* the module works without figures */
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     TPO_APLOGNO(00600) "cannot create the shared memory for the metrics "
                                        "(%" APR_SIZE_T_FMT " bytes): nothing will be counted",
                     sizeof(tpo_metrics));
        tpa_metrics = NULL;
        return OK;
    }
    tpa_metrics = tpo_metrics_init(apr_shm_baseaddr_get(shm));
    apr_pool_userdata_set(tpa_metrics, key, apr_pool_cleanup_null, pp);
    return OK;
}

void tpa_metrics_child_init(apr_pool_t *pchild, server_rec *s)
{
    tpa_server_conf *sc = tpa_config_server(s);
    tpo_cache_backend b;

    if (sc->cache_type == TPO_CACHE_SHM) {
        return; /* its figures come from its statistics */
    }
    b = sc->cache_type == TPO_CACHE_REDIS ? TPO_CB_REDIS : TPO_CB_MEMCACHE;
    tpa_session_cache = tpo_metrics_cache_wrap(pchild, tpa_session_cache, tpa_metrics, b);
    tpa_pending_cache = tpa_session_cache;
}

static void gauges(request_rec *r, tpo_metrics_gauges *g)
{
    tpo_shm_cache_stats st;

    memset(g, 0, sizeof(*g));
    if (tpa_config_server(r->server)->cache_type != TPO_CACHE_SHM || !tpa_session_cache) {
        return;
    }
    tpo_shm_cache_get_stats(tpa_session_cache, &st);
    g->has_cache = 1;
    g->sessions = st.entries;
    g->bytes_used = (uint64_t)(st.blocks_total - st.blocks_free) * st.block_size;
    g->bytes_free = (uint64_t)st.blocks_free * st.block_size;
    g->evictions = st.evictions;
}

const char *tpa_metrics_text(request_rec *r)
{
    static tpo_metrics zero; /* when nothing is counted: all zero */
    tpo_metrics_gauges g;

    gauges(r, &g);
    return tpo_metrics_render(r->pool, tpa_metrics ? tpa_metrics : &zero, &g);
}

static const char *backend_name(int type)
{
    return type == TPO_CACHE_REDIS ? "redis" : type == TPO_CACHE_MEMCACHE ? "memcache" : "shm";
}

/* A write, a read and a delete of a probe key of this process. */
static json_t *cache_health(request_rec *r, int *ok)
{
    tpa_server_conf *sc = tpa_config_server(r->server);
    const char *key =
        apr_psprintf(r->pool, "hc:%ld:%" APR_TIME_T_FMT, (long)getpid(), apr_time_now());
    const char *step = "write";
    apr_time_t t0 = apr_time_now();
    apr_status_t rv = APR_EGENERAL;
    char *val = NULL;
    apr_size_t len = 0;
    char ebuf[120];

    if (tpa_session_cache) {
        rv = tpo_cache_set(tpa_session_cache, key, "ok", 2, t0 + apr_time_from_sec(30));
        if (rv == APR_SUCCESS) {
            step = "read";
            rv = tpo_cache_get(tpa_session_cache, key, r->pool, &val, &len);
            if (rv == APR_SUCCESS && (len != 2 || memcmp(val, "ok", 2) != 0)) {
                rv = APR_EGENERAL;
            }
        }
        if (rv == APR_SUCCESS) {
            step = "delete";
            rv = tpo_cache_del(tpa_session_cache, key);
        }
    }
    *ok = rv == APR_SUCCESS;
    if (!*ok) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r,
                      TPO_APLOGNO(00601) "health check: the %s session cache failed (%s)",
                      backend_name(sc->cache_type), step);
        return json_pack("{s:s,s:b,s:s,s:s,s:I}", "backend", backend_name(sc->cache_type), "ok", 0,
                         "step", step, "error", apr_strerror(rv, ebuf, sizeof(ebuf)), "ms",
                         (json_int_t)apr_time_as_msec(apr_time_now() - t0));
    }
    return json_pack("{s:s,s:b,s:I}", "backend", backend_name(sc->cache_type), "ok", 1, "ms",
                     (json_int_t)apr_time_as_msec(apr_time_now() - t0));
}

/* Each provider's metadata: loaded, or loadable now (bounded by its HTTP
 * timeout). */
static json_t *providers_health(request_rec *r, int *ok)
{
    tpa_server_conf *sc = tpa_config_server(r->server);
    json_t *out = json_object();
    apr_hash_index_t *hi;

    *ok = 1;
    for (hi = apr_hash_first(r->pool, sc->providers); hi; hi = apr_hash_next(hi)) {
        tpa_provider_conf *pc = apr_hash_this_val(hi);
        const tpo_provider_meta *meta = NULL;
        tpa_rt_status st;

        if (!pc->rt) {
            continue; /* not set up in this process (not used by this server) */
        }
        st = tpa_provider_meta_get(r, pc, &meta);

        if (st != TPA_RT_OK) {
            *ok = 0;
        }
        json_object_set_new(out, pc->name,
                            json_pack("{s:b,s:s}", "ok", st == TPA_RT_OK, "metadata",
                                      st == TPA_RT_OK        ? "loaded"
                                      : st == TPA_RT_TIMEOUT ? "timeout"
                                                             : "unavailable"));
    }
    return out;
}

int tpa_health_check(request_rec *r, json_t **body)
{
    int cache_ok, prov_ok;
    json_t *cache = cache_health(r, &cache_ok);
    json_t *prov = providers_health(r, &prov_ok);

    *body = json_pack("{s:s,s:o,s:o}", "status", cache_ok && prov_ok ? "ok" : "failing", "cache",
                      cache, "providers", prov);
    return cache_ok && prov_ok ? HTTP_OK : HTTP_SERVICE_UNAVAILABLE;
}

const char *tpa_metrics_summary(apr_pool_t *p)
{
    tpo_metrics *m = tpa_metrics;
    uint64_t failed = 0;
    int i;

    if (!m) {
        return "mod_tp_oauth: no metrics (shared memory unavailable)";
    }
    for (i = 0; i < TPO_LF__COUNT; i++) {
        failed += tpo_metrics_get(m, (tpo_metric)(TPO_M_LOGIN_FAILED + i));
    }
    return apr_psprintf(p,
                        "mod_tp_oauth: %" APR_UINT64_T_FMT " logins started, %" APR_UINT64_T_FMT
                        " completed, %" APR_UINT64_T_FMT " failed; %" APR_UINT64_T_FMT
                        " refreshes; %" APR_UINT64_T_FMT " logouts",
                        tpo_metrics_get(m, TPO_M_LOGIN_STARTED),
                        tpo_metrics_get(m, TPO_M_LOGIN_COMPLETED), failed,
                        tpo_metrics_get(m, TPO_M_REFRESH_OK), tpo_metrics_get(m, TPO_M_LOGOUT));
}
