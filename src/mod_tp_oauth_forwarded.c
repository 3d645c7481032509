/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The URL of this server as the client sees it. Behind a proxy listed in
 * TPOAuthTrustedProxies, its Forwarded or X-Forwarded-Proto/-Host/-Port
 * headers decide the scheme, host and port (tpo_forwarded.c); from any other
 * peer they are ignored. The peer is the connection's (c->client_ip): the
 * address that sent us the headers. Not r->useragent_ip, which mod_remoteip
 * replaces with an address taken from X-Forwarded-For. */
#include <string.h>
#include <apr_strings.h>
#include "mod_tp_oauth_page.h"
#include "tpo_forwarded.h"

static int peer_trusted(request_rec *r)
{
    const apr_array_header_t *list = tpa_config_server(r->server)->trusted_proxies;

    return list &&
           tpo_cidr_match((const tpo_cidr *)list->elts, list->nelts, r->connection->client_ip);
}

const char *tpa_request_url(request_rec *r, const char *uri)
{
    const char *fwd = apr_table_get(r->headers_in, "Forwarded");
    const char *xp = apr_table_get(r->headers_in, "X-Forwarded-Proto");
    const char *xh = apr_table_get(r->headers_in, "X-Forwarded-Host");
    const char *xport = apr_table_get(r->headers_in, "X-Forwarded-Port");
    tpo_fwd f;

    memset(&f, 0, sizeof(f));
    if (fwd || xp || xh || xport) {
        if (!peer_trusted(r)) {
            ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r,
                          TPO_APLOGNO(00700) "forwarding headers from %s ignored: not in "
                                             "TPOAuthTrustedProxies",
                          r->connection->client_ip);
        }
        else if (!tpo_fwd_parse(r->pool, fwd, xp, xh, xport, &f)) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                          TPO_APLOGNO(00701) "forwarding headers from trusted proxy %s hold no "
                                             "valid proto, host or port: ignored",
                          r->connection->client_ip);
        }
    }
    return tpo_fwd_url(r->pool, &f, ap_http_scheme(r), ap_get_server_name_for_url(r),
                       ap_get_server_port(r), uri);
}
