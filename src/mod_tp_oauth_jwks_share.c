/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The provider's JWK Set shared by all processes (and servers sharing a
 * distributed cache) through the session cache, so that a token with an
 * unknown kid makes at most one fetch per TPOAuthJWKSRefetchInterval in
 * all, not one per process:
 *   jk:<hash of the JWKS URI>  the document last fetched: 8 bytes fetch
 *                  time (µs, little endian) + the JSON, kept
 *                  TPO_JWKS_SHARED_TTL seconds;
 *   jg:<hash of the JWKS URI>  written with add for one interval by the
 *                  process that fetches (the gate).
 * A failing cache only costs the sharing: every process then fetches on
 * its own, rate-limited per process. */
#include <string.h>
#include <apr_strings.h>
#include "mod_tp_oauth_provider.h"
#include "mod_tp_oauth_session.h"
#include "tpo_bearer.h"

#define TPO_JWKS_SHARED_TTL 3600
#define KEY_DOC "jk:"
#define KEY_GATE "jg:"

/* The key of a JWKS URI: providers of different virtual hosts may share a
 * name, never a URI with different keys. */
static const char *key_of(request_rec *r, const char *prefix, const char *uri)
{
    const char *k = tpo_bearer_key(r->pool, prefix, "jwks", uri);
    apr_size_t klen;

    return k && tpo_cache_key_ok(k, &klen) ? k : NULL;
}

apr_status_t tpa_provider_jwks_shared_get(request_rec *r, tpa_provider_conf *pc, const char *uri,
                                          apr_time_t newer_than, char **json, apr_size_t *len,
                                          apr_time_t *fetched_at)
{
    const char *key = key_of(r, KEY_DOC, uri);
    char *val;
    apr_size_t vlen;
    apr_uint64_t t = 0;
    int i;

    if (!key || !tpa_session_cache ||
        tpo_cache_get(tpa_session_cache, key, r->pool, &val, &vlen) != APR_SUCCESS || vlen <= 8) {
        return APR_NOTFOUND;
    }
    for (i = 7; i >= 0; i--) {
        t = (t << 8) | (unsigned char)val[i];
    }
    if ((apr_time_t)t <= newer_than) {
        return APR_NOTFOUND;
    }
    *json = apr_pstrmemdup(r->pool, val + 8, vlen - 8);
    *len = vlen - 8;
    *fetched_at = (apr_time_t)t;
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  TPO_APLOGNO(00210) "provider %s: JWK Set taken from the shared cache", pc->name);
    return APR_SUCCESS;
}

int tpa_provider_jwks_shared_gate(request_rec *r, tpa_provider_conf *pc, const char *uri)
{
    const char *key = key_of(r, KEY_GATE, uri);
    apr_status_t rv;

    if (!key || !tpa_session_cache) {
        return 1;
    }
    rv = tpo_cache_add(tpa_session_cache, key, "1", 1,
                       apr_time_now() + apr_time_from_sec(pc->jwks_refetch_interval));
    if (rv == APR_EEXIST) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      TPO_APLOGNO(00211) "provider %s: JWK Set not refetched: fetched less than "
                                         "TPOAuthJWKSRefetchInterval (%d s) ago",
                      pc->name, pc->jwks_refetch_interval);
        return 0;
    }
    return 1; /* written, or the cache is down: this process decides alone */
}

void tpa_provider_jwks_shared_put(request_rec *r, tpa_provider_conf *pc, const char *uri,
                                  const char *json, apr_size_t len, apr_time_t fetched_at)
{
    const char *key = key_of(r, KEY_DOC, uri);
    char *val;
    apr_uint64_t t = (apr_uint64_t)fetched_at;
    int i;

    if (!key || !tpa_session_cache || !json || len == 0) {
        return;
    }
    val = apr_palloc(r->pool, len + 8);
    for (i = 0; i < 8; i++) {
        val[i] = (char)(t & 0xff);
        t >>= 8;
    }
    memcpy(val + 8, json, len);
    tpo_cache_set(tpa_session_cache, key, val, len + 8,
                  apr_time_now() + apr_time_from_sec(TPO_JWKS_SHARED_TTL));
}
