/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* A provider that is down. A failed back-channel call (discovery, JWKS,
 * token endpoint: unreachable, timeout, 5xx) writes the small shared record
 * of tpo_down.c into the session cache (so every child process, and every
 * server sharing the cache, agrees); a token-endpoint call that gets an
 * answer, or a successful probe, removes it (metadata that loads does not:
 * the token endpoint may still fail). While the record says down, new logins get 503 with
 * Retry-After instead of a redirect to a dead provider; once per
 * TPO_DOWN_PROBE_INTERVAL_S one request, the one that wins the cache's
 * atomic add of the probe key, probes the provider (one GET, bounded by
 * TPOAuthHTTPTimeout; no lock is held meanwhile, the probe key expires by
 * itself). Sessions are not involved: logged-in users are not affected. */
#include <string.h>
#include <apr_strings.h>
#include "mod_tp_oauth_provider.h"
#include "mod_tp_oauth_session.h"
#include "tpo_down.h"
#include "tpo_http.h"

#define KEY_DOWN "pd:"  /* + provider name: the tpo_down record */
#define KEY_PROBE "pp:" /* + provider name: a probe is claimed */
#define PROBE_INTERVAL apr_time_from_sec(TPO_DOWN_PROBE_INTERVAL_S)

static int record_get(request_rec *r, tpa_provider_conf *pc, tpo_down *d)
{
    char *v;
    apr_size_t len;

    memset(d, 0, sizeof(*d));
    if (!tpa_session_cache ||
        tpo_cache_get(tpa_session_cache, apr_pstrcat(r->pool, KEY_DOWN, pc->name, NULL), r->pool,
                      &v, &len) != APR_SUCCESS) {
        return 0;
    }
    return tpo_down_decode(v, len, d);
}

void tpa_provider_down_note(request_rec *r, tpa_provider_conf *pc, int failed)
{
    const char *key = apr_pstrcat(r->pool, KEY_DOWN, pc->name, NULL);
    apr_time_t now = apr_time_now();
    tpo_down d;
    int had = record_get(r, pc, &d);
    apr_size_t len;
    char *v;

    if (!tpa_session_cache) {
        return;
    }
    if (!failed) {
        if (had && tpo_cache_del(tpa_session_cache, key) == APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                          TPO_APLOGNO(00702) "provider %s: reachable again after %" APR_TIME_T_FMT
                                             " s: new logins go ahead",
                          pc->name, apr_time_sec(now - d.since));
        }
        return;
    }
    tpo_down_fail(&d, now);
    v = tpo_down_encode(r->pool, &d, &len);
    if (tpo_cache_set(tpa_session_cache, key, v, len,
                      now + apr_time_from_sec(TPO_DOWN_RECORD_TTL_S)) != APR_SUCCESS) {
        return;
    }
    if (!had) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      TPO_APLOGNO(00703) "provider %s: its back channel failed: new logins get 503 "
                                         "until a probe or a call succeeds",
                      pc->name);
    }
}

/* One GET to the provider's discovery document (or, without discovery, its
 * token endpoint): any answer below 500 means it is up. */
static int probe(request_rec *r, tpa_provider_conf *pc)
{
    const char *url = pc->discovery ? pc->discovery_url : pc->token_endpoint;
    tpo_http_opts o;
    tpo_http_response resp;
    tpo_http_result res;
    int ok;

    if (!url) {
        return 1; /* nothing to probe: the next real call decides */
    }
    tpa_provider_http_opts(pc, &o);
    memset(&resp, 0, sizeof(resp));
    res = tpo_http_request(r->pool, "GET", url, NULL, NULL, 0, &o, &resp);
    ok = res == TPO_HTTP_OK && resp.status < 500;
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, TPO_APLOGNO(00704) "provider %s: probe of %s: %s",
                  pc->name, url,
                  ok                   ? "up"
                  : res == TPO_HTTP_OK ? apr_psprintf(r->pool, "HTTP status %d", resp.status)
                                       : (resp.error ? resp.error : "failed"));
    tpa_provider_down_note(r, pc, !ok);
    return ok;
}

int tpa_provider_down_check(request_rec *r, tpa_provider_conf *pc, long *retry_after)
{
    apr_time_t now = apr_time_now();
    apr_interval_time_t limit = apr_time_from_msec(pc->timeout_ms > 0 ? pc->timeout_ms : 1000);
    tpo_down d;
    tpo_down_action a;

    if (!record_get(r, pc, &d)) {
        return 0;
    }
    a = tpo_down_decide(&d, now, PROBE_INTERVAL);
    if (a == TPO_DOWN_PROBE) {
        /* the one request that adds the key probes; it expires by itself */
        const char *key = apr_pstrcat(r->pool, KEY_PROBE, pc->name, NULL);
        if (tpo_cache_add(tpa_session_cache, key, "1", 1, now + PROBE_INTERVAL) == APR_SUCCESS) {
            if (probe(r, pc)) {
                return 0;
            }
            now = apr_time_now();
            if (!record_get(r, pc, &d)) {
                tpo_down_fail(&d, now);
            }
        }
    }
    *retry_after = tpo_down_retry_after(&d, now, PROBE_INTERVAL, limit);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  TPO_APLOGNO(00705) "provider %s: down for %" APR_TIME_T_FMT
                                     " s: login refused with 503, Retry-After %ld",
                  pc->name, apr_time_sec(now - d.since), *retry_after);
    return 1;
}
