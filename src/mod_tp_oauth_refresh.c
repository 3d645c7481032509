/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Transparent refresh, single flight.
 *
 * When the access token is inside the refresh window, the request that wins
 * cache add("rl:<sid>") (atomic: shared memory across the children of this
 * server, memcached/Redis across servers) reloads the session, checks again,
 * spends the refresh token once, and writes the new record under the same
 * session id. The others go on with the current token while it is valid, or
 * wait (bounded) for the winner's record. A failure is remembered ("rf:<sid>")
 * for TPOAuthRefreshRetryAfter seconds, or longer when the provider's
 * Retry-After asks for it, so that waiting requests do not all retry it. Only
 * a definitive refusal of the refresh token (tpo_token_refresh_refused) ends
 * the session; a temporary one (429, 408, 5xx, network, timeout) keeps it and
 * the still-valid token is used. A forced refresh (POST <redirect>/refresh)
 * that finds a refresh in flight, or one that completed or failed after the
 * request came in, takes that result instead of spending the token again.
 * Every failure answer is logged, once per session and retry window (an add
 * of "rn:<sid>" in the session cache, so across children and servers). */
#include <string.h>
#include <apr_strings.h>
#include <jansson.h>
#include "tpo_json.h"
#include "mod_tp_oauth_private.h"
#include "mod_tp_oauth_session_index.h"
#include "tpo_claims.h"
#include "tpo_http.h"
#include "tpo_provider.h"
#include "tpo_session.h"
#include "tpo_token.h"

#define WAIT_STEP apr_time_from_msec(25)

typedef enum { RF_OK, RF_REJECTED, RF_UNAVAILABLE, RF_TIMEOUT } rf_result;

/* A remembered failure, the value of "rf:<sid>": "<kind> <failed_at>
 * <until> <ra_until>" (microseconds). */
typedef struct rf_memo {
    char kind; /* 'T' timed out, 'U' failed or refused for now,
                             * 'W' (not stored) waited too long for another's */
    apr_time_t failed_at;
    apr_time_t until;    /* no new attempt before (the entry's expiry) */
    apr_time_t ra_until; /* the provider's Retry-After; 0: it sent none */
} rf_memo;

static const char *key(request_rec *r, const char *prefix, const char *sid)
{
    return apr_pstrcat(r->pool, prefix, sid, NULL);
}

/* When this session refreshes: TPOAuthRefreshBefore before expiry, but
 * never earlier than 3/4 of the token's lifetime (short-lived tokens would
 * otherwise be refreshed on every request, or twice per lifetime); and early
 * enough that a refresh may take the whole TPOAuthHTTPTimeout (plus a margin)
 * and still finish before expiry, but never earlier than half the lifetime. */
static apr_time_t refresh_at(const tpo_provider_conf *pc, const tpo_session *s)
{
    apr_interval_time_t window = apr_time_from_sec(pc->refresh_before);
    apr_interval_time_t need = apr_time_from_msec(pc->timeout_ms + TPO_REFRESH_MARGIN_MS);
    apr_interval_time_t life = 0;

    if (s->at_obtained && s->at_expires > s->at_obtained) {
        life = s->at_expires - s->at_obtained;
        if (life / 4 < window) {
            window = life / 4;
        }
    }
    if (window < need) {
        window = need;
    }
    if (life && window > life / 2) {
        window = life / 2;
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

/* The refresh-token grant; on success *out is the new session record. On a
 * failure *retry_after is what the provider's Retry-After asks (seconds), or
 * -1. */
static rf_result do_refresh(request_rec *r, tpo_provider_conf *pc, const tpo_session *s,
                            tpo_session **out, long *retry_after)
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

    *retry_after = -1;
    if (tpo_provider_meta_get(r, pc, &meta) != TPO_RT_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      TPO_APLOGNO(00056) "provider %s: refresh for %s failed: provider metadata "
                                         "unavailable",
                      pc->name, ap_escape_logitem(r->pool, s->user));
        return RF_UNAVAILABLE;
    }
    APR_ARRAY_PUSH(params, const char *) = "grant_type";
    APR_ARRAY_PUSH(params, const char *) = "refresh_token";
    APR_ARRAY_PUSH(params, const char *) = "refresh_token";
    APR_ARRAY_PUSH(params, const char *) = s->refresh_token;
    hr = tpo_provider_client_post(r, pc, meta->token_endpoint, params, &resp);
    if (hr != TPO_HTTP_OK) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            TPO_APLOGNO(00057) "provider %s: refresh for %s failed: token endpoint %s: %s",
            pc->name, ap_escape_logitem(r->pool, s->user), meta->token_endpoint,
            hr == TPO_HTTP_TIMEOUT ? "timed out" : (resp.error ? resp.error : "error"));
        return hr == TPO_HTTP_TIMEOUT ? RF_TIMEOUT : RF_UNAVAILABLE;
    }
    now = apr_time_now();
    tr = tpo_token_response_parse(r->pool, resp.body, resp.len, resp.status, now, &tres, &detail);
    if (tr == TPO_TOKEN_ERROR_RESPONSE && tpo_token_refresh_refused(resp.status, tres.error)) {
        ap_log_rerror(
            APLOG_MARK, APLOG_WARNING, 0, r,
            TPO_APLOGNO(
                00058) "provider %s: refresh for %s rejected by the provider: error=%s%s%s; the "
                       "session ends",
            pc->name, ap_escape_logitem(r->pool, s->user), ap_escape_logitem(r->pool, tres.error),
            tres.error_description ? ": " : "",
            tres.error_description ? ap_escape_logitem(r->pool, tres.error_description) : "");
        return RF_REJECTED;
    }
    if (tr != TPO_TOKEN_OK) {
        *retry_after = tpo_http_retry_after(resp.retry_after, now);
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            TPO_APLOGNO(
                00059) "provider %s: refresh for %s failed: token endpoint answered HTTP %d "
                       "(%s%s%s)%s%s; "
                       "a temporary refusal, the session stays",
            pc->name, ap_escape_logitem(r->pool, s->user), resp.status,
            tr == TPO_TOKEN_ERROR_RESPONSE ? ap_escape_logitem(r->pool, tres.error)
                                           : (detail ? detail : "?"),
            tr == TPO_TOKEN_ERROR_RESPONSE && tres.error_description ? ": " : "",
            tr == TPO_TOKEN_ERROR_RESPONSE && tres.error_description
                ? ap_escape_logitem(r->pool, tres.error_description)
                : "",
            resp.retry_after ? ", Retry-After " : "",
            resp.retry_after ? ap_escape_logitem(r->pool, resp.retry_after) : "");
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
        if (s->sub && (!json_is_string(json_object_get(idc, "sub")) ||
                       strcmp(json_string_value(json_object_get(idc, "sub")), s->sub))) {
            ap_log_rerror(
                APLOG_MARK, APLOG_ERR, 0, r,
                TPO_APLOGNO(
                    00060) "provider %s: refresh for %s: the new ID token names another subject; "
                           "the session ends",
                pc->name, ap_escape_logitem(r->pool, s->user));
            return RF_REJECTED;
        }
        if (claims) {
            const char *k;
            json_t *v;
            json_object_foreach(idc, k, v)
            {
                if (strcmp(k, "nonce") != 0) {
                    json_object_set(claims, k, v);
                }
            }
        }
    }
    n = apr_pmemdup(r->pool, s, sizeof(*s));
    n->access_token = tres.access_token;
    if (tres.refresh_token) {
        n->refresh_token = tres.refresh_token; /* rotated */
    }
    if (tres.id_token) {
        n->id_token = tres.id_token;
    }
    if (tres.scope) {
        n->scope = tres.scope;
    }
    n->at_obtained = now;
    n->last_seen = now;
    n->at_expires =
        tres.expires_at ? tres.expires_at : now + apr_time_from_sec(pc->default_token_lifetime);
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

static int memo_get(request_rec *r, const char *failkey, rf_memo *m)
{
    char *val, *txt;
    apr_size_t vlen;
    apr_time_t a = 0, b = 0, c = 0;
    char kind = 0;

    if (tpo_cache_get(tpo_session_cache, failkey, r->pool, &val, &vlen) != APR_SUCCESS) {
        return 0;
    }
    txt = apr_pstrmemdup(r->pool, val, vlen > 100 ? 100 : vlen);
    if (sscanf(txt, "%c %" APR_TIME_T_FMT " %" APR_TIME_T_FMT " %" APR_TIME_T_FMT, &kind, &a, &b,
               &c) != 4 ||
        (kind != 'T' && kind != 'U') || a < 0 || b < a || c < 0) {
        /* unreadable (or from an older version): a failure, of unknown age */
        kind = 'U';
        a = c = 0;
        b = apr_time_now() + apr_time_from_sec(1);
    }
    m->kind = kind;
    m->failed_at = a;
    m->until = b;
    m->ra_until = c;
    return 1;
}

/* Remember a failure for max(TPOAuthRefreshRetryAfter, the provider's
 * Retry-After bounded by TPO_REFRESH_RETRY_AFTER_MAX). */
static void memo_set(request_rec *r, tpo_provider_conf *pc, const char *failkey, char kind,
                     long retry_after, rf_memo *m)
{
    apr_time_t now = apr_time_now();
    long window = pc->refresh_retry_after;
    const char *val;

    m->kind = kind;
    m->failed_at = now;
    m->ra_until = 0;
    if (retry_after >= 0) {
        if (retry_after > TPO_REFRESH_RETRY_AFTER_MAX) {
            retry_after = TPO_REFRESH_RETRY_AFTER_MAX;
        }
        m->ra_until = now + apr_time_from_sec(retry_after);
        if (retry_after > window) {
            window = retry_after;
        }
    }
    m->until = now + apr_time_from_sec(window);
    val = apr_psprintf(r->pool, "%c %" APR_TIME_T_FMT " %" APR_TIME_T_FMT " %" APR_TIME_T_FMT,
                       m->kind, m->failed_at, m->until, m->ra_until);
    tpo_cache_set(tpo_session_cache, failkey, val, strlen(val), m->until);
}

/* Does a remembered failure answer this request? A transparent refresh: any.
 * A forced one: a failure that happened after the request came in (it shares
 * the result of the refresh it coincided with), or while the provider's
 * Retry-After runs; an older failure is tried again. */
static int memo_applies(request_rec *r, const rf_memo *m, int force)
{
    return !force || m->failed_at >= r->request_time || m->ra_until > apr_time_now();
}

/* The answer when no fresh token can be had (m says why): the still-valid
 * token (OK) for a transparent refresh, else 504 (the provider or another
 * request's refresh timed out) or 502, as a status for a forced refresh (the
 * caller writes the JSON), as the page, or TPO_REFRESH_ENDED for
 * TPOAuthRefreshFailure login. One log line per session and retry window. */
static int failure_answer(request_rec *r, tpo_provider_conf *pc, const char *sid,
                          const tpo_session *s, int force, const rf_memo *m)
{
    apr_time_t now = apr_time_now();
    int status = m->kind == 'U' ? HTTP_BAD_GATEWAY : HTTP_GATEWAY_TIME_OUT;
    int login = !force && pc->refresh_failure == TPO_REFRESH_FAIL_LOGIN;
    long wait = m->until > now ? (long)apr_time_sec(m->until - now + APR_USEC_PER_SEC - 1) : 0;
    apr_time_t note_until = m->until > now ? m->until : now + apr_time_from_sec(1);

    if (!force && now < s->at_expires) {
        return OK; /* the current token is still good: go on with it */
    }
    if (tpo_cache_add(tpo_session_cache, key(r, TPO_KEY_REFRESH_NOTE, sid), "1", 1, note_until) ==
        APR_SUCCESS) {
        ap_log_rerror(
            APLOG_MARK, APLOG_WARNING, 0, r,
            TPO_APLOGNO(00061) "session of %s at provider %s: %s: %s; no new attempt for %ld s "
                               "(logged once per session and retry window)",
            ap_escape_logitem(r->pool, s->user), pc->name,
            login ? "sent to log in again"
                  : apr_psprintf(r->pool, "answered %d%s", status,
                                 force ? " to a forced refresh" : ""),
            m->kind == 'W'
                ? "another request's refresh did not finish in time"
                : apr_psprintf(r->pool, "the token has %s and its refresh %s %ld s ago",
                               now < s->at_expires ? "not expired" : "expired",
                               m->kind == 'T' ? "timed out" : "failed",
                               m->failed_at ? (long)apr_time_sec(now - m->failed_at) : 0L),
            wait);
    }
    if (login) {
        return TPO_REFRESH_ENDED; /* the caller starts a login */
    }
    if (wait > 0) {
        apr_table_setn(r->err_headers_out, "Retry-After", apr_ltoa(r->pool, wait));
    }
    if (force) {
        return status;
    }
    return tpo_page_error(r, status, "Session cannot be renewed",
                          status == HTTP_GATEWAY_TIME_OUT
                              ? "Your access has expired and the authorization server did not "
                                "answer in time to renew it. Please try again in a moment."
                              : "Your access has expired and the authorization server cannot be "
                                "reached to renew it. Please try again in a moment.");
}

/* Returns OK, TPO_REFRESH_ENDED (the caller treats the request as having no
 * session: login or 401), or a status/DONE (never DONE with force). */
int tpo_refresh_if_needed(request_rec *r, tpo_provider_conf *pc, tpo_session **sp, int force,
                          int *refreshed)
{
    tpo_req *rq = tpo_req_get(r);
    const char *sid = rq->sid, *lock, *failkey;
    tpo_session *s = *sp, *fresh = NULL;
    apr_time_t now = apr_time_now(), deadline;
    apr_status_t rv;
    rf_memo memo;
    rf_result res;
    long retry_after;

    *refreshed = 0;
    if (!sid || !s->refresh_token || (!force && !needs_refresh(pc, s, now))) {
        return OK;
    }
    failkey = key(r, TPO_KEY_REFRESH_FAIL, sid);
    if (memo_get(r, failkey, &memo) && memo_applies(r, &memo, force)) {
        /* a refresh failed a moment ago: no retry storm */
        return failure_answer(r, pc, sid, s, force, &memo);
    }
    if (force && s->at_obtained >= r->request_time) {
        *refreshed = 1; /* refreshed since this request came in: that is its result */
        return OK;
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
            return OK; /* the current token is still good: go on with it */
        }
        if (apr_time_now() >= deadline) {
            memo.kind = 'W';
            memo.failed_at = apr_time_now();
            memo.until = memo.failed_at + apr_time_from_sec(pc->refresh_retry_after);
            memo.ra_until = 0;
            return failure_answer(r, pc, sid, s, force, &memo);
        }
        apr_sleep(WAIT_STEP);
        fresh = reload(r, sid, &rv);
        if (!fresh) {
            return rv == APR_NOTFOUND ? TPO_REFRESH_ENDED : HTTP_SERVICE_UNAVAILABLE;
        }
        if (fresh->at_obtained != s->at_obtained) {
            *sp = fresh; /* the winner's result */
            *refreshed = 1;
            return OK;
        }
        if (memo_get(r, failkey, &memo) && memo_applies(r, &memo, force)) {
            return failure_answer(r, pc, sid, s, force, &memo); /* the winner failed */
        }
    }
    /* We hold the lock. A refresh may have failed while we waited for it
     * (no retry storm), or succeeded between our read and our lock: look
     * again and decide again. */
    if (memo_get(r, failkey, &memo) && memo_applies(r, &memo, force)) {
        tpo_cache_del(tpo_session_cache, lock);
        return failure_answer(r, pc, sid, s, force, &memo);
    }
    fresh = reload(r, sid, &rv);
    if (!fresh) {
        tpo_cache_del(tpo_session_cache, lock);
        return rv == APR_NOTFOUND ? TPO_REFRESH_ENDED : HTTP_SERVICE_UNAVAILABLE;
    }
    if (fresh->at_obtained != s->at_obtained || (force && fresh->at_obtained >= r->request_time) ||
        (!force && !needs_refresh(pc, fresh, apr_time_now()))) {
        tpo_cache_del(tpo_session_cache, lock);
        *refreshed = fresh->at_obtained != s->at_obtained ||
                     (force && fresh->at_obtained >= r->request_time);
        *sp = fresh;
        return OK;
    }
    s = fresh;
    res = do_refresh(r, pc, s, &fresh, &retry_after);
    if (res == RF_OK) {
        apr_size_t len;
        char *rec = tpo_session_encode(r->pool, fresh, &len);
        rv = tpo_cache_set(tpo_session_cache, key(r, TPO_KEY_SESSION, sid), rec, len,
                           fresh->expires + TPO_SESSION_GRACE);
        tpo_cache_del(tpo_session_cache, lock);
        if (rv != APR_SUCCESS) {
            ap_log_rerror(
                APLOG_MARK, APLOG_ERR, rv, r,
                TPO_APLOGNO(00062) "provider %s: refreshed session of %s could not be stored%s",
                pc->name, ap_escape_logitem(r->pool, s->user),
                rv == APR_ENOSPC ? ": raise TPOAuthCacheSize" : "");
            return HTTP_SERVICE_UNAVAILABLE;
        }
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      TPO_APLOGNO(00063) "provider %s: refreshed the access token of %s", pc->name,
                      ap_escape_logitem(r->pool, s->user));
        *sp = fresh;
        *refreshed = 1;
        return OK;
    }
    if (res == RF_REJECTED) {
        tpo_cache_del(tpo_session_cache, key(r, TPO_KEY_SESSION, sid)); /* we hold the lock */
        tpo_cache_del(tpo_session_cache, lock);
        return TPO_REFRESH_ENDED;
    }
    memo_set(r, pc, failkey, res == RF_TIMEOUT ? 'T' : 'U', retry_after, &memo);
    tpo_cache_del(tpo_session_cache, lock);
    return failure_answer(r, pc, sid, s, force, &memo);
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

    if (tpo_cache_add(tpo_session_cache, lock, "1", 1, apr_time_now() + apr_time_from_sec(5)) !=
        APR_SUCCESS) {
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
    if (s) {
        tpo_session_index_keep(r, pc, sid, s); /* heals an evicted index */
    }
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
    tpo_cache_del(tpo_session_cache, key(r, TPO_KEY_REFRESH_NOTE, sid));
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
    if (!apr_table_get(r->headers_in, "X-Requested-With") ||
        (site && strcmp(site, "same-origin") != 0) ||
        (origin && (strlen(origin) != n || strncmp(origin, self, n) != 0)) || (!origin && !site)) {
        ap_log_rerror(
            APLOG_MARK, APLOG_WARNING, 0, r,
            TPO_APLOGNO(00064) "refresh endpoint: refused a request that is not same-origin "
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
        /* with force, tpo_refresh_if_needed never writes: this is the only body */
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
