/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Authorization on claims and scopes as Apache 2.4 authz providers, so they
 * compose with <RequireAll>/<RequireAny>/<RequireNone>:
 *
 *   Require oauth-claim groups=staff             exact, or an element of an array
 *   Require oauth-claim address.country=DE       nested path
 *   Require oauth-claim email~@example\.test$    regular expression (any array element)
 *   Require oauth-scope ALLOW_PAYMENT_IN         a granted scope
 *
 * Several values on one line: any of them (like `Require user a b`).
 *
 * A failed rule ends as 403 (default), 401, or a new login (step-up), per
 * TPOAuthAuthzFailure: mod_authz_core answers 401 and calls
 * note_auth_failure; for 403 and login we rewrite that error response with
 * an error filter. */
#include <string.h>
#include <apr_strings.h>
#include <ap_provider.h>
#include <mod_auth.h>
#include <jansson.h>
#include "mod_tp_oauth_hooks.h"
#include "tpo_claims.h"
#include "tpo_token.h"
#include "tpo_session.h"

#define NOTE_ACTION "tpo-authz-action"

typedef struct claim_rule {
    const char *path;
    const char *value; /* exact, or NULL with a regex */
    ap_regex_t *regex;
} claim_rule;

static const char *parse_claims(cmd_parms *cmd, const char *line, const void **parsed)
{
    apr_array_header_t *rules = apr_array_make(cmd->pool, 2, sizeof(claim_rule));
    const char *w;

    while (*(w = ap_getword_conf(cmd->pool, &line))) {
        claim_rule *cr = apr_array_push(rules);
        const char *eq = strchr(w, '='), *tl = strchr(w, '~');
        const char *sep = (eq && (!tl || eq < tl)) ? eq : tl;

        if (!sep || sep == w || !sep[1]) {
            return apr_psprintf(cmd->pool,
                                "Require oauth-claim: '%s' is not claim=value or "
                                "claim~regex",
                                w);
        }
        cr->path = apr_pstrndup(cmd->pool, w, sep - w);
        if (*sep == '=') {
            cr->value = sep + 1;
        }
        else {
            cr->regex = ap_pregcomp(cmd->pool, sep + 1, 0);
            if (!cr->regex) {
                return apr_psprintf(cmd->pool,
                                    "Require oauth-claim: '%s' is not a valid "
                                    "regular expression",
                                    sep + 1);
            }
        }
    }
    if (rules->nelts == 0) {
        return "Require oauth-claim needs at least one claim=value or claim~regex";
    }
    *parsed = rules;
    return NULL;
}

static const char *parse_scopes(cmd_parms *cmd, const char *line, const void **parsed)
{
    apr_array_header_t *scopes = apr_array_make(cmd->pool, 2, sizeof(const char *));
    const char *w;

    while (*(w = ap_getword_conf(cmd->pool, &line))) {
        APR_ARRAY_PUSH(scopes, const char *) = w;
    }
    if (scopes->nelts == 0) {
        return "Require oauth-scope needs at least one scope";
    }
    *parsed = scopes;
    return NULL;
}

static int regex_match(json_t *v, ap_regex_t *re, apr_pool_t *p)
{
    const char *s;
    apr_size_t i;
    json_t *e;

    if (json_is_array(v)) {
        json_array_foreach(v, i, e)
        {
            if ((s = tpo_claims_scalar(p, e)) && !ap_regexec(re, s, 0, NULL, 0)) {
                return 1;
            }
        }
        return 0;
    }
    return (s = tpo_claims_scalar(p, v)) != NULL && !ap_regexec(re, s, 0, NULL, 0);
}

/* The authenticated session of this request, or why there is none. */
static authz_status session_of(request_rec *r, tpa_req **rq)
{
    if (!r->user) {
        return AUTHZ_DENIED_NO_USER;
    }
    *rq = tpa_req_get(r);
    if (!(*rq)->session) {
        return AUTHZ_DENIED; /* authenticated by something else, or a preflight */
    }
    return AUTHZ_GRANTED;
}

static authz_status denied(request_rec *r, const char *what)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  TPO_APLOGNO(00024) "user %s does not satisfy Require %s",
                  ap_escape_logitem(r->pool, r->user), what);
    return AUTHZ_DENIED;
}

static authz_status check_claims(request_rec *r, const char *line, const void *parsed)
{
    const apr_array_header_t *rules = parsed;
    tpa_req *rq;
    authz_status st = session_of(r, &rq);
    json_t *claims;
    int i;

    if (st != AUTHZ_GRANTED) {
        return st;
    }
    claims = tpa_req_claims(r);
    if (!claims) {
        return denied(r, "oauth-claim (no claims)");
    }
    for (i = 0; i < rules->nelts; i++) {
        const claim_rule *cr = &APR_ARRAY_IDX(rules, i, claim_rule);
        if (cr->value ? tpo_claims_match(claims, cr->path, cr->value)
                      : regex_match(tpo_claims_path(claims, cr->path), cr->regex, r->pool)) {
            return AUTHZ_GRANTED;
        }
    }
    return denied(r, apr_pstrcat(r->pool, "oauth-claim ", line, NULL));
}

static authz_status check_scopes(request_rec *r, const char *line, const void *parsed)
{
    const apr_array_header_t *scopes = parsed;
    tpa_req *rq;
    authz_status st = session_of(r, &rq);
    int i;

    if (st != AUTHZ_GRANTED) {
        return st;
    }
    for (i = 0; i < scopes->nelts; i++) {
        if (tpo_scope_has(rq->session->scope, APR_ARRAY_IDX(scopes, i, const char *))) {
            return AUTHZ_GRANTED;
        }
    }
    apr_table_setn(r->notes, TPO_NOTE_BEARER_SCOPE, line);
    return denied(r, apr_pstrcat(r->pool, "oauth-scope ", line, NULL));
}

static const authz_provider claim_provider = {check_claims, parse_claims};
static const authz_provider scope_provider = {check_scopes, parse_scopes};

/* note_auth_failure for an authenticated user whose Require failed. */
int tpa_authz_note_failure(request_rec *r)
{
    tpa_dir_conf *dc = tpa_config_dir(r);
    tpa_provider_conf *pc = tpa_config_provider(r->server, dc->provider);
    int action = tpa_dir_authz(dc);

    if (r->ap_auth_type && !strcmp(r->ap_auth_type, TPO_AUTH_TYPE_BEARER)) {
        tpa_bearer_authz_failure(r, pc); /* RFC 6750: 403 insufficient_scope */
        action = TPO_AUTHZ_403;
    }
    if (action == TPO_AUTHZ_401 || !pc) {
        tpa_www_authenticate(r, pc, "insufficient_scope");
        return OK;
    }
    if (action == TPO_AUTHZ_LOGIN) {
        /* step-up: a new login (the provider may ask again, e.g. with
         * TPOAuthAuthParam prompt login) */
        tpa_answer fail;
        int rc = tpa_login_start(r, pc, &fail);
        if (rc != HTTP_MOVED_TEMPORARILY) {
            /* the login could not start (nothing was written, the
             * failure page is dropped): keep the 401 */
            return OK;
        }
        apr_table_setn(r->notes, "tpo-authz-location", apr_table_get(r->headers_out, "Location"));
    }
    apr_table_setn(r->notes, NOTE_ACTION, action == TPO_AUTHZ_LOGIN ? "login" : "403");
    return OK;
}

/* insert_error_filter: only for the 401 of a failed Require rule. */
static void insert_error_filter(request_rec *r)
{
    if (r->status == HTTP_UNAUTHORIZED && apr_table_get(r->notes, NOTE_ACTION)) {
        ap_add_output_filter("TPO_AUTHZ_ERROR", NULL, r, r->connection);
    }
}

/* Replace Apache's 401 page by our 403 page or by the step-up redirect. */
static apr_status_t authz_error_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    const char *action = apr_table_get(r->notes, NOTE_ACTION);
    apr_bucket *e;
    int eos = 0;
    apr_bucket_brigade *out;

    for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb);) {
        apr_bucket *next = APR_BUCKET_NEXT(e);
        if (APR_BUCKET_IS_EOS(e)) {
            eos = 1;
        }
        apr_bucket_delete(e);
        e = next;
    }
    if (!eos) {
        return APR_SUCCESS; /* swallow the 401 body until its end */
    }
    ap_remove_output_filter(f);
    apr_table_unset(r->headers_out, "WWW-Authenticate");
    apr_table_unset(r->err_headers_out, "WWW-Authenticate");
    if (apr_table_get(r->notes, TPO_NOTE_BEARER_CHALLENGE)) {
        apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                       apr_table_get(r->notes, TPO_NOTE_BEARER_CHALLENGE));
    }
    out = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    tpa_page_headers(r);
    ap_set_content_type(r, "text/html; charset=utf-8");
    if (action && !strcmp(action, "login")) {
        r->status = HTTP_MOVED_TEMPORARILY;
        r->status_line = ap_get_status_line(HTTP_MOVED_TEMPORARILY);
        apr_table_setn(r->headers_out, "Location", apr_table_get(r->notes, "tpo-authz-location"));
        apr_brigade_puts(out, NULL, NULL,
                         tpa_page_html(r->pool, "Login required", "Login required", ""));
    }
    else {
        r->status = HTTP_FORBIDDEN;
        r->status_line = ap_get_status_line(HTTP_FORBIDDEN);
        apr_brigade_puts(
            out, NULL, NULL,
            tpa_page_html(
                r->pool, "403 Forbidden", "Forbidden",
                "<p>You are logged in, but your account is not allowed to open this page.</p>\n"
                "<p><small>status 403, mod_tp_oauth</small></p>"));
    }
    APR_BRIGADE_INSERT_TAIL(out, apr_bucket_eos_create(r->connection->bucket_alloc));
    return ap_pass_brigade(f->next, out);
}

void tpa_authz_register(apr_pool_t *p)
{
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "oauth-claim", AUTHZ_PROVIDER_VERSION,
                              &claim_provider, AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "oauth-scope", AUTHZ_PROVIDER_VERSION,
                              &scope_provider, AP_AUTH_INTERNAL_PER_CONF);
    ap_register_output_filter("TPO_AUTHZ_ERROR", authz_error_filter, NULL, AP_FTYPE_CONTENT_SET);
    ap_hook_insert_error_filter(insert_error_filter, NULL, NULL, APR_HOOK_MIDDLE);
}
