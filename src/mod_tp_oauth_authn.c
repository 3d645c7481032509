/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* check_authn for `AuthType tp-oauth`: the per-request hot path (session
 * cookie -> one cache lookup -> flat record -> REMOTE_USER and the
 * pre-rendered environment), and the start of a login for a navigation that
 * has no session. */
#include <string.h>
#include <apr_strings.h>
#include "mod_tp_oauth_private.h"
#include "tpo_cookie.h"
#include "tpo_nav.h"
#include "tpo_pending.h"
#include "tpo_pkce.h"
#include "tpo_provider.h"
#include "tpo_session.h"
#include "tpo_url.h"

#define SID_LEN 43   /* 32 random bytes, base64url */

static int is_b64url_token(const char *s, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
              || c == '-' || c == '_')) {
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

tpo_sess_result tpo_session_load(request_rec *r, tpo_provider_conf *pc, tpo_session *s)
{
    const char *sid = cookie_id(r, pc->cookie_name);
    char key[sizeof(TPO_KEY_SESSION) + SID_LEN];
    char *val;
    apr_size_t vlen;
    apr_status_t rv;
    apr_time_t now;

    if (!sid) {
        return TPO_SESS_NONE;
    }
    tpo_req_get(r)->sid = sid;
    memcpy(key, TPO_KEY_SESSION, sizeof(TPO_KEY_SESSION) - 1);
    memcpy(key + sizeof(TPO_KEY_SESSION) - 1, sid, SID_LEN + 1);
    rv = tpo_cache_get(tpo_session_cache, key, r->pool, &val, &vlen);
    if (rv == APR_NOTFOUND) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "session cookie names no live session (expired, evicted or logged out)");
        return TPO_SESS_ENDED;
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "session cache lookup failed");
        return TPO_SESS_CACHE_DOWN;
    }
    if (tpo_session_decode(r->pool, val, vlen, s) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "session record is corrupt; ignoring it");
        return TPO_SESS_ENDED;
    }
    if (strcmp(s->provider, pc->name) != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "session belongs to provider %s, this location wants %s",
                      s->provider, pc->name);
        return TPO_SESS_NONE;
    }
    now = r->request_time;
    if (s->expires && now >= s->expires) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "session of %s ended: maximum lifetime (TPOAuthSessionMaxAge) reached",
                      ap_escape_logitem(r->pool, s->user));
        tpo_session_delete(r, pc, sid);
        return TPO_SESS_ENDED;
    }
    if (pc->inactivity_timeout && s->last_seen
        && now - s->last_seen > apr_time_from_sec(pc->inactivity_timeout)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "session of %s ended: inactive for longer than "
                      "TPOAuthSessionInactivityTimeout (%d s)",
                      ap_escape_logitem(r->pool, s->user), pc->inactivity_timeout);
        tpo_session_delete(r, pc, sid);
        return TPO_SESS_ENDED;
    }
    if (pc->inactivity_timeout) {
        /* the activity mark is written at most once per interval, not per request */
        apr_interval_time_t every = apr_time_from_sec(pc->inactivity_timeout) / 10;
        if (every > apr_time_from_sec(60)) {
            every = apr_time_from_sec(60);
        }
        if (now - s->last_seen >= every) {
            tpo_session_touch(r, pc, sid);
        }
    }
    return TPO_SESS_OK;
}

static int scope_has_openid(const char *scope)
{
    const char *s = scope;
    while (s && (s = strstr(s, "openid")) != NULL) {
        if ((s == scope || s[-1] == ' ') && (s[6] == ' ' || s[6] == '\0')) {
            return 1;
        }
        s += 6;
    }
    return 0;
}

/* The redirect_uri to send: configured absolute URL, or the configured path
 * on this server. */
static const char *redirect_uri_for(request_rec *r, tpo_provider_conf *pc)
{
    if (pc->redirect_uri[0] == '/') {
        return ap_construct_url(r->pool, pc->redirect_uri, r);
    }
    return pc->redirect_uri;
}

int tpo_login_start(request_rec *r, tpo_provider_conf *pc)
{
    const tpo_provider_meta *meta;
    tpo_rt_status rs;
    tpo_pending pl;
    const char *browser, *login_cookie, *dropped = NULL, *list, *url;
    char *state, *val, *blist = NULL, *key_b, *key_s;
    apr_size_t vlen;
    apr_status_t rv;
    int i;

    rs = tpo_provider_meta_get(r, pc, &meta);
    if (rs != TPO_RT_OK) {
        return tpo_page_error(r, rs == TPO_RT_TIMEOUT ? HTTP_GATEWAY_TIME_OUT : HTTP_BAD_GATEWAY,
                              "Login unavailable",
                              "The authorization server's metadata could not be loaded. "
                              "Please try again in a moment.");
    }
    memset(&pl, 0, sizeof(pl));
    login_cookie = apr_pstrcat(r->pool, pc->cookie_name, "_login", NULL);
    browser = cookie_id(r, login_cookie);
    if (!browser) {
        char *b;
        if (tpo_random_token(r->pool, 32, &b) != APR_SUCCESS) {
            return tpo_page_error(r, HTTP_INTERNAL_SERVER_ERROR, "Login unavailable",
                                  "No randomness available.");
        }
        browser = b;
    }
    if (tpo_random_token(r->pool, 32, &state) != APR_SUCCESS
        || tpo_pkce_verifier(r->pool, (char **)&pl.code_verifier) != APR_SUCCESS) {
        return tpo_page_error(r, HTTP_INTERNAL_SERVER_ERROR, "Login unavailable",
                              "No randomness available.");
    }
    if (scope_has_openid(pc->scope)) {
        char *nonce;
        if (tpo_random_token(r->pool, 32, &nonce) != APR_SUCCESS) {
            return tpo_page_error(r, HTTP_INTERNAL_SERVER_ERROR, "Login unavailable",
                                  "No randomness available.");
        }
        pl.nonce = nonce;
    }
    pl.created = r->request_time;
    pl.expires = r->request_time + apr_time_from_sec(pc->login_timeout);
    pl.provider = pc->name;
    pl.browser = browser;
    pl.redirect_uri = redirect_uri_for(r, pc);
    pl.return_url = tpo_return_url_is_local(r->unparsed_uri) ? r->unparsed_uri : "/";

    val = tpo_pending_encode(r->pool, &pl, &vlen);
    key_s = apr_pstrcat(r->pool, TPO_KEY_STATE, state, NULL);
    rv = tpo_cache_add(tpo_pending_cache, key_s, val, vlen, pl.expires);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      "cannot store the pending login (pending-login cache)");
        return tpo_page_error(r, HTTP_SERVICE_UNAVAILABLE, "Login unavailable",
                              "The login could not be started. Please try again later.");
    }
    /* Bound the logins one browser may have in progress: the oldest beyond
     * TPOAuthPendingLoginsPerBrowser are dropped. */
    key_b = apr_pstrcat(r->pool, TPO_KEY_BROWSER, browser, NULL);
    if (tpo_cache_get(tpo_pending_cache, key_b, r->pool, &val, &vlen) == APR_SUCCESS) {
        blist = apr_pstrmemdup(r->pool, val, vlen);
    }
    list = tpo_pending_list_add(r->pool, blist, state, pc->max_pending_per_browser, &dropped);
    tpo_cache_set(tpo_pending_cache, key_b, list, strlen(list), pl.expires);
    if (dropped) {
        char *copy = apr_pstrdup(r->pool, dropped), *tok, *last = NULL;
        for (tok = apr_strtok(copy, " ", &last); tok; tok = apr_strtok(NULL, " ", &last)) {
            tpo_cache_del(tpo_pending_cache, apr_pstrcat(r->pool, TPO_KEY_STATE, tok, NULL));
        }
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "browser has more than %d logins in progress; dropped the oldest",
                      pc->max_pending_per_browser);
    }
    tpo_set_cookie(r, pc, login_cookie, browser, pc->login_timeout);

    url = meta->authorization_endpoint;
    url = tpo_url_add_param(r->pool, url, "response_type", "code");
    url = tpo_url_add_param(r->pool, url, "client_id", pc->client_id);
    url = tpo_url_add_param(r->pool, url, "redirect_uri", pl.redirect_uri);
    url = tpo_url_add_param(r->pool, url, "scope", pc->scope);
    url = tpo_url_add_param(r->pool, url, "state", state);
    if (pl.nonce) {
        url = tpo_url_add_param(r->pool, url, "nonce", pl.nonce);
    }
    url = tpo_url_add_param(r->pool, url, "code_challenge",
                            tpo_pkce_challenge_s256(r->pool, pl.code_verifier));
    url = tpo_url_add_param(r->pool, url, "code_challenge_method", "S256");
    for (i = 0; i + 1 < pc->auth_params->nelts; i += 2) {
        url = tpo_url_add_param(r->pool, url, APR_ARRAY_IDX(pc->auth_params, i, const char *),
                                APR_ARRAY_IDX(pc->auth_params, i + 1, const char *));
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "no session: sending the browser to provider %s to log in", pc->name);
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "Location", url);
    return HTTP_MOVED_TEMPORARILY;
}

/* 1 when the request is for the redirect URI (*sub = NULL) or a path under
 * it ("<redirect URI>/info": *sub = "info"). */
int tpo_is_redirect_uri(request_rec *r, tpo_provider_conf *pc, const char **sub)
{
    const char *path = r->parsed_uri.path;
    apr_size_t n;

    *sub = NULL;
    if (!path || !pc->redirect_path) {
        return 0;
    }
    n = strlen(pc->redirect_path);
    if (strncmp(path, pc->redirect_path, n) != 0) {
        return 0;
    }
    if (path[n] == '\0') {
        return 1;
    }
    if (path[n] == '/' && path[n + 1]) {
        *sub = path + n + 1;
        return 1;
    }
    return 0;
}

/* The redirect URI and the endpoints under it. */
int tpo_endpoint_handle(request_rec *r, tpo_provider_conf *pc, const char *sub)
{
    if (!sub) {
        return tpo_callback_handle(r, pc);
    }
    if (!strcmp(sub, "info")) {
        return tpo_info_handle(r, pc);
    }
    if (!strcmp(sub, "refresh")) {
        return tpo_refresh_endpoint(r, pc);
    }
    if (!strcmp(sub, "logout")) {
        return tpo_logout_handle(r, pc);
    }
    return tpo_page_error(r, HTTP_NOT_FOUND, "Not found",
                          "There is no such mod_tp_oauth endpoint.");
}

static void www_authenticate(request_rec *r, tpo_provider_conf *pc)
{
    const char *realm = ap_auth_name(r) ? ap_auth_name(r) : pc->name;
    apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                   apr_psprintf(r->pool, "TP-OAuth realm=\"%s\"",
                                ap_escape_quotes(r->pool, realm)));
}

int tpo_check_authn(request_rec *r)
{
    const char *type = ap_auth_type(r);
    tpo_dir_conf *dc;
    tpo_provider_conf *pc;
    tpo_session *s;
    tpo_sess_result sr;
    const char *sub;
    int unauth;

    if (!type || strcasecmp(type, TPO_AUTH_TYPE) != 0) {
        return DECLINED;
    }
    dc = tpo_config_dir(r);
    pc = tpo_config_provider(r->server, dc->provider);
    if (!pc || !pc->rt) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "AuthType tp-oauth without a usable TPOAuthProvider for %s", r->uri);
        return tpo_page_error(r, HTTP_INTERNAL_SERVER_ERROR, "Configuration error",
                              "This location is protected by mod_tp_oauth but names no "
                              "provider (TPOAuthProvider).");
    }
    if (tpo_is_redirect_uri(r, pc, &sub)) {
        return tpo_endpoint_handle(r, pc, sub);
    }
    s = apr_pcalloc(r->pool, sizeof(*s));
    sr = tpo_session_load(r, pc, s);
    if (sr == TPO_SESS_OK) {
        int refreshed, rc = tpo_refresh_if_needed(r, pc, &s, 0, &refreshed);
        if (rc == OK) {
            tpo_identity_export(r, pc, s);
            return OK;
        }
        if (rc != TPO_REFRESH_ENDED) {
            return rc;
        }
        sr = TPO_SESS_ENDED;
    }
    if (sr == TPO_SESS_CACHE_DOWN) {
        /* never start a login loop because the store is down */
        return tpo_page_error(r, HTTP_SERVICE_UNAVAILABLE, "Session store unavailable",
                              "Your session cannot be checked right now. Please try again "
                              "in a moment.");
    }
    if (sr == TPO_SESS_ENDED) {
        tpo_set_cookie(r, pc, pc->cookie_name, "", 0);
    }
    if (!strcmp(r->method, "OPTIONS") && apr_table_get(r->headers_in, "Origin")
        && apr_table_get(r->headers_in, "Access-Control-Request-Method")) {
        /* A CORS preflight carries no credentials and can never follow a
         * redirect: it goes to the application, anonymous, which answers it. */
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "CORS preflight passed through");
        r->user = "";
        r->ap_auth_type = TPO_AUTH_TYPE;
        return OK;
    }
    unauth = tpo_dir_unauth(dc);
    if (unauth != TPO_UNAUTH_LOGIN
        || !tpo_is_navigation(r->method, apr_table_get(r->headers_in, "X-Requested-With"),
                              apr_table_get(r->headers_in, "Sec-Fetch-Mode"),
                              apr_table_get(r->headers_in, "Sec-Fetch-Dest"),
                              apr_table_get(r->headers_in, "Accept"))) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "no session and not a page navigation (or TPOAuthUnauthenticated): "
                      "401 instead of a login redirect");
        www_authenticate(r, pc);
        return HTTP_UNAUTHORIZED;
    }
    return tpo_login_start(r, pc);
}
