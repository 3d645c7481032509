/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Session service: the index from a user (sub) and from the provider's
 * session (sid) to every session of ours (src/tpo_session_index.c), kept in
 * the session cache so that every server sharing a distributed cache sees it.
 * Written at login; read to end every session of a user or of a provider
 * session (back-channel and front-channel logout, the admin handler). A
 * session that ends otherwise (logout, expiry, inactivity, eviction) leaves a
 * stale entry behind, pruned lazily. Nothing here writes a response. */
#include <string.h>
#include <apr_strings.h>
#include <openssl/evp.h>
#include "mod_tp_oauth_session.h"
#include "tpo_b64.h"
#include "tpo_session.h"
#include "tpo_session_index.h"

static tpo_sidx sidx_of(void)
{
    tpo_sidx x;

    x.cache = tpa_session_cache;
    x.session_prefix = TPO_KEY_SESSION;
    x.max_entries = TPO_SESSIONS_PER_USER_MAX;
    x.lease = apr_time_from_sec(TPO_SESSION_INDEX_LEASE_S);
    return x;
}

static void end_dropped(request_rec *r, tpa_provider_conf *pc, const tpo_session *s,
                        const char *dropped)
{
    if (!dropped) {
        return;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  TPO_APLOGNO(00418) "user %s has more than %d sessions: the oldest one ends",
                  ap_escape_logitem(r->pool, s->user), TPO_SESSIONS_PER_USER_MAX);
    tpa_session_delete(r, pc, dropped);
}

apr_status_t tpa_session_index_note(request_rec *r, tpa_provider_conf *pc, const char *sid,
                                    const tpo_session *s)
{
    tpo_sidx x = sidx_of();
    const char *k, *dropped = NULL;
    apr_time_t now = apr_time_now();
    apr_status_t rv = APR_SUCCESS;

    k = tpo_sidx_key(r->pool, TPO_SIDX_SUB, pc->name, s->sub);
    if (k) {
        rv = tpo_sidx_add(&x, r->pool, k, sid, s->created, s->expires + TPO_SESSION_GRACE, now,
                          &dropped);
        end_dropped(r, pc, s, dropped);
    }
    k = tpo_sidx_key(r->pool, TPO_SIDX_SID, pc->name, s->op_sid);
    if (rv == APR_SUCCESS && k) {
        rv = tpo_sidx_add(&x, r->pool, k, sid, s->created, s->expires + TPO_SESSION_GRACE, now,
                          &dropped);
        end_dropped(r, pc, s, dropped);
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, TPO_APLOGNO(00419) "session index of %s: %s",
                      ap_escape_logitem(r->pool, s->user),
                      rv == APR_TIMEUP ? "its lock stayed busy" : "cache write failed");
    }
    return rv;
}

void tpa_session_index_keep(request_rec *r, tpa_provider_conf *pc, const char *sid,
                            const tpo_session *s)
{
    tpo_sidx x = sidx_of();
    const char *k, *dropped = NULL;
    apr_time_t now = apr_time_now();

    k = tpo_sidx_key(r->pool, TPO_SIDX_SUB, pc->name, s->sub);
    if (k && tpo_sidx_ensure(&x, r->pool, k, sid, s->created, s->expires + TPO_SESSION_GRACE, now,
                             &dropped) == APR_SUCCESS) {
        end_dropped(r, pc, s, dropped);
    }
    k = tpo_sidx_key(r->pool, TPO_SIDX_SID, pc->name, s->op_sid);
    if (k && tpo_sidx_ensure(&x, r->pool, k, sid, s->created, s->expires + TPO_SESSION_GRACE, now,
                             &dropped) == APR_SUCCESS) {
        end_dropped(r, pc, s, dropped);
    }
}

const char *tpa_session_handle(apr_pool_t *p, const char *sid)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (!EVP_Digest(sid, strlen(sid), md, &n, EVP_sha256(), NULL) || n < 12) {
        return NULL;
    }
    return tpo_b64url_encode(p, md, 12);
}

/* The record of session id, when it is a session of this provider. */
static tpo_session *load_one(request_rec *r, tpa_provider_conf *pc, const char *id,
                             apr_status_t *rv)
{
    char *val;
    apr_size_t vlen;
    tpo_session *s = apr_pcalloc(r->pool, sizeof(*s));

    *rv = tpo_cache_get(tpa_session_cache, apr_pstrcat(r->pool, TPO_KEY_SESSION, id, NULL), r->pool,
                        &val, &vlen);
    if (*rv != APR_SUCCESS) {
        return NULL;
    }
    if (tpo_session_decode(r->pool, val, vlen, s) != APR_SUCCESS ||
        strcmp(s->provider, pc->name) != 0) {
        *rv = APR_NOTFOUND;
        return NULL;
    }
    return s;
}

apr_status_t tpa_sessions_list(request_rec *r, tpa_provider_conf *pc, const char *sub,
                               apr_array_header_t **out)
{
    tpo_sidx x = sidx_of();
    const char *k = tpo_sidx_key(r->pool, TPO_SIDX_SUB, pc->name, sub);
    apr_array_header_t *entries;
    apr_status_t rv;
    int i;

    *out = apr_array_make(r->pool, 8, sizeof(tpa_listed_session));
    if (!k) {
        return APR_SUCCESS;
    }
    rv = tpo_sidx_list(&x, r->pool, k, apr_time_now(), &entries);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < entries->nelts; i++) {
        const char *id = APR_ARRAY_IDX(entries, i, tpo_sidx_entry).id;
        tpo_session *s = load_one(r, pc, id, &rv);
        tpa_listed_session *ls;
        if (!s) {
            if (rv != APR_NOTFOUND) {
                return rv;
            }
            continue;
        }
        if (!s->sub || strcmp(s->sub, sub) != 0) {
            continue;
        }
        ls = apr_array_push(*out);
        ls->sid = id;
        ls->handle = tpa_session_handle(r->pool, id);
        ls->session = s;
    }
    return APR_SUCCESS;
}

/* End every session an index record names (taken: the record is gone),
 * those of another user excepted when sub is given. */
static apr_status_t end_taken(request_rec *r, tpa_provider_conf *pc, const char *k, const char *sub,
                              int *ended)
{
    tpo_sidx x = sidx_of();
    apr_array_header_t *entries;
    apr_status_t rv;
    int i;

    if (!k) {
        return APR_SUCCESS;
    }
    rv = tpo_sidx_take(&x, r->pool, k, &entries);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < entries->nelts; i++) {
        const char *id = APR_ARRAY_IDX(entries, i, tpo_sidx_entry).id;
        tpo_session *s = load_one(r, pc, id, &rv);
        if (!s) {
            if (rv != APR_NOTFOUND) {
                return rv;
            }
            continue; /* a stale entry: the session is gone already */
        }
        if (sub && (!s->sub || strcmp(s->sub, sub) != 0)) {
            continue;
        }
        tpa_session_delete(r, pc, id);
        (*ended)++;
    }
    return APR_SUCCESS;
}

apr_status_t tpa_sessions_end(request_rec *r, tpa_provider_conf *pc, const char *sub,
                              const char *op_sid, int *ended)
{
    apr_status_t rv = APR_SUCCESS;

    *ended = 0;
    if (sub) {
        rv = end_taken(r, pc, tpo_sidx_key(r->pool, TPO_SIDX_SUB, pc->name, sub), sub, ended);
    }
    if (rv == APR_SUCCESS && op_sid) {
        rv = end_taken(r, pc, tpo_sidx_key(r->pool, TPO_SIDX_SID, pc->name, op_sid), sub, ended);
    }
    return rv;
}

/* Drop sid from sub's index record (best effort). */
static void remove_from_index(request_rec *r, tpa_provider_conf *pc, const char *sub,
                              const char *sid)
{
    tpo_sidx x = sidx_of();
    const char *k = tpo_sidx_key(r->pool, TPO_SIDX_SUB, pc->name, sub);

    if (k) {
        tpo_sidx_remove(&x, r->pool, k, sid);
    }
}

apr_status_t tpa_sessions_end_one(request_rec *r, tpa_provider_conf *pc, const char *sub,
                                  const char *handle, int *ended)
{
    apr_array_header_t *list;
    apr_status_t rv = tpa_sessions_list(r, pc, sub, &list);
    int i;

    *ended = 0;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < list->nelts; i++) {
        tpa_listed_session *ls = &APR_ARRAY_IDX(list, i, tpa_listed_session);
        if (ls->handle && !strcmp(ls->handle, handle)) {
            tpa_session_delete(r, pc, ls->sid);
            remove_from_index(r, pc, sub, ls->sid);
            (*ended)++;
        }
    }
    return APR_SUCCESS;
}
