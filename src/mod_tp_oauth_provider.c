/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Per-process provider state: the metadata (from discovery or from the
 * configuration) and the JWK Set, fetched once, shared by the threads of
 * the process, refetched after a failure (with a back-off) or, for the JWKS,
 * when a token names a key we do not have (rate-limited: an unknown kid must
 * not turn every request into a fetch). Both are also refetched once they
 * are older than TPOAuthMetadataRefresh, by the request that notices it
 * while the others keep using their copy; a failed refetch keeps the copy.
 * Replaced metadata is freed only minutes later (META_FREE_AFTER): a
 * request may still hold a pointer to it (the JWK Sets are counted).
 *
 * The lock guards the state only, never a network call: one thread fetches
 * (marked by *_fetching) while the others go on with the copy they have;
 * only a thread that has no copy at all (or needs the new keys) waits for
 * the fetch in progress, on the condition variable and bounded by the
 * provider's HTTP timeout. So a slow provider never stalls requests that do
 * not need it (a login start while a callback fetches the JWKS). */
#include <string.h>
#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include "mod_tp_oauth_provider.h"
#include "mod_tp_oauth_metrics.h"
#include "tpo_dpop.h"
#include "tpo_http.h"
#include "tpo_idtoken.h"
#include "tpo_jose.h"
#include "tpo_provider.h"
#include "tpo_token.h"
#include "tpo_client_keys.h"
#include "tpo_defaults.h"

#define META_RETRY_AFTER apr_time_from_sec(5)
/* refetch for an unknown kid: TPOAuthJWKSRefetchInterval (also across
 * processes: mod_tp_oauth_jwks_share.c) */
#define JWKS_REFETCH_EVERY(pc) apr_time_from_sec((pc)->jwks_refetch_interval)
#define JWKS_RETRY_AFTER apr_time_from_sec(2)
#define META_FREE_AFTER apr_time_from_sec(300) /* longer than any request holds it */

/* Metadata replaced by a newer copy, kept a while (allocated in its own
 * pool). */
typedef struct retired_meta retired_meta;
struct retired_meta {
    apr_pool_t *pool;
    apr_time_t at;
    retired_meta *next;
};

typedef struct jwks_slot {
    apr_pool_t *pool;
    tpo_jwks *jwks;
    int refs;
    int retired;
    apr_time_t fetched_at; /* when it was fetched from the provider (by any process) */
} jwks_slot;

typedef struct tpa_provider_rt tpa_provider_rt;
struct tpa_provider_rt {
    apr_thread_mutex_t *mu;
    apr_thread_cond_t *cv; /* signalled when a fetch ends */
    apr_pool_t *pool;      /* metadata from the configuration lives here */
    tpo_provider_meta *meta;
    apr_pool_t *meta_pool; /* the fetched meta's own pool (NULL: from the configuration) */
    apr_time_t meta_loaded_at;
    retired_meta *retired;
    apr_time_t meta_failed_at;
    int meta_fetching;
    jwks_slot *jwks;
    apr_time_t jwks_attempt_at;
    apr_time_t jwks_loaded_at;
    int jwks_fetching;
    /* DPoP (RFC 9449 8, 9): the latest nonce of the authorization server and
     * of the resource server (userinfo), "" none */
    char dpop_nonce[2][TPO_DPOP_NONCE_MAX + 1];
};

static int refresh_due(const tpa_provider_conf *pc, apr_time_t loaded_at, apr_time_t now)
{
    return pc->metadata_refresh > 0 && now - loaded_at >= apr_time_from_sec(pc->metadata_refresh);
}

/* Under rt->mu: a new fetched copy; the old one is freed later. */
static void meta_install(tpa_provider_rt *rt, tpo_provider_meta *m, apr_pool_t *mp)
{
    apr_time_t now = apr_time_now();
    retired_meta **pp = &rt->retired;

    if (rt->meta_pool) {
        retired_meta *x = apr_pcalloc(rt->meta_pool, sizeof(*x));
        x->pool = rt->meta_pool;
        x->at = now;
        x->next = rt->retired;
        rt->retired = x;
        pp = &x->next;
    }
    while (*pp) { /* the list is newest first */
        retired_meta *x = *pp;
        if (now - x->at >= META_FREE_AFTER) {
            *pp = x->next;
            apr_pool_destroy(x->pool);
        }
        else {
            pp = &x->next;
        }
    }
    rt->meta = m;
    rt->meta_pool = mp;
    rt->meta_loaded_at = now;
}

void tpa_provider_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_hash_t *seen = apr_hash_make(pchild);
    server_rec *vs;

    for (vs = s; vs; vs = vs->next) {
        apr_hash_index_t *hi;
        for (hi = apr_hash_first(pchild, tpa_config_server(vs)->providers); hi;
             hi = apr_hash_next(hi)) {
            tpa_provider_conf *pc = apr_hash_this_val(hi);
            tpa_provider_rt *rt;

            if (apr_hash_get(seen, &pc, sizeof(pc))) {
                continue;
            }
            apr_hash_set(seen, apr_pmemdup(pchild, &pc, sizeof(pc)), sizeof(pc), pc);
            rt = apr_pcalloc(pchild, sizeof(*rt));
            apr_pool_create(&rt->pool, pchild);
            apr_pool_tag(rt->pool, "tpo_provider_meta");
            apr_thread_mutex_create(&rt->mu, APR_THREAD_MUTEX_DEFAULT, pchild);
            apr_thread_cond_create(&rt->cv, pchild);
            pc->rt = rt;
        }
    }
}

void tpa_provider_http_opts(const tpa_provider_conf *pc, tpo_http_opts *o)
{
    tpo_http_opts_default(o);
    o->connect_timeout_ms = pc->connect_timeout_ms;
    o->timeout_ms = pc->timeout_ms;
    o->max_response = (apr_size_t)pc->max_response;
    o->ca_file = pc->ca_file;
    o->user_agent = TPO_HTTP_USER_AGENT;
    o->proxy = pc->outgoing_proxy;
    o->no_proxy = pc->outgoing_no_proxy;
    o->client_cert = pc->client_cert_pem; /* RFC 8705: on every call to the provider */
    o->client_key = pc->client_cert_key_pem;
}

static tpa_rt_status http_status_of(tpo_http_result res)
{
    return res == TPO_HTTP_TIMEOUT ? TPA_RT_TIMEOUT : TPA_RT_UNAVAILABLE;
}

/* Fetch a JSON document; logs the failure. */
static tpa_rt_status fetch_json(request_rec *r, tpa_provider_conf *pc, const char *what,
                                const char *url, tpo_http_response *resp, int note_down)
{
    tpo_http_opts o;
    tpo_http_result res;
    tpo_endpoint ep = !strcmp(what, "JWK Set") ? TPO_EP_JWKS : TPO_EP_DISCOVERY;
    apr_time_t t0 = apr_time_now();

    tpa_provider_http_opts(pc, &o);
    res = tpo_http_request(r->pool, "GET", url, NULL, NULL, 0, &o, resp);
    tpa_count_call(ep, t0, res != TPO_HTTP_OK || resp->status >= 500);
    tpa_count((tpo_metric)((res == TPO_HTTP_OK && resp->status == 200 ? TPO_M_FETCH_OK
                                                                      : TPO_M_FETCH_FAILED) +
                           ep));
    /* metadata that loads does not clear a failure of the token endpoint:
     * only a probe or a token call does; a failed refetch of aged metadata
     * whose copy stays in use does not count (note_down 0) */
    if (note_down && (res != TPO_HTTP_OK || resp->status >= 500)) {
        tpa_provider_down_note(r, pc, 1);
    }
    if (res != TPO_HTTP_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      TPO_APLOGNO(00049) "provider %s: fetching the %s from %s failed: %s",
                      pc->name, what, url, resp->error ? resp->error : "error");
        return http_status_of(res);
    }
    if (resp->status != 200) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      TPO_APLOGNO(00050) "provider %s: fetching the %s from %s: HTTP status %d",
                      pc->name, what, url, resp->status);
        return TPA_RT_UNAVAILABLE;
    }
    return TPA_RT_OK;
}

static void meta_from_config(apr_pool_t *p, tpa_provider_conf *pc, tpo_provider_meta *m)
{
    if (pc->issuer)
        m->issuer = pc->issuer;
    if (pc->authorization_endpoint)
        m->authorization_endpoint = pc->authorization_endpoint;
    if (pc->token_endpoint)
        m->token_endpoint = pc->token_endpoint;
    if (pc->userinfo_endpoint)
        m->userinfo_endpoint = pc->userinfo_endpoint;
    if (pc->jwks_uri)
        m->jwks_uri = pc->jwks_uri;
    if (pc->end_session_endpoint)
        m->end_session_endpoint = pc->end_session_endpoint;
    if (pc->revocation_endpoint)
        m->revocation_endpoint = pc->revocation_endpoint;
    if (pc->introspection_endpoint)
        m->introspection_endpoint = pc->introspection_endpoint;
    if (pc->par_endpoint)
        m->par_endpoint = pc->par_endpoint;
}

/* How long a thread without a copy waits for another thread's fetch: the
 * fetch itself is bounded by the HTTP timeout. */
static apr_interval_time_t fetch_wait_limit(const tpa_provider_conf *pc)
{
    return apr_time_from_msec(pc->timeout_ms > 0 ? pc->timeout_ms : 10000) + apr_time_from_sec(1);
}

/* Wait (rt->mu held) for the fetch in progress to end; 0 once the deadline
 * has passed. */
static int wait_for_fetch(tpa_provider_rt *rt, apr_time_t deadline)
{
    apr_time_t now = apr_time_now();

    if (now >= deadline) {
        return 0;
    }
    apr_thread_cond_timedwait(rt->cv, rt->mu, deadline - now);
    return 1;
}

/* Fetch and parse the discovery document without the lock, into a pool of
 * its own (unmanaged: kept for the life of the process, as the metadata). */
static tpa_rt_status fetch_meta(request_rec *r, tpa_provider_conf *pc, tpo_provider_meta **out,
                                apr_pool_t **pool_out, int note_down)
{
    tpo_http_response resp;
    tpa_rt_status st = fetch_json(r, pc, "discovery document", pc->discovery_url, &resp, note_down);
    apr_pool_t *mp;
    tpo_provider_meta *m;
    const char *err = NULL;

    *out = NULL;
    if (st != TPA_RT_OK) {
        return st;
    }
    apr_pool_create_unmanaged_ex(&mp, NULL, NULL);
    apr_pool_tag(mp, "tpo_provider_meta");
    m = apr_pcalloc(mp, sizeof(*m));
    if (tpo_provider_meta_parse(mp, resp.body, resp.len, pc->issuer, m, &err) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      TPO_APLOGNO(00051) "provider %s: discovery document at %s refused: %s",
                      pc->name, pc->discovery_url, err ? err : "invalid");
        apr_pool_destroy(mp);
        return TPA_RT_UNAVAILABLE;
    }
    meta_from_config(mp, pc, m);
    *pool_out = mp;
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  TPO_APLOGNO(00052) "provider %s: metadata loaded from %s", pc->name,
                  pc->discovery_url);
    *out = m;
    return TPA_RT_OK;
}

tpa_rt_status tpa_provider_meta_get(request_rec *r, tpa_provider_conf *pc,
                                    const tpo_provider_meta **meta)
{
    tpa_provider_rt *rt = pc->rt;
    tpa_rt_status st = TPA_RT_OK;
    apr_time_t deadline = apr_time_now() + fetch_wait_limit(pc);

    apr_thread_mutex_lock(rt->mu);
    if (!rt->meta && !pc->discovery) {
        tpo_provider_meta *m = apr_pcalloc(rt->pool, sizeof(*m));
        m->pkce_s256_supported = -1;
        meta_from_config(rt->pool, pc, m);
        rt->meta = m;
    }
    if (rt->meta && pc->discovery && !rt->meta_fetching &&
        refresh_due(pc, rt->meta_loaded_at, apr_time_now()) &&
        apr_time_now() - rt->meta_failed_at >= META_RETRY_AFTER) {
        /* aged: this request fetches, the others keep the copy */
        tpo_provider_meta *m;
        apr_pool_t *mp = NULL;

        rt->meta_fetching = 1;
        apr_thread_mutex_unlock(rt->mu);
        fetch_meta(r, pc, &m, &mp, 0); /* logins go on with the copy */
        apr_thread_mutex_lock(rt->mu);
        rt->meta_fetching = 0;
        if (m) {
            meta_install(rt, m, mp);
        }
        else {
            rt->meta_failed_at = apr_time_now();
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          TPO_APLOGNO(00510) "provider %s: the discovery document could not be "
                                             "refreshed; the copy of %" APR_TIME_T_FMT
                                             " s ago stays in use",
                          pc->name, apr_time_sec(apr_time_now() - rt->meta_loaded_at));
        }
        apr_thread_cond_broadcast(rt->cv);
    }
    while (!rt->meta) {
        apr_time_t now = apr_time_now();
        tpo_provider_meta *m;
        apr_pool_t *mp = NULL;

        if (rt->meta_fetching) {
            /* no copy at all: wait for the fetch in progress, bounded */
            if (!wait_for_fetch(rt, deadline)) {
                st = TPA_RT_TIMEOUT;
                break;
            }
            continue;
        }
        if (rt->meta_failed_at && now - rt->meta_failed_at < META_RETRY_AFTER) {
            if (st == TPA_RT_OK)
                st = TPA_RT_UNAVAILABLE;
            break;
        }
        rt->meta_fetching = 1;
        apr_thread_mutex_unlock(rt->mu);
        st = fetch_meta(r, pc, &m, &mp, 1);
        apr_thread_mutex_lock(rt->mu);
        rt->meta_fetching = 0;
        if (m) {
            meta_install(rt, m, mp);
        }
        else {
            rt->meta_failed_at = apr_time_now();
        }
        apr_thread_cond_broadcast(rt->cv);
        if (!m) {
            break;
        }
    }
    *meta = rt->meta;
    apr_thread_mutex_unlock(rt->mu);
    return rt->meta ? TPA_RT_OK : (st == TPA_RT_OK ? TPA_RT_UNAVAILABLE : st);
}

static void slot_unref(jwks_slot *slot)
{
    if (slot->retired && slot->refs == 0) {
        apr_pool_destroy(slot->pool);
    }
}

/* Fetch and parse the JWK Set without the lock; a new slot or NULL.
 * have: the fetch time of the copy this process has (0: none). A newer copy
 * another process fetched (in the session cache) is taken first; with a copy
 * of its own, a process asks the provider only when no process did within
 * TPOAuthJWKSRefetchInterval. */
static tpa_rt_status slot_from_doc(request_rec *r, tpa_provider_conf *pc, const char *uri,
                                   const char *body, apr_size_t len, apr_time_t fetched_at,
                                   int from_provider, jwks_slot **out);

static tpa_rt_status fetch_jwks(request_rec *r, tpa_provider_conf *pc, const char *uri,
                                apr_time_t have, jwks_slot **out)
{
    tpo_http_response resp;
    tpa_rt_status st;
    apr_time_t fetched_at = apr_time_now();
    int from_provider = 0;

    *out = NULL;
    memset(&resp, 0, sizeof(resp));
    if (tpa_provider_jwks_shared_get(r, pc, uri, have, &resp.body, &resp.len, &fetched_at) !=
        APR_SUCCESS) {
        if (have && !tpa_provider_jwks_shared_gate(r, pc, uri)) {
            return TPA_RT_OK; /* keep the copy */
        }
        st = fetch_json(r, pc, "JWK Set", uri, &resp, 1);
        if (st != TPA_RT_OK) {
            return st;
        }
        fetched_at = apr_time_now();
        from_provider = 1;
    }
    return slot_from_doc(r, pc, uri, resp.body, resp.len, fetched_at, from_provider, out);
}

/* A copy another process fetched after `have`, from the shared cache (no
 * provider request); NULL when there is none. */
static jwks_slot *shared_slot(request_rec *r, tpa_provider_conf *pc, const char *uri,
                              apr_time_t have)
{
    char *body;
    apr_size_t len;
    apr_time_t fetched_at;
    jwks_slot *slot = NULL;

    if (tpa_provider_jwks_shared_get(r, pc, uri, have, &body, &len, &fetched_at) == APR_SUCCESS) {
        slot_from_doc(r, pc, uri, body, len, fetched_at, 0, &slot);
    }
    return slot;
}

/* Parse a JWK Set document into a new slot (its own unmanaged pool). */
static tpa_rt_status slot_from_doc(request_rec *r, tpa_provider_conf *pc, const char *uri,
                                   const char *body, apr_size_t len, apr_time_t fetched_at,
                                   int from_provider, jwks_slot **out)
{
    jwks_slot *slot;
    apr_pool_t *sp;
    tpo_jwks *set = NULL;
    const char *err = NULL;

    *out = NULL;
    apr_pool_create_unmanaged_ex(&sp, NULL, NULL);
    apr_pool_tag(sp, "tpo_jwks");
    if (tpo_jwks_parse(sp, body, len, &set, &err) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      TPO_APLOGNO(00053) "provider %s: JWK Set at %s refused: %s", pc->name, uri,
                      err ? err : "invalid");
        apr_pool_destroy(sp);
        return TPA_RT_UNAVAILABLE;
    }
    slot = apr_pcalloc(sp, sizeof(*slot));
    slot->pool = sp;
    slot->jwks = set;
    slot->fetched_at = fetched_at;
    if (from_provider) {
        tpa_provider_jwks_shared_put(r, pc, uri, body, len, fetched_at);
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  TPO_APLOGNO(00054) "provider %s: JWK Set loaded (%d keys)", pc->name,
                  set->keys->nelts);
    *out = slot;
    return TPA_RT_OK;
}

tpa_rt_status tpa_provider_jwks_acquire(request_rec *r, tpa_provider_conf *pc, int force_refresh,
                                        const tpo_jwks **jwks, void **handle)
{
    tpa_provider_rt *rt = pc->rt;
    const tpo_provider_meta *meta;
    tpa_rt_status st;
    apr_time_t deadline;
    int fetched = 0, looked = 0;

    *jwks = NULL;
    *handle = NULL;
    if ((st = tpa_provider_meta_get(r, pc, &meta)) != TPA_RT_OK) {
        return st;
    }
    if (!meta->jwks_uri) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      TPO_APLOGNO(00055) "provider %s: no jwks_uri (set TPOAuthJWKSURI)", pc->name);
        return TPA_RT_UNAVAILABLE;
    }
    deadline = apr_time_now() + fetch_wait_limit(pc);
    apr_thread_mutex_lock(rt->mu);
    while (!fetched) {
        apr_time_t now = apr_time_now();
        jwks_slot *slot;

        if (rt->jwks) {
            /* the copy we have, unless it has aged (then this request
             * fetches unless another one does), or the caller needs new keys
             * and the rate limit allows a refetch */
            int aged = refresh_due(pc, rt->jwks_loaded_at, now) &&
                       now - rt->jwks_attempt_at >= JWKS_RETRY_AFTER;
            if (!aged && !force_refresh) {
                break;
            }
            if (!aged && now - rt->jwks_attempt_at < JWKS_REFETCH_EVERY(pc)) {
                /* not from the provider now: a fetch of this process in
                 * flight is waited for; else another process may have
                 * fetched the new keys meanwhile (a cache lookup) */
                if (rt->jwks_fetching && !looked) {
                    looked = 1;
                    if (wait_for_fetch(rt, deadline)) {
                        continue;
                    }
                    break;
                }
                if (!looked && !rt->jwks_fetching) {
                    apr_time_t have = rt->jwks->fetched_at;

                    looked = 1;
                    rt->jwks_fetching = 1;
                    apr_thread_mutex_unlock(rt->mu);
                    slot = shared_slot(r, pc, meta->jwks_uri, have);
                    apr_thread_mutex_lock(rt->mu);
                    rt->jwks_fetching = 0;
                    if (slot) {
                        rt->jwks->retired = 1;
                        slot_unref(rt->jwks);
                        rt->jwks = slot;
                        rt->jwks_loaded_at = slot->fetched_at;
                    }
                    apr_thread_cond_broadcast(rt->cv);
                }
                break;
            }
            if (rt->jwks_fetching && !force_refresh) {
                break;
            }
        }
        else if (!rt->jwks_fetching && rt->jwks_attempt_at &&
                 now - rt->jwks_attempt_at < JWKS_RETRY_AFTER) {
            break;
        }
        if (rt->jwks_fetching) {
            /* another thread fetches: wait for it, bounded (with a copy,
             * only a caller that needs new keys gets here) */
            if (!wait_for_fetch(rt, deadline)) {
                if (!rt->jwks)
                    st = TPA_RT_TIMEOUT;
                break;
            }
            continue;
        }
        rt->jwks_fetching = 1;
        rt->jwks_attempt_at = now;
        {
            apr_time_t have = rt->jwks ? rt->jwks->fetched_at : 0;
            apr_thread_mutex_unlock(rt->mu);
            st = fetch_jwks(r, pc, meta->jwks_uri, have, &slot);
        }
        apr_thread_mutex_lock(rt->mu);
        rt->jwks_fetching = 0;
        if (slot) {
            if (rt->jwks) {
                rt->jwks->retired = 1;
                slot_unref(rt->jwks);
            }
            rt->jwks = slot;
            /* the rate limit and the age count from the provider's last
             * answer, also when another process fetched this copy */
            if (slot->fetched_at < rt->jwks_attempt_at) {
                rt->jwks_attempt_at = slot->fetched_at;
            }
            rt->jwks_loaded_at = slot->fetched_at;
        }
        else if (rt->jwks && st != TPA_RT_OK) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          TPO_APLOGNO(00511) "provider %s: the JWK Set could not be refreshed; the "
                                             "copy of %" APR_TIME_T_FMT " s ago stays in use",
                          pc->name, apr_time_sec(apr_time_now() - rt->jwks_loaded_at));
        }
        apr_thread_cond_broadcast(rt->cv);
        fetched = 1;
    }
    if (rt->jwks) {
        rt->jwks->refs++;
        *jwks = rt->jwks->jwks;
        *handle = rt->jwks;
        st = TPA_RT_OK;
    }
    else if (st == TPA_RT_OK) {
        st = TPA_RT_UNAVAILABLE;
    }
    apr_thread_mutex_unlock(rt->mu);
    return st;
}

void tpa_provider_jwks_release(tpa_provider_conf *pc, void *handle)
{
    jwks_slot *slot = handle;

    if (!slot) {
        return;
    }
    apr_thread_mutex_lock(pc->rt->mu);
    slot->refs--;
    slot_unref(slot);
    apr_thread_mutex_unlock(pc->rt->mu);
}

/* The client authentication of a call to url (tpo_client_auth_build's
 * input): the one place that decides it from the provider's configuration. */
void tpa_provider_client_cred(request_rec *r, tpa_provider_conf *pc, const char *url,
                              tpo_client_cred *cred)
{
    memset(cred, 0, sizeof(*cred));
    cred->auth = (tpo_client_auth)pc->client_auth;
    cred->client_id = pc->client_id;
    cred->client_secret = pc->client_secret;
    cred->key = pc->client_keys ? APR_ARRAY_IDX(pc->client_keys, 0, const tpo_client_key *) : NULL;
    cred->assertion_lifetime = TPO_DEF_CLIENT_ASSERTION_LIFETIME;
    cred->now = apr_time_now();
    if (cred->auth == TPO_CLIENT_AUTH_SECRET_JWT || cred->auth == TPO_CLIENT_AUTH_PRIVATE_KEY_JWT) {
        const tpo_provider_meta *meta = NULL;
        const char *issuer, *token;

        /* loaded already: every caller has just taken an endpoint from it */
        if (pc->rt && tpa_provider_meta_get(r, pc, &meta) != TPA_RT_OK) {
            meta = NULL;
        }
        issuer = meta && meta->issuer ? meta->issuer : pc->issuer;
        token = meta && meta->token_endpoint ? meta->token_endpoint : pc->token_endpoint;
        switch (pc->client_assertion_aud) {
        case TPO_CLIENT_AUD_ISSUER:
            cred->audience = issuer;
            break;
        case TPO_CLIENT_AUD_ENDPOINT:
            cred->audience = url;
            break;
        default:
            cred->audience = token ? token : url;
            break;
        }
        if (!cred->audience) {
            cred->audience = url;
        }
    }
}

/* A POST to one of the provider's client-authenticated endpoints (token,
 * revocation, introspection, pushed authorization requests): params are
 * name,value pairs; the encoding (form or JSON) and the client
 * authentication (tpa_provider_client_cred) come from the provider's
 * configuration; a pushed authorization request (its params name a
 * response_type) is always a form (RFC 9126 2.1). */
static int client_post(request_rec *r, tpa_provider_conf *pc, const char *url,
                       const apr_array_header_t *params, const char *extra_header,
                       tpo_http_response *resp)
{
    apr_array_header_t *hdrs = apr_array_make(r->pool, 2, sizeof(const char *));
    tpo_token_request treq;
    tpo_client_cred cred;
    tpo_http_opts o;
    tpo_endpoint ep = TPO_EP_REVOCATION;
    tpo_http_result res;
    apr_time_t t0;
    int i;

    memset(resp, 0, sizeof(*resp));
    /* the token endpoint's requests name a grant; PAR's a response_type;
     * revocation's neither */
    for (i = 0; i < params->nelts; i += 2) {
        if (!strcmp(APR_ARRAY_IDX(params, i, const char *), "grant_type")) {
            ep = TPO_EP_TOKEN;
        }
        else if (!strcmp(APR_ARRAY_IDX(params, i, const char *), "response_type")) {
            ep = TPO_EP_PAR;
        }
    }
    tpa_provider_client_cred(r, pc, url, &cred);
    tpo_token_request_build_cred(
        r->pool, ep == TPO_EP_PAR ? TPO_TOKEN_ENC_FORM : pc->token_encoding, &cred, params, &treq);
    if (!treq.body) {
        resp->error = treq.error ? treq.error : "the request cannot be built";
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            TPO_APLOGNO(00800) "provider %s: no request to %s: %s (client authentication %s)",
            pc->name, url, resp->error, tpo_client_auth_name(cred.auth));
        return TPO_HTTP_FAILED;
    }
    APR_ARRAY_PUSH(hdrs, const char *) =
        apr_pstrcat(r->pool, "Content-Type: ", treq.content_type, NULL);
    if (extra_header) {
        APR_ARRAY_PUSH(hdrs, const char *) = extra_header;
    }
    if (treq.authorization) {
        APR_ARRAY_PUSH(hdrs, const char *) =
            apr_pstrcat(r->pool, "Authorization: ", treq.authorization, NULL);
    }
    tpa_provider_http_opts(pc, &o);
    t0 = apr_time_now();
    res = tpo_http_request(r->pool, "POST", url, hdrs, treq.body, treq.body_len, &o, resp);
    tpa_count_call(ep, t0, res != TPO_HTTP_OK || resp->status >= 500);
    tpa_provider_down_note(r, pc, res != TPO_HTTP_OK || resp->status >= 500);
    return res;
}

int tpa_provider_client_post(request_rec *r, tpa_provider_conf *pc, const char *url,
                             const apr_array_header_t *params, tpo_http_response *resp)
{
    return client_post(r, pc, url, params, NULL, resp);
}

const char *tpa_provider_dpop_nonce(request_rec *r, tpa_provider_conf *pc, tpa_dpop_server srv)
{
    const char *n = NULL;

    if (!pc->rt) {
        return NULL;
    }
    apr_thread_mutex_lock(pc->rt->mu);
    if (pc->rt->dpop_nonce[srv][0]) {
        n = apr_pstrdup(r->pool, pc->rt->dpop_nonce[srv]);
    }
    apr_thread_mutex_unlock(pc->rt->mu);
    return n;
}

void tpa_provider_dpop_nonce_note(tpa_provider_conf *pc, tpa_dpop_server srv, const char *nonce)
{
    if (!pc->rt || !tpo_dpop_nonce_ok(nonce)) {
        return;
    }
    apr_thread_mutex_lock(pc->rt->mu);
    apr_cpystrn(pc->rt->dpop_nonce[srv], nonce, sizeof(pc->rt->dpop_nonce[srv]));
    apr_thread_mutex_unlock(pc->rt->mu);
}

/* Is a token endpoint answer the use_dpop_nonce error (RFC 9449 8)? */
static int token_wants_nonce(const tpo_http_response *resp)
{
    json_error_t jerr;
    json_t *j;
    int yes;

    if (resp->status != 400 || !resp->len) {
        return 0;
    }
    j = json_loadb(resp->body, resp->len, 0, &jerr);
    yes = json_is_object(j) && json_is_string(json_object_get(j, "error")) &&
          !strcmp(json_string_value(json_object_get(j, "error")), "use_dpop_nonce");
    json_decref(j);
    return yes;
}

int tpa_provider_resource_get(request_rec *r, tpa_provider_conf *pc, const char *url,
                              const char *access_token, const struct tpo_dpop_key *dpop,
                              tpo_http_response *resp)
{
    tpo_http_opts o;
    int attempt, res = TPO_HTTP_FAILED;

    tpa_provider_http_opts(pc, &o);
    for (attempt = 0; attempt < 2; attempt++) {
        apr_array_header_t *hdrs = apr_array_make(r->pool, 2, sizeof(const char *));
        APR_ARRAY_PUSH(hdrs, const char *) =
            apr_pstrcat(r->pool, "Authorization: ", dpop ? "DPoP " : "Bearer ", access_token, NULL);
        if (dpop) {
            const char *err = NULL;
            const char *nonce = tpa_provider_dpop_nonce(r, pc, TPA_DPOP_RS);
            char *proof = tpo_dpop_proof(r->pool, dpop, "GET", url, access_token, nonce,
                                         apr_time_now(), &err);
            if (!proof) {
                memset(resp, 0, sizeof(*resp));
                resp->error = apr_pstrcat(r->pool, "DPoP proof: ", err, NULL);
                return TPO_HTTP_FAILED;
            }
            APR_ARRAY_PUSH(hdrs, const char *) = apr_pstrcat(r->pool, "DPoP: ", proof, NULL);
        }
        res = tpo_http_request(r->pool, "GET", url, hdrs, NULL, 0, &o, resp);
        if (res != TPO_HTTP_OK || !dpop) {
            return res;
        }
        if (resp->dpop_nonce) {
            tpa_provider_dpop_nonce_note(pc, TPA_DPOP_RS, resp->dpop_nonce);
        }
        if (attempt > 0 || resp->status != 401 || !tpo_dpop_nonce_ok(resp->dpop_nonce) ||
            !tpo_dpop_www_auth_wants_nonce(resp->www_authenticate)) {
            break;
        }
        ap_log_rerror(
            APLOG_MARK, APLOG_DEBUG, 0, r,
            TPO_APLOGNO(00903) "provider %s: %s asks for a DPoP nonce; trying again with it",
            pc->name, url);
    }
    return res;
}

int tpa_provider_token_post(request_rec *r, tpa_provider_conf *pc, const char *url,
                            const apr_array_header_t *params, const struct tpo_dpop_key *dpop,
                            tpo_http_response *resp)
{
    int attempt, res = TPO_HTTP_FAILED;

    if (!dpop) {
        return client_post(r, pc, url, params, NULL, resp);
    }
    /* a second attempt only when the server asks for a nonce it just gave */
    for (attempt = 0; attempt < 2; attempt++) {
        const char *err = NULL;
        const char *nonce = tpa_provider_dpop_nonce(r, pc, TPA_DPOP_AS);
        char *proof = tpo_dpop_proof(r->pool, dpop, "POST", url, NULL, nonce, apr_time_now(), &err);
        if (!proof) {
            memset(resp, 0, sizeof(*resp));
            resp->error = apr_pstrcat(r->pool, "DPoP proof: ", err, NULL);
            return TPO_HTTP_FAILED;
        }
        res = client_post(r, pc, url, params, apr_pstrcat(r->pool, "DPoP: ", proof, NULL), resp);
        if (res != TPO_HTTP_OK) {
            return res;
        }
        if (resp->dpop_nonce) {
            tpa_provider_dpop_nonce_note(pc, TPA_DPOP_AS, resp->dpop_nonce);
        }
        if (attempt > 0 || !token_wants_nonce(resp) || !tpo_dpop_nonce_ok(resp->dpop_nonce)) {
            break;
        }
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      TPO_APLOGNO(00904) "provider %s: the token endpoint asks for a DPoP nonce; "
                                         "trying again with it",
                      pc->name);
    }
    return res;
}

int tpa_provider_validate_id_token(request_rec *r, tpa_provider_conf *pc,
                                   const tpo_provider_meta *meta, const char *id_token,
                                   const char *nonce, json_t **claims)
{
    tpo_idtoken_expect ex;
    tpo_idtoken_result res = TPO_IDT_NOKEY;
    const char *detail = NULL;
    int attempt;

    memset(&ex, 0, sizeof(ex));
    ex.issuer = meta->issuer ? meta->issuer : pc->issuer;
    ex.client_id = pc->client_id;
    ex.nonce = nonce;
    ex.now = apr_time_now();
    ex.skew_sec = pc->clock_skew;
    ex.allowed_algs = pc->id_token_algs;
    if (pc->client_secret) {
        ex.hs_key = tpo_jwk_from_secret(r->pool, pc->client_secret, strlen(pc->client_secret));
    }
    /* second attempt only when no key fitted: the provider may have rotated */
    for (attempt = 0; attempt < 2 && res == TPO_IDT_NOKEY; attempt++) {
        const tpo_jwks *jwks;
        void *h;
        tpa_rt_status rs = tpa_provider_jwks_acquire(r, pc, attempt > 0, &jwks, &h);
        if (rs != TPA_RT_OK) {
            ap_log_rerror(
                APLOG_MARK, APLOG_ERR, 0, r,
                TPO_APLOGNO(
                    00030) "provider %s: login failed: the provider's JWK Set is unavailable",
                pc->name);
            return rs == TPA_RT_TIMEOUT ? HTTP_GATEWAY_TIME_OUT : HTTP_BAD_GATEWAY;
        }
        res = tpo_idtoken_validate(r->pool, id_token, jwks, &ex, claims, &detail);
        tpa_provider_jwks_release(pc, h);
    }
    if (res != TPO_IDT_OK) {
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, r,
            TPO_APLOGNO(
                00031) "provider %s: login failed: ID token rejected: check '%s' failed: %s",
            pc->name, tpo_idtoken_result_name(res), detail ? detail : "");
        return HTTP_UNAUTHORIZED;
    }
    return OK;
}
