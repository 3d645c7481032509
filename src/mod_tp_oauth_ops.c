/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The operators' endpoints: the metrics (Prometheus text) and the health
 * check (JSON), each where SetHandler names it; who may read them is the
 * location's Require. */
#include <string.h>
#include <jansson.h>
#include "mod_tp_oauth_endpoint.h"
#include "mod_tp_oauth_metrics.h"

#define METRICS_HANDLER "tp-oauth-metrics"
#define HEALTH_HANDLER "tp-oauth-health"

static int metrics_endpoint(request_rec *r)
{
    const char *text = tpa_metrics_text(r);

    r->status = HTTP_OK;
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->err_headers_out, "X-Content-Type-Options", "nosniff");
    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    if (!r->header_only) {
        ap_rputs(text, r);
    }
    return DONE;
}

int tpa_ops_handler(request_rec *r)
{
    int metrics, status;
    json_t *body = NULL;

    /* every request of the server passes here: one short compare */
    if (!r->handler || strncmp(r->handler, "tp-oauth-", 9) != 0) {
        return DECLINED;
    }
    metrics = !strcmp(r->handler, METRICS_HANDLER);
    if (!metrics && strcmp(r->handler, HEALTH_HANDLER) != 0) {
        return DECLINED;
    }
    if (r->method_number != M_GET) {
        ap_allow_methods(r, 1, "GET", NULL);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (metrics) {
        return metrics_endpoint(r);
    }
    status = tpa_health_check(r, &body);
    return tpa_json_response(r, status, body);
}
