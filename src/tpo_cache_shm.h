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
    apr_size_t bytes;          /* segment size */
    apr_size_t entries;        /* live entries */
    apr_size_t max_entries;
    apr_size_t blocks_total, blocks_free, block_size;
    apr_uint64_t evictions;    /* LRU evictions so far */
    apr_uint64_t expired;      /* expired entries reclaimed */
    apr_uint64_t refused;      /* sets refused (value can never fit) */
} tpo_shm_cache_stats;

/* Create a cache in a new anonymous segment of about `bytes` bytes that can
 * index up to max_entries entries (0: derive from bytes). The segment is
 * destroyed with pool p. Processes forked after this call share it. */
apr_status_t tpo_shm_cache_create(apr_pool_t *p, apr_size_t bytes,
                                  apr_size_t max_entries, tpo_cache **out,
                                  const char **err);

void tpo_shm_cache_get_stats(tpo_cache *c, tpo_shm_cache_stats *st);

/* Largest value that can ever be stored (set returns APR_ENOSPC above it). */
apr_size_t tpo_shm_cache_max_value(tpo_cache *c);

#endif
