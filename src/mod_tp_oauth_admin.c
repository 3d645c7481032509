/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The administration handler (SetHandler tp-oauth-admin), protected by the
 * location's own Require (e.g. Require local):
 *
 *   GET  ?provider=NAME&sub=SUB            the user's sessions as JSON: handle,
 *                                          created, last_seen, expires (epoch
 *                                          seconds); never a token or a session id
 *   POST provider=NAME&sub=SUB&session=H   end the session with handle H
 *   POST provider=NAME&sub=SUB&session=all end every session of the user
 *
 * provider may be left out when the server has exactly one. A POST from a
 * browser on another site is refused (Sec-Fetch-Site / Origin): the handler
 * acts on the address it is reached from, not on cookies, but a page must
 * not use an administrator's browser to reach it. tools/tpo-sessions calls it. */
#include <string.h>
#include <apr_strings.h>
#include "mod_tp_oauth_flows.h"
#include "tpo_session.h"
#include "tpo_url.h"

#define ADMIN_HANDLER "tp-oauth-admin"
#define ADMIN_BODY_MAX 8192

static int admin_error(request_rec *r, int status, const char *error, const char *description)
{
    return tpa_json_response(
        r, status, json_pack("{s:s,s:s}", "error", error, "error_description", description));
}

static const char *read_form(request_rec *r)
{
    char *buf = apr_palloc(r->pool, ADMIN_BODY_MAX + 1);
    apr_size_t len = 0;
    long n;

    if (ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK) != OK || !ap_should_client_block(r)) {
        return "";
    }
    while ((n = ap_get_client_block(r, buf + len, ADMIN_BODY_MAX + 1 - len)) > 0) {
        len += (apr_size_t)n;
        if (len > ADMIN_BODY_MAX) {
            return NULL;
        }
    }
    if (n < 0) {
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

static tpa_provider_conf *find_provider(request_rec *r, const char *name)
{
    tpa_server_conf *sc = tpa_config_server(r->server);
    apr_hash_index_t *hi;

    if (name) {
        tpa_provider_conf *pc = apr_hash_get(sc->providers, name, APR_HASH_KEY_STRING);
        return pc && pc->rt ? pc : NULL;
    }
    if (apr_hash_count(sc->providers) != 1) {
        return NULL;
    }
    hi = apr_hash_first(r->pool, sc->providers);
    return hi && ((tpa_provider_conf *)apr_hash_this_val(hi))->rt ? apr_hash_this_val(hi) : NULL;
}

static int cross_site(request_rec *r)
{
    const char *sfs = apr_table_get(r->headers_in, "Sec-Fetch-Site");
    const char *origin = apr_table_get(r->headers_in, "Origin");

    if (sfs && strcasecmp(sfs, "same-origin") != 0 && strcasecmp(sfs, "none") != 0) {
        return 1;
    }
    return origin && strcasecmp(origin, ap_construct_url(r->pool, "", r)) != 0;
}

static json_int_t secs(apr_time_t t)
{
    return (json_int_t)apr_time_sec(t);
}

static int list_sessions(request_rec *r, tpa_provider_conf *pc, const char *sub)
{
    apr_array_header_t *list;
    json_t *arr;
    apr_status_t rv = tpa_sessions_list(r, pc, sub, &list);
    int i;

    if (rv != APR_SUCCESS) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, rv, r,
            TPO_APLOGNO(00400) "admin: sessions of %s could not be listed (session cache)",
            ap_escape_logitem(r->pool, sub));
        return admin_error(r, HTTP_SERVICE_UNAVAILABLE, "temporarily_unavailable",
                           "session store unavailable");
    }
    arr = json_array();
    for (i = 0; i < list->nelts; i++) {
        const tpa_listed_session *ls = &APR_ARRAY_IDX(list, i, tpa_listed_session);
        json_array_append_new(arr, json_pack("{s:s,s:I,s:I,s:I}", "session", ls->handle, "created",
                                             secs(ls->session->created), "last_seen",
                                             secs(ls->session->last_seen), "expires",
                                             secs(ls->session->expires)));
    }
    return tpa_json_response(
        r, HTTP_OK, json_pack("{s:s,s:s,s:o}", "provider", pc->name, "sub", sub, "sessions", arr));
}

static int end_sessions(request_rec *r, tpa_provider_conf *pc, const char *sub, const char *which)
{
    apr_time_t t0 = apr_time_now();
    apr_status_t rv;
    int ended = 0;

    if (!strcmp(which, "all")) {
        rv = tpa_sessions_end(r, pc, sub, NULL, &ended);
    }
    else {
        rv = tpa_sessions_end_one(r, pc, sub, which, &ended);
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      TPO_APLOGNO(00401) "admin: sessions of %s could not be ended (session cache)",
                      ap_escape_logitem(r->pool, sub));
        return admin_error(r, HTTP_SERVICE_UNAVAILABLE, "temporarily_unavailable",
                           "session store unavailable");
    }
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                  TPO_APLOGNO(00402) "admin: %d session(s) of %s at provider %s ended by %s", ended,
                  ap_escape_logitem(r->pool, sub), pc->name,
                  r->useragent_ip ? r->useragent_ip : "-");
    return tpa_json_response(r, HTTP_OK,
                             json_pack("{s:s,s:s,s:i,s:I}", "provider", pc->name, "sub", sub,
                                       "ended", ended, "elapsed_us",
                                       (json_int_t)(apr_time_now() - t0)));
}

int tpa_admin_handler(request_rec *r)
{
    apr_table_t *q;
    const char *provider, *sub, *which = NULL, *body;
    tpa_provider_conf *pc;
    int d1 = 0, d2 = 0, d3 = 0;

    if (!r->handler || strcmp(r->handler, ADMIN_HANDLER) != 0) {
        return DECLINED;
    }
    if (r->method_number == M_GET) {
        q = tpo_query_parse(r->pool, r->args ? r->args : "", 8);
    }
    else if (r->method_number == M_POST) {
        if (cross_site(r)) {
            ap_discard_request_body(r);
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          TPO_APLOGNO(00403) "admin: cross-site POST refused");
            return admin_error(r, HTTP_FORBIDDEN, "forbidden", "cross-site request");
        }
        body = read_form(r);
        q = body ? tpo_query_parse(r->pool, body, 8) : NULL;
    }
    else {
        apr_table_setn(r->err_headers_out, "Allow", "GET, POST");
        return admin_error(r, HTTP_METHOD_NOT_ALLOWED, "invalid_request", "GET or POST");
    }
    if (!q) {
        return admin_error(r, HTTP_BAD_REQUEST, "invalid_request", "malformed parameters");
    }
    provider = tpo_query_get_unique(q, "provider", &d1);
    sub = tpo_query_get_unique(q, "sub", &d2);
    if (r->method_number == M_POST) {
        which = tpo_query_get_unique(q, "session", &d3);
    }
    if (d1 || d2 || d3 || !sub || !*sub || (r->method_number == M_POST && (!which || !*which))) {
        return admin_error(r, HTTP_BAD_REQUEST, "invalid_request",
                           r->method_number == M_POST ? "sub and session (a handle or all) needed"
                                                      : "sub needed");
    }
    pc = find_provider(r, provider);
    if (!pc) {
        return admin_error(r, HTTP_NOT_FOUND, "not_found",
                           provider ? "no such provider" : "name the provider (several)");
    }
    return r->method_number == M_GET ? list_sessions(r, pc, sub) : end_sessions(r, pc, sub, which);
}
