/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The session service: the caches and their keys, the request's state, and
 * every read and write of a session record (load, store, touch, delete,
 * lock, render). Flows and hooks use these; none of them writes a
 * response (see mod_tp_oauth_base.h). */
#include <string.h>
#include <apr_atomic.h>
#include <apr_strings.h>
#include <jansson.h>
#include "tpo_json.h"
#include "mod_tp_oauth_session.h"
#include "tpo_cache_shm.h"
#include "tpo_claims.h"
#include "tpo_cookie.h"
#include "tpo_pending_cookie.h"
#include "tpo_pkce.h"
#include "tpo_session.h"

#define SID_LEN 43 /* 32 random bytes, base64url */
#define WAIT_STEP apr_time_from_msec(25)

tpo_cache *tpa_session_cache;
tpo_cache *tpa_pending_cache;
tpo_cache *tpa_session_cache_fresh;
tpo_pending_key tpa_login_key;

/* A rate-limited warning when the shared-memory cache evicts sessions. */
static apr_uint32_t evict_logged_at; /* seconds */
static apr_uint32_t evictions_seen;

void tpa_session_cache_note_pressure(request_rec *r)
{
    tpo_shm_cache_stats st;
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(r->request_time);
    apr_uint32_t last = apr_atomic_read32(&evict_logged_at);
    apr_uint32_t seen;

    if (tpa_config_server(r->server)->cache_type != TPO_CACHE_SHM || now - last < 60) {
        return;
    }
    tpo_shm_cache_get_stats(tpa_session_cache, &st);
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

/* A cache outage answers every request with it: one error line per second
 * and process (saying how many were folded into it), the others at debug. */
static apr_uint32_t down_logged_at; /* seconds */
static apr_uint32_t down_folded;

static int cache_down_level(request_rec *r, apr_uint32_t *folded)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(r->request_time);
    apr_uint32_t last = apr_atomic_read32(&down_logged_at);

    if (now != last && apr_atomic_cas32(&down_logged_at, now, last) == last) {
        *folded = apr_atomic_xchg32(&down_folded, 0);
        return APLOG_ERR;
    }
    apr_atomic_inc32(&down_folded);
    *folded = 0;
    return APLOG_DEBUG;
}

tpa_req *tpa_req_get(request_rec *r)
{
    tpa_req *rq = ap_get_module_config(r->request_config, &tp_oauth_module);

    if (!rq) {
        rq = apr_pcalloc(r->pool, sizeof(*rq));
        ap_set_module_config(r->request_config, &tp_oauth_module, rq);
    }
    return rq;
}

json_t *tpa_req_claims(request_rec *r)
{
    tpa_req *rq = tpa_req_get(r);

    if (!rq->claims && rq->session && rq->session->claims) {
        json_error_t err;
        rq->claims = json_loads(rq->session->claims, 0, &err);
        if (rq->claims) {
            apr_pool_cleanup_register(r->pool, rq->claims, tpo_json_cleanup, apr_pool_cleanup_null);
        }
    }
    return rq->claims;
}

static const char *key(request_rec *r, const char *prefix, const char *sid)
{
    return apr_pstrcat(r->pool, prefix, sid, NULL);
}

static int is_b64url_token(const char *s, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            return 0;
        }
    }
    return 1;
}

/* The value of cookie `name` if it is a well-formed id, else NULL. */
static const char *cookie_id(request_rec *r, const char *name)
{
    const char *hdr = apr_table_get(r->headers_in, "Cookie"), *v;
    apr_size_t vlen;

    if (!hdr || !tpo_cookie_find(hdr, name, &v, &vlen)) {
        return NULL;
    }
    if (vlen != SID_LEN || !is_b64url_token(v, vlen)) {
        return NULL;
    }
    return apr_pstrmemdup(r->pool, v, vlen);
}

tpa_sess_result tpa_session_load(request_rec *r, tpa_provider_conf *pc, tpo_session *s)
{
    const char *sid = cookie_id(r, pc->cookie_name);
    char key[sizeof(TPO_KEY_SESSION) + SID_LEN];
    char *val;
    apr_size_t vlen;
    apr_status_t rv;
    apr_time_t now;

    if (!sid) {
        return TPA_SESS_NONE;
    }
    tpa_req_get(r)->sid = sid;
    memcpy(key, TPO_KEY_SESSION, sizeof(TPO_KEY_SESSION) - 1);
    memcpy(key + sizeof(TPO_KEY_SESSION) - 1, sid, SID_LEN);
    key[sizeof(TPO_KEY_SESSION) - 1 + SID_LEN] = '\0';
    rv = tpo_cache_get(tpa_session_cache, key, r->pool, &val, &vlen);
    if (rv == APR_NOTFOUND) {
        ap_log_rerror(
            APLOG_MARK, APLOG_DEBUG, 0, r,
            TPO_APLOGNO(
                00009) "session cookie names no live session (expired, evicted or logged out)");
        return TPA_SESS_ENDED;
    }
    if (rv != APR_SUCCESS) {
        apr_uint32_t folded;
        int level = cache_down_level(r, &folded);

        ap_log_rerror(APLOG_MARK, level, rv, r,
                      TPO_APLOGNO(00010) "session cache lookup failed (%u more such lines "
                                         "at debug level in this process since the last one)",
                      (unsigned)folded);
        return TPA_SESS_CACHE_DOWN;
    }
    if (tpo_session_decode(r->pool, val, vlen, s) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      TPO_APLOGNO(00011) "session record is corrupt; ignoring it");
        return TPA_SESS_ENDED;
    }
    if (strcmp(s->provider, pc->name) != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      TPO_APLOGNO(00012) "session belongs to provider %s, this location wants %s",
                      s->provider, pc->name);
        return TPA_SESS_NONE;
    }
    now = r->request_time;
    if (s->expires && now >= s->expires) {
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            TPO_APLOGNO(
                00013) "session of %s ended: maximum lifetime (TPOAuthSessionMaxAge) reached",
            ap_escape_logitem(r->pool, s->user));
        tpa_session_delete(r, pc, sid);
        return TPA_SESS_ENDED;
    }
    if (pc->inactivity_timeout && s->last_seen &&
        now - s->last_seen > apr_time_from_sec(pc->inactivity_timeout)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      TPO_APLOGNO(00014) "session of %s ended: inactive for longer than "
                                         "TPOAuthSessionInactivityTimeout (%d s)",
                      ap_escape_logitem(r->pool, s->user), pc->inactivity_timeout);
        tpa_session_delete(r, pc, sid);
        return TPA_SESS_ENDED;
    }
    if (pc->inactivity_timeout) {
        /* the activity mark is written at most once per interval, not per request */
        apr_interval_time_t every = apr_time_from_sec(pc->inactivity_timeout) / 10;
        if (every > apr_time_from_sec(60)) {
            every = apr_time_from_sec(60);
        }
        if (now - s->last_seen >= every) {
            tpa_session_touch(r, pc, sid);
        }
    }
    return TPA_SESS_OK;
}

tpo_session *tpa_session_reload(request_rec *r, const char *sid, apr_status_t *rv)
{
    tpo_session *s = apr_pcalloc(r->pool, sizeof(*s));
    char *val;
    apr_size_t vlen;

    /* the read of a read-modify-write (touch, refresh, the single-flight
     * wait): never a local copy, which may miss a write of another server */
    *rv = tpo_cache_get(tpa_session_cache_fresh ? tpa_session_cache_fresh : tpa_session_cache,
                        key(r, TPO_KEY_SESSION, sid), r->pool, &val, &vlen);
    if (*rv != APR_SUCCESS) {
        return NULL;
    }
    if (tpo_session_decode(r->pool, val, vlen, s) != APR_SUCCESS) {
        *rv = APR_EINVAL;
        return NULL;
    }
    return s;
}

apr_status_t tpa_session_lock(request_rec *r, const char *sid, apr_time_t until)
{
    return tpo_cache_add(tpa_session_cache, key(r, TPO_KEY_REFRESH_LOCK, sid), "1", 1, until);
}

void tpa_session_unlock(request_rec *r, const char *sid)
{
    tpo_cache_del(tpa_session_cache, key(r, TPO_KEY_REFRESH_LOCK, sid));
}

apr_status_t tpa_session_store(request_rec *r, const char *sid, const tpo_session *s)
{
    apr_size_t len;
    char *rec = tpo_session_encode(r->pool, s, &len);

    return tpo_cache_set(tpa_session_cache, key(r, TPO_KEY_SESSION, sid), rec, len,
                         s->expires + TPO_SESSION_GRACE);
}

void tpa_session_remove(request_rec *r, const char *sid)
{
    tpo_cache_del(tpa_session_cache, key(r, TPO_KEY_SESSION, sid));
}

/* Record activity (for TPOAuthSessionInactivityTimeout). Every writer of a
 * session record holds the session's lock, so that a touch can never write
 * back a copy that a concurrent refresh has just replaced (that would bring
 * back a spent refresh token). Busy lock: skip, the refresh marks activity. */
void tpa_session_touch(request_rec *r, tpa_provider_conf *pc, const char *sid)
{
    const char *lock = key(r, TPO_KEY_REFRESH_LOCK, sid);
    apr_status_t rv;
    tpo_session *s;

    if (tpo_cache_add(tpa_session_cache, lock, "1", 1, apr_time_now() + apr_time_from_sec(5)) !=
        APR_SUCCESS) {
        return;
    }
    s = tpa_session_reload(r, sid, &rv);
    if (s) {
        apr_size_t len;
        char *rec;
        s->last_seen = apr_time_now();
        rec = tpo_session_encode(r->pool, s, &len);
        tpo_cache_set(tpa_session_cache, key(r, TPO_KEY_SESSION, sid), rec, len,
                      s->expires + TPO_SESSION_GRACE);
    }
    tpo_cache_del(tpa_session_cache, lock);
    if (s) {
        tpa_session_index_keep(r, pc, sid, s); /* heals an evicted index */
    }
}

/* End a session: under the session's lock (bounded wait), so that a refresh
 * in flight cannot write the record back after a logout. */
void tpa_session_delete(request_rec *r, tpa_provider_conf *pc, const char *sid)
{
    const char *lock = key(r, TPO_KEY_REFRESH_LOCK, sid);
    apr_time_t deadline = apr_time_now() + apr_time_from_msec(pc->timeout_ms + 2000);
    int held = 0;

    while (apr_time_now() < deadline) {
        apr_status_t rv = tpo_cache_add(tpa_session_cache, lock, "1", 1, deadline);
        if (rv != APR_EEXIST) {
            held = rv == APR_SUCCESS;
            break;
        }
        apr_sleep(WAIT_STEP);
    }
    tpo_cache_del(tpa_session_cache, key(r, TPO_KEY_SESSION, sid));
    tpo_cache_del(tpa_session_cache, key(r, TPO_KEY_REFRESH_FAIL, sid));
    tpo_cache_del(tpa_session_cache, key(r, TPO_KEY_REFRESH_NOTE, sid));
    if (held) {
        tpo_cache_del(tpa_session_cache, lock);
    }
}

/* The variables and headers the application will see, rendered once. */
void tpa_session_render(apr_pool_t *p, tpa_provider_conf *pc, tpo_session *s, json_t *claims)
{
    tpo_claims_render cfg;
    tpo_claims_out out;

    cfg.claim_prefix = pc->claim_prefix;
    cfg.header_prefix = pc->header_prefix;
    cfg.user_header = pc->user_header;
    cfg.separator = pc->claim_separator;
    cfg.delimiter = pc->claim_delimiter;
    cfg.claims_text = s->claims; /* the compact dump of claims, or NULL */
    tpo_claims_render_all(p, &cfg, s->user, claims, s->access_token,
                          s->at_expires ? (long long)apr_time_sec(s->at_expires) : 0, s->scope,
                          &out);
    s->env = out.env;
    s->headers = out.headers;
}

apr_status_t tpa_session_create(request_rec *r, const tpo_session *s, const char **sid,
                                apr_size_t *rec_len)
{
    char *rec = tpo_session_encode(r->pool, s, rec_len);
    char *id;
    apr_status_t rv;

    if (tpo_random_token(r->pool, 32, &id) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    /* the cache keeps the entry a little longer than the session lives, so
     * that the module itself sees the end and logs which limit it was */
    rv = tpo_cache_add(tpa_session_cache, key(r, TPO_KEY_SESSION, id), rec, *rec_len,
                       s->expires + TPO_SESSION_GRACE);
    if (rv == APR_SUCCESS) {
        tpa_session_cache_note_pressure(r);
        *sid = id;
    }
    return rv;
}

apr_status_t tpa_login_consume(request_rec *r, const char *state, apr_time_t until)
{
    return tpo_cache_add(tpa_pending_cache, key(r, TPO_KEY_CONSUMED, state), "1", 1, until);
}
