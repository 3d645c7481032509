/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* check_authn for `AuthType tp-oauth`: the per-request hot path (session
 * cookie -> one cache lookup -> flat record -> REMOTE_USER and the
 * pre-rendered environment); a navigation without a session starts a login
 * (mod_tp_oauth_login.c), the redirect URI goes to the dispatcher
 * (mod_tp_oauth_endpoint.c). */
#include <string.h>
#include <apr_strings.h>
#include "mod_tp_oauth_hooks.h"
#include "tpo_cookie.h"
#include "tpo_nav.h"
#include "tpo_origin.h"
#include "tpo_pending_cookie.h"
#include "tpo_pkce.h"
#include "tpo_provider.h"
#include "tpo_session.h"
#include "tpo_stepup.h"
#include "tpo_token.h"
#include "tpo_url.h"

#define SID_LEN 43 /* 32 random bytes, base64url */

/* A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method)
 * on a protected location: it never carries credentials, so it never reaches
 * the application (which would run without a user). The module answers it:
 * 204 with the CORS headers for an origin on TPOAuthCORSAllowOrigin, else
 * 403 without any. Never a redirect, never a cookie. */
static int cors_preflight(request_rec *r, tpa_dir_conf *dc)
{
    const char *origin = apr_table_get(r->headers_in, "Origin");
    const char *method = apr_table_get(r->headers_in, "Access-Control-Request-Method");
    const char *req_headers = apr_table_get(r->headers_in, "Access-Control-Request-Headers");
    const char *allow_headers = NULL;

    if (!dc->cors_origins || !tpo_origin_allowed(origin, dc->cors_origins, dc->cors_any)) {
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            TPO_APLOGNO(
                00019) "CORS preflight from origin %s refused (not in TPOAuthCORSAllowOrigin)",
            ap_escape_logitem(r->pool, origin));
        return tpa_page_error(r, HTTP_FORBIDDEN, "Forbidden",
                              "Cross-origin requests from this origin are not allowed here.");
    }
    if (!tpo_http_token(method, strlen(method)) ||
        (req_headers && !(allow_headers = tpo_cors_token_list(r->pool, req_headers)))) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      TPO_APLOGNO(00020) "CORS preflight from origin %s refused: malformed "
                                         "Access-Control-Request-Method/-Headers",
                      ap_escape_logitem(r->pool, origin));
        return tpa_page_error(r, HTTP_FORBIDDEN, "Forbidden",
                              "The cross-origin request is malformed.");
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  TPO_APLOGNO(00021) "CORS preflight from origin %s answered",
                  ap_escape_logitem(r->pool, origin));
    apr_table_setn(r->err_headers_out, "Access-Control-Allow-Origin", origin);
    apr_table_setn(r->err_headers_out, "Access-Control-Allow-Credentials", "true");
    apr_table_setn(r->err_headers_out, "Access-Control-Allow-Methods", method);
    if (allow_headers && *allow_headers) {
        apr_table_setn(r->err_headers_out, "Access-Control-Allow-Headers", allow_headers);
    }
    apr_table_setn(r->err_headers_out, "Access-Control-Max-Age",
                   apr_itoa(r->pool, TPO_CORS_MAX_AGE));
    apr_table_mergen(r->err_headers_out, "Vary", "Origin");
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    r->status = HTTP_NO_CONTENT;
    r->status_line = NULL;
    return DONE;
}

static int is_navigation(request_rec *r)
{
    return tpo_is_navigation(r->method, apr_table_get(r->headers_in, "X-Requested-With"),
                             apr_table_get(r->headers_in, "Sec-Fetch-Mode"),
                             apr_table_get(r->headers_in, "Sec-Fetch-Dest"),
                             apr_table_get(r->headers_in, "Accept"));
}

/* What the session's authentication lacks of the location's demand
 * (TPOAuthRequireACR, TPOAuthMaxAuthAge): TPO_STEPUP_* flags, 0 enough. */
static int stepup_lacks(request_rec *r, tpa_provider_conf *pc, tpa_dir_conf *dc,
                        const tpo_session *s)
{
    tpo_stepup_req req;

    if (!dc->require_acr && dc->max_auth_age == TPO_UNSET) {
        return 0; /* the common case: nothing demanded */
    }
    tpa_dir_stepup(dc, &req);
    return tpo_stepup_check(&req, s->acr, s->auth_time, r->request_time,
                            apr_time_from_sec(pc->clock_skew));
}

/* A session without the authentication the location demands: a page
 * navigation logs in again with the demand (step-up; the session of the
 * same user continues), anything else gets 401 with the RFC 9470
 * challenge. */
static int stepup(request_rec *r, tpa_provider_conf *pc, tpa_dir_conf *dc, const tpo_session *s,
                  int lacks)
{
    tpo_stepup_req req;
    tpa_answer fail;
    int rc;

    if (tpa_dir_unauth(dc) == TPO_UNAUTH_LOGIN && is_navigation(r)) {
        rc = tpa_login_start_stepup(r, pc, lacks, &fail);
        return rc == HTTP_MOVED_TEMPORARILY ? rc : tpa_page_answer(r, &fail);
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  TPO_APLOGNO(00950) "session of %s lacks the authentication this location demands "
                                     "(%s%s%s) and the request is not a page navigation (or "
                                     "TPOAuthUnauthenticated is not login): 401 "
                                     "insufficient_user_authentication",
                  ap_escape_logitem(r->pool, s->user), lacks & TPO_STEPUP_ACR ? "acr" : "",
                  (lacks & TPO_STEPUP_ACR) && (lacks & TPO_STEPUP_AGE) ? ", " : "",
                  lacks & TPO_STEPUP_AGE ? "auth_time" : "");
    tpa_dir_stepup(dc, &req);
    tpa_www_authenticate_stepup(r, pc, &req, lacks);
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    return HTTP_UNAUTHORIZED;
}

int tpa_check_authn(request_rec *r)
{
    const char *type = ap_auth_type(r);
    tpa_dir_conf *dc;
    tpa_provider_conf *pc;
    tpo_session *s;
    tpa_sess_result sr;
    tpa_answer fail;
    int unauth, rc, bearer;

    if (!type || strcasecmp(type, TPO_AUTH_TYPE) != 0) {
        return DECLINED;
    }
    dc = tpa_config_dir(r);
    pc = tpa_config_provider(r->server, dc->provider);
    if (!pc || !pc->rt) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            TPO_APLOGNO(00022) "AuthType tp-oauth without a usable TPOAuthProvider for %s", r->uri);
        return tpa_page_error(r, HTTP_INTERNAL_SERVER_ERROR, "Configuration error",
                              "This location is protected by mod_tp_oauth but names no "
                              "provider (TPOAuthProvider).");
    }
    if (r->method_number == M_OPTIONS && apr_table_get(r->headers_in, "Origin") &&
        apr_table_get(r->headers_in, "Access-Control-Request-Method")) {
        return cors_preflight(r, dc);
    }
    if ((rc = tpa_endpoint_route(r, pc)) != DECLINED) {
        return rc;
    }
    bearer = tpa_dir_bearer(dc);
    if (bearer != TPO_BEARER_OFF) {
        /* a request with a bearer token is the token's (mod_tp_oauth_bearer.c) */
        switch (tpa_bearer_authn(r, pc, dc, &rc)) {
        case TPA_BEARER_OK:
            return OK;
        case TPA_BEARER_REFUSED:
            return rc;
        case TPA_BEARER_NONE:
            break;
        }
        if (bearer == TPO_BEARER_ONLY) {
            return tpa_bearer_unauthenticated(r, pc);
        }
    }
    s = apr_pcalloc(r->pool, sizeof(*s));
    sr = tpa_session_load(r, pc, s);
    if (sr == TPA_SESS_OK) {
        int refreshed;
        tpa_refresh_result rr = tpa_refresh_if_needed(r, pc, &s, 0, &refreshed, &fail);
        if (rr == TPA_REFRESH_OK) {
            int lacks = stepup_lacks(r, pc, dc, s);
            if (lacks) {
                return stepup(r, pc, dc, s, lacks);
            }
            tpa_identity_export(r, pc, s);
            return OK;
        }
        if (rr == TPA_REFRESH_FAILED) {
            return tpa_page_answer(r, &fail);
        }
        sr = TPA_SESS_ENDED;
    }
    if (sr == TPA_SESS_CACHE_DOWN) {
        /* never start a login loop because the store is down */
        return tpa_page_error(r, HTTP_SERVICE_UNAVAILABLE, "Session store unavailable",
                              "Your session cannot be checked right now. Please try again "
                              "in a moment.");
    }
    if (sr == TPA_SESS_ENDED) {
        tpa_set_cookie(r, pc, pc->cookie_name, "", 0);
    }
    unauth = tpa_dir_unauth(dc);
    if (unauth != TPO_UNAUTH_LOGIN || !is_navigation(r)) {
        ap_log_rerror(
            APLOG_MARK, APLOG_DEBUG, 0, r,
            TPO_APLOGNO(00023) "no session and not a page navigation (or TPOAuthUnauthenticated): "
                               "401 instead of a login redirect");
        tpa_www_authenticate(r, pc, NULL);
        if (bearer == TPO_BEARER_ON) {
            /* a client may authenticate with a token too */
            tpa_www_authenticate_bearer(r, pc, NULL, NULL, NULL, 1);
        }
        return HTTP_UNAUTHORIZED;
    }
    rc = tpa_login_start(r, pc, &fail);
    return rc == HTTP_MOVED_TEMPORARILY ? rc : tpa_page_answer(r, &fail);
}
