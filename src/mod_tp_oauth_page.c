/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Responses the module writes itself: error pages and cookies. */
#include <apr_strings.h>
#include "mod_tp_oauth_page.h"
#include "tpo_bearer.h"
#include "tpo_cookie.h"
#include "tpo_url.h"

int tpa_request_is_https(request_rec *r)
{
    return !strncmp(tpa_request_url(r, ""), "https://", 8);
}

void tpa_page_headers(request_rec *r)
{
    static const char *const h[][2] = {
        {"Cache-Control", "no-store"},
        {"X-Frame-Options", "DENY"},
        {"Content-Security-Policy", "default-src 'none'"},
        {"X-Content-Type-Options", "nosniff"},
    };
    apr_size_t i;

    /* a page of ours must never be cached or framed; once each (an error
     * response may already have copied them to headers_out) */
    for (i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
        apr_table_unset(r->headers_out, h[i][0]);
        apr_table_setn(r->err_headers_out, h[i][0], h[i][1]);
    }
}

/* The realm of both challenges: AuthName, else the provider's name. */
static const char *realm_of(request_rec *r, const tpa_provider_conf *pc)
{
    /* httpd keeps AuthName with quotes already backslash-escaped */
    const char *realm = ap_auth_name(r);

    if (realm && *realm) {
        return tpo_quoted_pairs_decode(r->pool, realm);
    }
    return pc ? pc->name : TPO_AUTH_TYPE;
}

const char *tpa_bearer_challenge_value(request_rec *r, const tpa_provider_conf *pc,
                                       const char *error, const char *desc, const char *scope)
{
    return tpo_bearer_challenge(r->pool, realm_of(r, pc), error, desc, scope);
}

void tpa_www_authenticate_bearer(request_rec *r, const tpa_provider_conf *pc, const char *error,
                                 const char *desc, const char *scope, int add)
{
    const char *v = tpa_bearer_challenge_value(r, pc, error, desc, scope);

    if (add) {
        apr_table_addn(r->err_headers_out, "WWW-Authenticate", v);
    }
    else {
        apr_table_setn(r->err_headers_out, "WWW-Authenticate", v);
    }
}

void tpa_www_authenticate_stepup(request_rec *r, const tpa_provider_conf *pc,
                                 const tpo_stepup_req *req, int lacks)
{
    apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                   tpo_stepup_challenge(r->pool, realm_of(r, pc), req, lacks));
}

void tpa_www_authenticate(request_rec *r, const tpa_provider_conf *pc, const char *error)
{
    const char *realm = realm_of(r, pc);
    const char *v;

    v = apr_pstrcat(r->pool, "TP-OAuth realm=", tpo_quoted_string(r->pool, realm),
                    error ? ", error=" : NULL, tpo_quoted_string(r->pool, error), NULL);
    apr_table_setn(r->err_headers_out, "WWW-Authenticate", v);
}

const char *tpa_page_html(apr_pool_t *p, const char *title, const char *heading,
                          const char *body_html)
{
    return apr_pstrcat(p, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>",
                       tpo_html_escape(p, title), "</title></head>\n<body>\n<h1>",
                       tpo_html_escape(p, heading), "</h1>\n", body_html, "\n</body></html>\n",
                       NULL);
}

int tpa_page_write(request_rec *r, int status, const char *title, const char *heading,
                   const char *body_html)
{
    r->status = status;
    r->status_line = NULL;
    tpa_page_headers(r);
    ap_set_content_type(r, "text/html; charset=utf-8");
    if (!r->header_only) {
        ap_rputs(tpa_page_html(r->pool, title, heading, body_html), r);
    }
    return DONE;
}

int tpa_page_error(request_rec *r, int status, const char *title, const char *detail)
{
    return tpa_page_write(r, status, apr_psprintf(r->pool, "%d %s", status, title), title,
                          apr_psprintf(r->pool,
                                       "<p>%s</p>\n<p><small>status %d, mod_tp_oauth"
                                       "</small></p>",
                                       tpo_html_escape(r->pool, detail), status));
}

int tpa_page_answer(request_rec *r, const tpa_answer *a)
{
    return a->title ? tpa_page_error(r, a->status, a->title, a->detail) : a->status;
}

static void set_cookie(request_rec *r, const tpa_provider_conf *pc, const char *name,
                       const char *value, long max_age, const char *same_site)
{
    tpo_cookie_attrs a;
    char *c;

    a.path = pc->cookie_path;
    a.domain = pc->cookie_domain;
    a.max_age = max_age;
    a.secure = pc->cookie_secure == TPO_COOKIE_SECURE_ON ||
               (pc->cookie_secure == TPO_COOKIE_SECURE_AUTO && tpa_request_is_https(r));
    a.http_only = 1;
    a.same_site = same_site;
    c = tpo_cookie_build(r->pool, name, value, &a);
    if (!c) {
        /* names and values are ours; attributes come from the configuration */
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            TPO_APLOGNO(
                00048) "cannot build cookie %s: check TPOAuthCookiePath/TPOAuthCookieDomain",
            name);
        return;
    }
    /* err_headers_out: kept on redirects and error pages alike */
    apr_table_addn(r->err_headers_out, "Set-Cookie", c);
}

void tpa_set_cookie(request_rec *r, const tpa_provider_conf *pc, const char *name,
                    const char *value, long max_age)
{
    set_cookie(r, pc, name, value, max_age, pc->cookie_samesite);
}

void tpa_set_login_cookie(request_rec *r, const tpa_provider_conf *pc, const char *name,
                          const char *value, long max_age)
{
    set_cookie(r, pc, name, value, max_age, "Lax");
}

int tpa_json_response(request_rec *r, int status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);

    json_decref(body);
    r->status = status;
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->err_headers_out, "X-Content-Type-Options", "nosniff");
    ap_set_content_type(r, "application/json");
    if (text) {
        if (!r->header_only) {
            ap_rputs(text, r);
        }
        free(text);
    }
    return DONE;
}

int tpa_json_error(request_rec *r, int status, const char *error)
{
    return tpa_json_response(r, status, json_pack("{s:s}", "error", error));
}
