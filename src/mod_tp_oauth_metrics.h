/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Layer 2 (services): the module's figures (mod_tp_oauth_metrics.c): the
 * counters in shared memory (made in post_config, inherited by the
 * children, kept across graceful restarts), counting (one relaxed atomic
 * add, no lock), their Prometheus text, the health check and the line in
 * mod_status's page. The handlers that write them are endpoints
 * (mod_tp_oauth_ops.c). */
#ifndef MOD_TP_OAUTH_METRICS_H
#define MOD_TP_OAUTH_METRICS_H

#include "mod_tp_oauth_page.h"
#include "tpo_metrics.h"

struct json_t;

/* The counters; NULL when the segment could not be made (counting is then
 * a no-op). */
extern tpo_metrics *tpa_metrics;

int tpa_metrics_post_config(server_rec *s);
/* After the session caches' child_init: counts the distributed cache's
 * failures. */
void tpa_metrics_child_init(apr_pool_t *pchild, server_rec *s);

static inline void tpa_count(tpo_metric which)
{
    tpo_metrics_add(tpa_metrics, which);
}

/* A call to the provider that started at t0. */
static inline void tpa_count_call(tpo_endpoint ep, apr_time_t t0, int failed)
{
    tpo_metrics_call(tpa_metrics, ep, apr_time_now() - t0, failed);
}

/* The Prometheus text. */
const char *tpa_metrics_text(request_rec *r);
/* The health of the session cache (a write, read and delete of a probe key,
 * each bounded by the cache timeout) and of each provider's metadata in
 * r's server: HTTP_OK or HTTP_SERVICE_UNAVAILABLE, and the JSON body. */
int tpa_health_check(request_rec *r, struct json_t **body);
/* One line for mod_status's page. */
const char *tpa_metrics_summary(apr_pool_t *p);

#endif
