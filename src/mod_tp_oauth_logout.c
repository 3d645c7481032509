/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* <redirect URI>/logout[?return=URL]: ends the local session (cache entry
 * and cookie), revokes the refresh token and the access token at the
 * provider (RFC 7009, with token_type_hint) when it has a revocation endpoint, then either sends the browser to the provider's
 * end_session_endpoint (RP-initiated logout, with id_token_hint and
 * post_logout_redirect_uri) or straight to the return URL. The return URL is
 * a local path, an absolute URL on this server's own origin, or one on the
 * TPOAuthLogoutRedirectAllow list: never an open redirect. A refused return
 * URL still logs out (then a "logged out" page). A cross-site request (logout
 * CSRF) gets a confirmation page with a POST button instead. */
#include <string.h>
#include <apr_strings.h>
#include "mod_tp_oauth_flows.h"
#include "mod_tp_oauth_metrics.h"
#include "tpo_http.h"
#include "tpo_origin.h"
#include "tpo_provider.h"
#include "tpo_session.h"
#include "tpo_token.h"
#include "tpo_url.h"

static int allowed_absolute(const tpa_provider_conf *pc, const char *url)
{
    int i;

    if (!pc->logout_allow || !tpo_url_is_http(url)) {
        return 0;
    }
    for (i = 0; i < pc->logout_allow->nelts; i++) {
        const char *a = APR_ARRAY_IDX(pc->logout_allow, i, const char *);
        apr_size_t n = strlen(a);
        if (!strcmp(url, a) || (n && a[n - 1] == '/' && !strncmp(url, a, n))) {
            return 1;
        }
    }
    return 0;
}

/* RFC 7009: revoke one token, with its type as the hint. A failure is
 * logged; the logout goes on (the session is over here either way). */
static void revoke_token(request_rec *r, tpa_provider_conf *pc, const tpo_provider_meta *meta,
                         const tpo_session *s, const char *token, const char *hint)
{
    apr_array_header_t *params = apr_array_make(r->pool, 4, sizeof(const char *));
    tpo_http_response resp;
    tpo_http_result hr;

    APR_ARRAY_PUSH(params, const char *) = "token";
    APR_ARRAY_PUSH(params, const char *) = token;
    APR_ARRAY_PUSH(params, const char *) = "token_type_hint";
    APR_ARRAY_PUSH(params, const char *) = hint;
    hr = tpa_provider_client_post(r, pc, meta->revocation_endpoint, params, &resp);
    if (hr != TPO_HTTP_OK || resp.status != 200) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      TPO_APLOGNO(00042) "logout of %s: revoking the %s at %s failed (%s)",
                      ap_escape_logitem(r->pool, s->user), hint, meta->revocation_endpoint,
                      hr != TPO_HTTP_OK ? (resp.error ? resp.error : "unreachable")
                                        : apr_psprintf(r->pool, "HTTP %d", resp.status));
        return;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, TPO_APLOGNO(00043) "logout of %s: %s revoked",
                  ap_escape_logitem(r->pool, s->user), hint);
}

/* The origin of this server as the request reached it ("http://host:port",
 * the port only when not the default). */
static const char *own_origin(request_rec *r)
{
    return tpa_request_url(r, "");
}

/* An absolute URL on this server's own scheme, host and port: its local
 * part (which must itself be a safe local path), else NULL. */
static const char *own_local_part(request_rec *r, const char *url)
{
    const char *local = tpo_url_on_origin(url, own_origin(r));

    return local && tpo_return_url_is_local(local) ? local : NULL;
}

/* Logout CSRF: was the request made by another site? A browser's
 * Sec-Fetch-Site decides when present (no page can forge it; unlike Origin it
 * stays right behind a TLS-terminating proxy): anything but same-origin or
 * none (a typed URL, a bookmark) is cross-site. Without it: a foreign Origin
 * (also "null"), or without Origin a foreign Referer. A request with none of
 * them (an old browser, curl) counts as same-origin. */
static int cross_site(request_rec *r, const char **why)
{
    const char *sfs = apr_table_get(r->headers_in, "Sec-Fetch-Site");
    const char *origin = apr_table_get(r->headers_in, "Origin");
    const char *referer = apr_table_get(r->headers_in, "Referer");
    const char *own = own_origin(r);

    if (sfs) {
        if (strcasecmp(sfs, "same-origin") != 0 && strcasecmp(sfs, "none") != 0) {
            *why = "Sec-Fetch-Site";
            return 1;
        }
        return 0;
    }
    if (origin) {
        if (strcasecmp(origin, own) != 0) {
            *why = "Origin";
            return 1;
        }
        return 0;
    }
    if (referer && !tpo_url_same_origin(referer, own)) {
        *why = "Referer";
        return 1;
    }
    return 0;
}

static int logout_page(request_rec *r, const char *title, const char *body_html)
{
    return tpa_page_write(r, HTTP_OK, title, title, body_html);
}

/* A cross-site logout request: ask, with a button that POSTs from this
 * origin (same return URL), instead of ending the session. */
static int confirm_page(request_rec *r, const char *ret)
{
    const char *action = r->parsed_uri.path; /* as sent: still percent-encoded */

    if (ret) {
        action = apr_pstrcat(r->pool, action, "?return=", tpo_url_encode(r->pool, ret), NULL);
    }
    return logout_page(
        r, "Log out?",
        apr_pstrcat(r->pool,
                    "<p>Another site asked to log you out. Do you want to log out?</p>\n"
                    "<form method=\"post\" action=\"",
                    tpo_html_escape(r->pool, action),
                    "\">\n"
                    "<button type=\"submit\">Log out</button>\n</form>",
                    NULL));
}

int tpa_logout_endpoint(request_rec *r, tpa_provider_conf *pc)
{
    apr_table_t *q = tpo_query_parse(r->pool, r->args ? r->args : "", 8);
    const char *ret = NULL, *target = NULL, *local = NULL, *sid, *why = NULL;
    tpo_session *s = apr_pcalloc(r->pool, sizeof(*s));
    const tpo_provider_meta *meta = NULL;
    tpa_sess_result sr;
    int dup = 0, refused = 0;

    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "POST") != 0) {
        return tpa_page_error(r, HTTP_METHOD_NOT_ALLOWED, "Method not allowed",
                              "Logout takes GET or POST.");
    }
    if (r->method_number == M_POST) {
        ap_discard_request_body(r);
    }
    if (q) {
        ret = tpo_query_get_unique(q, "return", &dup);
    }
    if (!q || dup) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      TPO_APLOGNO(00044) "logout: malformed query");
        refused = 1;
        ret = NULL;
    }
    else if (ret) {
        local = tpo_return_url_is_local(ret) ? ret : own_local_part(r, ret);
        if (local) {
            target = tpa_request_url(r, local);
        }
        else if (allowed_absolute(pc, ret)) {
            target = ret;
        }
        else {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          TPO_APLOGNO(00045) "logout: refused return URL %s (not local, not in "
                                             "TPOAuthLogoutRedirectAllow); logging out without it",
                          ap_escape_logitem(r->pool, ret));
            refused = 1;
            ret = NULL;
        }
    }
    /* Logout CSRF: another site must not end the session silently (GET or
     * POST alike); it gets a page with a button instead. */
    if (cross_site(r, &why)) {
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            TPO_APLOGNO(00046) "logout: cross-site %s request (%s): asking for a confirmation",
            r->method, why);
        return confirm_page(r, ret);
    }
    sr = tpa_session_load(r, pc, s);
    sid = tpa_req_get(r)->sid;
    if (sr == TPA_SESS_CACHE_DOWN) {
        return tpa_page_error(r, HTTP_SERVICE_UNAVAILABLE, "Session store unavailable",
                              "You could not be logged out right now. Please try again.");
    }
    if (sid) {
        tpa_session_delete(r, pc, sid);
    }
    tpa_set_cookie(r, pc, pc->cookie_name, "", 0);
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    if (sr == TPA_SESS_OK) {
        tpa_count(TPO_M_LOGOUT);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, TPO_APLOGNO(00047) "logout of %s",
                      ap_escape_logitem(r->pool, s->user));
        if (tpa_provider_meta_get(r, pc, &meta) != TPA_RT_OK) {
            meta = NULL;
        }
        /* the refresh token first: it could mint new access tokens */
        if (meta && meta->revocation_endpoint && s->refresh_token) {
            revoke_token(r, pc, meta, s, s->refresh_token, "refresh_token");
        }
        if (meta && meta->revocation_endpoint && s->access_token) {
            revoke_token(r, pc, meta, s, s->access_token, "access_token");
        }
    }
    if (refused) {
        /* the session is over; the refused address is not followed */
        return logout_page(r, "Logged out",
                           "<p>You have been logged out.</p>\n<p>The page to return to after "
                           "logout is not allowed, so you stay on this page.</p>");
    }
    if (sr == TPA_SESS_OK && meta && meta->end_session_endpoint && pc->provider_logout) {
        const char *url = meta->end_session_endpoint;
        if (s->id_token) {
            url = tpo_url_add_param(r->pool, url, "id_token_hint", s->id_token);
        }
        url = tpo_url_add_param(r->pool, url, "client_id", pc->client_id);
        if (target) {
            url = tpo_url_add_param(r->pool, url, "post_logout_redirect_uri", target);
        }
        apr_table_setn(r->headers_out, "Location", url);
        return HTTP_MOVED_TEMPORARILY;
    }
    if (target) {
        apr_table_setn(r->headers_out, "Location", target);
        return HTTP_MOVED_TEMPORARILY;
    }
    return logout_page(r, "Logged out", "<p>You have been logged out.</p>");
}
