/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The local tier in front of a distributed cache (TPOAuthSessionCacheLocal,
 * tpo_cache_local.h): its shared memory, made in post_config (the copies in
 * a tpo_cache_shm segment, the invalidation counters in a small segment of
 * their own, both kept across restarts in the process pool), the wrapper per
 * child, and with Redis the one invalidation subscriber of the server.
 *
 * Why a process: one subscriber per server, whatever the MPM and however
 * many children come and go. A thread per child would make N subscribers
 * (and N copies of every invalidation); a thread in one elected child would
 * need a hand-over whenever that child exits (MaxConnectionsPerChild, idle
 * reaping). So the parent forks one small process in post_config (like
 * mod_cgid's daemon): it drops privileges, dies with the parent
 * (PR_SET_PDEATHSIG), is restarted by the parent when it dies (an "other
 * child"), and is stopped when the configuration is unloaded (restart,
 * stop). It holds no cache lock: it only moves atomic counters. While it is
 * not subscribed (starting, reconnecting, dead), the tier is bypassed and
 * its copies are unusable (tpo_local_set_up). */
#include <signal.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <apr_shm.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_signal.h>
#include "ap_listen.h"
#include "mpm_common.h"
#include "mod_tp_oauth_session.h"
#include "tpo_cache_crypt.h"
#include "tpo_cache_local.h"
#include "tpo_cache_redis.h"
#include "tpo_cache_shm.h"

static tpo_local_shared *local_shared; /* NULL: no tier */
static tpo_cache *local_store;

typedef struct {
    server_rec *s;
    apr_pool_t *pconf;
    apr_proc_t proc;
    int running;
    int stopping;
} sub_state;

static int tier_on(const tpa_server_conf *sc)
{
    return sc->cache_type != TPO_CACHE_SHM && sc->cache_local == 1;
}

/* ------------------------------------------------------------ subscriber */

static volatile apr_uint32_t sub_stop_flag;
static server_rec *sub_server; /* in the subscriber process */

static void sub_subscribed(void *baton)
{
    tpo_local_set_up(baton, 1);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, sub_server,
                 TPO_APLOGNO(01050) "local session tier: Redis invalidation subscription active "
                                    "(subscriber pid %" APR_PID_T_FMT ")",
                 getpid());
}
static void sub_key(void *baton, const char *name, apr_size_t len)
{
    tpo_local_invalidate(baton, name, len);
}
static void sub_flush(void *baton)
{
    tpo_local_invalidate_all(baton);
}

/* The subscriber process: never returns. */
static void subscriber_main(server_rec *s, pid_t parent)
{
    tpa_server_conf *sc = tpa_config_server(s);
    tpo_redis_push_cb cb = {sub_subscribed, NULL, sub_key, sub_flush, local_shared};
    apr_interval_time_t timeout = apr_time_from_msec(
        sc->cache_timeout_ms != TPO_UNSET ? sc->cache_timeout_ms : TPO_DEF_CACHE_TIMEOUT_MS);
    apr_interval_time_t backoff = apr_time_from_msec(50);
    apr_time_t logged = 0;
    tpo_redis_conf rc;
    tpo_cache *redis = NULL;
    const char *err = NULL;
    apr_pool_t *p;

    sub_server = s;
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
    apr_signal(SIGTERM, SIG_DFL);
    apr_signal(SIGINT, SIG_DFL);
    apr_signal(SIGHUP, SIG_IGN);
    apr_signal(SIGUSR1, SIG_IGN);
    apr_signal(SIGWINCH, SIG_IGN);
    apr_signal(SIGPIPE, SIG_IGN);
    {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
    }
    /* the server's sockets are not this process's business (and must not
     * keep a port bound after the server stopped) */
    ap_close_listeners();
    apr_pool_create(&p, NULL);
    if (getppid() != parent || ap_run_drop_privileges(p, s) != OK) {
        _exit(1);
    }
    tpa_config_redis(p, sc, timeout, &rc);
    if (tpo_redis_cache_create_conf(p, &rc, &redis, &err) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     TPO_APLOGNO(01051) "local session tier: cannot set up the Redis connection of "
                                        "the invalidation subscriber (%s); the tier stays bypassed",
                     err ? err : "error");
        _exit(1);
    }
    /* held until this process ends, however it ends: the readers see a
     * dead subscriber at once */
    if (!tpo_local_subscriber_claim(local_shared)) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     TPO_APLOGNO(01057) "local session tier: the subscriber cannot take its lock; "
                                        "the tier stays bypassed");
        _exit(1);
    }
    apr_atomic_set32(&local_shared->subscriber_pid, (apr_uint32_t)getpid());
    while (getppid() == parent) {
        apr_time_t t0 = apr_time_now();
        apr_status_t rv = tpo_redis_track_run(redis, &cb, &sub_stop_flag, p);
        int was_up = apr_atomic_read32(&local_shared->up) != 0;

        /* every copy goes, and the tier is bypassed until the next subscription */
        tpo_local_set_up(local_shared, 0);
        if (was_up || apr_time_now() - logged > apr_time_from_sec(60)) {
            logged = apr_time_now();
            ap_log_error(
                APLOG_MARK, was_up ? APLOG_WARNING : APLOG_ERR, rv, s,
                TPO_APLOGNO(01052) "local session tier: the Redis invalidation subscription "
                                   "%s; local copies dropped, sessions are read from Redis "
                                   "until it is back",
                was_up ? "was lost" : "cannot be made");
        }
        if (apr_time_now() - t0 > apr_time_from_sec(5)) {
            backoff = apr_time_from_msec(50);
        }
        apr_sleep(backoff);
        if (backoff < apr_time_from_sec(1)) {
            backoff *= 2;
        }
    }
    _exit(0);
}

static void sub_maint(int reason, void *data, int status);

static void sub_start(sub_state *st)
{
    pid_t parent = getpid();
    apr_status_t rv;

    tpo_local_set_up(local_shared, 0);
    rv = apr_proc_fork(&st->proc, st->pconf);
    if (rv == APR_INCHILD) {
        subscriber_main(st->s, parent);
    }
    if (rv != APR_INPARENT) {
        st->running = 0;
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, st->s,
                     TPO_APLOGNO(01053) "local session tier: cannot start the Redis invalidation "
                                        "subscriber; the tier stays bypassed");
        return;
    }
    st->running = 1;
    apr_proc_other_child_register(&st->proc, sub_maint, st, NULL, st->pconf);
}

/* The parent learns that the subscriber died: restart it. */
static void sub_maint(int reason, void *data, int status)
{
    sub_state *st = data;

    switch (reason) {
    case APR_OC_REASON_DEATH:
    case APR_OC_REASON_LOST:
        apr_proc_other_child_unregister(st);
        st->running = 0;
        tpo_local_set_up(local_shared, 0);
        if (!st->stopping) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, st->s,
                         TPO_APLOGNO(01054) "local session tier: the invalidation subscriber (pid "
                                            "%" APR_PID_T_FMT ") ended; starting another",
                         st->proc.pid);
            sub_start(st);
        }
        break;
    case APR_OC_REASON_UNREGISTER:
        break;
    default:
        break;
    }
}

/* The configuration is unloaded (restart or stop): this generation's
 * subscriber goes; the next one starts with the next post_config. */
static apr_status_t sub_cleanup(void *data)
{
    sub_state *st = data;
    int i;

    st->stopping = 1;
    if (st->running) {
        /* (its "other child" record went with the pool already: registered
         * after this cleanup, it was cleaned up before it) */
        kill(st->proc.pid, SIGTERM);
        for (i = 0; i < 100; i++) {
            if (waitpid(st->proc.pid, NULL, WNOHANG) != 0) {
                break;
            }
            apr_sleep(apr_time_from_msec(10));
        }
        if (i == 100) {
            kill(st->proc.pid, SIGKILL);
            waitpid(st->proc.pid, NULL, 0);
        }
        st->running = 0;
    }
    if (local_shared) {
        tpo_local_set_up(local_shared, 0);
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------ set-up */

static apr_status_t shared_for(server_rec *s, tpo_local_shared **out)
{
    apr_pool_t *pp = s->process->pool;
    void *data = NULL;
    apr_shm_t *shm;
    apr_status_t rv;

    apr_pool_userdata_get(&data, "tpo_local_shared", pp);
    if (data) {
        *out = data;
        return APR_SUCCESS;
    }
    rv = apr_shm_create(&shm, sizeof(tpo_local_shared), NULL, pp);
    if (rv != APR_SUCCESS) {
        ap_log_error(
            APLOG_MARK, APLOG_EMERG, rv, s,
            TPO_APLOGNO(01055) "cannot create the shared memory of the local session tier");
        return rv;
    }
    *out = apr_shm_baseaddr_get(shm);
    tpo_local_shared_init(*out);
    apr_pool_userdata_set(*out, "tpo_local_shared", apr_pool_cleanup_null, pp);
    return APR_SUCCESS;
}

int tpa_local_tier_post_config(server_rec *s, apr_pool_t *pconf)
{
    tpa_server_conf *sc = tpa_config_server(s);
    apr_size_t bytes;
    sub_state *st;

    local_shared = NULL;
    local_store = NULL;
    if (!tier_on(sc)) {
        return OK;
    }
    bytes = (apr_size_t)(sc->cache_local_size != TPO_UNSET
                             ? sc->cache_local_size
                             : (apr_off_t)TPO_DEF_CACHE_LOCAL_SIZE_M * 1024 * 1024);
    if (shared_for(s, &local_shared) != APR_SUCCESS ||
        tpa_session_cache_shm(s, "local-session", bytes, 0, &local_store) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* copies of an earlier configuration may name another cache */
    tpo_local_set_up(local_shared, 0);
    if (sc->cache_type != TPO_CACHE_REDIS ||
        ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    st = apr_pcalloc(pconf, sizeof(*st));
    st->s = s;
    st->pconf = pconf;
    apr_pool_cleanup_register(pconf, st, sub_cleanup, apr_pool_cleanup_null);
    sub_start(st);
    return OK;
}

tpo_cache *tpa_local_tier_wrap(apr_pool_t *pchild, server_rec *s, tpo_cache *crypt)
{
    tpa_server_conf *sc = tpa_config_server(s);
    tpo_local_conf lc;
    tpo_cache *out = NULL;

    if (!tier_on(sc) || !local_shared || !local_store) {
        return crypt;
    }
    memset(&lc, 0, sizeof(lc));
    lc.prefix = TPO_KEY_SESSION;
    if (sc->cache_type == TPO_CACHE_REDIS) {
        lc.lifetime = apr_time_from_sec(TPO_DEF_CACHE_LOCAL_REDIS_LIFETIME);
        lc.need_up = 1;
        lc.names = tpo_crypt_cache_names;
        lc.names_baton = crypt;
    }
    else {
        lc.lifetime =
            apr_time_from_sec(sc->cache_local_lifetime != TPO_UNSET ? sc->cache_local_lifetime
                                                                    : TPO_DEF_CACHE_LOCAL_LIFETIME);
    }
    if (tpo_local_cache_create(pchild, local_store, crypt, local_shared, &lc, &out) !=
        APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     TPO_APLOGNO(01056) "cannot set up the local session tier; sessions are read "
                                        "from the distributed cache");
        return crypt;
    }
    return out;
}
