/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* mod_tp_oauth: the module record and the hooks. Thin on purpose: the
 * protocol lives in tpo_*.c, the request stages in mod_tp_oauth_*.c. */
#include <apr_atomic.h>
#include <apr_strings.h>
#include <ap_provider.h>
#include <mod_auth.h>
#define TPO_MODULE_RECORD /* AP_DECLARE_MODULE below: APLOG_USE_MODULE there */
#include "mod_tp_oauth_private.h"
#include "tpo_cache_crypt.h"
#include "tpo_cache_memcache.h"
#include "tpo_cache_redis.h"
#include "tpo_cache_shm.h"
#include "tpo_defaults.h"
#include "tpo_http.h"
#include "tpo_log.h"
#include "tpo_pending_cookie.h"

tpo_cache *tpo_session_cache;
tpo_cache *tpo_pending_cache;
tpo_pending_key tpo_login_key;

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

/* A rate-limited warning when the shared-memory cache evicts sessions. */
static apr_uint32_t evict_logged_at; /* seconds */
static apr_uint32_t evictions_seen;

void tpo_cache_note_pressure(request_rec *r)
{
    tpo_shm_cache_stats st;
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(r->request_time);
    apr_uint32_t last = apr_atomic_read32(&evict_logged_at);
    apr_uint32_t seen;

    if (tpo_config_server(r->server)->cache_type != TPO_CACHE_SHM || now - last < 60) {
        return;
    }
    tpo_shm_cache_get_stats(tpo_session_cache, &st);
    seen = apr_atomic_read32(&evictions_seen);
    if ((apr_uint32_t)st.evictions == seen ||
        apr_atomic_cas32(&evict_logged_at, now, last) != last) {
        return;
    }
    apr_atomic_set32(&evictions_seen, (apr_uint32_t)st.evictions);
    ap_log_rerror(
        APLOG_MARK, APLOG_WARNING, 0, r,
        TPO_APLOGNO(00001) "session cache full: %u sessions evicted so far (least recently used "
                           "first, %" APR_SIZE_T_FMT " live); raise TPOAuthCacheSize",
        (unsigned)st.evictions, st.entries);
}

void tpo_config_reset_refs(void);

static server_rec *log_server;

/* The request this thread is working on, so that the core's lines carry the
 * client and request like every other request line. Set by the hooks that
 * call into the core (a stack discipline within one thread: the previous
 * value is restored on the way out, so it never outlives the request). One
 * thread-local pointer: no lock, nothing allocated. */
static _Thread_local request_rec *log_req;

request_rec *tpo_log_bind(request_rec *r)
{
    request_rec *prev = log_req;
    log_req = r;
    return prev;
}

/* The core logs through this; LogLevel tp_oauth:... applies, per directory
 * within a request. */
static void core_log(const char *file, int line, int level, const char *msg)
{
    request_rec *r = log_req;

    /* core messages carry their own TPO_APLOGNO: no number here */
    if (r) {
        /* lognos: forwards */
        ap_log_rerror_(file, line, APLOG_MODULE_INDEX, level, 0, r, "%s", msg);
    }
    else {
        /* lognos: forwards */
        ap_log_error_(file, line, APLOG_MODULE_INDEX, level, 0, log_server, "%s", msg);
    }
}

/* The core asks before formatting a message. */
static int core_log_level(void)
{
    request_rec *r = log_req;
    int level = r ? ap_get_request_module_loglevel(r, APLOG_MODULE_INDEX)
                  : ap_get_server_module_loglevel(log_server, APLOG_MODULE_INDEX);

    return level > APLOG_DEBUG ? APLOG_DEBUG : level;
}

static int tpo_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    tpo_config_reset_refs();
    return OK;
}

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
        *out = data;
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
    tpo_server_conf *sc = tpo_config_server(s);
    apr_pool_t *pp = s->process->pool;
    void *data = NULL;
    tpo_pending_key *k;
    apr_status_t rv;

    if (sc->login_secret) {
        rv = tpo_pending_key_derive(sc->login_secret, sc->login_secret_len, &tpo_login_key);
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
    memcpy(&tpo_login_key, data, sizeof(tpo_login_key));
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
    tpo_server_conf *sc = tpo_config_server(s);
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

static int tpo_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    int pending = tpo_config_pending_capacity(s);
    tpo_server_conf *sc = tpo_config_server(s);

    log_server = s;
    tpo_log_set(core_log, TPO_LOG_DEBUG);
    tpo_log_set_level_fn(core_log_level);
    tpo_http_global_init();
    /* the version, once per start or restart (not on the first pass that only checks the config) */
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, TPO_APLOGNO(00078) "mod_tp_oauth/%s loaded",
                     TPO_VERSION);
    }
    if (login_key_init(s) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (sc->cache_type != TPO_CACHE_SHM) {
        /* the distributed cache is connected per child (child_init), with
         * keys derived here, once */
        tpo_session_cache = tpo_pending_cache = NULL;
        return cache_keys_derive(s, ptemp) == APR_SUCCESS ? OK : HTTP_INTERNAL_SERVER_ERROR;
    }
    if (cache_for(s, "session", (apr_size_t)tpo_config_cache_size(s), 0, &tpo_session_cache) !=
            APR_SUCCESS ||
        cache_for(s, "consumed-login", (apr_size_t)pending * 1024, (apr_size_t)pending * 2,
                  &tpo_pending_cache) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/* A distributed cache: connections per process, values encrypted. The
 * consumed-login markers live there too, so a callback replayed on another
 * server is refused as well. */
static void remote_cache_init(apr_pool_t *pchild, server_rec *s)
{
    tpo_server_conf *sc = tpo_config_server(s);
    apr_interval_time_t timeout = apr_time_from_msec(
        sc->cache_timeout_ms != TPO_UNSET ? sc->cache_timeout_ms : TPO_DEF_CACHE_TIMEOUT_MS);
    tpo_cache *backend = NULL, *crypt = NULL;
    const char *err = NULL;
    apr_status_t rv;

    if (sc->cache_type == TPO_CACHE_MEMCACHE) {
        rv = tpo_memcache_cache_create(pchild, sc->cache_servers, timeout, &backend, &err);
    }
    else {
        rv = tpo_redis_cache_create(pchild, sc->cache_servers, sc->cache_redis_password, timeout,
                                    &backend, &err);
    }
    if (rv == APR_SUCCESS) {
        rv = tpo_crypt_cache_create(pchild, backend, sc->cache_key, sc->cache_key_prev, &crypt,
                                    &err);
    }
    if (rv != APR_SUCCESS) {
        tpo_session_cache = tpo_pending_cache = &down_cache;
        ap_log_error(
            APLOG_MARK, APLOG_CRIT, rv, s,
            TPO_APLOGNO(00008) "cannot set up the %s session cache (%s): %s; requests that need a "
                               "session will get 503",
            sc->cache_type == TPO_CACHE_REDIS ? "redis" : "memcache", sc->cache_servers,
            err ? err : "error");
        return;
    }
    tpo_session_cache = tpo_pending_cache = crypt;
}

static void tpo_child_init(apr_pool_t *pchild, server_rec *s)
{
    if (tpo_config_server(s)->cache_type != TPO_CACHE_SHM) {
        remote_cache_init(pchild, s);
    }
    tpo_provider_child_init(pchild, s);
}

/* The redirect URI (and the endpoints under it) also work outside any
 * protected location. */
static int tpo_handler(request_rec *r)
{
    tpo_server_conf *sc;
    apr_hash_index_t *hi;

    if (r->main || !r->parsed_uri.path) {
        return DECLINED;
    }
    sc = tpo_config_server(r->server);
    for (hi = apr_hash_first(r->pool, sc->providers); hi; hi = apr_hash_next(hi)) {
        tpo_provider_conf *pc = apr_hash_this_val(hi);
        const char *sub;
        if (pc->rt && tpo_is_redirect_uri(r, pc, &sub)) {
            int rc = tpo_endpoint_handle(r, pc, sub);
            if (rc == DONE) {
                return OK;
            }
            return rc;
        }
    }
    return DECLINED;
}

/* The hooks that reach the core run with the request bound for its log lines. */
static int bound(request_rec *r, int (*hook)(request_rec *))
{
    request_rec *prev = tpo_log_bind(r);
    int rc = hook(r);

    tpo_log_bind(prev);
    return rc;
}

static int hook_check_authn(request_rec *r)
{
    return bound(r, tpo_check_authn);
}
static int hook_handler(request_rec *r)
{
    return bound(r, tpo_handler);
}
static int hook_admin(request_rec *r)
{
    int rc = bound(r, tpo_admin_handler);
    return rc == DONE ? OK : rc;
}
static int hook_fixups(request_rec *r)
{
    return bound(r, tpo_pass_fixups);
}

static int tpo_note_auth_failure(request_rec *r, const char *auth_type)
{
    if (strcasecmp(auth_type, TPO_AUTH_TYPE) != 0) {
        return DECLINED;
    }
    if (r->user && *r->user) {
        /* authenticated, but a Require rule failed */
        return bound(r, tpo_authz_note_failure);
    }
    /* check_authn already set WWW-Authenticate or started the login */
    return OK;
}

static void register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(tpo_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(tpo_config_check, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(tpo_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(tpo_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_authn(hook_check_authn, NULL, NULL, APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_note_auth_failure(tpo_note_auth_failure, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(hook_handler, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_handler(hook_admin, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(tpo_strip_headers, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_header_parser(tpo_strip_dir_headers, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_fixups(hook_fixups, NULL, NULL, APR_HOOK_MIDDLE);
    tpo_authz_register(p);
}

AP_DECLARE_MODULE(tp_oauth) = {
    STANDARD20_MODULE_STUFF,  /* API version, module index, name, ... */
    tpo_config_create_dir,    /* per-directory config: create */
    tpo_config_merge_dir,     /* per-directory config: merge (Location in server) */
    tpo_config_create_server, /* per-server config: create (providers live here) */
    tpo_config_merge_server,  /* per-server config: merge (virtual host in main) */
    tpo_cmds,                 /* the directives (mod_tp_oauth_directives.c) */
    register_hooks            /* the hooks above */
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    ,
    AP_MODULE_FLAG_NONE /* flags: merge only where configured */
#endif
};
