/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The local tier (see tpo_cache_local.h). A local copy is the value behind
 * a fixed header:
 *
 *   magic(4) gen(4) n(4) stripe[2](8) snap[2](8) pad(4)   (32 bytes)
 *
 * gen and snap[] are the tier's generation and the stripes' counters read
 * before the remote read (or write) that produced the value; the copy is
 * served only while all of them are unchanged (and, with need_up, while the
 * subscription is up). */
#include <errno.h>
#include <string.h>
#include <apr_strings.h>
#include "tpo_cache_local.h"

#define HDR 32u
#define ENTRY_MAGIC 0x4c6f6331u

typedef struct {
    apr_uint32_t magic, gen, n, stripe[2], snap[2], pad;
} lc_hdr;

typedef struct {
    tpo_cache pub;
    tpo_cache *store, *remote;
    tpo_local_shared *sh;
    tpo_local_conf conf;
    apr_size_t plen;
    tpo_local_stats st; /* per process; updated without locks (figures only) */
} lc_cache;

void tpo_local_shared_init(tpo_local_shared *sh)
{
    pthread_mutexattr_t a;

    memset(sh, 0, sizeof(*sh));
    sh->magic = TPO_LOCAL_MAGIC;
    sh->gen = 1;
    if (pthread_mutexattr_init(&a) == 0) {
        sh->alive_ok = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) == 0 &&
                       pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) == 0 &&
                       pthread_mutex_init(&sh->alive, &a) == 0;
        pthread_mutexattr_destroy(&a);
    }
}

int tpo_local_subscriber_claim(tpo_local_shared *sh)
{
    int rc;

    if (!sh->alive_ok) {
        return 0;
    }
    rc = pthread_mutex_lock(&sh->alive);
    if (rc == EOWNERDEAD) { /* the previous subscriber died holding it */
        pthread_mutex_consistent(&sh->alive);
        rc = 0;
    }
    return rc == 0;
}

/* 1 while a subscriber holds `alive`; a dead holder is noticed here (and
 * the tier emptied), a free lock means nobody subscribes. */
static int subscriber_alive(tpo_local_shared *sh)
{
    int rc;

    if (!sh->alive_ok) {
        return 0;
    }
    rc = pthread_mutex_trylock(&sh->alive);
    if (rc == EBUSY) {
        return 1;
    }
    if (rc == EOWNERDEAD) {
        pthread_mutex_consistent(&sh->alive);
        rc = 0;
    }
    if (rc == 0) {
        pthread_mutex_unlock(&sh->alive);
        if (apr_atomic_read32(&sh->up)) {
            tpo_local_set_up(sh, 0);
        }
    }
    return 0;
}

apr_uint32_t tpo_local_stripe_of(const char *name, apr_size_t len)
{
    apr_uint32_t h = 2166136261u; /* FNV-1a */
    apr_size_t i;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char)name[i];
        h *= 16777619u;
    }
    return (h ^ (h >> 16)) & (TPO_LOCAL_STRIPES - 1);
}

void tpo_local_invalidate(tpo_local_shared *sh, const char *name, apr_size_t len)
{
    apr_atomic_inc32(&sh->stripe[tpo_local_stripe_of(name, len)]);
    apr_atomic_inc32(&sh->invalidations);
}

void tpo_local_invalidate_all(tpo_local_shared *sh)
{
    apr_atomic_inc32(&sh->gen);
}

void tpo_local_set_up(tpo_local_shared *sh, int up)
{
    if (up) {
        /* copies made before the subscription may have missed writes */
        apr_atomic_inc32(&sh->gen);
        apr_atomic_set32(&sh->up, 1);
    }
    else {
        apr_atomic_set32(&sh->up, 0);
        apr_atomic_inc32(&sh->gen);
        apr_atomic_inc32(&sh->losses);
    }
}

static int kept(lc_cache *c, const char *key)
{
    return strncmp(key, c->conf.prefix, c->plen) == 0;
}

static int usable(lc_cache *c)
{
    return !c->conf.need_up || (apr_atomic_read32(&c->sh->up) && subscriber_alive(c->sh));
}

/* The header of a copy made now (before the remote operation): 0 when no
 * copy may be kept (tier bypassed, names unavailable). */
static int snapshot(lc_cache *c, const char *key, lc_hdr *h)
{
    char names[2][TPO_LOCAL_NAME_MAX];
    int i, n = 0;
    apr_size_t klen;

    if (!usable(c) || !tpo_cache_key_ok(key, &klen)) {
        return 0;
    }
    memset(h, 0, sizeof(*h));
    h->magic = ENTRY_MAGIC;
    /* the generation first: a loss after this read makes the copy unusable */
    h->gen = apr_atomic_read32(&c->sh->gen);
    if (c->conf.names) {
        if (!c->conf.names(c->conf.names_baton, key, klen, names, &n) || n < 0 || n > 2) {
            return 0;
        }
        for (i = 0; i < n; i++) {
            h->stripe[i] = tpo_local_stripe_of(names[i], strnlen(names[i], TPO_LOCAL_NAME_MAX));
            h->snap[i] = apr_atomic_read32(&c->sh->stripe[h->stripe[i]]);
        }
    }
    h->n = (apr_uint32_t)n;
    /* a loss between the generation's read and now is caught by it; the
     * subscription being down already is caught here */
    return usable(c);
}

static int current(lc_cache *c, const lc_hdr *h)
{
    apr_uint32_t i;

    if (h->magic != ENTRY_MAGIC || h->n > 2 || !usable(c) ||
        h->gen != apr_atomic_read32(&c->sh->gen)) {
        return 0;
    }
    for (i = 0; i < h->n; i++) {
        if (h->stripe[i] >= TPO_LOCAL_STRIPES ||
            h->snap[i] != apr_atomic_read32(&c->sh->stripe[h->stripe[i]])) {
            return 0;
        }
    }
    return 1;
}

static void keep(lc_cache *c, const char *key, const lc_hdr *h, const void *val, apr_size_t vlen,
                 apr_time_t expiry, apr_pool_t *p)
{
    apr_time_t until = apr_time_now() + c->conf.lifetime;
    char *buf;

    if (expiry && expiry < until) {
        until = expiry;
    }
    if (vlen > ((apr_size_t)-1) - HDR) {
        return;
    }
    buf = apr_palloc(p, HDR + vlen);
    memcpy(buf, h, sizeof(*h));
    memcpy(buf + HDR, val, vlen);
    if (tpo_cache_set(c->store, key, buf, HDR + vlen, until) != APR_SUCCESS) {
        tpo_cache_del(c->store, key); /* no older copy may stay */
    }
}

static apr_status_t lc_get(tpo_cache *tc, const char *key, apr_pool_t *p, char **val,
                           apr_size_t *vlen)
{
    lc_cache *c = tc->impl;
    lc_hdr h;
    char *raw;
    apr_size_t rlen;
    apr_status_t rv;

    if (!key || !kept(c, key)) {
        return tpo_cache_get(c->remote, key, p, val, vlen);
    }
    if (usable(c) && tpo_cache_get(c->store, key, p, &raw, &rlen) == APR_SUCCESS) {
        if (rlen >= HDR) {
            memcpy(&h, raw, sizeof(h));
            if (current(c, &h)) {
                c->st.hits++;
                *val = raw + HDR; /* NUL-terminated by the store */
                *vlen = rlen - HDR;
                return APR_SUCCESS;
            }
        }
        c->st.stale++;
        tpo_cache_del(c->store, key);
    }
    c->st.misses++;
    {
        int ok = snapshot(c, key, &h);
        rv = tpo_cache_get(c->remote, key, p, val, vlen);
        if (rv == APR_SUCCESS && ok) {
            keep(c, key, &h, *val, *vlen, 0, p);
        }
    }
    return rv;
}

static apr_status_t lc_write(lc_cache *c, int add, const char *key, const void *val,
                             apr_size_t vlen, apr_time_t expiry)
{
    lc_hdr h;
    int ok;
    apr_status_t rv;
    apr_pool_t *p;

    if (!key || !kept(c, key)) {
        return add ? tpo_cache_add(c->remote, key, val, vlen, expiry)
                   : tpo_cache_set(c->remote, key, val, vlen, expiry);
    }
    ok = snapshot(c, key, &h);
    rv = add ? tpo_cache_add(c->remote, key, val, vlen, expiry)
             : tpo_cache_set(c->remote, key, val, vlen, expiry);
    if (rv == APR_SUCCESS && ok && expiry > apr_time_now() &&
        apr_pool_create(&p, NULL) == APR_SUCCESS) {
        keep(c, key, &h, val, vlen, expiry, p);
        apr_pool_destroy(p);
    }
    else if (rv != APR_EEXIST) {
        /* failed or unknown outcome, or not to be kept: no copy */
        tpo_cache_del(c->store, key);
    }
    return rv;
}

static apr_status_t lc_set(tpo_cache *tc, const char *key, const void *val, apr_size_t vlen,
                           apr_time_t expiry)
{
    return lc_write(tc->impl, 0, key, val, vlen, expiry);
}

static apr_status_t lc_add(tpo_cache *tc, const char *key, const void *val, apr_size_t vlen,
                           apr_time_t expiry)
{
    return lc_write(tc->impl, 1, key, val, vlen, expiry);
}

static apr_status_t lc_del(tpo_cache *tc, const char *key)
{
    lc_cache *c = tc->impl;
    apr_status_t rv = tpo_cache_del(c->remote, key);

    if (key && kept(c, key)) {
        tpo_cache_del(c->store, key); /* whatever the remote answer */
    }
    return rv;
}

static const tpo_cache_ops lc_ops = {"local", lc_get, lc_set, lc_add, lc_del};

apr_status_t tpo_local_cache_create(apr_pool_t *p, tpo_cache *store, tpo_cache *remote,
                                    tpo_local_shared *sh, const tpo_local_conf *conf,
                                    tpo_cache **out)
{
    lc_cache *c;

    *out = NULL;
    if (!store || !remote || !sh || !conf || !conf->prefix || !*conf->prefix ||
        conf->lifetime <= 0 || sh->magic != TPO_LOCAL_MAGIC) {
        return APR_EINVAL;
    }
    c = apr_pcalloc(p, sizeof(*c));
    c->store = store;
    c->remote = remote;
    c->sh = sh;
    c->conf = *conf;
    c->conf.prefix = apr_pstrdup(p, conf->prefix);
    c->plen = strlen(c->conf.prefix);
    c->pub.ops = &lc_ops;
    c->pub.impl = c;
    *out = &c->pub;
    return APR_SUCCESS;
}

void tpo_local_cache_stats(tpo_cache *c, tpo_local_stats *st)
{
    *st = ((lc_cache *)c->impl)->st;
}
