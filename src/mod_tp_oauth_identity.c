/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Identity for the application: the pre-rendered variables and headers of
 * the session, the removal of every client header that could impersonate
 * one of ours, the pass-through mode, and the session info endpoint. */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <jansson.h>
#include "tpo_json.h"
#include "mod_tp_oauth_identity.h"
#include "tpo_session.h"

typedef struct export_ctx {
    apr_table_t *t;
    int replace; /* setn (an entry of that name may exist) or addn */
} export_ctx;

static void export_pair(void *baton, const char *name, const char *value)
{
    export_ctx *x = baton;
    if (x->replace) {
        apr_table_setn(x->t, name, value);
    }
    else {
        apr_table_addn(x->t, name, value);
    }
}

static void export_kind(tpo_session *s, int kind, export_ctx *x)
{
    apr_array_header_t *a = kind == TPO_SESSION_PAIRS_ENV ? s->env : s->headers;
    int i;

    if (a) {
        const char **kv = (const char **)a->elts;
        for (i = 0; i + 1 < a->nelts; i += 2) {
            export_pair(x, kv[i], kv[i + 1]);
        }
    }
    else {
        tpo_session_pairs_each(s, kind, export_pair, x);
    }
}

/* Does the table hold any variable of ours already (a sub-request's copy,
 * SetEnvIf)? Then names must be replaced, not added. */
static int has_prefixed(const apr_table_t *t, const char *claim_prefix)
{
    const apr_array_header_t *arr = apr_table_elts(t);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    apr_size_t n = strlen(claim_prefix);
    int i;

    for (i = 0; i < arr->nelts; i++) {
        if (e[i].key && (!strncmp(e[i].key, "TPO_", 4) || !strncmp(e[i].key, claim_prefix, n))) {
            return 1;
        }
    }
    return 0;
}

void tpa_identity_export(request_rec *r, tpa_provider_conf *pc, tpo_session *s)
{
    int mode = tpa_dir_export(tpa_config_dir(r));
    tpa_req *rq = tpa_req_get(r);
    export_ctx x;

    r->user = (char *)s->user;
    r->ap_auth_type = TPO_AUTH_TYPE;
    rq->session = s;
    rq->pc = pc;
    if (mode == TPO_EXPORT_NONE) {
        return;
    }
    if (mode & TPO_EXPORT_ENV) {
        x.t = r->subprocess_env;
        x.replace = has_prefixed(r->subprocess_env, pc->claim_prefix);
        export_kind(s, TPO_SESSION_PAIRS_ENV, &x);
    }
    if (mode & TPO_EXPORT_HEADERS) {
        /* every client header with our names was removed in post_read_request;
         * a sub-request inherits ours: replace then */
        x.t = r->headers_in;
        x.replace = r->main != NULL || r->prev != NULL;
        export_kind(s, TPO_SESSION_PAIRS_HEADERS, &x);
    }
}

/* Is the (client's) header name one of ours? Case-insensitive, '-' == '_'. */
static int is_ours(const apr_array_header_t *strip, const char *name)
{
    int i;

    for (i = 0; i < strip->nelts; i++) {
        const char *pfx = APR_ARRAY_IDX(strip, i, const char *);
        const char *a = name, *b = pfx;
        while (*a && *b) {
            char ca = *a == '_' ? '-' : (char)apr_tolower(*a);
            if (ca != *b) {
                break;
            }
            a++;
            b++;
        }
        if (!*b) {
            return 1;
        }
    }
    return 0;
}

/* post_read_request: on every request, protected or not. */
int tpa_strip_headers(request_rec *r)
{
    tpa_server_conf *sc = tpa_config_server(r->server);
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    int i;

    if (!sc->strip || sc->strip->nelts == 0) {
        return DECLINED;
    }
    arr = apr_table_elts(r->headers_in);
    e = (const apr_table_entry_t *)arr->elts;
    for (i = 0; i < arr->nelts; i++) {
        if (e[i].key && is_ours(sc->strip, e[i].key)) {
            ap_log_rerror(
                APLOG_MARK, APLOG_INFO, 0, r,
                TPO_APLOGNO(00040) "removed client-supplied header %s (reserved for the identity)",
                ap_escape_logitem(r->pool, e[i].key));
            apr_table_unset(r->headers_in, e[i].key);
            /* the table changed under us: start again */
            arr = apr_table_elts(r->headers_in);
            e = (const apr_table_entry_t *)arr->elts;
            i = -1;
        }
    }
    return DECLINED;
}

/* Is the (client's) header name on the list? Exact names, case-insensitive,
 * '-' == '_'; only names of the same length are compared. */
static int is_listed(const apr_array_header_t *strip, const char *name, apr_size_t len)
{
    const tpa_strip_name *e = (const tpa_strip_name *)strip->elts;
    int i;

    for (i = 0; i < strip->nelts; i++) {
        apr_size_t k;
        if (e[i].len != len) {
            continue;
        }
        for (k = 0; k < len; k++) {
            char c = name[k] == '_' ? '-' : (char)apr_tolower(name[k]);
            if (c != e[i].name[k]) {
                break;
            }
        }
        if (k == len) {
            return 1;
        }
    }
    return 0;
}

/* header_parser (after the location walk, on every main request and internal
 * redirect, protected or not): the identity headers that backends commonly
 * trust (Remote-User, X-Forwarded-User, ...; TPOAuthStripHeaders). The list
 * was computed when the configuration was merged. */
int tpa_strip_dir_headers(request_rec *r)
{
    tpa_dir_conf *dc = tpa_config_dir(r);
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    int i;

    if (!dc || !dc->strip || dc->strip->nelts == 0) {
        return DECLINED;
    }
    arr = apr_table_elts(r->headers_in);
    e = (const apr_table_entry_t *)arr->elts;
    for (i = 0; i < arr->nelts; i++) {
        if (e[i].key && is_listed(dc->strip, e[i].key, strlen(e[i].key))) {
            ap_log_rerror(
                APLOG_MARK, APLOG_INFO, 0, r,
                TPO_APLOGNO(00041) "removed client-supplied header %s (TPOAuthStripHeaders)",
                ap_escape_logitem(r->pool, e[i].key));
            apr_table_unset(r->headers_in, e[i].key);
            arr = apr_table_elts(r->headers_in);
            e = (const apr_table_entry_t *)arr->elts;
            i = -1;
        }
    }
    return DECLINED;
}

/* fixups: TPOAuthUnauthenticated pass on a location that lets everyone in
 * (Require all granted): a browser with a session is still identified. */
int tpa_pass_fixups(request_rec *r)
{
    const char *type = ap_auth_type(r);
    tpa_dir_conf *dc;
    tpa_provider_conf *pc;
    tpo_session *s;

    if (r->user || !type || strcasecmp(type, TPO_AUTH_TYPE) != 0) {
        return DECLINED;
    }
    dc = tpa_config_dir(r);
    if (tpa_dir_unauth(dc) != TPO_UNAUTH_PASS) {
        return DECLINED;
    }
    pc = tpa_config_provider(r->server, dc->provider);
    if (!pc || !pc->rt) {
        return DECLINED;
    }
    s = apr_pcalloc(r->pool, sizeof(*s));
    if (tpa_session_load(r, pc, s) == TPA_SESS_OK) {
        tpa_identity_export(r, pc, s);
    }
    return DECLINED;
}
