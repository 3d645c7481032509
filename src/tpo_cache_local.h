/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* A local tier in front of a distributed cache (tpo_cache contract): the
 * plaintext values of the keys that start with a prefix (the session
 * records, "s:") are kept in a shared-memory cache (tpo_cache_shm.c) of the
 * server, so that a request that finds its session there touches no network
 * and decrypts nothing. Everything else goes to the distributed cache as it
 * is.
 *
 * Coherence:
 *  - writes (set, add, del) go to the distributed cache first, then update
 *    (set/add) or drop (del, or a failed write) the local copy;
 *  - with Redis, an invalidation subscriber (one per server, see
 *    mod_tp_oauth_local_tier.c) reports every key written anywhere: it bumps
 *    the key's stripe counter (tpo_local_invalidate). A local copy carries
 *    the counters of its stripes and the tier's generation as they were
 *    BEFORE the remote read that filled it, and is used only while they are
 *    unchanged: a write elsewhere that raced with the fill can never leave a
 *    stale copy behind (counters only move forward);
 *  - the generation moves when the subscription is lost or (re)made, or on a
 *    flush: every copy becomes unusable at once, and with need_up the tier
 *    is bypassed (reads and no fills) until the subscription is back;
 *  - every copy also has a lifetime (conf.lifetime): with memcached (no
 *    invalidation) it is the bound on how long a logout elsewhere takes to
 *    arrive here.
 * The invalidation messages name the distributed cache's own key (for the
 * encrypting wrapper the HMAC of the key): conf.names maps a key to those
 * names (up to two: the current and the previous encryption key). */
#ifndef TPO_CACHE_LOCAL_H
#define TPO_CACHE_LOCAL_H

#include <pthread.h>
#include <apr_atomic.h>
#include "tpo_cache.h"

#define TPO_LOCAL_STRIPES 65536u /* invalidation counters (a power of two) */
#define TPO_LOCAL_NAME_MAX 64    /* a remote name, NUL included */
#define TPO_LOCAL_MAGIC 0x544c5431u

/* The state the subscriber and the readers share (in shared memory). */
typedef struct tpo_local_shared {
    apr_uint32_t magic;
    volatile apr_uint32_t up;  /* 1: the invalidation subscription is live */
    volatile apr_uint32_t gen; /* moves at every loss, regain or flush */
    volatile apr_uint32_t subscriber_pid;
    volatile apr_uint32_t invalidations; /* keys reported (wraps) */
    volatile apr_uint32_t losses;        /* subscriptions lost (wraps) */
    /* held by the live subscriber for its whole life (robust, process-
     * shared): a reader that can take it knows at once that the subscriber
     * is gone, however it died, before anyone else noticed */
    pthread_mutex_t alive;
    int alive_ok; /* the mutex could be made */
    volatile apr_uint32_t stripe[TPO_LOCAL_STRIPES];
} tpo_local_shared;

/* Initialise sh (down, generation 1). */
void tpo_local_shared_init(tpo_local_shared *sh);

/* The subscriber (process or thread) takes this for its whole life; it
 * returns 0 when the lock could not be taken. While nobody holds it, the
 * tier is bypassed whatever `up` says. */
int tpo_local_subscriber_claim(tpo_local_shared *sh);

/* The stripe of a remote name. */
apr_uint32_t tpo_local_stripe_of(const char *name, apr_size_t len);

/* A key was written or removed in the distributed cache. */
void tpo_local_invalidate(tpo_local_shared *sh, const char *name, apr_size_t len);
/* Every copy is unusable from now on (a flush). */
void tpo_local_invalidate_all(tpo_local_shared *sh);
/* The subscription is live (1) or lost (0); both empty the tier. */
void tpo_local_set_up(tpo_local_shared *sh, int up);

/* The remote names of key (0 to 2 of them, each < TPO_LOCAL_NAME_MAX bytes,
 * NUL-terminated); 0 when they cannot be made (the value is then not kept). */
typedef int tpo_local_names_fn(void *baton, const char *key, apr_size_t klen,
                               char names[2][TPO_LOCAL_NAME_MAX], int *n);

typedef struct tpo_local_conf {
    const char *prefix;           /* only keys that start with it are kept */
    apr_interval_time_t lifetime; /* of a local copy (> 0) */
    int need_up;                  /* 1: used only while sh->up (Redis) */
    tpo_local_names_fn *names;    /* NULL: no stripes (no invalidation) */
    void *names_baton;
} tpo_local_conf;

/* The tier: store is the shared-memory cache of the copies, remote the
 * distributed cache (both outlive it), sh the shared state. */
apr_status_t tpo_local_cache_create(apr_pool_t *p, tpo_cache *store, tpo_cache *remote,
                                    tpo_local_shared *sh, const tpo_local_conf *conf,
                                    tpo_cache **out);

/* Figures of this process (not shared): local hits, misses (remote reads of
 * kept keys) and copies refused as stale. */
typedef struct tpo_local_stats {
    apr_uint64_t hits, misses, stale;
} tpo_local_stats;
void tpo_local_cache_stats(tpo_cache *c, tpo_local_stats *st);

#endif
