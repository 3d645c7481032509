/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Logout initiated by the provider, under the redirect URI:
 *
 * <redirect URI>/backchannel-logout: OpenID Connect Back-Channel Logout 1.0.
 *   The provider POSTs logout_token (a form); the token is validated in the
 *   core (src/tpo_logout_token.c: signature with the provider's JWKS and the
 *   ID-token alg allow-list, iss, aud, iat, exp, events, sub/sid, no nonce),
 *   its jti is taken once (add() in the shared cache: a replay on any server
 *   is refused), then every matching session ends, on every server sharing
 *   the cache. 200 on success; 400 with a JSON error otherwise; 503 when the
 *   cache or the provider's keys are unavailable (the provider may retry).
 *   Cache-Control: no-store on every answer.
 *   A logout token with sub ends every session of that user (all browsers
 *   and devices); one with only sid ends the sessions of that provider
 *   session. With discovery, the endpoint is open only when the provider
 *   says backchannel_logout_supported, and a sid is used only when it says
 *   backchannel_logout_session_supported.
 *
 * <redirect URI>/frontchannel-logout?iss=...&sid=...: Front-Channel Logout
 *   1.0. The provider loads it in an iframe; it ends the sessions of that
 *   provider session (without sid: the session of the browser's cookie) and
 *   answers a tiny page that only the provider's origin may frame. */
#include <string.h>
#include <apr_strings.h>
#include "mod_tp_oauth_flows.h"
#include "tpo_jose.h"
#include "tpo_logout_token.h"
#include "tpo_provider.h"
#include "tpo_session.h"
#include "tpo_url.h"

#define LOGOUT_BODY_MAX (64 * 1024)

static int bc_error(request_rec *r, int status, const char *error, const char *description)
{
    return tpa_json_response(
        r, status, json_pack("{s:s,s:s}", "error", error, "error_description", description));
}

/* The request body (a form), at most LOGOUT_BODY_MAX bytes; NULL when it is
 * larger or unreadable. */
static const char *read_body(request_rec *r)
{
    char *buf = apr_palloc(r->pool, LOGOUT_BODY_MAX + 1);
    apr_size_t len = 0;
    long n;

    if (ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK) != OK || !ap_should_client_block(r)) {
        return "";
    }
    while ((n = ap_get_client_block(r, buf + len, LOGOUT_BODY_MAX + 1 - len)) > 0) {
        len += (apr_size_t)n;
        if (len > LOGOUT_BODY_MAX) {
            return NULL;
        }
    }
    if (n < 0) {
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

static tpo_lt_result validate(request_rec *r, tpa_provider_conf *pc, const tpo_provider_meta *meta,
                              const char *token, tpo_logout_claims *lc, const char **detail,
                              int *status)
{
    tpo_logout_expect ex;
    tpo_lt_result res = TPO_LT_NOKEY;
    int attempt;

    memset(&ex, 0, sizeof(ex));
    ex.issuer = meta->issuer ? meta->issuer : pc->issuer;
    ex.client_id = pc->client_id;
    ex.now = apr_time_now();
    ex.skew_sec = pc->clock_skew;
    ex.max_age_sec = TPO_LOGOUT_TOKEN_MAX_AGE_S;
    ex.allowed_algs = pc->id_token_algs;
    if (pc->client_secret) {
        ex.hs_key = tpo_jwk_from_secret(r->pool, pc->client_secret, strlen(pc->client_secret));
    }
    *status = OK;
    /* a second attempt only when no key fitted: the provider may have rotated */
    for (attempt = 0; attempt < 2 && res == TPO_LT_NOKEY; attempt++) {
        const tpo_jwks *jwks;
        void *h;
        if (tpa_provider_jwks_acquire(r, pc, attempt > 0, &jwks, &h) != TPA_RT_OK) {
            *status = HTTP_SERVICE_UNAVAILABLE;
            *detail = "the provider's JWK Set is unavailable";
            return TPO_LT_NOKEY;
        }
        res = tpo_logout_token_validate(r->pool, token, jwks, &ex, lc, detail);
        tpa_provider_jwks_release(pc, h);
    }
    return res;
}

int tpa_backchannel_logout_endpoint(request_rec *r, tpa_provider_conf *pc)
{
    const tpo_provider_meta *meta = NULL;
    const char *body, *token, *ctype, *detail = NULL, *issuer;
    apr_table_t *form;
    tpo_logout_claims lc;
    tpo_lt_result res;
    apr_status_t rv;
    int dup = 0, status, ended = 0;

    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    if (r->method_number != M_POST) {
        apr_table_setn(r->err_headers_out, "Allow", "POST");
        return bc_error(r, HTTP_METHOD_NOT_ALLOWED, "invalid_request",
                        "back-channel logout takes a POST");
    }
    ctype = apr_table_get(r->headers_in, "Content-Type");
    if (!ctype || strncasecmp(ctype, "application/x-www-form-urlencoded", 33) != 0 ||
        (ctype[33] && ctype[33] != ';' && ctype[33] != ' ')) {
        ap_discard_request_body(r);
        ap_log_rerror(
            APLOG_MARK, APLOG_WARNING, 0, r,
            TPO_APLOGNO(00404) "provider %s: back-channel logout refused: not a form POST",
            pc->name);
        return bc_error(r, HTTP_BAD_REQUEST, "invalid_request", "expected a form POST");
    }
    body = read_body(r);
    form = body ? tpo_query_parse(r->pool, body, 8) : NULL;
    token = form ? tpo_query_get_unique(form, "logout_token", &dup) : NULL;
    if (!token || dup || !*token) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      TPO_APLOGNO(00405) "provider %s: back-channel logout refused: no single "
                                         "logout_token in the form",
                      pc->name);
        return bc_error(r, HTTP_BAD_REQUEST, "invalid_request", "no logout_token");
    }
    if (tpa_provider_meta_get(r, pc, &meta) != TPA_RT_OK) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            TPO_APLOGNO(00406) "provider %s: back-channel logout: the provider's metadata "
                               "is unavailable",
            pc->name);
        return bc_error(r, HTTP_SERVICE_UNAVAILABLE, "temporarily_unavailable",
                        "provider metadata unavailable");
    }
    if (pc->discovery && meta->backchannel_logout != 1) {
        ap_log_rerror(
            APLOG_MARK, APLOG_WARNING, 0, r,
            TPO_APLOGNO(00407) "provider %s: back-channel logout refused: the provider's "
                               "discovery document does not say backchannel_logout_supported",
            pc->name);
        return bc_error(r, HTTP_BAD_REQUEST, "invalid_request",
                        "back-channel logout is not supported by this provider");
    }
    res = validate(r, pc, meta, token, &lc, &detail, &status);
    if (status != OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      TPO_APLOGNO(00408) "provider %s: back-channel logout: %s", pc->name, detail);
        return bc_error(r, status, "temporarily_unavailable", detail);
    }
    if (res != TPO_LT_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      TPO_APLOGNO(00409) "provider %s: back-channel logout token refused (%s): %s",
                      pc->name, tpo_lt_result_name(res), detail);
        return bc_error(
            r, HTTP_BAD_REQUEST, "invalid_request",
            apr_pstrcat(r->pool, "logout token refused: ", tpo_lt_result_name(res), NULL));
    }
    if (pc->discovery && meta->backchannel_logout_session != 1 && lc.sid) {
        /* the provider does not say its sid means a session: not trusted */
        lc.sid = NULL;
        if (!lc.sub) {
            ap_log_rerror(
                APLOG_MARK, APLOG_WARNING, 0, r,
                TPO_APLOGNO(00410) "provider %s: back-channel logout token refused: only a "
                                   "sid, but the provider does not say "
                                   "backchannel_logout_session_supported",
                pc->name);
            return bc_error(r, HTTP_BAD_REQUEST, "invalid_request",
                            "logout token refused: sid without session support");
        }
    }
    issuer = meta->issuer ? meta->issuer : pc->issuer;
    res = tpo_logout_token_consume(tpa_session_cache, r->pool, issuer, &lc, &rv);
    if (res != TPO_LT_OK) {
        if (rv != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                          TPO_APLOGNO(00411) "provider %s: back-channel logout: the session cache "
                                             "is unavailable",
                          pc->name);
            return bc_error(r, HTTP_SERVICE_UNAVAILABLE, "temporarily_unavailable",
                            "session store unavailable");
        }
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      TPO_APLOGNO(00412) "provider %s: back-channel logout token refused (replay): "
                                         "its jti was seen before",
                      pc->name);
        return bc_error(r, HTTP_BAD_REQUEST, "invalid_request", "logout token refused: replay");
    }
    rv = tpa_sessions_end(r, pc, lc.sub, lc.sid, &ended);
    if (rv != APR_SUCCESS) {
        /* the provider may send the same token again */
        tpo_logout_token_release(tpa_session_cache, r->pool, issuer, &lc);
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      TPO_APLOGNO(00413) "provider %s: back-channel logout: sessions could not be "
                                         "ended (session cache)",
                      pc->name);
        return bc_error(r, HTTP_SERVICE_UNAVAILABLE, "temporarily_unavailable",
                        "session store unavailable");
    }
    ap_log_rerror(
        APLOG_MARK, APLOG_INFO, 0, r,
        TPO_APLOGNO(00414) "provider %s: back-channel logout of %s%s%s: %d session(s) ended",
        pc->name, lc.sub ? "user " : "", lc.sub ? ap_escape_logitem(r->pool, lc.sub) : "",
        lc.sid ? (lc.sub ? " (provider session)" : "a provider session") : "", ended);
    r->status = HTTP_OK;
    ap_set_content_length(r, 0);
    return DONE;
}

/* "scheme://host[:port]" of an absolute URL, or NULL. */
static const char *origin_of(apr_pool_t *p, const char *url)
{
    const char *hs = url ? strstr(url, "://") : NULL;
    const char *end;

    if (!hs || !tpo_url_is_http(url)) {
        return NULL;
    }
    end = strchr(hs + 3, '/');
    return end ? apr_pstrmemdup(p, url, (apr_size_t)(end - url)) : url;
}

static int fc_page(request_rec *r, tpa_provider_conf *pc, const tpo_provider_meta *meta, int status,
                   const char *text)
{
    const char *origin = origin_of(r->pool, meta && meta->issuer ? meta->issuer : pc->issuer);

    tpa_page_headers(r);
    /* framed by the provider only (its logout page loads this in an iframe) */
    apr_table_unset(r->err_headers_out, "X-Frame-Options");
    apr_table_setn(r->err_headers_out, "Content-Security-Policy",
                   apr_pstrcat(r->pool, "default-src 'none'; frame-ancestors ",
                               origin ? origin : "'none'", NULL));
    r->status = status;
    ap_set_content_type(r, "text/html; charset=utf-8");
    if (!r->header_only) {
        ap_rprintf(r, "<!DOCTYPE html><html><head><title>%s</title></head><body>%s</body></html>\n",
                   text, text);
    }
    return DONE;
}

int tpa_frontchannel_logout_endpoint(request_rec *r, tpa_provider_conf *pc)
{
    apr_table_t *q = tpo_query_parse(r->pool, r->args ? r->args : "", 8);
    const tpo_provider_meta *meta = NULL;
    const char *iss = NULL, *sid = NULL, *issuer;
    int dup1 = 0, dup2 = 0, ended = 0;
    apr_status_t rv;

    if (r->method_number != M_GET) {
        apr_table_setn(r->err_headers_out, "Allow", "GET");
        return fc_page(r, pc, NULL, HTTP_METHOD_NOT_ALLOWED, "Method not allowed");
    }
    if (q) {
        iss = tpo_query_get_unique(q, "iss", &dup1);
        sid = tpo_query_get_unique(q, "sid", &dup2);
    }
    if (tpa_provider_meta_get(r, pc, &meta) != TPA_RT_OK) {
        meta = NULL;
    }
    issuer = meta && meta->issuer ? meta->issuer : pc->issuer;
    if (!q || dup1 || dup2 || (iss && !sid) || (sid && !iss) || (sid && !*sid) ||
        (iss && (!issuer || strcmp(iss, issuer) != 0))) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      TPO_APLOGNO(00415) "provider %s: front-channel logout refused: iss and sid "
                                         "must both be present (once) and iss must be the issuer",
                      pc->name);
        return fc_page(r, pc, meta, HTTP_BAD_REQUEST, "Bad logout request");
    }
    if (sid) {
        rv = tpa_sessions_end(r, pc, NULL, sid, &ended);
    }
    else {
        /* no sid: the session of this browser, when its cookie came along */
        tpo_session *s = apr_pcalloc(r->pool, sizeof(*s));
        tpa_sess_result sr = tpa_session_load(r, pc, s);
        rv = sr == TPA_SESS_CACHE_DOWN ? APR_EGENERAL : APR_SUCCESS;
        if (sr == TPA_SESS_OK && tpa_req_get(r)->sid) {
            tpa_session_delete(r, pc, tpa_req_get(r)->sid);
            tpa_set_cookie(r, pc, pc->cookie_name, "", 0);
            ended = 1;
        }
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      TPO_APLOGNO(00416) "provider %s: front-channel logout: the session cache is "
                                         "unavailable",
                      pc->name);
        return fc_page(r, pc, meta, HTTP_SERVICE_UNAVAILABLE, "Try again later");
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  TPO_APLOGNO(00417) "provider %s: front-channel logout: %d session(s) ended",
                  pc->name, ended);
    return fc_page(r, pc, meta, HTTP_OK, "Logged out");
}
