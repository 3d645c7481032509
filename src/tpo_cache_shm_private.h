/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Private to the shared-memory cache backend (tpo_cache_shm.c and
 * tpo_cache_shm_repair.c): the segment layout, the robust-lock wrappers and
 * the index primitives both files use. Not part of the public API
 * (tpo_cache_shm.h); the design is described at the top of tpo_cache_shm.c.
 *
 * Segment layout (all references are 32-bit indices, never pointers):
 *
 *   header   magic, geometry, allocator state, counters, the allocator lock
 *            and NSTRIPES stripe locks (each on its own cache line)
 *   buckets  uint32[nbuckets]       head entry of each hash chain
 *   entries  shm_entry[max_entries] entry headers (hash, expiry, links)
 *   bnext    uint32[nblocks]        next block of a value's chain
 *   data     nblocks * BLOCK_SIZE   the key, then the value, across a chain */
#ifndef TPO_CACHE_SHM_PRIVATE_H
#define TPO_CACHE_SHM_PRIVATE_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <apr_general.h>
#include <apr_shm.h>
#include "tpo_cache_shm.h"

/* Internal to libtpo: not exported, calls stay direct. */
#define TPO_SHM_INTERNAL __attribute__((visibility("hidden")))

#define NSTRIPES 64u
#define BLOCK_SIZE 256u /* > TPO_CACHE_MAX_KEY: a key fits in one block */
#define NIL UINT32_MAX

enum { E_FREE = 0, E_WRITING = 1, E_LIVE = 2 };

typedef struct {
    uint64_t hash;
    int64_t expiry;        /* apr_time_t */
    uint32_t bnext;        /* hash chain, or the free-slot list */
    uint32_t lprev, lnext; /* LRU list: lprev towards the newest end */
    uint32_t first;        /* first block */
    uint32_t nblocks;
    uint32_t vlen;
    uint16_t klen;
    uint8_t state;
    uint8_t ref; /* read since it last passed the clock hand */
} shm_entry;

typedef struct {
    pthread_mutex_t m;
} __attribute__((aligned(64))) shm_lock;

typedef struct {
    uint32_t magic, version;
    uint64_t size;
    uint64_t seed[2];
    uint32_t nbuckets, max_entries, nblocks, block_size, max_value_blocks;
    uint64_t off_buckets, off_entries, off_bnext, off_data;
    /* allocator state: under the allocator lock */
    uint32_t free_slot, free_block, nfree_blocks, nentries;
    uint32_t lru_head, lru_tail, sweep;
    /* atomics */
    uint32_t repair_needed;
    uint64_t evictions, expired, refused, repairs;
    shm_lock alloc;
    shm_lock stripe[NSTRIPES];
} shm_hdr;

typedef struct {
    apr_shm_t *shm;
    shm_hdr *h;
    uint32_t *buckets;
    shm_entry *ent;
    uint32_t *bnext;
    unsigned char *data;
    apr_size_t bytes;
    apr_size_t max_value;
} shm_cache;

/* ------------------------------------------------- tpo_cache_shm_repair.c */

/* A lock's owner died (EOWNERDEAD): make the lock consistent and flag the
 * segment for repair. */
TPO_SHM_INTERNAL void tpo_shm_owner_died(shm_cache *c, shm_lock *l);
/* A process died holding a lock: take all of them and rebuild, unless someone
 * else already did. */
TPO_SHM_INTERNAL void tpo_shm_repair(shm_cache *c);
/* Lock stripe s with no repair due. */
TPO_SHM_INTERNAL apr_status_t tpo_shm_stripe_enter(shm_cache *c, uint32_t s);
/* Take the allocator lock while holding a stripe. APR_EAGAIN: a repair is
 * due (the lock is not held then). */
TPO_SHM_INTERNAL apr_status_t tpo_shm_alloc_enter(shm_cache *c);

/* -------------------------------------------------------- tpo_cache_shm.c */

/* SipHash-2-4 of in with the segment key k. */
TPO_SHM_INTERNAL uint64_t tpo_shm_siphash(const uint64_t k[2], const unsigned char *in, size_t len);
/* Find key in its bucket (stripe lock held). Returns the entry index or NIL;
 * *linkp is the reference that points at it. */
TPO_SHM_INTERNAL uint32_t tpo_shm_find(shm_cache *c, uint64_t hash, const char *key, uint16_t klen,
                                       uint32_t **linkp);
TPO_SHM_INTERNAL void tpo_shm_lru_unlink(shm_cache *c, uint32_t idx);
/* The list runs from lru_head (newest) through lnext to lru_tail (oldest). */
TPO_SHM_INTERNAL void tpo_shm_lru_push_head(shm_cache *c, uint32_t idx);

/* ----------------------------------------------------------------- locks */

static APR_INLINE int repair_pending(shm_cache *c)
{
    return __atomic_load_n(&c->h->repair_needed, __ATOMIC_ACQUIRE) != 0;
}

/* 0 when acquired (the caller then checks repair_pending()), else errno. */
static APR_INLINE int lk(shm_cache *c, shm_lock *l)
{
    int rv = pthread_mutex_lock(&l->m);

    if (rv == EOWNERDEAD) {
        tpo_shm_owner_died(c, l);
        rv = 0;
    }
    return rv;
}

static APR_INLINE int trylk(shm_cache *c, shm_lock *l)
{
    int rv = pthread_mutex_trylock(&l->m);

    if (rv == EOWNERDEAD) {
        tpo_shm_owner_died(c, l);
        rv = 0;
    }
    return rv;
}

static APR_INLINE void unlk(shm_lock *l)
{
    pthread_mutex_unlock(&l->m);
}

/* -------------------------------------------------------------- helpers */

static APR_INLINE uint32_t blocks_for(apr_size_t n)
{
    return n == 0 ? 1 : (uint32_t)((n + BLOCK_SIZE - 1) / BLOCK_SIZE);
}

static APR_INLINE unsigned char *blk(shm_cache *c, uint32_t b)
{
    return c->data + (apr_size_t)b * BLOCK_SIZE;
}

static APR_INLINE uint32_t bucket_of(shm_cache *c, uint64_t hash)
{
    return (uint32_t)hash & (c->h->nbuckets - 1);
}

static APR_INLINE uint32_t stripe_of(shm_cache *c, uint64_t hash)
{
    return bucket_of(c, hash) % NSTRIPES;
}

static APR_INLINE void count(uint64_t *ctr)
{
    __atomic_fetch_add(ctr, 1, __ATOMIC_RELAXED);
}

#endif
