/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Shared-memory cache backend: one anonymous APR shared-memory segment,
 * created in the parent before the children fork (so every child sees it),
 * kept across graceful restarts by the glue.
 *
 * Layout: a hash index (O(1) lookup by key hash), entries of variable size
 * stored in chains of fixed-size blocks, striped process-shared robust locks
 * (no single global mutex on the read path), expired entries reclaimed on
 * demand, least-recently-used eviction when full. */
#ifndef TPO_CACHE_SHM_H
#define TPO_CACHE_SHM_H

#include "tpo_cache.h"

typedef struct tpo_shm_cache_stats {
    apr_size_t bytes;   /* segment size */
    apr_size_t entries; /* entries stored (expired ones count until reclaimed) */
    apr_size_t max_entries;
    apr_size_t blocks_total, blocks_free, block_size;
    apr_uint64_t evictions; /* LRU evictions so far */
    apr_uint64_t expired;   /* expired entries reclaimed */
    apr_uint64_t refused;   /* sets refused (value can never fit) */
} tpo_shm_cache_stats;

/* Create a cache in a new anonymous segment of about `bytes` bytes that can
 * index up to max_entries entries (0: derive from bytes, one per 512 bytes).
 * The segment is destroyed with pool p. Processes forked after this call
 * share it. A size too small for 16 entries and 16 blocks is raised to that.
 *
 * Behaviour within the tpo_cache contract: get() returns a NUL-terminated
 * copy (*vlen excludes the NUL); a key longer than TPO_CACHE_MAX_KEY is
 * APR_NOTFOUND for get/del and APR_EINVAL for set/add; set/add of a value
 * above tpo_shm_cache_max_value() is APR_ENOSPC (counted in `refused`) and
 * leaves any existing entry alone; APR_EAGAIN only if room could not be made
 * for ~0.2 s because every eviction candidate was locked by others. */
apr_status_t tpo_shm_cache_create(apr_pool_t *p, apr_size_t bytes, apr_size_t max_entries,
                                  tpo_cache **out, const char **err);

/* A cache kept from an earlier load of this code (httpd keeps the segment
 * in its process pool across configuration passes and restarts, but unloads
 * and reloads the module in between, maybe at another address): point its
 * function table at this load's functions before using it again. */
void tpo_shm_cache_rebind(tpo_cache *c);

void tpo_shm_cache_get_stats(tpo_cache *c, tpo_shm_cache_stats *st);

/* Largest value that can ever be stored (set returns APR_ENOSPC above it). */
apr_size_t tpo_shm_cache_max_value(tpo_cache *c);

/* How many times the segment was checked and rebuilt because a process died
 * while holding one of its locks (intact entries are kept; a value that was
 * being written is dropped). Worth a log line when it grows. */
apr_uint64_t tpo_shm_cache_repairs(tpo_cache *c);

#ifdef TPO_TESTING
/* Test only (built with -DTPO_TESTING for the unit tests, never in the module):
 * make the calling process _exit()
 * with TPO_SHM_CRASH_EXIT at a point inside its next cache operation while it
 * holds cache locks, to exercise the robust-lock recovery. */
#define TPO_SHM_CRASH_NONE 0
#define TPO_SHM_CRASH_HOLDING_STRIPE 1 /* get(): holding the key's stripe lock (after 0.1 s) */
#define TPO_SHM_CRASH_MID_WRITE 2      /* set/add(): value half copied */
#define TPO_SHM_CRASH_HOLDING_ALLOC 3  /* set/add(): mid-allocation, allocator lock held */
#define TPO_SHM_CRASH_EXIT 77
void tpo_shm_cache_test_crash_at(int point);
#endif

#endif
