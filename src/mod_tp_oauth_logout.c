/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* <redirect URI>/logout[?return=URL]: ends the local session (cache entry
 * and cookie), revokes the refresh token at the provider (RFC 7009) when it
 * has a revocation endpoint, then either sends the browser to the provider's
 * end_session_endpoint (RP-initiated logout, with id_token_hint and
 * post_logout_redirect_uri) or straight to the return URL. The return URL is
 * a local path or one on the TPOAuthLogoutRedirectAllow list: never an open
 * redirect. */
#include <string.h>
#include <apr_strings.h>
#include "mod_tp_oauth_private.h"
#include "tpo_http.h"
#include "tpo_provider.h"
#include "tpo_session.h"
#include "tpo_token.h"
#include "tpo_url.h"

static int allowed_absolute(const tpo_provider_conf *pc, const char *url)
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

static void revoke_refresh_token(request_rec *r, tpo_provider_conf *pc, const tpo_provider_meta *meta,
                   const tpo_session *s)
{
    apr_array_header_t *params = apr_array_make(r->pool, 4, sizeof(const char *));
    tpo_http_response resp;
    tpo_http_result hr;

    APR_ARRAY_PUSH(params, const char *) = "token";
    APR_ARRAY_PUSH(params, const char *) = s->refresh_token;
    APR_ARRAY_PUSH(params, const char *) = "token_type_hint";
    APR_ARRAY_PUSH(params, const char *) = "refresh_token";
    hr = tpo_provider_client_post(r, pc, meta->revocation_endpoint, params, &resp);
    if (hr != TPO_HTTP_OK || resp.status != 200) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "logout of %s: revoking the refresh token at %s failed (%s)",
                      ap_escape_logitem(r->pool, s->user), meta->revocation_endpoint,
                      hr != TPO_HTTP_OK ? (resp.error ? resp.error : "unreachable")
                                        : apr_psprintf(r->pool, "HTTP %d", resp.status));
        return;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "logout of %s: refresh token revoked",
                  ap_escape_logitem(r->pool, s->user));
}

int tpo_logout_handle(request_rec *r, tpo_provider_conf *pc)
{
    apr_table_t *q = tpo_query_parse(r->pool, r->args ? r->args : "", 8);
    const char *ret = NULL, *target, *sid;
    tpo_session *s = apr_pcalloc(r->pool, sizeof(*s));
    const tpo_provider_meta *meta = NULL;
    tpo_sess_result sr;
    int dup = 0;

    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "POST") != 0) {
        return tpo_page_error(r, HTTP_METHOD_NOT_ALLOWED, "Method not allowed",
                              "Logout takes GET or POST.");
    }
    if (!q || ((ret = tpo_query_get_unique(q, "return", &dup)), dup)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "logout: malformed query");
        return tpo_page_error(r, HTTP_BAD_REQUEST, "Bad logout request",
                              "The logout request could not be read.");
    }
    if (ret && !tpo_return_url_is_local(ret) && !allowed_absolute(pc, ret)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "logout: refused return URL %s (not local, not in "
                      "TPOAuthLogoutRedirectAllow)", ap_escape_logitem(r->pool, ret));
        return tpo_page_error(r, HTTP_BAD_REQUEST, "Bad logout request",
                              "The page to return to after logout is not allowed.");
    }
    sr = tpo_session_load(r, pc, s);
    sid = tpo_req_get(r)->sid;
    if (sr == TPO_SESS_CACHE_DOWN) {
        return tpo_page_error(r, HTTP_SERVICE_UNAVAILABLE, "Session store unavailable",
                              "You could not be logged out right now. Please try again.");
    }
    if (sid) {
        tpo_session_delete(r, pc, sid);
    }
    tpo_set_cookie(r, pc, pc->cookie_name, "", 0);
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    if (sr == TPO_SESS_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "logout of %s",
                      ap_escape_logitem(r->pool, s->user));
        if (tpo_provider_meta_get(r, pc, &meta) != TPO_RT_OK) {
            meta = NULL;
        }
        if (meta && meta->revocation_endpoint && s->refresh_token) {
            revoke_refresh_token(r, pc, meta, s);
        }
    }
    target = ret ? (tpo_return_url_is_local(ret) ? ap_construct_url(r->pool, ret, r) : ret)
                 : NULL;
    if (sr == TPO_SESS_OK && meta && meta->end_session_endpoint && pc->provider_logout) {
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
    r->status = HTTP_OK;
    ap_set_content_type(r, "text/html; charset=utf-8");
    if (!r->header_only) {
        ap_rputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Logged out"
                 "</title></head>\n<body>\n<h1>Logged out</h1>\n<p>You have been logged "
                 "out.</p>\n</body></html>\n", r);
    }
    return DONE;
}
