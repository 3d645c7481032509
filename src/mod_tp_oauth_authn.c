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
#include "tpo_origin.h"
#include "tpo_pending_cookie.h"
#include "tpo_pkce.h"
#include "tpo_provider.h"
#include "tpo_session.h"
#include "tpo_token.h"
#include "tpo_url.h"

#define SID_LEN 43 /* 32 random bytes, base64url */

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
    memcpy(key + sizeof(TPO_KEY_SESSION) - 1, sid, SID_LEN);
    key[sizeof(TPO_KEY_SESSION) - 1 + SID_LEN] = '\0';
    rv = tpo_cache_get(tpo_session_cache, key, r->pool, &val, &vlen);
    if (rv == APR_NOTFOUND) {
        ap_log_rerror(
            APLOG_MARK, APLOG_DEBUG, 0, r,
            TPO_APLOGNO(
                00009) "session cookie names no live session (expired, evicted or logged out)");
        return TPO_SESS_ENDED;
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      TPO_APLOGNO(00010) "session cache lookup failed");
        return TPO_SESS_CACHE_DOWN;
    }
    if (tpo_session_decode(r->pool, val, vlen, s) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      TPO_APLOGNO(00011) "session record is corrupt; ignoring it");
        return TPO_SESS_ENDED;
    }
    if (strcmp(s->provider, pc->name) != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      TPO_APLOGNO(00012) "session belongs to provider %s, this location wants %s",
                      s->provider, pc->name);
        return TPO_SESS_NONE;
    }
    now = r->request_time;
    if (s->expires && now >= s->expires) {
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            TPO_APLOGNO(
                00013) "session of %s ended: maximum lifetime (TPOAuthSessionMaxAge) reached",
            ap_escape_logitem(r->pool, s->user));
        tpo_session_delete(r, pc, sid);
        return TPO_SESS_ENDED;
    }
    if (pc->inactivity_timeout && s->last_seen &&
        now - s->last_seen > apr_time_from_sec(pc->inactivity_timeout)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      TPO_APLOGNO(00014) "session of %s ended: inactive for longer than "
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

/* The redirect_uri to send: configured absolute URL, or the configured path
 * on this server. */
static const char *redirect_uri_for(request_rec *r, tpo_provider_conf *pc)
{
    if (pc->redirect_uri[0] == '/') {
        return ap_construct_url(r->pool, pc->redirect_uri, r);
    }
    return pc->redirect_uri;
}

apr_status_t tpo_login_binding(request_rec *r, const tpo_provider_conf *pc,
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
static apr_array_header_t *host_login_cookies(request_rec *r, tpo_provider_conf *own,
                                              const tpo_pending_binding *own_bind)
{
    tpo_server_conf *sc = tpo_config_server(r->server);
    apr_array_header_t *bases = apr_array_make(r->pool, 4, sizeof(tpo_pending_base));
    tpo_pending_base *b = apr_array_push(bases);
    apr_hash_index_t *hi;

    b->name = own->cookie_name;
    b->bind = own_bind;
    b->own = 1;
    b->ctx = own;
    for (hi = apr_hash_first(r->pool, sc->providers); hi; hi = apr_hash_next(hi)) {
        tpo_provider_conf *pc = apr_hash_this_val(hi);
        tpo_pending_binding *bind;

        if (pc == own) {
            continue;
        }
        bind = apr_palloc(r->pool, sizeof(*bind));
        if (tpo_login_binding(r, pc, bind) != APR_SUCCESS) {
            continue;
        }
        b = apr_array_push(bases);
        b->name = pc->cookie_name;
        b->bind = bind;
        b->own = 0;
        b->ctx = pc;
    }
    return tpo_pending_cookies(r->pool, &tpo_login_key, apr_table_get(r->headers_in, "Cookie"),
                               (const tpo_pending_base *)bases->elts, bases->nelts,
                               r->request_time);
}

/* Start a login. Nothing is written on the server: the pending login goes
 * into this browser's own login cookie, sealed, so no other client's
 * requests can push it out. Per browser the oldest logins beyond
 * TPOAuthPendingLoginsPerBrowser, or beyond the byte budget of the login
 * cookies of all the host's providers together, are dropped. */
int tpo_login_start(request_rec *r, tpo_provider_conf *pc)
{
    const tpo_provider_meta *meta;
    tpo_rt_status rs;
    tpo_pending pl;
    tpo_pending_binding bind;
    tpo_pending_trim_stats st;
    const char *url, *name;
    char *state, *sealed;
    apr_array_header_t *slots;
    apr_size_t new_size;
    int i, dropped;

    rs = tpo_provider_meta_get(r, pc, &meta);
    if (rs != TPO_RT_OK) {
        return tpo_page_error(r, rs == TPO_RT_TIMEOUT ? HTTP_GATEWAY_TIME_OUT : HTTP_BAD_GATEWAY,
                              "Login unavailable",
                              "The authorization server's metadata could not be loaded. "
                              "Please try again in a moment.");
    }
    memset(&pl, 0, sizeof(pl));
    if (tpo_random_token(r->pool, 32, &state) != APR_SUCCESS ||
        tpo_pkce_verifier(r->pool, (char **)&pl.code_verifier) != APR_SUCCESS) {
        return tpo_page_error(r, HTTP_INTERNAL_SERVER_ERROR, "Login unavailable",
                              "No randomness available.");
    }
    if (tpo_scope_has(pc->scope, "openid")) {
        char *nonce;
        if (tpo_random_token(r->pool, 32, &nonce) != APR_SUCCESS) {
            return tpo_page_error(r, HTTP_INTERNAL_SERVER_ERROR, "Login unavailable",
                                  "No randomness available.");
        }
        pl.nonce = nonce;
    }
    pl.created = r->request_time;
    pl.expires = r->request_time + apr_time_from_sec(pc->login_timeout);
    pl.state = state;
    pl.provider = pc->name;
    pl.redirect_uri = redirect_uri_for(r, pc);
    pl.return_url = tpo_return_url_is_local(r->unparsed_uri) ? r->unparsed_uri : "/";
    if (strlen(pl.return_url) > TPO_PENDING_RETURN_URL_MAX) {
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            TPO_APLOGNO(00015) "return URL longer than %d bytes: this login will return to /",
            TPO_PENDING_RETURN_URL_MAX);
        pl.return_url = "/";
    }
    name = tpo_pending_cookie_name(r->pool, pc->cookie_name, state);
    sealed = name && tpo_login_binding(r, pc, &bind) == APR_SUCCESS
                 ? tpo_pending_seal(r->pool, &tpo_login_key, &bind, &pl)
                 : NULL;
    if (!sealed) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      TPO_APLOGNO(00016) "provider %s: cannot seal the login cookie (OpenSSL)",
                      pc->name);
        return tpo_page_error(r, HTTP_INTERNAL_SERVER_ERROR, "Login unavailable",
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
            tpo_set_login_cookie(r, (const tpo_provider_conf *)sl->ctx, sl->name, "", 0);
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
    tpo_set_login_cookie(r, pc, name, sealed, pc->login_timeout + TPO_PENDING_COOKIE_GRACE_SEC);

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
                  TPO_APLOGNO(00018) "no session: sending the browser to provider %s to log in",
                  pc->name);
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
    if (!strcmp(sub, "backchannel-logout")) {
        return tpo_backchannel_logout_endpoint(r, pc);
    }
    if (!strcmp(sub, "frontchannel-logout")) {
        return tpo_frontchannel_logout_endpoint(r, pc);
    }
    return tpo_page_error(r, HTTP_NOT_FOUND, "Not found",
                          "There is no such mod_tp_oauth endpoint.");
}

/* A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method)
 * on a protected location: it never carries credentials, so it never reaches
 * the application (which would run without a user). The module answers it:
 * 204 with the CORS headers for an origin on TPOAuthCORSAllowOrigin, else
 * 403 without any. Never a redirect, never a cookie. */
static int cors_preflight(request_rec *r, tpo_dir_conf *dc)
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
        return tpo_page_error(r, HTTP_FORBIDDEN, "Forbidden",
                              "Cross-origin requests from this origin are not allowed here.");
    }
    if (!tpo_http_token(method, strlen(method)) ||
        (req_headers && !(allow_headers = tpo_cors_token_list(r->pool, req_headers)))) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      TPO_APLOGNO(00020) "CORS preflight from origin %s refused: malformed "
                                         "Access-Control-Request-Method/-Headers",
                      ap_escape_logitem(r->pool, origin));
        return tpo_page_error(r, HTTP_FORBIDDEN, "Forbidden",
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
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            TPO_APLOGNO(00022) "AuthType tp-oauth without a usable TPOAuthProvider for %s", r->uri);
        return tpo_page_error(r, HTTP_INTERNAL_SERVER_ERROR, "Configuration error",
                              "This location is protected by mod_tp_oauth but names no "
                              "provider (TPOAuthProvider).");
    }
    if (r->method_number == M_OPTIONS && apr_table_get(r->headers_in, "Origin") &&
        apr_table_get(r->headers_in, "Access-Control-Request-Method")) {
        return cors_preflight(r, dc);
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
    unauth = tpo_dir_unauth(dc);
    if (unauth != TPO_UNAUTH_LOGIN ||
        !tpo_is_navigation(r->method, apr_table_get(r->headers_in, "X-Requested-With"),
                           apr_table_get(r->headers_in, "Sec-Fetch-Mode"),
                           apr_table_get(r->headers_in, "Sec-Fetch-Dest"),
                           apr_table_get(r->headers_in, "Accept"))) {
        ap_log_rerror(
            APLOG_MARK, APLOG_DEBUG, 0, r,
            TPO_APLOGNO(00023) "no session and not a page navigation (or TPOAuthUnauthenticated): "
                               "401 instead of a login redirect");
        tpo_www_authenticate(r, pc, NULL);
        return HTTP_UNAUTHORIZED;
    }
    return tpo_login_start(r, pc);
}
