/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The session index (see tpo_session_index.h). */
#include <string.h>
#include <apr_strings.h>
#include <openssl/evp.h>
#include "tpo_session_index.h"
#include "tpo_b64.h"
#include "tpo_tlv.h"

static const char SIDX_MAGIC[3] = {'T', 'P', 'X'};
#define SIDX_VERSION 1
#define SIDX_ENTRY 1
#define LOCK_STEP apr_time_from_msec(2)

const char *tpo_sidx_key(apr_pool_t *p, char kind, const char *provider, const char *value)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx;
    int ok;

    if (!value || !*value || !provider) {
        return NULL;
    }
    ctx = EVP_MD_CTX_new();
    if (!ctx) {
        return NULL;
    }
    ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(ctx, &kind, 1) == 1 &&
         EVP_DigestUpdate(ctx, provider, strlen(provider) + 1) == 1 &&
         EVP_DigestUpdate(ctx, value, strlen(value)) == 1 &&
         EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        return NULL;
    }
    return apr_pstrcat(p, "x", apr_pstrmemdup(p, &kind, 1), ":", tpo_b64url_encode(p, md, mdlen),
                       NULL);
}

/* ---------------------------------------------------------------- codec */

static void put_time(unsigned char *b, apr_time_t t)
{
    apr_uint64_t v = (apr_uint64_t)t;
    int i;

    for (i = 0; i < 8; i++) {
        b[i] = (unsigned char)((v >> (8 * i)) & 0xff);
    }
}

static apr_time_t get_time(const char *d)
{
    apr_uint64_t v = 0;
    int i;

    for (i = 0; i < 8; i++) {
        v |= (apr_uint64_t)(unsigned char)d[i] << (8 * i);
    }
    return (apr_time_t)v;
}

char *tpo_sidx_encode(apr_pool_t *p, const apr_array_header_t *entries, apr_size_t *len)
{
    apr_size_t n = 4;
    char *buf, *w;
    int i;

    for (i = 0; i < entries->nelts; i++) {
        n += 5 + 16 + strlen(APR_ARRAY_IDX(entries, i, tpo_sidx_entry).id) + 1;
    }
    buf = apr_palloc(p, n);
    memcpy(buf, SIDX_MAGIC, 3);
    buf[3] = SIDX_VERSION;
    w = buf + 4;
    for (i = 0; i < entries->nelts; i++) {
        const tpo_sidx_entry *e = &APR_ARRAY_IDX(entries, i, tpo_sidx_entry);
        apr_size_t idlen = strlen(e->id) + 1;
        apr_uint32_t dl = (apr_uint32_t)(16 + idlen);
        w[0] = SIDX_ENTRY;
        w[1] = (char)(dl & 0xff);
        w[2] = (char)((dl >> 8) & 0xff);
        w[3] = (char)((dl >> 16) & 0xff);
        w[4] = (char)((dl >> 24) & 0xff);
        put_time((unsigned char *)w + 5, e->created);
        put_time((unsigned char *)w + 13, e->expires);
        memcpy(w + 21, e->id, idlen);
        w += 5 + dl;
    }
    *len = n;
    return buf;
}

apr_status_t tpo_sidx_decode(apr_pool_t *p, const char *buf, apr_size_t len,
                             apr_array_header_t **entries)
{
    tpo_tlv_reader r;
    unsigned char tag;
    const char *data;
    apr_size_t dlen;
    int rc;

    *entries = apr_array_make(p, 8, sizeof(tpo_sidx_entry));
    if (tpo_tlv_open(&r, buf, len, SIDX_MAGIC, SIDX_VERSION) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    while ((rc = tpo_tlv_next(&r, &tag, &data, &dlen)) == 1) {
        tpo_sidx_entry *e;
        if (tag != SIDX_ENTRY) {
            continue;
        }
        /* at least one id byte and its NUL; the NUL ends the field */
        if (dlen < 18 || dlen > 16 + TPO_SIDX_MAX_ID + 1 || data[dlen - 1] != '\0' ||
            memchr(data + 16, '\0', dlen - 16) != data + dlen - 1) {
            return APR_EINVAL;
        }
        e = apr_array_push(*entries);
        e->created = get_time(data);
        e->expires = get_time(data + 8);
        e->id = apr_pstrmemdup(p, data + 16, dlen - 17);
    }
    return rc < 0 ? APR_EINVAL : APR_SUCCESS;
}

/* ---------------------------------------------------------------- lock */

static const char *lock_key(apr_pool_t *p, const char *ikey)
{
    return apr_pstrcat(p, "l", ikey, NULL);
}

/* Take the record's lock: bounded wait, a little longer than the lease, so a
 * holder that died has lost it before we give up. */
static apr_status_t lock(const tpo_sidx *x, const char *lk)
{
    apr_interval_time_t lease = x->lease > 0 ? x->lease : apr_time_from_sec(2);
    apr_time_t deadline = apr_time_now() + lease + lease / 2;

    for (;;) {
        apr_status_t rv = tpo_cache_add(x->cache, lk, "1", 1, apr_time_now() + lease);
        if (rv != APR_EEXIST) {
            return rv;
        }
        if (apr_time_now() >= deadline) {
            return APR_TIMEUP;
        }
        apr_sleep(LOCK_STEP);
    }
}

static void unlock(const tpo_sidx *x, const char *lk)
{
    tpo_cache_del(x->cache, lk);
}

/* The record's entries (empty when there is none); a record that does not
 * decode counts as empty (it is rewritten by the next update). */
static apr_status_t load(const tpo_sidx *x, apr_pool_t *p, const char *ikey,
                         apr_array_header_t **entries)
{
    char *val;
    apr_size_t vlen;
    apr_status_t rv = tpo_cache_get(x->cache, ikey, p, &val, &vlen);

    if (rv == APR_NOTFOUND) {
        *entries = apr_array_make(p, 8, sizeof(tpo_sidx_entry));
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (tpo_sidx_decode(p, val, vlen, entries) != APR_SUCCESS) {
        *entries = apr_array_make(p, 8, sizeof(tpo_sidx_entry));
    }
    return APR_SUCCESS;
}

static apr_status_t store(const tpo_sidx *x, apr_pool_t *p, const char *ikey,
                          const apr_array_header_t *entries)
{
    apr_time_t until = 0;
    apr_size_t len;
    char *buf;
    int i;

    if (entries->nelts == 0) {
        apr_status_t rv = tpo_cache_del(x->cache, ikey);
        return rv == APR_NOTFOUND ? APR_SUCCESS : rv;
    }
    for (i = 0; i < entries->nelts; i++) {
        const tpo_sidx_entry *e = &APR_ARRAY_IDX(entries, i, tpo_sidx_entry);
        if (e->expires > until) {
            until = e->expires;
        }
    }
    buf = tpo_sidx_encode(p, entries, &len);
    /* the record lives as long as its longest-lived session */
    return tpo_cache_set(x->cache, ikey, buf, len, until);
}

/* 1 when the session record of id exists; -1 when the cache failed. */
static int session_exists(const tpo_sidx *x, apr_pool_t *p, const char *id)
{
    char *val;
    apr_size_t vlen;
    apr_status_t rv =
        tpo_cache_get(x->cache, apr_pstrcat(p, x->session_prefix, id, NULL), p, &val, &vlen);

    if (rv == APR_SUCCESS) {
        return 1;
    }
    return rv == APR_NOTFOUND ? 0 : -1;
}

/* Keep the entries that pass: not expired, not `id`, and (when check) whose
 * session exists. */
static apr_array_header_t *prune(const tpo_sidx *x, apr_pool_t *p, const apr_array_header_t *in,
                                 apr_time_t now, const char *id, int check)
{
    apr_array_header_t *out = apr_array_make(p, in->nelts + 1, sizeof(tpo_sidx_entry));
    int i;

    for (i = 0; i < in->nelts; i++) {
        const tpo_sidx_entry *e = &APR_ARRAY_IDX(in, i, tpo_sidx_entry);
        if (e->expires <= now || (id && !strcmp(e->id, id))) {
            continue;
        }
        if (check && session_exists(x, p, e->id) == 0) {
            continue;
        }
        *(tpo_sidx_entry *)apr_array_push(out) = *e;
    }
    return out;
}

apr_status_t tpo_sidx_add(const tpo_sidx *x, apr_pool_t *p, const char *ikey, const char *id,
                          apr_time_t created, apr_time_t expires, apr_time_t now,
                          const char **dropped)
{
    const char *lk = lock_key(p, ikey);
    apr_array_header_t *entries;
    tpo_sidx_entry *e;
    int max = x->max_entries > 0 ? x->max_entries : 1;
    apr_status_t rv;

    *dropped = NULL;
    if (!id || !*id || strlen(id) > TPO_SIDX_MAX_ID) {
        return APR_EINVAL;
    }
    rv = lock(x, lk);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = load(x, p, ikey, &entries);
    if (rv == APR_SUCCESS) {
        entries = prune(x, p, entries, now, id, 0);
        if (entries->nelts >= max) {
            entries = prune(x, p, entries, now, NULL, 1);
        }
        while (entries->nelts >= max) {
            /* still full: the oldest session goes */
            int i, oldest = 0;
            for (i = 1; i < entries->nelts; i++) {
                if (APR_ARRAY_IDX(entries, i, tpo_sidx_entry).created <
                    APR_ARRAY_IDX(entries, oldest, tpo_sidx_entry).created) {
                    oldest = i;
                }
            }
            *dropped = APR_ARRAY_IDX(entries, oldest, tpo_sidx_entry).id;
            for (i = oldest; i + 1 < entries->nelts; i++) {
                APR_ARRAY_IDX(entries, i, tpo_sidx_entry) =
                    APR_ARRAY_IDX(entries, i + 1, tpo_sidx_entry);
            }
            entries->nelts--;
        }
        e = apr_array_push(entries);
        e->id = id;
        e->created = created;
        e->expires = expires;
        rv = store(x, p, ikey, entries);
    }
    unlock(x, lk);
    return rv;
}

apr_status_t tpo_sidx_ensure(const tpo_sidx *x, apr_pool_t *p, const char *ikey, const char *id,
                             apr_time_t created, apr_time_t expires, apr_time_t now,
                             const char **dropped)
{
    apr_array_header_t *entries;
    apr_status_t rv = load(x, p, ikey, &entries);
    int i;

    *dropped = NULL;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < entries->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(entries, i, tpo_sidx_entry).id, id)) {
            return APR_SUCCESS;
        }
    }
    return tpo_sidx_add(x, p, ikey, id, created, expires, now, dropped);
}

apr_status_t tpo_sidx_list(const tpo_sidx *x, apr_pool_t *p, const char *ikey, apr_time_t now,
                           apr_array_header_t **entries)
{
    apr_array_header_t *all;
    apr_status_t rv = load(x, p, ikey, &all);
    const char *lk;

    if (rv != APR_SUCCESS) {
        return rv;
    }
    *entries = prune(x, p, all, now, NULL, 1);
    if ((*entries)->nelts == all->nelts) {
        return APR_SUCCESS;
    }
    /* write back the pruned record (re-read under the lock: a login may have
     * added an entry since); a busy lock just leaves it for later */
    lk = lock_key(p, ikey);
    if (tpo_cache_add(x->cache, lk, "1", 1,
                      now + (x->lease > 0 ? x->lease : apr_time_from_sec(2))) == APR_SUCCESS) {
        if (load(x, p, ikey, &all) == APR_SUCCESS) {
            store(x, p, ikey, prune(x, p, all, now, NULL, 1));
        }
        unlock(x, lk);
    }
    return APR_SUCCESS;
}

apr_status_t tpo_sidx_take(const tpo_sidx *x, apr_pool_t *p, const char *ikey,
                           apr_array_header_t **entries)
{
    const char *lk = lock_key(p, ikey);
    apr_status_t rv = lock(x, lk);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = load(x, p, ikey, entries);
    if (rv == APR_SUCCESS && (*entries)->nelts) {
        rv = tpo_cache_del(x->cache, ikey);
        if (rv == APR_NOTFOUND) {
            rv = APR_SUCCESS;
        }
    }
    unlock(x, lk);
    return rv;
}

apr_status_t tpo_sidx_remove(const tpo_sidx *x, apr_pool_t *p, const char *ikey, const char *id)
{
    const char *lk = lock_key(p, ikey);
    apr_array_header_t *entries, *kept;
    apr_status_t rv = lock(x, lk);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = load(x, p, ikey, &entries);
    if (rv == APR_SUCCESS) {
        kept = prune(x, p, entries, 0, id, 0);
        if (kept->nelts != entries->nelts) {
            rv = store(x, p, ikey, kept);
        }
    }
    unlock(x, lk);
    return rv;
}
