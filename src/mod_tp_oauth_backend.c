/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Tokens for backends (mod_proxy locations), a fixups hook:
 *
 *   TPOAuthBackendToken user    the user's access token (the session's, already
 *                               refreshed by check_authn) as Authorization: Bearer;
 *   TPOAuthBackendToken client  the gateway's own token from the client-credentials
 *                               grant (TPOAuthBackendScope/-Resource/-Audience);
 *   TPOAuthBackendIDToken H     the user's ID token (or its payload as JSON) in H;
 *   TPOAuthDPoPProof on|URL     with `user` and a DPoP-bound token (TPOAuthDPoP):
 *                               Authorization: DPoP and a fresh DPoP proof for
 *                               the backend's URL (RFC 9449 7).
 *
 * A client's Authorization header (and H) never reaches the backend when the
 * module sets one. The gateway token lives in the session cache ("gt:<hash>",
 * tpo_backend_token.h) and is shared by every child and every server on the
 * same distributed cache. Single flight: only the request that wins
 * add("gl:<hash>") calls the token endpoint; while a token is in its renewal
 * window the others keep using it, when there is none they wait (bounded,
 * polling the cache) for the winner's. A failure is remembered ("gf:<hash>")
 * for TPOAuthRefreshRetryAfter seconds so that a provider that is down is not
 * asked again by every request: those requests get the same answer (502, 504
 * when it timed out; 503 when the cache is down) with Retry-After. */
#include <string.h>
#include <apr_strings.h>
#include "mod_tp_oauth_flows.h"
#include "tpo_backend_token.h"
#include "tpo_dpop.h"
#include "tpo_http.h"
#include "tpo_provider.h"
#include "tpo_session.h"

#define WAIT_STEP apr_time_from_msec(25)

/* The result of fetching or finding a gateway token. */
typedef enum { BT_OK, BT_FAILED, BT_TIMEOUT, BT_CACHE_DOWN } bt_status;

typedef struct bt_keys {
    const char *token, *lease, *fail;
} bt_keys;

static apr_status_t cached(request_rec *r, const bt_keys *k, tpo_bt_token *t, int *have)
{
    char *val;
    apr_size_t vlen;
    apr_status_t rv = tpo_cache_get(tpa_session_cache, k->token, r->pool, &val, &vlen);

    *have = 0;
    if (rv == APR_NOTFOUND) {
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (tpo_bt_decode(r->pool, val, vlen, t) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      TPO_APLOGNO(00300) "gateway token: the cached record is unreadable; "
                                         "fetching a new one");
        return APR_SUCCESS;
    }
    *have = 1;
    return APR_SUCCESS;
}

/* A remembered failure: "<kind> <until>" (kind 'U' failed, 'T' timed out). */
static int memo_get(request_rec *r, const bt_keys *k, char *kind, apr_time_t *until)
{
    char *val, *txt;
    apr_size_t vlen;
    apr_time_t u = 0;
    char c = 0;

    if (tpo_cache_get(tpa_session_cache, k->fail, r->pool, &val, &vlen) != APR_SUCCESS) {
        return 0;
    }
    txt = apr_pstrmemdup(r->pool, val, vlen > 40 ? 40 : vlen);
    if (sscanf(txt, "%c %" APR_TIME_T_FMT, &c, &u) != 2 || (c != 'U' && c != 'T')) {
        c = 'U';
        u = apr_time_now() + apr_time_from_sec(1);
    }
    *kind = c;
    *until = u;
    return 1;
}

static void memo_set(request_rec *r, tpa_provider_conf *pc, const bt_keys *k, char kind,
                     long retry_after)
{
    long window = pc->refresh_retry_after;
    apr_time_t until;
    const char *val;

    if (retry_after > window) {
        window =
            retry_after > TPO_REFRESH_RETRY_AFTER_MAX ? TPO_REFRESH_RETRY_AFTER_MAX : retry_after;
    }
    until = apr_time_now() + apr_time_from_sec(window);
    val = apr_psprintf(r->pool, "%c %" APR_TIME_T_FMT, kind, until);
    tpo_cache_set(tpa_session_cache, k->fail, val, strlen(val), until);
}

/* One client-credentials grant. */
static bt_status fetch(request_rec *r, tpa_provider_conf *pc, const tpo_provider_meta *meta,
                       const tpa_dir_conf *dc, tpo_bt_token *out, long *retry_after)
{
    apr_array_header_t *params =
        tpo_bt_params(r->pool, dc->backend_scope, dc->backend_resource, dc->backend_audience);
    tpo_http_response resp;
    tpo_http_result hr;
    tpo_bt_result br;
    const char *error, *detail;
    apr_time_t now;

    *retry_after = -1;
    hr = tpa_provider_client_post(r, pc, meta->token_endpoint, params, &resp);
    if (hr != TPO_HTTP_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      TPO_APLOGNO(00301) "provider %s: gateway token (client credentials) failed: "
                                         "token endpoint %s: %s",
                      pc->name, meta->token_endpoint,
                      hr == TPO_HTTP_TIMEOUT ? "timed out" : (resp.error ? resp.error : "error"));
        return hr == TPO_HTTP_TIMEOUT ? BT_TIMEOUT : BT_FAILED;
    }
    now = apr_time_now();
    br = tpo_bt_response(r->pool, resp.body, resp.len, resp.status, now, pc->default_token_lifetime,
                         out, &error, &detail);
    if (br == TPO_BT_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      TPO_APLOGNO(00302) "provider %s: new gateway token (client credentials%s%s), "
                                         "valid %" APR_TIME_T_FMT " s",
                      pc->name, dc->backend_scope ? ", scope " : "",
                      dc->backend_scope ? ap_escape_logitem(r->pool, dc->backend_scope) : "",
                      apr_time_sec(out->expires - out->obtained));
        return BT_OK;
    }
    *retry_after = tpo_http_retry_after(resp.retry_after, now);
    ap_log_rerror(
        APLOG_MARK, APLOG_ERR, 0, r,
        TPO_APLOGNO(00303) "provider %s: gateway token (client credentials) %s: token endpoint %s "
                           "answered HTTP %d (%s%s%s)",
        pc->name, br == TPO_BT_REFUSED ? "refused" : "failed", meta->token_endpoint, resp.status,
        br == TPO_BT_REFUSED
            ? apr_pstrcat(r->pool, "error=", ap_escape_logitem(r->pool, error), NULL)
            : detail,
        br == TPO_BT_REFUSED && detail ? ": " : "",
        br == TPO_BT_REFUSED && detail ? ap_escape_logitem(r->pool, detail) : "");
    return BT_FAILED;
}

/* We hold the lease: fetch, store, release. */
static bt_status fetch_and_store(request_rec *r, tpa_provider_conf *pc,
                                 const tpo_provider_meta *meta, const tpa_dir_conf *dc,
                                 const bt_keys *k, tpo_bt_token *out)
{
    long retry_after;
    bt_status st = fetch(r, pc, meta, dc, out, &retry_after);

    if (st == BT_OK) {
        apr_size_t len;
        const char *rec = tpo_bt_encode(r->pool, out, &len);
        apr_status_t rv = tpo_cache_set(tpa_session_cache, k->token, rec, len, out->expires);
        if (rv != APR_SUCCESS) {
            /* this request can still use it; the next one fetches again */
            ap_log_rerror(
                APLOG_MARK, APLOG_WARNING, rv, r,
                TPO_APLOGNO(00304) "provider %s: the gateway token could not be stored in "
                                   "the session cache",
                pc->name);
        }
    }
    else {
        memo_set(r, pc, k, st == BT_TIMEOUT ? 'T' : 'U', retry_after);
    }
    tpo_cache_del(tpa_session_cache, k->lease);
    return st;
}

/* The failure answer of a request that gets no gateway token: its status,
 * with *fail describing the page (written by the hook). */
static int failure_answer(request_rec *r, tpa_provider_conf *pc, bt_status st, apr_time_t until,
                          const char *why, tpa_answer *fail)
{
    apr_time_t now = apr_time_now();
    int status = st == BT_CACHE_DOWN ? HTTP_SERVICE_UNAVAILABLE
                 : st == BT_TIMEOUT  ? HTTP_GATEWAY_TIME_OUT
                                     : HTTP_BAD_GATEWAY;

    if (why) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      TPO_APLOGNO(00305) "provider %s: answered %d without a gateway token: %s",
                      pc->name, status, why);
    }
    if (until > now) {
        apr_table_setn(r->err_headers_out, "Retry-After",
                       apr_ltoa(r->pool, (long)apr_time_sec(until - now + APR_USEC_PER_SEC - 1)));
    }
    fail->status = status;
    fail->title = "Service token unavailable";
    fail->detail = status == HTTP_SERVICE_UNAVAILABLE
                       ? "The session store cannot be reached. Please try again in a moment."
                       : "The authorization server did not issue the token this service needs. "
                         "Please try again in a moment.";
    return status;
}

/* The gateway token for this location: OK with *tok, or a failure status
 * with *fail describing the page. */
static int gateway_token(request_rec *r, tpa_provider_conf *pc, const tpa_dir_conf *dc,
                         const char **tok, tpa_answer *fail)
{
    const tpo_provider_meta *meta;
    const char *hash;
    tpo_bt_token cur, fresh;
    bt_keys k;
    apr_time_t now = apr_time_now(), deadline, until;
    apr_interval_time_t before = apr_time_from_sec(pc->refresh_before);
    apr_status_t rv;
    bt_status st;
    int have;
    char kind;

    if (tpa_provider_meta_get(r, pc, &meta) != TPA_RT_OK || !meta->token_endpoint) {
        return failure_answer(r, pc, BT_FAILED, 0,
                              "the provider's metadata (token endpoint) is unavailable", fail);
    }
    hash = tpo_bt_key_hash(r->pool, pc->name, meta->token_endpoint, pc->client_id,
                           dc->backend_scope, dc->backend_resource, dc->backend_audience);
    if (!hash) {
        return failure_answer(r, pc, BT_FAILED, 0, "cannot compute the cache key", fail);
    }
    k.token = apr_pstrcat(r->pool, TPO_KEY_BT_TOKEN, hash, NULL);
    k.lease = apr_pstrcat(r->pool, TPO_KEY_BT_LEASE, hash, NULL);
    k.fail = apr_pstrcat(r->pool, TPO_KEY_BT_FAIL, hash, NULL);

    if ((rv = cached(r, &k, &cur, &have)) != APR_SUCCESS) {
        return failure_answer(r, pc, BT_CACHE_DOWN, 0,
                              apr_psprintf(r->pool, "session cache: %pm", &rv), fail);
    }
    switch (tpo_bt_decide(have ? &cur : NULL, now, before)) {
    case TPO_BT_USE:
        *tok = cur.access_token;
        return OK;
    case TPO_BT_RENEW:
        /* one request renews it (unless a renewal failed a moment ago); every
         * request, that one too if it fails, goes on with the current one */
        if (!memo_get(r, &k, &kind, &until) &&
            tpo_cache_add(tpa_session_cache, k.lease, "1", 1,
                          now + apr_time_from_msec(pc->timeout_ms + TPO_BT_WAIT_MARGIN_MS)) ==
                APR_SUCCESS) {
            int again;
            if (cached(r, &k, &fresh, &again) == APR_SUCCESS && again &&
                fresh.obtained != cur.obtained) {
                tpo_cache_del(tpa_session_cache, k.lease); /* renewed meanwhile */
                *tok = fresh.access_token;
                return OK;
            }
            if (fetch_and_store(r, pc, meta, dc, &k, &fresh) == BT_OK) {
                *tok = fresh.access_token;
                return OK;
            }
        }
        *tok = cur.access_token;
        return OK;
    case TPO_BT_FETCH:
        break;
    }
    /* none usable: fetch one, or wait for the request that does */
    deadline = now + apr_time_from_msec(pc->timeout_ms + TPO_BT_WAIT_MARGIN_MS);
    for (;;) {
        if (memo_get(r, &k, &kind, &until)) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          TPO_APLOGNO(00306) "provider %s: the gateway token's last fetch %s; no "
                                             "new attempt for %" APR_TIME_T_FMT " s",
                          pc->name, kind == 'T' ? "timed out" : "failed",
                          until > apr_time_now() ? apr_time_sec(until - apr_time_now()) : 0);
            return failure_answer(r, pc, kind == 'T' ? BT_TIMEOUT : BT_FAILED, until, NULL, fail);
        }
        rv = tpo_cache_add(tpa_session_cache, k.lease, "1", 1,
                           apr_time_now() +
                               apr_time_from_msec(pc->timeout_ms + TPO_BT_WAIT_MARGIN_MS));
        if (rv == APR_SUCCESS) {
            /* a fetch may have completed between our read and our lease */
            if (cached(r, &k, &fresh, &have) == APR_SUCCESS && have &&
                tpo_bt_decide(&fresh, apr_time_now(), before) != TPO_BT_FETCH) {
                tpo_cache_del(tpa_session_cache, k.lease);
                *tok = fresh.access_token;
                return OK;
            }
            st = fetch_and_store(r, pc, meta, dc, &k, &fresh);
            if (st == BT_OK) {
                *tok = fresh.access_token;
                return OK;
            }
            memo_get(r, &k, &kind, &until);
            return failure_answer(r, pc, st, until, NULL, fail); /* fetch() logged the cause */
        }
        if (rv != APR_EEXIST) {
            return failure_answer(r, pc, BT_CACHE_DOWN, 0,
                                  apr_psprintf(r->pool, "session cache: %pm", &rv), fail);
        }
        if (apr_time_now() >= deadline) {
            return failure_answer(r, pc, BT_TIMEOUT, 0,
                                  "another request's fetch of it did not finish in time", fail);
        }
        apr_sleep(WAIT_STEP);
        rv = cached(r, &k, &fresh, &have);
        if (rv != APR_SUCCESS) {
            return failure_answer(r, pc, BT_CACHE_DOWN, 0,
                                  apr_psprintf(r->pool, "session cache: %pm", &rv), fail);
        }
        if (have && tpo_bt_decide(&fresh, apr_time_now(), before) != TPO_BT_FETCH) {
            *tok = fresh.access_token; /* the winner's */
            return OK;
        }
    }
}

/* The htu of the proof for the backend: the URL base of TPOAuthDPoPProof
 * with the request's path, or mod_proxy's target ("proxy:URL" in
 * r->filename), else this request's own URL. */
static const char *backend_htu(request_rec *r, const char *mode)
{
    if (strcmp(mode, "on") != 0) {
        return apr_pstrcat(r->pool, mode, r->uri, NULL);
    }
    if (r->filename && strncmp(r->filename, "proxy:", 6) == 0) {
        return tpo_dpop_htu(r->pool, r->filename + 6);
    }
    return tpo_dpop_htu(r->pool, ap_construct_url(r->pool, r->uri, r));
}

/* Authorization: DPoP and a proof for the backend; or Bearer when the
 * session's token is not DPoP-bound or the location asks for no proof. */
static int set_user_token(request_rec *r, const tpa_dir_conf *dc, const tpo_session *s,
                          tpa_answer *fail)
{
    const char *err = NULL, *htu, *proof;
    tpo_dpop_key *k;

    if (!s->dpop_key || !dc->dpop_proof || !strcmp(dc->dpop_proof, "off")) {
        apr_table_setn(r->headers_in, "Authorization",
                       apr_pstrcat(r->pool, "Bearer ", s->access_token, NULL));
        return OK;
    }
    htu = backend_htu(r, dc->dpop_proof);
    if (tpo_dpop_key_import(r->pool, s->dpop_key, &k, &err) != APR_SUCCESS ||
        !(proof = tpo_dpop_proof(r->pool, k, r->method, htu, s->access_token, NULL, apr_time_now(),
                                 &err))) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      TPO_APLOGNO(00900) "no DPoP proof for the backend (%s) of %s: %s",
                      htu ? ap_escape_logitem(r->pool, htu) : "no http(s) URL",
                      ap_escape_logitem(r->pool, s->user), err ? err : "?");
        fail->status = HTTP_INTERNAL_SERVER_ERROR;
        fail->title = "Access token unavailable";
        fail->detail = "Your access token cannot be passed on to this service.";
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apr_table_setn(r->headers_in, "Authorization",
                   apr_pstrcat(r->pool, "DPoP ", s->access_token, NULL));
    apr_table_setn(r->headers_in, "DPoP", proof);
    return OK;
}

/* From the fixups hook, after authentication and authorization. */
int tpa_backend_prepare(request_rec *r, tpa_answer *fail)
{
    tpa_dir_conf *dc = tpa_config_dir(r);
    tpa_req *rq;
    tpo_session *s;
    tpa_provider_conf *pc;
    const char *tok = NULL;
    int mode;

    if (!dc) {
        return OK;
    }
    mode = tpa_dir_backend_token(dc);
    if (mode == TPO_BACKEND_TOKEN_NONE && !dc->backend_idt_header) {
        return OK;
    }
    rq = tpa_req_get(r);
    s = rq->session;
    if (dc->backend_idt_header) {
        apr_table_unset(r->headers_in, dc->backend_idt_header);
    }
    if (mode != TPO_BACKEND_TOKEN_NONE && apr_table_get(r->headers_in, "Authorization")) {
        ap_log_rerror(
            APLOG_MARK, APLOG_DEBUG, 0, r,
            TPO_APLOGNO(00307) "removed the client's Authorization header (TPOAuthBackendToken "
                               "sets it)");
        apr_table_unset(r->headers_in, "Authorization");
    }
    if (mode != TPO_BACKEND_TOKEN_NONE && apr_table_get(r->headers_in, "DPoP")) {
        /* a client's proof goes with the client's Authorization header */
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            TPO_APLOGNO(00901) "removed the client's DPoP header (TPOAuthBackendToken sets "
                               "the backend's Authorization)");
        apr_table_unset(r->headers_in, "DPoP");
    }
    if (mode == TPO_BACKEND_TOKEN_USER) {
        if (!s) {
            ap_log_rerror(
                APLOG_MARK, APLOG_DEBUG, 0, r,
                TPO_APLOGNO(00308) "TPOAuthBackendToken user: no session on this request, "
                                   "no token for the backend");
        }
        else if (!tpo_bt_token_ok(s->access_token)) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          TPO_APLOGNO(00309) "session of %s has no access token a header can carry",
                          ap_escape_logitem(r->pool, s->user));
            fail->status = HTTP_BAD_GATEWAY;
            fail->title = "Access token unavailable";
            fail->detail = "Your session has no access token for this service.";
            return HTTP_BAD_GATEWAY;
        }
        else {
            int rc = set_user_token(r, dc, s, fail);
            if (rc != OK) {
                return rc;
            }
        }
    }
    else if (mode == TPO_BACKEND_TOKEN_CLIENT) {
        int rc;
        pc = dc->provider ? tpa_config_provider(r->server, dc->provider) : NULL;
        if (!pc || !pc->rt) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          TPO_APLOGNO(00310) "TPOAuthBackendToken client needs TPOAuthProvider on "
                                             "this location");
            fail->status = HTTP_INTERNAL_SERVER_ERROR;
            fail->title = NULL; /* Apache's error document */
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        rc = gateway_token(r, pc, dc, &tok, fail);
        if (rc != OK) {
            return rc;
        }
    }
    if (tok) {
        apr_table_setn(r->headers_in, "Authorization", apr_pstrcat(r->pool, "Bearer ", tok, NULL));
    }
    if (dc->backend_idt_header && s && s->id_token) {
        const char *v = dc->backend_idt_form == TPO_BACKEND_IDT_PAYLOAD
                            ? tpo_bt_jwt_payload_json(r->pool, s->id_token)
                            : (tpo_bt_token_ok(s->id_token) ? s->id_token : NULL);
        if (v) {
            apr_table_setn(r->headers_in, dc->backend_idt_header, v);
        }
        else {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          TPO_APLOGNO(00311) "the ID token of %s cannot be sent in %s",
                          ap_escape_logitem(r->pool, s->user), dc->backend_idt_header);
        }
    }
    return OK;
}
