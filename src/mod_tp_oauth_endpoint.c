/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The one dispatcher of the redirect URI and the endpoints under it
 * (callback, info, refresh, logout, backchannel-logout, frontchannel-logout,
 * jwks, initiate-login):
 * tpa_endpoint_route. Reached from
 * check_authn when the redirect URI is inside a protected location (there
 * the login must not start), else from the handler hook; both return its
 * result unchanged (the handler hook maps DONE to OK). */
#include <string.h>
#include "mod_tp_oauth_endpoint.h"

/* 1 when the request is for the redirect URI (*sub = NULL) or a path under
 * it ("<redirect URI>/info": *sub = "info"). */
static int is_redirect_uri(request_rec *r, tpa_provider_conf *pc, const char **sub)
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
static int dispatch(request_rec *r, tpa_provider_conf *pc, const char *sub)
{
    if (!sub) {
        return tpa_login_callback(r, pc);
    }
    if (!strcmp(sub, "info")) {
        return tpa_info_endpoint(r, pc);
    }
    if (!strcmp(sub, "refresh")) {
        return tpa_refresh_endpoint(r, pc);
    }
    if (!strcmp(sub, "logout")) {
        return tpa_logout_endpoint(r, pc);
    }
    if (!strcmp(sub, "backchannel-logout")) {
        return tpa_backchannel_logout_endpoint(r, pc);
    }
    if (!strcmp(sub, "frontchannel-logout")) {
        return tpa_frontchannel_logout_endpoint(r, pc);
    }
    if (!strcmp(sub, "jwks")) {
        return tpa_client_jwks_endpoint(r, pc);
    }
    if (!strcmp(sub, "initiate-login")) {
        return tpa_login_initiate_endpoint(r, pc);
    }
    return tpa_page_error(r, HTTP_NOT_FOUND, "Not found",
                          "There is no such mod_tp_oauth endpoint.");
}

int tpa_endpoint_route(request_rec *r, tpa_provider_conf *pc)
{
    const char *sub;

    return is_redirect_uri(r, pc, &sub) ? dispatch(r, pc, sub) : DECLINED;
}

/* The redirect URI (and the endpoints under it) also work outside any
 * protected location. */
int tpa_endpoint_handler(request_rec *r)
{
    tpa_server_conf *sc;
    apr_hash_index_t *hi;

    if (r->main || !r->parsed_uri.path) {
        return DECLINED;
    }
    sc = tpa_config_server(r->server);
    for (hi = apr_hash_first(r->pool, sc->providers); hi; hi = apr_hash_next(hi)) {
        tpa_provider_conf *pc = apr_hash_this_val(hi);
        int rc;
        if (pc->rt && (rc = tpa_endpoint_route(r, pc)) != DECLINED) {
            return rc == DONE ? OK : rc; /* DONE: the endpoint wrote its answer */
        }
    }
    return DECLINED;
}
