/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The login flow. Start: a login cookie (sealed pending login) and the
 * redirect to the provider's authorization endpoint. Callback, at the
 * redirect URI: take the pending login (one use), exchange the code
 * with its code_verifier, validate the ID token, open a session and send the
 * browser back to the page it asked for. Every failure: one status, one page,
 * one log line naming the cause (never a token). */
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <apr_strings.h>
#include "tpo_json.h"
#include "mod_tp_oauth_flows.h"
#include "mod_tp_oauth_metrics.h"
#include "tpo_claims.h"
#include "tpo_cookie.h"
#include "tpo_dpop.h"
#include "tpo_http.h"
#include "tpo_idtoken.h"
#include "tpo_jose.h"
#include "tpo_jwt_claim.h"
#include "tpo_origin.h"
#include "tpo_par.h"
#include "tpo_pending_cookie.h"
#include "tpo_pkce.h"
#include "tpo_provider.h"
#include "tpo_session.h"
#include "tpo_stepup.h"
#include "tpo_token.h"
#include "tpo_url.h"

#define MAX_CALLBACK_PARAMS 32
/* the provider's error= at the callback: d (access_denied), e (another) */
#define LOGIN_ERROR_NOTE "tpo-login-error"

/* The redirect_uri to send: configured absolute URL, or the configured path
 * on this server. */
static const char *redirect_uri_for(request_rec *r, tpa_provider_conf *pc)
{
    if (pc->redirect_uri[0] == '/') {
        return tpa_request_url(r, pc->redirect_uri);
    }
    return pc->redirect_uri;
}

static apr_status_t login_binding(request_rec *r, const tpa_provider_conf *pc,
                                  tpo_pending_binding *out)
{
    const char *issuer = pc->issuer          ? pc->issuer
                         : pc->discovery_url ? pc->discovery_url
                                             : pc->authorization_endpoint;

    /* a relative redirect URI is on whichever virtual host serves it: its
     * ServerName (configuration, not the Host header) tells them apart */
    return tpo_pending_binding_make(issuer, pc->client_id, pc->redirect_uri,
                                    pc->redirect_uri[0] == '/' ? r->server->server_hostname : NULL,
                                    out);
}

/* The login cookies of every provider of this virtual host: one byte budget
 * for all of them (they all travel in the same Cookie header). */
static apr_array_header_t *host_login_cookies(request_rec *r, tpa_provider_conf *own,
                                              const tpo_pending_binding *own_bind)
{
    tpa_server_conf *sc = tpa_config_server(r->server);
    apr_array_header_t *bases = apr_array_make(r->pool, 4, sizeof(tpo_pending_base));
    tpo_pending_base *b = apr_array_push(bases);
    apr_hash_index_t *hi;

    b->name = own->cookie_name;
    b->bind = own_bind;
    b->own = 1;
    b->ctx = own;
    for (hi = apr_hash_first(r->pool, sc->providers); hi; hi = apr_hash_next(hi)) {
        tpa_provider_conf *pc = apr_hash_this_val(hi);
        tpo_pending_binding *bind;

        if (pc == own) {
            continue;
        }
        bind = apr_palloc(r->pool, sizeof(*bind));
        if (login_binding(r, pc, bind) != APR_SUCCESS) {
            continue;
        }
        b = apr_array_push(bases);
        b->name = pc->cookie_name;
        b->bind = bind;
        b->own = 0;
        b->ctx = pc;
    }
    return tpo_pending_cookies(r->pool, &tpa_login_key, apr_table_get(r->headers_in, "Cookie"),
                               (const tpo_pending_base *)bases->elts, bases->nelts,
                               r->request_time);
}

/* The value of name in a name,value pair list, or NULL. */
static const char *auth_param(const apr_array_header_t *pairs, const char *name)
{
    int i;

    for (i = 0; i + 1 < pairs->nelts; i += 2) {
        if (!strcmp(APR_ARRAY_IDX(pairs, i, const char *), name)) {
            return APR_ARRAY_IDX(pairs, i + 1, const char *);
        }
    }
    return NULL;
}

/* A failure of the login start, for the caller to write. */
static int answer(tpa_answer *fail, int status, const char *title, const char *detail)
{
    fail->status = status;
    fail->title = title;
    fail->detail = detail;
    return status;
}

/* The authorization request's parameters (name,value pairs, in order):
 * the one list for the browser's URL and for a pushed request (RFC 9126):
 * the protocol's, then extra (scope, TPOAuthAuthParam,
 * TPOAuthAuthRequestParam, step-up: tpo_authreq_params). login_hint (a
 * third-party-initiated login's) replaces a configured one. */
static apr_array_header_t *authz_params(request_rec *r, tpa_provider_conf *pc,
                                        const tpo_pending *pl, const apr_array_header_t *extra,
                                        const char *login_hint)
{
    apr_array_header_t *params = apr_array_make(r->pool, 16, sizeof(const char *));
    int i;

#define PARAM(n, v)                                                                                \
    do {                                                                                           \
        APR_ARRAY_PUSH(params, const char *) = (n);                                                \
        APR_ARRAY_PUSH(params, const char *) = (v);                                                \
    } while (0)
    PARAM("response_type", "code");
    PARAM("client_id", pc->client_id);
    PARAM("redirect_uri", pl->redirect_uri);
    PARAM("state", pl->state);
    if (pl->nonce) {
        PARAM("nonce", pl->nonce);
    }
    PARAM("code_challenge", tpo_pkce_challenge_s256(r->pool, pl->code_verifier));
    PARAM("code_challenge_method", "S256");
    for (i = 0; i + 1 < extra->nelts; i += 2) {
        const char *n = APR_ARRAY_IDX(extra, i, const char *);
        if (login_hint && !strcmp(n, "login_hint")) {
            continue;
        }
        PARAM(n, APR_ARRAY_IDX(extra, i + 1, const char *));
    }
    if (login_hint) {
        PARAM("login_hint", login_hint);
    }
#undef PARAM
    return params;
}

/* The request_uri of a pushed authorization request when this login pushes
 * one (TPOAuthPushedAuthorization and the provider's metadata decide), else
 * *request_uri = NULL. OK, or a failure status with *fail described. */
static int push_request(request_rec *r, tpa_provider_conf *pc, const tpo_provider_meta *meta,
                        const apr_array_header_t *params, const char **request_uri,
                        tpa_answer *fail)
{
    *request_uri = NULL;
    switch (tpo_par_decide(pc->par_mode, meta->par_endpoint, meta->require_par)) {
    case TPO_PAR_USE:
        return tpa_provider_par(r, pc, meta->par_endpoint, params, request_uri, fail);
    case TPO_PAR_NO_ENDPOINT:
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            TPO_APLOGNO(00850) "provider %s: login not started: pushed authorization "
                               "requests are %s but the provider has no "
                               "pushed_authorization_request_endpoint (TPOAuthPAREndpoint)",
            pc->name,
            pc->par_mode == TPO_PAR_ON ? "on (TPOAuthPushedAuthorization)"
                                       : "required by its metadata");
        return answer(fail, HTTP_BAD_GATEWAY, "Login unavailable",
                      "The authorization server's configuration does not allow a login. "
                      "The administrator has been told.");
    default:
        return OK;
    }
}

/* Start a login (writes no response: see mod_tp_oauth_flows.h). Nothing is
 * written on the server: the pending login goes into this browser's own
 * login cookie, sealed, so no other client's
 * requests can push it out. Per browser the oldest logins beyond
 * TPOAuthPendingLoginsPerBrowser, or beyond the byte budget of the login
 * cookies of all the host's providers together, are dropped. return_url
 * (a checked local URL) and login_hint come from a third-party-initiated
 * login; NULL: this request's URL, none. */
static int login_start(request_rec *r, tpa_provider_conf *pc, const char *return_url,
                       const char *login_hint, int lacks, tpa_answer *fail)
{
    tpa_dir_conf *dc = tpa_config_dir(r);
    tpo_stepup_req req;
    apr_array_header_t *extra;
    const tpo_provider_meta *meta;
    tpa_rt_status rs;
    tpo_pending pl;
    tpo_pending_binding bind;
    tpo_pending_trim_stats st;
    const char *url, *name, *request_uri;
    char *state, *sealed;
    apr_array_header_t *slots, *params;
    apr_size_t new_size;
    int i, dropped, rc;
    long retry;

    rs = tpa_provider_meta_get(r, pc, &meta);
    /* a provider whose back channel failed gets no new users (issue 16) */
    if (tpa_provider_down_check(r, pc, &retry)) {
        apr_table_setn(r->err_headers_out, "Retry-After", apr_ltoa(r->pool, retry));
        return answer(fail, HTTP_SERVICE_UNAVAILABLE, "Login unavailable",
                      "The authorization server cannot be reached at the moment. "
                      "Please try again in a moment.");
    }
    if (rs != TPA_RT_OK) {
        return answer(fail, rs == TPA_RT_TIMEOUT ? HTTP_GATEWAY_TIME_OUT : HTTP_BAD_GATEWAY,
                      "Login unavailable",
                      "The authorization server's metadata could not be loaded. "
                      "Please try again in a moment.");
    }
    memset(&pl, 0, sizeof(pl));
    if (tpo_random_token(r->pool, 32, &state) != APR_SUCCESS ||
        tpo_pkce_verifier(r->pool, (char **)&pl.code_verifier) != APR_SUCCESS) {
        return answer(fail, HTTP_INTERNAL_SERVER_ERROR, "Login unavailable",
                      "No randomness available.");
    }
    /* the location's parameters and its step-up demand (tpo_stepup.h) */
    tpa_dir_stepup(dc, &req);
    extra = tpo_authreq_params(r->pool, pc->scope, pc->auth_params, dc->auth_req, &req, lacks);
    if (tpo_stepup_demands(&req)) {
        pl.acr_required = tpo_stepup_acr_text(r->pool, &req);
        pl.max_auth_age = req.max_auth_age > 0 ? req.max_auth_age : 0;
    }
    if (tpo_scope_has(auth_param(extra, "scope"), "openid")) {
        char *nonce;
        if (tpo_random_token(r->pool, 32, &nonce) != APR_SUCCESS) {
            return answer(fail, HTTP_INTERNAL_SERVER_ERROR, "Login unavailable",
                          "No randomness available.");
        }
        pl.nonce = nonce;
    }
    pl.created = r->request_time;
    pl.expires = r->request_time + apr_time_from_sec(pc->login_timeout);
    pl.state = state;
    pl.provider = pc->name;
    pl.redirect_uri = redirect_uri_for(r, pc);
    pl.return_url = return_url                                 ? return_url
                    : tpo_return_url_is_local(r->unparsed_uri) ? r->unparsed_uri
                                                               : "/";
    if (strlen(pl.return_url) > TPO_PENDING_RETURN_URL_MAX) {
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            TPO_APLOGNO(00015) "return URL longer than %d bytes: this login will return to /",
            TPO_PENDING_RETURN_URL_MAX);
        pl.return_url = "/";
    }
    /* a pushed request is made before any cookie is touched: when it fails,
     * this browser's logins in progress stay as they are */
    params = authz_params(r, pc, &pl, extra, login_hint);
    if ((rc = push_request(r, pc, meta, params, &request_uri, fail)) != OK) {
        return rc;
    }
    name = tpo_pending_cookie_name(r->pool, pc->cookie_name, state);
    sealed = name && login_binding(r, pc, &bind) == APR_SUCCESS
                 ? tpo_pending_seal(r->pool, &tpa_login_key, &bind, &pl)
                 : NULL;
    if (!sealed) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      TPO_APLOGNO(00016) "provider %s: cannot seal the login cookie (OpenSSL)",
                      pc->name);
        return answer(fail, HTTP_INTERNAL_SERVER_ERROR, "Login unavailable",
                      "The login could not be started. Please try again later.");
    }
    /* at most TPOAuthPendingLoginsPerBrowser, and a bounded Cookie header */
    new_size = strlen(name) + 1 + strlen(sealed);
    slots = host_login_cookies(r, pc, &bind);
    dropped = tpo_pending_cookies_trim(slots, pc->max_pending_per_browser, new_size,
                                       TPO_PENDING_COOKIES_MAX_BYTES, &st);
    for (i = 0; i < slots->nelts; i++) {
        tpo_pending_slot *sl = &APR_ARRAY_IDX(slots, i, tpo_pending_slot);
        if (sl->drop) {
            /* with the attributes of the provider it belongs to */
            tpa_set_login_cookie(r, (const tpa_provider_conf *)sl->ctx, sl->name, "", 0);
        }
    }
    if (dropped) {
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            TPO_APLOGNO(
                00017) "provider %s: login cookies dropped for a new login: %d unusable "
                       "(expired, or do not open), %d for count (more than %d logins in "
                       "progress: TPOAuthPendingLoginsPerBrowser), %d for size (all providers' "
                       "login cookies together over %d bytes); the oldest first",
            pc->name, st.unusable, st.count, pc->max_pending_per_browser, st.size,
            TPO_PENDING_COOKIES_MAX_BYTES);
    }
    tpa_set_login_cookie(r, pc, name, sealed, pc->login_timeout + TPO_PENDING_COOKIE_GRACE_SEC);

    url = meta->authorization_endpoint;
    if (request_uri) {
        /* RFC 9126 4: the browser carries client_id and request_uri only */
        url = tpo_url_add_param(r->pool, url, "client_id", pc->client_id);
        url = tpo_url_add_param(r->pool, url, "request_uri", request_uri);
    }
    else {
        for (i = 0; i + 1 < params->nelts; i += 2) {
            url = tpo_url_add_param(r->pool, url, APR_ARRAY_IDX(params, i, const char *),
                                    APR_ARRAY_IDX(params, i + 1, const char *));
        }
    }
    if (lacks) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      TPO_APLOGNO(00951) "step-up: sending the browser to provider %s to log in "
                                         "again (%s%s%s)",
                      pc->name, lacks & TPO_STEPUP_ACR ? "acr_values " : "",
                      lacks & TPO_STEPUP_ACR ? pl.acr_required : "",
                      lacks & TPO_STEPUP_AGE
                          ? apr_psprintf(r->pool, "%smax_age %d, prompt=login",
                                         lacks & TPO_STEPUP_ACR ? ", " : "", pl.max_auth_age)
                          : "");
    }
    else {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      TPO_APLOGNO(00018) "no session: sending the browser to provider %s to "
                                         "log in",
                      pc->name);
    }
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "Location", url);
    tpa_count(TPO_M_LOGIN_STARTED);
    return HTTP_MOVED_TEMPORARILY;
}

int tpa_login_start(request_rec *r, tpa_provider_conf *pc, tpa_answer *fail)
{
    return login_start(r, pc, NULL, NULL, 0, fail);
}

int tpa_login_start_stepup(request_rec *r, tpa_provider_conf *pc, int lacks, tpa_answer *fail)
{
    return login_start(r, pc, NULL, NULL, lacks, fail);
}

/* ---------------------------------------------- third-party-initiated login */

#define INITIATE_BODY_MAX 8192
#define INITIATE_PARAMS_MAX 16
#define LOGIN_HINT_MAX 512

static int initiate_refuse(request_rec *r, const tpa_provider_conf *pc, const char *detail,
                           const char *log_msg)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  TPO_APLOGNO(00851) "provider %s: initiate-login refused: %s", pc->name, log_msg);
    return tpa_page_error(r, HTTP_BAD_REQUEST, "Login not started", detail);
}

/* The parameters of an initiate-login request: the query of a GET, the form
 * body (at most INITIATE_BODY_MAX bytes) of a POST. NULL when unreadable. */
static apr_table_t *initiate_params(request_rec *r)
{
    const char *ctype;
    char *buf;
    apr_size_t len = 0;
    long n;

    if (r->method_number == M_GET) {
        return tpo_query_parse(r->pool, r->args ? r->args : "", INITIATE_PARAMS_MAX);
    }
    ctype = apr_table_get(r->headers_in, "Content-Type");
    if (!ctype || strncasecmp(ctype, "application/x-www-form-urlencoded", 33) != 0 ||
        (ctype[33] && ctype[33] != ';' && ctype[33] != ' ')) {
        ap_discard_request_body(r);
        return NULL;
    }
    if (ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK) != OK) {
        return NULL;
    }
    buf = apr_palloc(r->pool, INITIATE_BODY_MAX + 1);
    if (ap_should_client_block(r)) {
        while ((n = ap_get_client_block(r, buf + len, INITIATE_BODY_MAX + 1 - len)) > 0) {
            len += (apr_size_t)n;
            if (len > INITIATE_BODY_MAX) {
                return NULL;
            }
        }
        if (n < 0) {
            return NULL;
        }
    }
    buf[len] = '\0';
    return tpo_query_parse(r->pool, buf, INITIATE_PARAMS_MAX);
}

/* A login_hint to pass on: at most LOGIN_HINT_MAX bytes, no control
 * characters. */
static int login_hint_ok(const char *s)
{
    const unsigned char *c;

    if (strlen(s) > LOGIN_HINT_MAX) {
        return 0;
    }
    for (c = (const unsigned char *)s; *c; c++) {
        if (*c < 0x20 || *c == 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* <redirect URI>/initiate-login (OpenID Connect Core 1.0, section 4): a
 * login initiated by the provider or another party, with iss (this
 * provider's issuer, exactly), login_hint (passed on) and target_link_uri
 * (where the user lands after the login: checked like every return URL,
 * a local path or an absolute URL on this server's own origin; default /).
 * GET or POST (a form). It only starts a login at the provider: the user
 * still authenticates there and the answer returns to this browser's own
 * pending login, so another site can make a browser log in (as the user it
 * is), never as someone else (README.md, "Third-party-initiated login"). */
int tpa_login_initiate_endpoint(request_rec *r, tpa_provider_conf *pc)
{
    const tpo_provider_meta *meta;
    const char *iss, *hint, *target, *local = "/", *issuer;
    apr_table_t *q;
    tpa_answer fail;
    tpa_rt_status rs;
    int dup = 0, rc;

    if (r->method_number != M_GET && r->method_number != M_POST) {
        apr_table_setn(r->err_headers_out, "Allow", "GET, POST");
        return tpa_page_error(r, HTTP_METHOD_NOT_ALLOWED, "Method not allowed",
                              "Initiating a login takes GET or POST.");
    }
    if (!(q = initiate_params(r))) {
        return initiate_refuse(r, pc, "The login request could not be read.",
                               "malformed query or form (a POST must be "
                               "application/x-www-form-urlencoded, at most 8 KB)");
    }
    iss = tpo_query_get_unique(q, "iss", &dup);
    if (!iss || dup || !*iss) {
        return initiate_refuse(r, pc, "The login request names no issuer.",
                               dup ? "iss repeated" : "iss missing");
    }
    hint = tpo_query_get_unique(q, "login_hint", &dup);
    if (dup || (hint && !login_hint_ok(hint))) {
        return initiate_refuse(r, pc, "The login request's login_hint cannot be used.",
                               dup ? "login_hint repeated"
                                   : "login_hint too long or with control characters");
    }
    if (hint && !*hint) {
        hint = NULL;
    }
    target = tpo_query_get_unique(q, "target_link_uri", &dup);
    if (dup) {
        return initiate_refuse(r, pc, "The login request's target is not valid.",
                               "target_link_uri repeated");
    }
    if (target && *target) {
        local = tpo_return_url_is_local(target) ? target
                                                : tpo_url_on_origin(target, tpa_request_url(r, ""));
        if (!local || !tpo_return_url_is_local(local) ||
            strlen(local) > TPO_PENDING_RETURN_URL_MAX) {
            return initiate_refuse(
                r, pc, "The login request's target is not a page of this site.",
                apr_psprintf(r->pool,
                             "target_link_uri %s is not local (nor on this server's origin), "
                             "or longer than %d bytes",
                             ap_escape_logitem(r->pool, target), TPO_PENDING_RETURN_URL_MAX));
        }
    }
    rs = tpa_provider_meta_get(r, pc, &meta);
    if (rs != TPA_RT_OK) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            TPO_APLOGNO(00852) "provider %s: initiate-login: provider metadata unavailable",
            pc->name);
        return tpa_page_error(r, rs == TPA_RT_TIMEOUT ? HTTP_GATEWAY_TIME_OUT : HTTP_BAD_GATEWAY,
                              "Login unavailable",
                              "The authorization server's metadata could not be loaded. "
                              "Please try again in a moment.");
    }
    issuer = meta->issuer ? meta->issuer : pc->issuer;
    if (!issuer || strcmp(iss, issuer) != 0) {
        return initiate_refuse(r, pc, "The login request names another authorization server.",
                               apr_psprintf(r->pool, "iss %s is not the provider's issuer %s",
                                            ap_escape_logitem(r->pool, iss),
                                            issuer ? issuer : "(none configured)"));
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  TPO_APLOGNO(00853) "provider %s: third-party-initiated login%s, target %s",
                  pc->name, hint ? " with login_hint" : "", ap_escape_logitem(r->pool, local));
    rc = login_start(r, pc, local, hint, 0, &fail);
    return rc == HTTP_MOVED_TEMPORARILY ? rc : tpa_page_answer(r, &fail);
}

static int fail(request_rec *r, const tpa_provider_conf *pc, int status, int level,
                const char *title, const char *page_detail, const char *log_msg)
{
    ap_log_rerror(APLOG_MARK, level, 0, r, TPO_APLOGNO(00025) "provider %s: login failed: %s",
                  pc->name, log_msg);
    return tpa_page_error(r, status, title, page_detail);
}

/* The pending login for `state`, in this order: it must be in this
 * browser's login cookie and open (so a stranger who only knows the state
 * changes nothing), then it is consumed: a one-use marker added atomically
 * under the state, kept until no server could still accept the cookie
 * (its expiry plus the clock skew, at least TPO_PENDING_COOKIE_GRACE_SEC).
 * This provider's login cookie for the state is deleted when it cannot be
 * used, or once the marker is written (or was already there); when the
 * store is unavailable it stays, so the same callback can be retried. */
static int take_pending(request_rec *r, tpa_provider_conf *pc, const char *state, tpo_pending *pl)
{
    const char *name = NULL;
    tpo_pending_result res;
    tpo_pending_binding bind;
    apr_interval_time_t keep;
    apr_status_t rv;

    if (login_binding(r, pc, &bind) != APR_SUCCESS) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            TPO_APLOGNO(00079) "provider %s: login failed: cannot compute the login cookie binding "
                               "(OpenSSL)",
            pc->name);
        return tpa_page_error(r, HTTP_INTERNAL_SERVER_ERROR, "Login failed",
                              "The login could not be completed. Please try again later.");
    }
    res = tpo_pending_find(r->pool, &tpa_login_key, &bind, apr_table_get(r->headers_in, "Cookie"),
                           pc->cookie_name, state, pc->name, r->request_time, pl, &name);
    /* a login of another provider (same cookie name) may still finish there */
    if (res != TPO_PENDING_OK && res != TPO_PENDING_NO_COOKIE &&
        res != TPO_PENDING_OTHER_PROVIDER && name) {
        tpa_set_login_cookie(r, pc, name, "", 0);
    }
    switch (res) {
    case TPO_PENDING_OK:
        break;
    case TPO_PENDING_NO_COOKIE:
        return fail(r, pc, HTTP_BAD_REQUEST, APLOG_WARNING, "Login started elsewhere",
                    "This login was started in another browser (or this browser's cookies "
                    "were cleared, or too many logins were started at once). Please start "
                    "again from the page you wanted to open.",
                    tpo_pending_result_text(res));
    case TPO_PENDING_EXPIRED:
        return fail(r, pc, HTTP_BAD_REQUEST, APLOG_WARNING, "Login expired",
                    "The login took too long. Please start again.", tpo_pending_result_text(res));
    case TPO_PENDING_OTHER_PROVIDER:
        return fail(r, pc, HTTP_BAD_REQUEST, APLOG_WARNING, "Bad login response",
                    "This login belongs to another provider.",
                    apr_psprintf(r->pool, "state was issued for provider %s, callback of %s",
                                 ap_escape_logitem(r->pool, pl->provider), pc->name));
    default:
        return fail(r, pc, HTTP_BAD_REQUEST, APLOG_WARNING, "Bad login response",
                    "The login data in this browser is not valid. Please start again from "
                    "the page you wanted to open.",
                    tpo_pending_result_text(res));
    }
    /* a server whose clock is behind still accepts the cookie a while after
     * pl->expires: the marker outlives that */
    keep = apr_time_from_sec(pc->clock_skew > TPO_PENDING_COOKIE_GRACE_SEC
                                 ? pc->clock_skew
                                 : TPO_PENDING_COOKIE_GRACE_SEC);
    rv = tpa_login_consume(r, state, pl->expires + keep);
    if (rv == APR_EEXIST) {
        tpa_set_login_cookie(r, pc, name, "", 0);
        return fail(r, pc, HTTP_BAD_REQUEST, APLOG_WARNING, "Login expired or already used",
                    "This login link was already used. Please start again from the page "
                    "you wanted to open.",
                    "state already used (replay of the callback?)");
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, rv, r,
            TPO_APLOGNO(
                00026) "provider %s: login failed: cannot record the state as used "
                       "(pending-login cache); the login cookie is kept, the callback can be "
                       "retried",
            pc->name);
        return tpa_page_error(r, HTTP_SERVICE_UNAVAILABLE, "Session store unavailable",
                              "The login cannot be completed right now. Please reload this "
                              "page in a moment.");
    }
    tpa_set_login_cookie(r, pc, name, "", 0);
    return OK;
}

/* Fetch userinfo with the access token (providers without ID tokens). */
static int fetch_userinfo(request_rec *r, tpa_provider_conf *pc, const char *url,
                          const char *access_token, const tpo_dpop_key *dpop, json_t **claims)
{
    tpo_http_response resp;
    tpo_http_result res;
    json_error_t jerr;
    json_t *j;
    apr_time_t t0 = apr_time_now();

    res = tpa_provider_resource_get(r, pc, url, access_token, dpop, &resp);
    tpa_count_call(TPO_EP_USERINFO, t0, res != TPO_HTTP_OK || resp.status >= 500);
    if (res != TPO_HTTP_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      TPO_APLOGNO(00027) "provider %s: login failed: userinfo endpoint %s: %s",
                      pc->name, url, resp.error ? resp.error : "unreachable");
        return res == TPO_HTTP_TIMEOUT ? HTTP_GATEWAY_TIME_OUT : HTTP_BAD_GATEWAY;
    }
    if (resp.status != 200) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            TPO_APLOGNO(
                00028) "provider %s: login failed: userinfo endpoint %s answered HTTP %d%s%s",
            pc->name, url, resp.status, resp.www_authenticate ? ": " : "",
            resp.www_authenticate ? ap_escape_logitem(r->pool, resp.www_authenticate) : "");
        return HTTP_BAD_GATEWAY;
    }
    j = json_loadb(resp.body, resp.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            TPO_APLOGNO(
                00029) "provider %s: login failed: userinfo endpoint %s did not return a JSON "
                       "object",
            pc->name, url);
        return HTTP_BAD_GATEWAY;
    }
    apr_pool_cleanup_register(r->pool, j, tpo_json_cleanup, apr_pool_cleanup_null);
    *claims = j;
    return OK;
}

/* Step 1, tokens: the token request for the code (with the login's
 * code_verifier and redirect_uri), and its response parsed into *tres. A
 * timeout answers 504, an unreachable endpoint, an error response or an
 * unusable response 502; each writes its page and returns DONE. */
static int request_tokens(request_rec *r, tpa_provider_conf *pc, const tpo_provider_meta *meta,
                          const tpo_pending *pl, const char *code, const tpo_dpop_key *dpop,
                          tpo_token_response *tres)
{
    apr_array_header_t *params = apr_array_make(r->pool, 8, sizeof(const char *));
    tpo_http_response resp;
    tpo_http_result hr;
    tpo_token_result tr;
    const char *detail = NULL;

#define PARAM(n, v)                                                                                \
    do {                                                                                           \
        APR_ARRAY_PUSH(params, const char *) = (n);                                                \
        APR_ARRAY_PUSH(params, const char *) = (v);                                                \
    } while (0)
    PARAM("grant_type", "authorization_code");
    PARAM("code", code);
    PARAM("redirect_uri", pl->redirect_uri);
    PARAM("code_verifier", pl->code_verifier);
#undef PARAM
    hr = tpa_provider_token_post(r, pc, meta->token_endpoint, params, dpop, &resp);
    if (hr == TPO_HTTP_TIMEOUT) {
        return fail(r, pc, HTTP_GATEWAY_TIME_OUT, APLOG_ERR, "Login timed out",
                    "The authorization server did not answer in time. Please try again.",
                    apr_psprintf(r->pool, "token endpoint %s did not answer within %d ms",
                                 meta->token_endpoint, pc->timeout_ms));
    }
    if (hr != TPO_HTTP_OK) {
        return fail(r, pc, HTTP_BAD_GATEWAY, APLOG_ERR, "Login failed",
                    "The authorization server could not be reached. Please try again later.",
                    apr_psprintf(r->pool, "token endpoint %s unreachable: %s", meta->token_endpoint,
                                 resp.error ? resp.error : "error"));
    }
    tr = tpo_token_response_parse(r->pool, resp.body, resp.len, resp.status, apr_time_now(), tres,
                                  &detail);
    if (tr == TPO_TOKEN_ERROR_RESPONSE) {
        return fail(r, pc, HTTP_BAD_GATEWAY, APLOG_ERR, "Login failed",
                    apr_psprintf(r->pool, "The authorization server refused to issue tokens: %s",
                                 tres->error),
                    apr_psprintf(r->pool, "token endpoint answered HTTP %d error=%s%s%s",
                                 resp.status, ap_escape_logitem(r->pool, tres->error),
                                 tres->error_description ? ": " : "",
                                 tres->error_description
                                     ? ap_escape_logitem(r->pool, tres->error_description)
                                     : ""));
    }
    if (tr != TPO_TOKEN_OK) {
        return fail(r, pc, HTTP_BAD_GATEWAY, APLOG_ERR, "Login failed",
                    "The authorization server sent an unusable token response.",
                    apr_psprintf(r->pool, "token response (HTTP %d) unusable: %s", resp.status,
                                 detail ? detail : "malformed"));
    }
    if (!dpop && tres->token_type && !strcmp(tres->token_type, "DPoP")) {
        return fail(r, pc, HTTP_BAD_GATEWAY, APLOG_ERR, "Login failed",
                    "The authorization server sent an unusable token response.",
                    "token response: a DPoP-bound token, but no DPoP proof was sent "
                    "(TPOAuthDPoP off)");
    }
    return OK;
}

/* What the validated ID token says about the authentication (step-up). */
typedef struct idt_auth {
    const char *op_sid;   /* "sid", or NULL */
    const char *acr;      /* "acr", or NULL */
    apr_time_t auth_time; /* "auth_time"; 0 absent */
} idt_auth;

/* Step 2, claims: the validated ID token's claims (required when openid was
 * asked for, i.e. the login has a nonce), merged with userinfo when the
 * provider has a userinfo endpoint and TPOAuthUserinfo asks for it or there
 * is no ID token; userinfo must name the same subject. OK with *claims, or
 * DONE with the failure page written. */
static int collect_claims(request_rec *r, tpa_provider_conf *pc, const tpo_provider_meta *meta,
                          const tpo_pending *pl, const tpo_token_response *tres,
                          const tpo_dpop_key *dpop, json_t **claims, idt_auth *ia)
{
    json_t *uclaims = NULL;
    const char **op_sid = &ia->op_sid;
    int rc;

    *claims = NULL;
    memset(ia, 0, sizeof(*ia));
    if (tres->id_token) {
        rc = tpa_provider_validate_id_token(r, pc, meta, tres->id_token, pl->nonce, claims);
        if (rc != OK) {
            return tpa_page_error(r, rc, "Login failed",
                                  rc == HTTP_UNAUTHORIZED
                                      ? "The identity token from the authorization server is not "
                                        "valid. Please try again."
                                      : "The authorization server's keys could not be loaded.");
        }
        /* the provider's session (for a logout from the provider): from the
         * ID token only, before userinfo or the claim filters touch it */
        *op_sid = json_string_value(json_object_get(*claims, "sid"));
        *op_sid = *op_sid && **op_sid ? apr_pstrdup(r->pool, *op_sid) : NULL;
        /* acr and auth_time: the ID token's own, for TPOAuthRequireACR and
         * TPOAuthMaxAuthAge (a claim of another type counts as absent) */
        {
            const char *acr;
            double at;
            if (tpo_jwt_claim_string(*claims, "acr", &acr) == 1 && *acr) {
                ia->acr = apr_pstrdup(r->pool, acr);
            }
            if (tpo_jwt_claim_time(*claims, "auth_time", &at) == 1 && at > 0 && at < 1e11) {
                ia->auth_time = apr_time_from_sec((apr_time_t)at);
            }
        }
    }
    else if (pl->nonce) {
        return fail(r, pc, HTTP_BAD_GATEWAY, APLOG_ERR, "Login failed",
                    "The authorization server sent no identity token.",
                    "token response has no id_token although openid was requested");
    }
    if (meta->userinfo_endpoint && (pc->userinfo || !*claims)) {
        if ((rc = fetch_userinfo(r, pc, meta->userinfo_endpoint, tres->access_token, dpop,
                                 &uclaims)) != OK) {
            return tpa_page_error(r, rc, "Login failed",
                                  "The user's profile could not be loaded from the "
                                  "authorization server.");
        }
        if (!*claims) {
            *claims = uclaims;
        }
        else if (!tpo_claims_merge(*claims, uclaims)) {
            return fail(r, pc, HTTP_UNAUTHORIZED, APLOG_ERR, "Login failed",
                        "The user could not be identified.",
                        "userinfo sub differs from the ID token's sub");
        }
    }
    if (!*claims) {
        return fail(r, pc, HTTP_BAD_GATEWAY, APLOG_ERR, "Login failed",
                    "The user could not be identified.",
                    "no ID token and no userinfo endpoint (TPOAuthUserinfoEndpoint)");
    }
    return OK;
}

/* Step 3, user: the user name from TPOAuthRemoteUserClaim (a non-empty
 * scalar, not a boolean), rewritten by its regex when one is configured;
 * then the claims are filtered (TPOAuthClaimsAllow/Deny) for the session.
 * OK with *user, or DONE (401 page: the user cannot be identified). */
static int map_user(request_rec *r, tpa_provider_conf *pc, json_t *claims, const char **user)
{
    json_t *uv = json_object_get(claims, pc->remote_user_claim);

    *user = tpo_claims_scalar(r->pool, uv);
    if (!*user || !**user || json_is_boolean(uv)) {
        return fail(r, pc, HTTP_UNAUTHORIZED, APLOG_ERR, "Login failed",
                    "The user could not be identified.",
                    apr_psprintf(r->pool,
                                 "claim '%s' (TPOAuthRemoteUserClaim) is missing or "
                                 "not a string",
                                 pc->remote_user_claim));
    }
    if (pc->remote_user_regex) {
        ap_regmatch_t m[AP_MAX_REG_MATCH];
        if (!ap_regexec(pc->remote_user_regex, *user, AP_MAX_REG_MATCH, m, 0)) {
            *user = ap_pregsub(r->pool, pc->remote_user_replace, *user, AP_MAX_REG_MATCH, m);
        }
        if (!*user || !**user) {
            return fail(r, pc, HTTP_UNAUTHORIZED, APLOG_ERR, "Login failed",
                        "The user could not be identified.",
                        "TPOAuthRemoteUserClaim rewrite gave an empty user name");
        }
    }
    tpo_claims_filter(claims, pc->claims_allow, pc->claims_deny);
    return OK;
}

/* Step 4, session: the session record (times, tokens, claims, the
 * pre-rendered identity) stored under a fresh id by the session service,
 * the session cookie, and the redirect back to the page the login started
 * from (302). A record too large for the cache answers 500, a store
 * failure 503 (DONE, page written). */
static int open_session(request_rec *r, tpa_provider_conf *pc, const tpo_pending *pl,
                        const tpo_token_response *tres, const tpo_dpop_key *dpop, json_t *claims,
                        const char *user, const idt_auth *ia)
{
    const char *op_sid = ia->op_sid;
    tpo_session s;
    const char *sid;
    apr_size_t rec_len = 0;
    apr_status_t rv;

    memset(&s, 0, sizeof(s));
    s.created = apr_time_now();
    s.last_seen = s.created;
    s.expires = s.created + apr_time_from_sec(pc->session_max_age);
    s.at_obtained = s.created;
    s.at_expires = tres->expires_at ? tres->expires_at
                                    : s.created + apr_time_from_sec(pc->default_token_lifetime);
    s.provider = pc->name;
    s.user = tpo_claims_env_value(r->pool, user);
    s.sub = json_string_value(json_object_get(claims, "sub"));
    s.op_sid = op_sid;
    s.acr = ia->acr;
    s.auth_time = ia->auth_time;
    s.access_token = tres->access_token;
    s.refresh_token = tres->refresh_token;
    s.id_token = tres->id_token;
    s.scope = tres->scope;
    s.dpop_key = dpop ? tpo_dpop_key_export(r->pool, dpop) : NULL;
    if (dpop && !s.dpop_key) {
        return fail(r, pc, HTTP_INTERNAL_SERVER_ERROR, APLOG_ERR, "Login failed",
                    "The session could not be created.", "the DPoP key cannot be exported");
    }
    s.claims = json_dumps(claims, JSON_COMPACT);
    if (s.claims) {
        char *c = apr_pstrdup(r->pool, s.claims);
        free((void *)s.claims);
        s.claims = c;
    }
    tpa_session_render(r->pool, pc, &s, claims);
    rv = tpa_session_create(r, &s, &sid, &rec_len);
    if (rv == APR_ENOSPC) {
        return fail(r, pc, HTTP_INTERNAL_SERVER_ERROR, APLOG_ERR, "Session too large",
                    "Your session is too large to be stored. The administrator has been told.",
                    apr_psprintf(r->pool,
                                 "session of %s (%" APR_SIZE_T_FMT " bytes) does not "
                                 "fit in the session cache: raise TPOAuthCacheSize",
                                 s.user, rec_len));
    }
    if (rv == APR_EGENERAL) {
        return fail(r, pc, HTTP_INTERNAL_SERVER_ERROR, APLOG_ERR, "Login failed",
                    "No randomness available.", "RAND_bytes failed");
    }
    if (rv != APR_SUCCESS) {
        return fail(r, pc, HTTP_SERVICE_UNAVAILABLE, APLOG_ERR, "Session store unavailable",
                    "Your session could not be stored. Please try again later.",
                    "session cache write failed");
    }
    /* every session is reachable by a logout elsewhere, or it is not handed out */
    if (tpa_session_index_note(r, pc, sid, &s) != APR_SUCCESS) {
        tpa_session_delete(r, pc, sid);
        return fail(r, pc, HTTP_SERVICE_UNAVAILABLE, APLOG_ERR, "Session store unavailable",
                    "Your session could not be stored. Please try again later.",
                    "session index write failed");
    }
    /* a fresh id at every login; the browser only ever holds this id */
    tpa_set_cookie(r, pc, pc->cookie_name, sid, -1);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  TPO_APLOGNO(00032) "login of %s through provider %s",
                  ap_escape_logitem(r->pool, s.user), pc->name);
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "Location",
                   tpo_return_url_is_local(pl->return_url) ? pl->return_url : "/");
    return HTTP_MOVED_TEMPORARILY;
}

/* The code of an accepted callback becomes a session: tokens -> claims ->
 * user -> session. Each step writes its own failure page (DONE). */
/* Step 3b, step-up: a login started by a location that demands an
 * authentication (TPOAuthRequireACR, TPOAuthMaxAuthAge; the demand travels
 * in the pending login) must bring an ID token that meets it, and when the
 * browser already has a session, the same user (sub) must have logged in:
 * another user never takes a session over. Either failure: 403 page, log
 * line, the current session stays as it was. OK with *old_sid the session
 * the new one replaces (NULL: none). */
static int stepup_verify(request_rec *r, tpa_provider_conf *pc, const tpo_pending *pl,
                         const idt_auth *ia, json_t *claims, const char *user, const char **old_sid)
{
    tpo_stepup_req req;
    tpo_session *old;
    const char *sub;
    int lacks;

    *old_sid = NULL;
    tpo_stepup_req_parse(r->pool, pl->acr_required, pl->max_auth_age > 0 ? pl->max_auth_age : -1,
                         &req);
    if (!tpo_stepup_demands(&req)) {
        return OK;
    }
    lacks = tpo_stepup_check(&req, ia->acr, ia->auth_time, apr_time_now(),
                             apr_time_from_sec(pc->clock_skew));
    if (lacks) {
        return fail(
            r, pc, HTTP_FORBIDDEN, APLOG_WARNING, "Stronger authentication required",
            "The authorization server did not confirm the authentication this page requires. "
            "Your session is unchanged; please try again and choose the stronger sign-in "
            "method.",
            apr_psprintf(
                r->pool,
                "step-up for %s refused: the ID token %s%s%s (the location demands %s%s%s)",
                ap_escape_logitem(r->pool, user),
                lacks & TPO_STEPUP_ACR
                    ? (ia->acr ? apr_psprintf(r->pool, "has acr %s",
                                              tpo_jwt_quote(r->pool, 64, ia->acr))
                               : "has no acr")
                    : "",
                (lacks & TPO_STEPUP_ACR) && (lacks & TPO_STEPUP_AGE) ? " and " : "",
                lacks & TPO_STEPUP_AGE
                    ? (ia->auth_time
                           ? apr_psprintf(r->pool, "has an auth_time %" APR_TIME_T_FMT " s old",
                                          apr_time_sec(apr_time_now() - ia->auth_time))
                           : "has no auth_time")
                    : "",
                req.acr ? "acr one of " : "", req.acr ? pl->acr_required : "",
                req.max_auth_age >= 0 ? apr_psprintf(r->pool, "%sauth_time within %d s",
                                                     req.acr ? ", " : "", req.max_auth_age)
                                      : ""));
    }
    old = apr_pcalloc(r->pool, sizeof(*old));
    if (tpa_session_load(r, pc, old) != TPA_SESS_OK) {
        return OK; /* no session (any more): this login opens one */
    }
    sub = json_string_value(json_object_get(claims, "sub"));
    if (old->sub ? !sub || strcmp(old->sub, sub) != 0 : strcmp(old->user, user) != 0) {
        return fail(r, pc, HTTP_FORBIDDEN, APLOG_WARNING, "Login refused",
                    "You signed in as a different user than the one of your current session. "
                    "Your session was kept. To change the user, log out first.",
                    apr_psprintf(r->pool,
                                 "step-up for the session of %s refused: %s logged in (another "
                                 "subject); the session is kept",
                                 ap_escape_logitem(r->pool, old->user),
                                 ap_escape_logitem(r->pool, user)));
    }
    *old_sid = tpa_req_get(r)->sid;
    return OK;
}

static int exchange_code(request_rec *r, tpa_provider_conf *pc, const tpo_provider_meta *meta,
                         const tpo_pending *pl, const char *code)
{
    tpo_token_response tres;
    json_t *claims;
    const char *user, *old_sid;
    idt_auth ia;
    tpo_dpop_key *dpop = NULL;
    int rc;

    if (pc->dpop) {
        /* RFC 9449: an ephemeral key for this session, of an algorithm the provider takes */
        const char *alg = tpo_dpop_alg_choose(meta->dpop_algs), *err = NULL;
        if (!alg) {
            return fail(r, pc, HTTP_BAD_GATEWAY, APLOG_ERR, "Login failed",
                        "The authorization server accepts no DPoP key this server can make.",
                        apr_psprintf(r->pool,
                                     "TPOAuthDPoP: dpop_signing_alg_values_supported (%s) lists "
                                     "neither ES256 nor EdDSA",
                                     ap_escape_logitem(r->pool, meta->dpop_algs)));
        }
        if (tpo_dpop_key_generate(r->pool, alg, &dpop, &err) != APR_SUCCESS) {
            return fail(r, pc, HTTP_INTERNAL_SERVER_ERROR, APLOG_ERR, "Login failed",
                        "The login cannot be completed right now.",
                        apr_psprintf(r->pool, "DPoP key: %s", err));
        }
    }
    if ((rc = request_tokens(r, pc, meta, pl, code, dpop, &tres)) != OK) {
        return rc;
    }
    if (dpop && (!tres.token_type || strcmp(tres.token_type, "DPoP") != 0)) {
        /* RFC 9449 5: the server may issue a Bearer token all the same */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      TPO_APLOGNO(00902) "provider %s: a Bearer token despite the DPoP proof; the "
                                         "session keeps no DPoP key",
                      pc->name);
        dpop = NULL;
    }
    if ((rc = collect_claims(r, pc, meta, pl, &tres, dpop, &claims, &ia)) != OK ||
        (rc = map_user(r, pc, claims, &user)) != OK ||
        (rc = stepup_verify(r, pc, pl, &ia, claims, user, &old_sid)) != OK) {
        return rc;
    }
    rc = open_session(r, pc, pl, &tres, dpop, claims, user, &ia);
    if (rc == HTTP_MOVED_TEMPORARILY && old_sid) {
        /* the step-up session replaces the old one (a fresh id for the
         * stronger authentication): one session per browser */
        tpa_session_delete(r, pc, old_sid);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      TPO_APLOGNO(00952) "step-up of %s through provider %s: the session "
                                         "continues under a new id (acr %s)",
                      ap_escape_logitem(r->pool, user), pc->name,
                      ia.acr ? tpo_jwt_quote(r->pool, 64, ia.acr) : "-");
    }
    return rc;
}

static int callback(request_rec *r, tpa_provider_conf *pc)
{
    apr_table_t *q;
    const char *state, *code, *err, *iss;
    int dup = 0, dup2 = 0, rc;
    tpo_pending pl;
    const tpo_provider_meta *meta;
    tpa_rt_status rs;

    if (strcmp(r->method, "GET") != 0) {
        return fail(r, pc, HTTP_METHOD_NOT_ALLOWED, APLOG_WARNING, "Method not allowed",
                    "The login callback only accepts GET.",
                    apr_psprintf(r->pool, "callback with method %s", r->method));
    }
    q = tpo_query_parse(r->pool, r->args ? r->args : "", MAX_CALLBACK_PARAMS);
    if (!q) {
        return fail(r, pc, HTTP_BAD_REQUEST, APLOG_WARNING, "Bad login response",
                    "The login response could not be read.",
                    "malformed query string at the redirect URI");
    }
    state = tpo_query_get_unique(q, "state", &dup);
    if (!state || dup || !*state) {
        return fail(r, pc, HTTP_BAD_REQUEST, APLOG_WARNING, "Bad login response",
                    "The login response has no state. Please start again from the page "
                    "you wanted to open.",
                    dup ? "state parameter repeated" : "state parameter missing");
    }
    /* a response with neither a code nor an error cannot finish the login:
     * refused before the state is spent, so the real answer still can */
    code = tpo_query_get_unique(q, "code", &dup);
    if (!tpo_query_get_unique(q, "error", &dup2) && !dup2 && (!code || dup || !*code)) {
        return fail(r, pc, HTTP_BAD_REQUEST, APLOG_WARNING, "Bad login response",
                    "The login response has no authorization code.",
                    dup ? "code parameter repeated" : "code parameter missing");
    }
    if ((rc = take_pending(r, pc, state, &pl)) != OK) {
        return rc;
    }
    tpa_count(TPO_M_LOGIN_TAKEN); /* a started login ends here, one way or another */
    rs = tpa_provider_meta_get(r, pc, &meta);
    if (rs != TPA_RT_OK) {
        return fail(r, pc, rs == TPA_RT_TIMEOUT ? HTTP_GATEWAY_TIME_OUT : HTTP_BAD_GATEWAY,
                    APLOG_ERR, "Login unavailable",
                    "The authorization server's metadata could not be loaded.",
                    "provider metadata unavailable");
    }
    /* RFC 9207: the response names its issuer; a mismatch is a mix-up */
    iss = tpo_query_get_unique(q, "iss", &dup);
    if (dup || (iss && meta->issuer && strcmp(iss, meta->issuer) != 0) ||
        (!iss && meta->iss_parameter_supported)) {
        return fail(r, pc, HTTP_BAD_REQUEST, APLOG_WARNING, "Bad login response",
                    "The login response came from an unexpected issuer.",
                    iss ? "iss parameter does not match the provider's issuer"
                        : "iss parameter missing though the provider announces it");
    }
    err = tpo_query_get_unique(q, "error", &dup);
    if (err) {
        const char *desc = tpo_query_get_unique(q, "error_description", &dup);
        if (!desc) {
            desc = tpo_query_get_unique(q, "errorDescription", &dup); /* PayoutID */
        }
        int status = !strcmp(err, "access_denied") ? HTTP_FORBIDDEN : HTTP_UNAUTHORIZED;
        apr_table_setn(r->notes, LOGIN_ERROR_NOTE, status == HTTP_FORBIDDEN ? "d" : "e");
        ap_log_rerror(
            APLOG_MARK, APLOG_WARNING, 0, r,
            TPO_APLOGNO(
                00033) "provider %s: login failed: the authorization server answered error=%s%s%s",
            pc->name, ap_escape_logitem(r->pool, err), desc ? ": " : "",
            desc ? ap_escape_logitem(r->pool, desc) : "");
        return tpa_page_error(r, status, "Login refused",
                              apr_psprintf(r->pool,
                                           "The authorization server refused the "
                                           "login: %s%s%s",
                                           err, desc ? " (" : "",
                                           desc ? apr_pstrcat(r->pool, desc, ")", NULL) : ""));
    }
    code = tpo_query_get_unique(q, "code", &dup);
    if (code) {
        const unsigned char *c;
        for (c = (const unsigned char *)code; *c; c++) {
            if (*c < 0x21 || *c > 0x7e) {
                return fail(r, pc, HTTP_BAD_REQUEST, APLOG_WARNING, "Bad login response",
                            "The login response could not be used.",
                            "code parameter has characters outside printable ASCII");
            }
        }
    }
    if (!code || dup || !*code) {
        return fail(r, pc, HTTP_BAD_REQUEST, APLOG_WARNING, "Bad login response",
                    "The login response has no authorization code.",
                    dup ? "code parameter repeated" : "code parameter missing");
    }
    return exchange_code(r, pc, meta, &pl, code);
}

/* Why a callback failed, for the metrics: the provider's error, else what
 * the answer's status says. */
static tpo_login_fail fail_cause(request_rec *r, int rc)
{
    const char *err = apr_table_get(r->notes, LOGIN_ERROR_NOTE);
    int status = rc == DONE ? r->status : rc;

    if (err) {
        return *err == 'd' ? TPO_LF_ACCESS_DENIED : TPO_LF_PROVIDER_ERROR;
    }
    switch (status) {
    case HTTP_BAD_REQUEST:
    case HTTP_METHOD_NOT_ALLOWED:
        return TPO_LF_BAD_CALLBACK;
    case HTTP_FORBIDDEN:
        return TPO_LF_REFUSED;
    case HTTP_UNAUTHORIZED:
        return TPO_LF_TOKEN;
    case HTTP_BAD_GATEWAY:
    case HTTP_GATEWAY_TIME_OUT:
        return TPO_LF_PROVIDER;
    case HTTP_SERVICE_UNAVAILABLE:
        return TPO_LF_SESSION_STORE;
    default:
        return TPO_LF_OTHER;
    }
}

int tpa_login_callback(request_rec *r, tpa_provider_conf *pc)
{
    int rc = callback(r, pc);

    if (rc == HTTP_MOVED_TEMPORARILY) {
        tpa_count(TPO_M_LOGIN_COMPLETED);
    }
    else {
        tpa_count((tpo_metric)(TPO_M_LOGIN_FAILED + fail_cause(r, rc)));
    }
    return rc;
}
