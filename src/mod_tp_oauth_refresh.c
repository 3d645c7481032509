/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Transparent refresh, single flight.
 *
 * When the access token is inside the refresh window, the request that wins
 * cache add("rl:<sid>") (atomic: shared memory across the children of this
 * server, memcached/Redis across servers) reloads the session, checks again,
 * spends the refresh token once, and writes the new record under the same
 * session id. The others go on with the current token while it is valid, or
 * wait (bounded) for the winner's record. A failure is remembered for
 * TPOAuthRefreshRetryAfter seconds ("rf:<sid>") so that waiting requests do not
 * all retry it; a refresh token the provider rejects ends the session. */
#include <string.h>
#include <apr_strings.h>
#include <jansson.h>
#include "tpo_json.h"
#include "mod_tp_oauth_private.h"
#include "tpo_claims.h"
#include "tpo_http.h"
#include "tpo_provider.h"
#include "tpo_session.h"
#include "tpo_token.h"

#define WAIT_STEP apr_time_from_msec(25)

typedef enum { RF_OK, RF_REJECTED, RF_UNAVAILABLE } rf_result;

static const char *key(request_rec *r, const char *prefix, const char *sid)
{
    return apr_pstrcat(r->pool, prefix, sid, NULL);
}

/* When this session refreshes: TPOAuthRefreshBefore before expiry, but
 * never earlier than 3/4 of the token's lifetime (short-lived tokens would
 * otherwise be refreshed on every request, or twice per lifetime). */
static apr_time_t refresh_at(const tpo_provider_conf *pc, const tpo_session *s)
{
    apr_interval_time_t window = apr_time_from_sec(pc->refresh_before);

    if (s->at_obtained && s->at_expires > s->at_obtained
        && (s->at_expires - s->at_obtained) / 4 < window) {
        window = (s->at_expires - s->at_obtained) / 4;
    }
    return s->at_expires - window;
}

static int needs_refresh(const tpo_provider_conf *pc, const tpo_session *s, apr_time_t now)
{
    return s->refresh_token && s->at_expires && now >= refresh_at(pc, s);
}

static tpo_session *reload(request_rec *r, const char *sid, apr_status_t *rv)
{
    tpo_session *s = apr_pcalloc(r->pool, sizeof(*s));
    char *val;
    apr_size_t vlen;

    *rv = tpo_cache_get(tpo_session_cache, key(r, TPO_KEY_SESSION, sid), r->pool, &val, &vlen);
    if (*rv != APR_SUCCESS) {
        return NULL;
    }
    if (tpo_session_decode(r->pool, val, vlen, s) != APR_SUCCESS) {
        *rv = APR_EINVAL;
        return NULL;
    }
    return s;
}

/* The refresh-token grant; on success *out is the new session record. */
static rf_result do_refresh(request_rec *r, tpo_provider_conf *pc, const tpo_session *s,
                            tpo_session **out)
{
    const tpo_provider_meta *meta;
    apr_array_header_t *params = apr_array_make(r->pool, 4, sizeof(const char *));
    tpo_token_response tres;
    tpo_http_response resp;
    tpo_http_result hr;
    tpo_token_result tr;
    tpo_session *n;
    json_t *claims = NULL, *idc = NULL;
    const char *detail = NULL;
    apr_time_t now;

    if (tpo_provider_meta_get(r, pc, &meta) != TPO_RT_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "refresh for %s failed: provider metadata "
                      "unavailable", ap_escape_logitem(r->pool, s->user));
        return RF_UNAVAILABLE;
    }
    APR_ARRAY_PUSH(params, const char *) = "grant_type";
    APR_ARRAY_PUSH(params, const char *) = "refresh_token";
    APR_ARRAY_PUSH(params, const char *) = "refresh_token";
    APR_ARRAY_PUSH(params, const char *) = s->refresh_token;
    hr = tpo_provider_client_post(r, pc, meta->token_endpoint, params, &resp);
    if (hr != TPO_HTTP_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "refresh for %s failed: token endpoint %s: %s",
                      ap_escape_logitem(r->pool, s->user), meta->token_endpoint,
                      hr == TPO_HTTP_TIMEOUT ? "timed out" : (resp.error ? resp.error : "error"));
        return RF_UNAVAILABLE;
    }
    now = apr_time_now();
    tr = tpo_token_response_parse(r->pool, resp.body, resp.len, resp.status, now, &tres, &detail);
    if (tr == TPO_TOKEN_ERROR_RESPONSE && resp.status >= 400 && resp.status < 500) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "refresh for %s rejected by the provider: error=%s; the session ends",
                      ap_escape_logitem(r->pool, s->user),
                      ap_escape_logitem(r->pool, tres.error));
        return RF_REJECTED;
    }
    if (tr != TPO_TOKEN_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "refresh for %s failed: token endpoint answered HTTP %d (%s)",
                      ap_escape_logitem(r->pool, s->user), resp.status,
                      tr == TPO_TOKEN_ERROR_RESPONSE ? tres.error : (detail ? detail : "?"));
        return RF_UNAVAILABLE;
    }
    if (s->claims) {
        json_error_t jerr;
        claims = json_loads(s->claims, 0, &jerr);
        if (claims) {
            apr_pool_cleanup_register(r->pool, claims, tpo_json_cleanup, apr_pool_cleanup_null);
        }
    }
    if (tres.id_token) {
        if (tpo_validate_id_token(r, pc, meta, tres.id_token, NULL, &idc) != OK) {
            return RF_UNAVAILABLE;
        }
        if (s->sub && (!json_is_string(json_object_get(idc, "sub"))
                       || strcmp(json_string_value(json_object_get(idc, "sub")), s->sub))) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "refresh for %s: the new ID token names another subject; "
                          "the session ends", ap_escape_logitem(r->pool, s->user));
            return RF_REJECTED;
        }
        if (claims) {
            const char *k;
            json_t *v;
            json_object_foreach(idc, k, v) {
                if (strcmp(k, "nonce") != 0) {
                    json_object_set(claims, k, v);
                }
            }
        }
    }
    n = apr_pmemdup(r->pool, s, sizeof(*s));
    n->access_token = tres.access_token;
    if (tres.refresh_token) {
        n->refresh_token = tres.refresh_token;      /* rotated */
    }
    if (tres.id_token) {
        n->id_token = tres.id_token;
    }
    if (tres.scope) {
        n->scope = tres.scope;
    }
    n->at_obtained = now;
    n->last_seen = now;
    n->at_expires = tres.expires_at ? tres.expires_at
                    : now + apr_time_from_sec(pc->default_token_lifetime);
    if (claims) {
        char *j = json_dumps(claims, JSON_COMPACT);
        if (j) {
            n->claims = apr_pstrdup(r->pool, j);
            free(j);
        }
    }
    tpo_session_render(r->pool, pc, n, claims);
    *out = n;
    return RF_OK;
}

static int expired_action(request_rec *r, tpo_provider_conf *pc)
{
    if (pc->refresh_failure == TPO_REFRESH_FAIL_LOGIN) {
        return TPO_REFRESH_ENDED;   /* the caller starts a login */
    }
    return tpo_page_error(r, HTTP_BAD_GATEWAY, "Session cannot be renewed",
                          "Your access has expired and the authorization server cannot be "
                          "reached to renew it. Please try again in a moment.");
}

/* Returns OK, TPO_REFRESH_ENDED (the caller treats the request as having no
 * session: login or 401), or a status/DONE. */
int tpo_refresh_if_needed(request_rec *r, tpo_provider_conf *pc, tpo_session **sp,
                          int force, int *refreshed)
{
    tpo_req *rq = tpo_req_get(r);
    const char *sid = rq->sid, *lock, *failkey;
    tpo_session *s = *sp, *fresh = NULL;
    apr_time_t now = apr_time_now(), deadline;
    apr_status_t rv;
    char *val;
    apr_size_t vlen;
    rf_result res;

    *refreshed = 0;
    if (!sid || !s->refresh_token || (!force && !needs_refresh(pc, s, now))) {
        return OK;
    }
    failkey = key(r, TPO_KEY_REFRESH_FAIL, sid);
    if (!force && tpo_cache_get(tpo_session_cache, failkey, r->pool, &val, &vlen) == APR_SUCCESS) {
        /* a refresh failed a moment ago: no retry storm */
        return now < s->at_expires ? OK : expired_action(r, pc);
    }
    lock = key(r, TPO_KEY_REFRESH_LOCK, sid);
    deadline = now + apr_time_from_msec(pc->timeout_ms + 2000);
    for (;;) {
        rv = tpo_cache_add(tpo_session_cache, lock, "1", 1,
                           apr_time_now() + apr_time_from_msec(pc->timeout_ms + 2000));
        if (rv != APR_EEXIST) {
            break;
        }
        /* someone else holds this session's lock (a refresh, or a touch) */
        if (!force && now < s->at_expires) {
            return OK;   /* the current token is still good: go on with it */
        }
        if (apr_time_now() >= deadline) {
            return now < s->at_expires ? OK : expired_action(r, pc);
        }
        apr_sleep(WAIT_STEP);
        fresh = reload(r, sid, &rv);
        if (!fresh) {
            return rv == APR_NOTFOUND ? TPO_REFRESH_ENDED : HTTP_SERVICE_UNAVAILABLE;
        }
        if (fresh->at_obtained != s->at_obtained) {
            *sp = fresh;      /* the winner's result */
            *refreshed = 1;
            return OK;
        }
    }
    /* We hold the lock. A refresh may have failed while we waited for it
     * (no retry storm), or succeeded between our read and our lock: look
     * again and decide again. */
    if (!force && tpo_cache_get(tpo_session_cache, failkey, r->pool, &val, &vlen) == APR_SUCCESS) {
        tpo_cache_del(tpo_session_cache, lock);
        return now < s->at_expires ? OK : expired_action(r, pc);
    }
    fresh = reload(r, sid, &rv);
    if (!fresh) {
        tpo_cache_del(tpo_session_cache, lock);
        return rv == APR_NOTFOUND ? TPO_REFRESH_ENDED : HTTP_SERVICE_UNAVAILABLE;
    }
    if (fresh->at_obtained != s->at_obtained
        || (!force && !needs_refresh(pc, fresh, apr_time_now()))) {
        tpo_cache_del(tpo_session_cache, lock);
        *sp = fresh;
        *refreshed = fresh->at_obtained != s->at_obtained;
        return OK;
    }
    s = fresh;
    res = do_refresh(r, pc, s, &fresh);
    if (res == RF_OK) {
        apr_size_t len;
        char *rec = tpo_session_encode(r->pool, fresh, &len);
        rv = tpo_cache_set(tpo_session_cache, key(r, TPO_KEY_SESSION, sid), rec, len,
                           fresh->expires + TPO_SESSION_GRACE);
        tpo_cache_del(tpo_session_cache, lock);
        if (rv != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                          "refreshed session of %s could not be stored%s",
                          ap_escape_logitem(r->pool, s->user),
                          rv == APR_ENOSPC ? ": raise TPOAuthCacheSize" : "");
            return HTTP_SERVICE_UNAVAILABLE;
        }
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "refreshed the access token of %s",
                      ap_escape_logitem(r->pool, s->user));
        *sp = fresh;
        *refreshed = 1;
        return OK;
    }
    if (res == RF_REJECTED) {
        tpo_cache_del(tpo_session_cache, key(r, TPO_KEY_SESSION, sid));   /* we hold the lock */
        tpo_cache_del(tpo_session_cache, lock);
        return TPO_REFRESH_ENDED;
    }
    tpo_cache_set(tpo_session_cache, failkey, "1", 1,
                  apr_time_now() + apr_time_from_sec(pc->refresh_retry_after));
    tpo_cache_del(tpo_session_cache, lock);
    if (force) {
        return HTTP_BAD_GATEWAY;
    }
    return apr_time_now() < s->at_expires ? OK : expired_action(r, pc);
}

/* Record activity (for TPOAuthSessionInactivityTimeout). Every writer of a
 * session record holds the session's lock, so that a touch can never write
 * back a copy that a concurrent refresh has just replaced (that would bring
 * back a spent refresh token). Busy lock: skip, the refresh marks activity. */
void tpo_session_touch(request_rec *r, tpo_provider_conf *pc, const char *sid)
{
    const char *lock = key(r, TPO_KEY_REFRESH_LOCK, sid);
    apr_status_t rv;
    tpo_session *s;

    if (tpo_cache_add(tpo_session_cache, lock, "1", 1,
                      apr_time_now() + apr_time_from_sec(5)) != APR_SUCCESS) {
        return;
    }
    s = reload(r, sid, &rv);
    if (s) {
        apr_size_t len;
        char *rec;
        s->last_seen = apr_time_now();
        rec = tpo_session_encode(r->pool, s, &len);
        tpo_cache_set(tpo_session_cache, key(r, TPO_KEY_SESSION, sid), rec, len,
                      s->expires + TPO_SESSION_GRACE);
    }
    tpo_cache_del(tpo_session_cache, lock);
}

/* End a session: under the session's lock (bounded wait), so that a refresh
 * in flight cannot write the record back after a logout. */
void tpo_session_delete(request_rec *r, tpo_provider_conf *pc, const char *sid)
{
    const char *lock = key(r, TPO_KEY_REFRESH_LOCK, sid);
    apr_time_t deadline = apr_time_now() + apr_time_from_msec(pc->timeout_ms + 2000);
    int held = 0;

    while (apr_time_now() < deadline) {
        apr_status_t rv = tpo_cache_add(tpo_session_cache, lock, "1", 1, deadline);
        if (rv != APR_EEXIST) {
            held = rv == APR_SUCCESS;
            break;
        }
        apr_sleep(WAIT_STEP);
    }
    tpo_cache_del(tpo_session_cache, key(r, TPO_KEY_SESSION, sid));
    tpo_cache_del(tpo_session_cache, key(r, TPO_KEY_REFRESH_FAIL, sid));
    if (held) {
        tpo_cache_del(tpo_session_cache, lock);
    }
}

/* POST <redirect URI>/refresh: a fresh token for single-page apps. Only
 * same-origin requests (Origin or Sec-Fetch-Site) with X-Requested-With, so
 * no other site can make a browser spend the refresh token. */
int tpo_refresh_endpoint(request_rec *r, tpo_provider_conf *pc)
{
    const char *origin = apr_table_get(r->headers_in, "Origin");
    const char *site = apr_table_get(r->headers_in, "Sec-Fetch-Site");
    const char *self = ap_construct_url(r->pool, "", r);
    tpo_session *s = apr_pcalloc(r->pool, sizeof(*s));
    tpo_sess_result sr;
    int rc, refreshed = 0;
    apr_size_t n;

    r->status = HTTP_OK;
    if (strcmp(r->method, "POST") != 0) {
        return tpo_json_error(r, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed");
    }
    /* self is "scheme://host:port" (ap_construct_url of ""); compare origins */
    n = strlen(self);
    if (n && self[n - 1] == '/') {
        n--;
    }
    if (!apr_table_get(r->headers_in, "X-Requested-With")
        || (site && strcmp(site, "same-origin") != 0)
        || (origin && (strlen(origin) != n || strncmp(origin, self, n) != 0))
        || (!origin && !site)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "refresh endpoint: refused a request that is not same-origin "
                      "(Origin %s, Sec-Fetch-Site %s)",
                      origin ? ap_escape_logitem(r->pool, origin) : "-",
                      site ? ap_escape_logitem(r->pool, site) : "-");
        return tpo_json_error(r, HTTP_FORBIDDEN, "cross_origin_refused");
    }
    sr = tpo_session_load(r, pc, s);
    if (sr == TPO_SESS_CACHE_DOWN) {
        return tpo_json_error(r, HTTP_SERVICE_UNAVAILABLE, "session_store_unavailable");
    }
    if (sr != TPO_SESS_OK) {
        return tpo_json_error(r, HTTP_UNAUTHORIZED, "no_session");
    }
    if (!s->refresh_token) {
        return tpo_json_error(r, HTTP_CONFLICT, "no_refresh_token");
    }
    rc = tpo_refresh_if_needed(r, pc, &s, 1, &refreshed);
    if (rc == TPO_REFRESH_ENDED) {
        return tpo_json_error(r, HTTP_UNAUTHORIZED, "session_ended");
    }
    if (rc != OK) {
        return tpo_json_error(r, rc == DONE ? HTTP_BAD_GATEWAY : rc, "refresh_failed");
    }
    {
        json_t *o = json_object();
        json_object_set_new(o, "refreshed", json_boolean(refreshed));
        json_object_set_new(o, "access_token_expires", json_integer(apr_time_sec(s->at_expires)));
        if (pc->info_access_token) {
            json_object_set_new(o, "access_token", json_string(s->access_token));
        }
        return tpo_json_response(r, HTTP_OK, o);
    }
}
