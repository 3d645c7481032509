/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Responses the module writes itself: error pages and cookies. */
#include <apr_strings.h>
#include "mod_tp_oauth_private.h"
#include "tpo_cookie.h"
#include "tpo_url.h"

int tpo_request_is_https(request_rec *r)
{
    return ap_http_scheme(r) && !strcmp(ap_http_scheme(r), "https");
}

void tpo_page_headers(request_rec *r)
{
    /* a page of ours must never be cached or framed */
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->err_headers_out, "X-Frame-Options", "DENY");
    apr_table_setn(r->err_headers_out, "Content-Security-Policy", "default-src 'none'");
    apr_table_setn(r->err_headers_out, "X-Content-Type-Options", "nosniff");
}

int tpo_page_error(request_rec *r, int status, const char *title, const char *detail)
{
    const char *t = tpo_html_escape(r->pool, title);
    const char *d = tpo_html_escape(r->pool, detail ? detail : "");

    r->status = status;
    r->status_line = NULL;
    tpo_page_headers(r);
    ap_set_content_type(r, "text/html; charset=utf-8");
    if (!r->header_only) {
        ap_rprintf(r,
                   "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%d %s</title>"
                   "</head>\n<body>\n<h1>%s</h1>\n<p>%s</p>\n"
                   "<p><small>status %d, mod_tp_oauth</small></p>\n</body></html>\n",
                   status, t, t, d, status);
    }
    return DONE;
}

static void set_cookie(request_rec *r, const tpo_provider_conf *pc, const char *name,
                       const char *value, long max_age, const char *same_site)
{
    tpo_cookie_attrs a;
    char *c;

    a.path = pc->cookie_path;
    a.domain = pc->cookie_domain;
    a.max_age = max_age;
    a.secure = pc->cookie_secure == TPO_COOKIE_SECURE_ON
               || (pc->cookie_secure == TPO_COOKIE_SECURE_AUTO && tpo_request_is_https(r));
    a.http_only = 1;
    a.same_site = same_site;
    c = tpo_cookie_build(r->pool, name, value, &a);
    if (!c) {
        /* names and values are ours; attributes come from the configuration */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "cannot build cookie %s: check TPOAuthCookiePath/TPOAuthCookieDomain", name);
        return;
    }
    /* err_headers_out: kept on redirects and error pages alike */
    apr_table_addn(r->err_headers_out, "Set-Cookie", c);
}

void tpo_set_cookie(request_rec *r, const tpo_provider_conf *pc, const char *name,
                    const char *value, long max_age)
{
    set_cookie(r, pc, name, value, max_age, pc->cookie_samesite);
}

void tpo_set_login_cookie(request_rec *r, const tpo_provider_conf *pc, const char *name,
                          const char *value, long max_age)
{
    set_cookie(r, pc, name, value, max_age, "Lax");
}
