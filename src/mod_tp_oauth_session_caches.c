/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The session service's caches and keys, set up once: the shared-memory
 * caches and the login-cookie key in post_config (inherited by the
 * children), a distributed cache per child with its keys derived once. */
#include <string.h>
#include <apr_strings.h>
#include "mod_tp_oauth_post.h"
#include "mod_tp_oauth_session.h"
#include "tpo_cache_crypt.h"
#include "tpo_cache_memcache.h"
#include "tpo_cache_redis.h"
#include "tpo_cache_shm.h"
#include "tpo_pending_cookie.h"

/* Stands in for a distributed cache that could not be set up: every
 * operation fails, so requests that need a session get 503, never a loop. */
static apr_status_t down_get(tpo_cache *c, const char *k, apr_pool_t *p, char **v, apr_size_t *l)
{
    return APR_ECONNREFUSED;
}
static apr_status_t down_set(tpo_cache *c, const char *k, const void *v, apr_size_t l, apr_time_t e)
{
    return APR_ECONNREFUSED;
}
static apr_status_t down_del(tpo_cache *c, const char *k)
{
    return APR_ECONNREFUSED;
}
static const tpo_cache_ops down_ops = {"unavailable", down_get, down_set, down_set, down_del};
static tpo_cache down_cache = {&down_ops, NULL};

/* A cache kept in the process pool survives graceful restarts (the process
 * pool outlives configuration generations); it is re-created only when its
 * configured size changes. */
static apr_status_t cache_for(server_rec *s, const char *tag, apr_size_t bytes, apr_size_t entries,
                              tpo_cache **out)
{
    apr_pool_t *pp = s->process->pool;
    const char *key =
        apr_psprintf(pp, "tpo_cache_%s_%" APR_SIZE_T_FMT "_%" APR_SIZE_T_FMT, tag, bytes, entries);
    void *data = NULL;
    const char *err = NULL;
    apr_status_t rv;

    apr_pool_userdata_get(&data, key, pp);
    if (data) {
        /* the segment outlives the module's unload and reload between
         * configuration passes: its function table must be this load's */
        *out = data;
        tpo_shm_cache_rebind(*out);
        return APR_SUCCESS;
    }
    rv = tpo_shm_cache_create(pp, bytes, entries, out, &err);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                     TPO_APLOGNO(00002) "cannot create the %s cache (%" APR_SIZE_T_FMT
                                        " bytes): %s",
                     tag, bytes, err ? err : "shared memory unavailable");
        return rv;
    }
    apr_pool_userdata_set(*out, key, apr_pool_cleanup_null, pp);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                 TPO_APLOGNO(00003) "created the %s cache: %" APR_SIZE_T_FMT
                                    " bytes of shared memory",
                 tag, bytes);
    return APR_SUCCESS;
}

/* The login cookies' key: derived from TPOAuthLoginCookieKeyFile, or else
 * random, drawn once per server start and kept in the process pool so that
 * logins in progress survive graceful restarts. */
static apr_status_t login_key_init(server_rec *s)
{
    tpa_server_conf *sc = tpa_config_server(s);
    apr_pool_t *pp = s->process->pool;
    void *data = NULL;
    tpo_pending_key *k;
    apr_status_t rv;

    if (sc->login_secret) {
        rv = tpo_pending_key_derive(sc->login_secret, sc->login_secret_len, &tpa_login_key);
        if (rv != APR_SUCCESS) {
            ap_log_error(
                APLOG_MARK, APLOG_EMERG, rv, s,
                TPO_APLOGNO(
                    00004) "cannot derive the login-cookie key from TPOAuthLoginCookieKeyFile");
        }
        return rv;
    }
    apr_pool_userdata_get(&data, "tpo_login_random_key", pp);
    if (!data) {
        k = apr_palloc(pp, sizeof(*k));
        if ((rv = tpo_pending_key_random(k)) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                         TPO_APLOGNO(00005) "no randomness for the login-cookie key");
            return rv;
        }
        apr_pool_userdata_set(k, "tpo_login_random_key", apr_pool_cleanup_null, pp);
        data = k;
    }
    memcpy(&tpa_login_key, data, sizeof(tpa_login_key));
    return APR_SUCCESS;
}

/* A master key of the distributed cache, derived at most once per process
 * and secret: a passphrase costs an scrypt run (~50-100 ms, on purpose), to
 * be paid neither per child nor per request, nor again at the second
 * configuration pass of a start or at a graceful restart. The keys are
 * remembered in the process pool under a one-way tag of the secret (never
 * the secret), and children inherit them with the parent's memory. */
static apr_status_t cache_key_of(server_rec *s, apr_pool_t *ptemp, const char *pass,
                                 const char *bytes, apr_size_t len, tpo_crypt_key **out)
{
    apr_pool_t *pp = s->process->pool;
    const char *tag = pass ? tpo_crypt_secret_tag(ptemp, pass, strlen(pass))
                           : tpo_crypt_secret_tag(ptemp, bytes, len);
    const char *err = NULL;
    void *data = NULL;
    tpo_crypt_key *k;
    apr_time_t t0 = apr_time_now();
    apr_status_t rv;

    if (!tag) {
        return APR_EGENERAL;
    }
    tag = apr_pstrcat(ptemp, pass ? "tpo_cache_key_p_" : "tpo_cache_key_f_", tag, NULL);
    apr_pool_userdata_get(&data, tag, pp);
    if (data) {
        *out = data;
        return APR_SUCCESS;
    }
    k = apr_palloc(pp, sizeof(*k));
    rv = pass ? tpo_crypt_key_from_passphrase(pass, k, &err)
              : tpo_crypt_key_from_bytes(bytes, len, k, &err);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                     TPO_APLOGNO(00006) "cannot derive the distributed cache's "
                                        "key from %s: %s",
                     pass ? "TPOAuthCachePassphrase" : "TPOAuthCacheKeyFile", err ? err : "error");
        return rv;
    }
    apr_pool_userdata_set(k, apr_pstrdup(pp, tag), apr_pool_cleanup_null, pp);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                 TPO_APLOGNO(00007) "derived a distributed cache key from %s "
                                    "in %" APR_TIME_T_FMT " ms",
                 pass ? "TPOAuthCachePassphrase (scrypt)" : "TPOAuthCacheKeyFile",
                 apr_time_as_msec(apr_time_now() - t0));
    *out = k;
    return APR_SUCCESS;
}

/* Current and previous key: the key file if set, else the passphrase; with
 * both, the passphrase is the previous key (moving to a key file). */
static apr_status_t cache_keys_derive(server_rec *s, apr_pool_t *ptemp)
{
    tpa_server_conf *sc = tpa_config_server(s);
    apr_status_t rv;

    sc->cache_key = sc->cache_key_prev = NULL;
    if (sc->cache_key_file) {
        rv = cache_key_of(s, ptemp, NULL, sc->cache_key_bytes, sc->cache_key_len, &sc->cache_key);
        if (rv == APR_SUCCESS && sc->cache_key_file_prev) {
            rv = cache_key_of(s, ptemp, NULL, sc->cache_key_prev_bytes, sc->cache_key_prev_len,
                              &sc->cache_key_prev);
        }
        else if (rv == APR_SUCCESS && sc->cache_passphrase) {
            rv = cache_key_of(s, ptemp, sc->cache_passphrase, NULL, 0, &sc->cache_key_prev);
        }
        return rv;
    }
    rv = cache_key_of(s, ptemp, sc->cache_passphrase, NULL, 0, &sc->cache_key);
    if (rv == APR_SUCCESS && sc->cache_passphrase_prev) {
        rv = cache_key_of(s, ptemp, sc->cache_passphrase_prev, NULL, 0, &sc->cache_key_prev);
    }
    return rv;
}

apr_status_t tpa_session_cache_shm(server_rec *s, const char *tag, apr_size_t bytes,
                                   apr_size_t entries, tpo_cache **out)
{
    return cache_for(s, tag, bytes, entries, out);
}

int tpa_session_caches_post_config(server_rec *s, apr_pool_t *ptemp)
{
    int pending = tpa_config_pending_capacity(s);
    tpa_server_conf *sc = tpa_config_server(s);

    if (login_key_init(s) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (sc->cache_type != TPO_CACHE_SHM) {
        /* the distributed cache is connected per child (child_init), with
         * keys derived here, once */
        tpa_session_cache = tpa_pending_cache = tpa_post_cache = NULL;
        return cache_keys_derive(s, ptemp) == APR_SUCCESS ? OK : HTTP_INTERNAL_SERVER_ERROR;
    }
    if (cache_for(s, "session", (apr_size_t)tpa_config_cache_size(s), 0, &tpa_session_cache) !=
            APR_SUCCESS ||
        cache_for(s, "consumed-login", (apr_size_t)pending * 1024, (apr_size_t)pending * 2,
                  &tpa_pending_cache) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* kept form POSTs (TPOAuthPreservePost): anonymous writers, so a
     * segment of their own, never the sessions' */
    tpa_post_cache = NULL;
    if (tpa_config_post_preserve_max() > 0) {
        apr_size_t bytes = (apr_size_t)tpa_config_post_preserve_max() * TPO_POST_STORE_FACTOR;
        if (bytes < (apr_size_t)TPO_POST_STORE_MIN_M * 1024 * 1024) {
            bytes = (apr_size_t)TPO_POST_STORE_MIN_M * 1024 * 1024;
        }
        if (cache_for(s, "kept-post", bytes, 0, &tpa_post_cache) != APR_SUCCESS) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}

/* A distributed cache: connections per process, values encrypted. The
 * consumed-login markers live there too, so a callback replayed on another
 * server is refused as well. */
static void remote_cache_init(apr_pool_t *pchild, server_rec *s)
{
    tpa_server_conf *sc = tpa_config_server(s);
    apr_interval_time_t timeout = apr_time_from_msec(
        sc->cache_timeout_ms != TPO_UNSET ? sc->cache_timeout_ms : TPO_DEF_CACHE_TIMEOUT_MS);
    tpo_cache *backend = NULL, *crypt = NULL;
    const char *err = NULL;
    apr_status_t rv;

    if (sc->cache_type == TPO_CACHE_MEMCACHE) {
        rv = tpo_memcache_cache_create(pchild, sc->cache_servers, timeout, &backend, &err);
    }
    else {
        tpo_redis_conf rc;
        tpa_config_redis(pchild, sc, timeout, &rc);
        rv = tpo_redis_cache_create_conf(pchild, &rc, &backend, &err);
    }
    if (rv == APR_SUCCESS) {
        rv = tpo_crypt_cache_create(pchild, backend, sc->cache_key, sc->cache_key_prev, &crypt,
                                    &err);
    }
    if (rv != APR_SUCCESS) {
        tpa_session_cache = tpa_pending_cache = &down_cache;
        tpa_post_cache = tpa_config_post_preserve_max() > 0 ? &down_cache : NULL;
        ap_log_error(
            APLOG_MARK, APLOG_CRIT, rv, s,
            TPO_APLOGNO(00008) "cannot set up the %s session cache (%s): %s; requests that need a "
                               "session will get 503",
            sc->cache_type == TPO_CACHE_REDIS ? "redis" : "memcache", sc->cache_servers,
            err ? err : "error");
        return;
    }
    tpa_pending_cache = crypt;
    tpa_session_cache = tpa_local_tier_wrap(pchild, s, crypt);
    tpa_session_cache_fresh = tpa_session_cache != crypt ? crypt : NULL;
    /* kept form POSTs share it: every server of a fleet can replay them */
    tpa_post_cache = tpa_config_post_preserve_max() > 0 ? crypt : NULL;
}

void tpa_session_caches_child_init(apr_pool_t *pchild, server_rec *s)
{
    if (tpa_config_server(s)->cache_type != TPO_CACHE_SHM) {
        remote_cache_init(pchild, s);
    }
}
