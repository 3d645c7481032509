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
#include "mod_tp_oauth_flows.h"
#include "mod_tp_oauth_metrics.h"
#include "tpo_claims.h"
#include "tpo_dpop.h"
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
static apr_time_t refresh_at(const tpa_provider_conf *pc, const tpo_session *s)
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

static int needs_refresh(const tpa_provider_conf *pc, const tpo_session *s, apr_time_t now)
{
    return s->refresh_token && s->at_expires && now >= refresh_at(pc, s);
}

/* The refresh-token grant; on success *out is the new session record. On a
 * failure *retry_after is what the provider's Retry-After asks (seconds), or
 * -1. */
static rf_result do_refresh(request_rec *r, tpa_provider_conf *pc, const tpo_session *s,
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
    tpo_dpop_key *dpop = NULL;
    apr_time_t now;

    *retry_after = -1;
    if (tpa_provider_meta_get(r, pc, &meta) != TPA_RT_OK) {
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
    if (s->dpop_key && tpo_dpop_key_import(r->pool, s->dpop_key, &dpop, &detail) != APR_SUCCESS) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            TPO_APLOGNO(00905) "provider %s: refresh for %s failed: the session's DPoP key: "
                               "%s; the session ends",
            pc->name, ap_escape_logitem(r->pool, s->user), detail);
        return RF_REJECTED;
    }
    detail = NULL;
    hr = tpa_provider_token_post(r, pc, meta->token_endpoint, params, dpop, &resp);
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
        if (tpa_provider_validate_id_token(r, pc, meta, tres.id_token, NULL, &idc) != OK) {
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
    if (!tres.token_type || strcmp(tres.token_type, "DPoP") != 0) {
        n->dpop_key = NULL; /* a Bearer token now (RFC 9449 5) */
    }
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
    tpa_session_render(r->pool, pc, n, claims);
    *out = n;
    return RF_OK;
}

static int memo_get(request_rec *r, const char *failkey, rf_memo *m)
{
    char *val, *txt;
    apr_size_t vlen;
    apr_time_t a = 0, b = 0, c = 0;
    char kind = 0;

    if (tpo_cache_get(tpa_session_cache, failkey, r->pool, &val, &vlen) != APR_SUCCESS) {
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
static void memo_set(request_rec *r, tpa_provider_conf *pc, const char *failkey, char kind,
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
    tpo_cache_set(tpa_session_cache, failkey, val, strlen(val), m->until);
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
 * token (TPA_REFRESH_OK) for a transparent refresh; TPA_REFRESH_ENDED for
 * TPOAuthRefreshFailure login; else TPA_REFRESH_FAILED with *fail: 504 (the
 * provider or another request's refresh timed out) or 502, and the page a
 * transparent refresh's caller shows (a forced refresh's caller answers
 * JSON). Writes nothing but Retry-After. One log line per session and retry
 * window. */
static tpa_refresh_result failure_answer(request_rec *r, tpa_provider_conf *pc, const char *sid,
                                         const tpo_session *s, int force, const rf_memo *m,
                                         tpa_answer *fail)
{
    apr_time_t now = apr_time_now();
    int status = m->kind == 'U' ? HTTP_BAD_GATEWAY : HTTP_GATEWAY_TIME_OUT;
    int login = !force && pc->refresh_failure == TPO_REFRESH_FAIL_LOGIN;
    long wait = m->until > now ? (long)apr_time_sec(m->until - now + APR_USEC_PER_SEC - 1) : 0;
    apr_time_t note_until = m->until > now ? m->until : now + apr_time_from_sec(1);

    if (!force && now < s->at_expires) {
        return TPA_REFRESH_OK; /* the current token is still good: go on with it */
    }
    if (tpo_cache_add(tpa_session_cache, key(r, TPO_KEY_REFRESH_NOTE, sid), "1", 1, note_until) ==
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
        return TPA_REFRESH_ENDED; /* the caller starts a login */
    }
    if (wait > 0) {
        apr_table_setn(r->err_headers_out, "Retry-After", apr_ltoa(r->pool, wait));
    }
    fail->status = status;
    fail->title = "Session cannot be renewed";
    fail->detail = status == HTTP_GATEWAY_TIME_OUT
                       ? "Your access has expired and the authorization server did not "
                         "answer in time to renew it. Please try again in a moment."
                       : "Your access has expired and the authorization server cannot be "
                         "reached to renew it. Please try again in a moment.";
    return TPA_REFRESH_FAILED;
}

/* The session store failed: 503, Apache's own error document. */
static tpa_refresh_result store_failed(tpa_answer *fail)
{
    fail->status = HTTP_SERVICE_UNAVAILABLE;
    fail->title = fail->detail = NULL;
    return TPA_REFRESH_FAILED;
}

/* See mod_tp_oauth_flows.h. Never writes a response. */
tpa_refresh_result tpa_refresh_if_needed(request_rec *r, tpa_provider_conf *pc, tpo_session **sp,
                                         int force, int *refreshed, tpa_answer *fail)
{
    tpa_req *rq = tpa_req_get(r);
    const char *sid = rq->sid, *failkey;
    tpo_session *s = *sp, *fresh = NULL;
    apr_time_t now = apr_time_now(), deadline;
    apr_status_t rv;
    rf_memo memo;
    rf_result res;
    long retry_after;

    *refreshed = 0;
    if (!sid || !s->refresh_token || (!force && !needs_refresh(pc, s, now))) {
        return TPA_REFRESH_OK;
    }
    failkey = key(r, TPO_KEY_REFRESH_FAIL, sid);
    if (memo_get(r, failkey, &memo) && memo_applies(r, &memo, force)) {
        /* a refresh failed a moment ago: no retry storm */
        return failure_answer(r, pc, sid, s, force, &memo, fail);
    }
    if (force && s->at_obtained >= r->request_time) {
        *refreshed = 1; /* refreshed since this request came in: that is its result */
        return TPA_REFRESH_OK;
    }
    deadline = now + apr_time_from_msec(pc->timeout_ms + 2000);
    for (;;) {
        rv = tpa_session_lock(r, sid, apr_time_now() + apr_time_from_msec(pc->timeout_ms + 2000));
        if (rv != APR_EEXIST) {
            break;
        }
        /* someone else holds this session's lock (a refresh, or a touch) */
        if (!force && now < s->at_expires) {
            return TPA_REFRESH_OK; /* the current token is still good: go on with it */
        }
        if (apr_time_now() >= deadline) {
            memo.kind = 'W';
            memo.failed_at = apr_time_now();
            memo.until = memo.failed_at + apr_time_from_sec(pc->refresh_retry_after);
            memo.ra_until = 0;
            return failure_answer(r, pc, sid, s, force, &memo, fail);
        }
        apr_sleep(WAIT_STEP);
        fresh = tpa_session_reload(r, sid, &rv);
        if (!fresh) {
            return rv == APR_NOTFOUND ? TPA_REFRESH_ENDED : store_failed(fail);
        }
        if (fresh->at_obtained != s->at_obtained) {
            *sp = fresh; /* the winner's result */
            *refreshed = 1;
            tpa_count(TPO_M_REFRESH_COALESCED);
            return TPA_REFRESH_OK;
        }
        if (memo_get(r, failkey, &memo) && memo_applies(r, &memo, force)) {
            return failure_answer(r, pc, sid, s, force, &memo, fail); /* the winner failed */
        }
    }
    /* We hold the lock. A refresh may have failed while we waited for it
     * (no retry storm), or succeeded between our read and our lock: look
     * again and decide again. */
    if (memo_get(r, failkey, &memo) && memo_applies(r, &memo, force)) {
        tpa_session_unlock(r, sid);
        return failure_answer(r, pc, sid, s, force, &memo, fail);
    }
    fresh = tpa_session_reload(r, sid, &rv);
    if (!fresh) {
        tpa_session_unlock(r, sid);
        return rv == APR_NOTFOUND ? TPA_REFRESH_ENDED : store_failed(fail);
    }
    if (fresh->at_obtained != s->at_obtained || (force && fresh->at_obtained >= r->request_time) ||
        (!force && !needs_refresh(pc, fresh, apr_time_now()))) {
        tpa_session_unlock(r, sid);
        *refreshed = fresh->at_obtained != s->at_obtained ||
                     (force && fresh->at_obtained >= r->request_time);
        *sp = fresh;
        return TPA_REFRESH_OK;
    }
    s = fresh;
    res = do_refresh(r, pc, s, &fresh, &retry_after);
    if (res != RF_OK) {
        tpa_count((tpo_metric)(TPO_M_REFRESH_FAILED + (res == RF_REJECTED  ? TPO_RF_REJECTED
                                                       : res == RF_TIMEOUT ? TPO_RF_TIMEOUT
                                                                           : TPO_RF_UNAVAILABLE)));
    }
    if (res == RF_OK) {
        rv = tpa_session_store(r, sid, fresh);
        tpa_session_unlock(r, sid);
        tpa_count(rv == APR_SUCCESS ? TPO_M_REFRESH_OK
                                    : (tpo_metric)(TPO_M_REFRESH_FAILED + TPO_RF_STORE));
        if (rv != APR_SUCCESS) {
            ap_log_rerror(
                APLOG_MARK, APLOG_ERR, rv, r,
                TPO_APLOGNO(00062) "provider %s: refreshed session of %s could not be stored%s",
                pc->name, ap_escape_logitem(r->pool, s->user),
                rv == APR_ENOSPC ? ": raise TPOAuthCacheSize" : "");
            return store_failed(fail);
        }
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      TPO_APLOGNO(00063) "provider %s: refreshed the access token of %s", pc->name,
                      ap_escape_logitem(r->pool, s->user));
        *sp = fresh;
        *refreshed = 1;
        return TPA_REFRESH_OK;
    }
    if (res == RF_REJECTED) {
        tpa_session_remove(r, sid); /* we hold the lock */
        tpa_session_unlock(r, sid);
        return TPA_REFRESH_ENDED;
    }
    memo_set(r, pc, failkey, res == RF_TIMEOUT ? 'T' : 'U', retry_after, &memo);
    tpa_session_unlock(r, sid);
    return failure_answer(r, pc, sid, s, force, &memo, fail);
}

/* POST <redirect URI>/refresh: a fresh token for single-page apps. Only
 * same-origin requests (Origin or Sec-Fetch-Site) with X-Requested-With, so
 * no other site can make a browser spend the refresh token. */
int tpa_refresh_endpoint(request_rec *r, tpa_provider_conf *pc)
{
    const char *origin = apr_table_get(r->headers_in, "Origin");
    const char *site = apr_table_get(r->headers_in, "Sec-Fetch-Site");
    const char *self = tpa_request_url(r, "");
    tpo_session *s = apr_pcalloc(r->pool, sizeof(*s));
    tpa_sess_result sr;
    tpa_answer fail;
    int refreshed = 0;
    apr_size_t n;

    r->status = HTTP_OK;
    if (strcmp(r->method, "POST") != 0) {
        return tpa_json_error(r, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed");
    }
    /* self is "scheme://host[:port]" (tpa_request_url of ""); compare origins */
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
        return tpa_json_error(r, HTTP_FORBIDDEN, "cross_origin_refused");
    }
    sr = tpa_session_load(r, pc, s);
    if (sr == TPA_SESS_CACHE_DOWN) {
        return tpa_json_error(r, HTTP_SERVICE_UNAVAILABLE, "session_store_unavailable");
    }
    if (sr != TPA_SESS_OK) {
        return tpa_json_error(r, HTTP_UNAUTHORIZED, "no_session");
    }
    if (!s->refresh_token) {
        return tpa_json_error(r, HTTP_CONFLICT, "no_refresh_token");
    }
    switch (tpa_refresh_if_needed(r, pc, &s, 1, &refreshed, &fail)) {
    case TPA_REFRESH_ENDED:
        return tpa_json_error(r, HTTP_UNAUTHORIZED, "session_ended");
    case TPA_REFRESH_FAILED:
        /* the flow wrote nothing: this is the only body */
        return tpa_json_error(r, fail.status, "refresh_failed");
    case TPA_REFRESH_OK:
        break;
    }
    {
        json_t *o = json_object();
        json_object_set_new(o, "refreshed", json_boolean(refreshed));
        json_object_set_new(o, "access_token_expires", json_integer(apr_time_sec(s->at_expires)));
        if (pc->info_access_token) {
            json_object_set_new(o, "access_token", json_string(s->access_token));
        }
        return tpa_json_response(r, HTTP_OK, o);
    }
}
