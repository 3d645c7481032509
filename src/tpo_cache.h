/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The cache contract: one interface, several backends: shared memory
 * (tpo_cache_shm.c), memcached (tpo_cache_memcache.c) and Redis
 * (tpo_cache_redis.c), the last two behind the encrypting wrapper
 * (tpo_cache_crypt.c). Keys are NUL-terminated strings of at most
 * TPO_CACHE_MAX_KEY bytes; values are opaque bytes. Expiry is absolute.
 *
 *  get : APR_SUCCESS with a copy of the value in p, APR_NOTFOUND if absent or
 *        expired.
 *  set : insert or replace. APR_ENOSPC when the value can never fit.
 *  add : insert only if absent (or expired), atomically; APR_EEXIST otherwise.
 *        This is what one-use state and single-flight refresh build on.
 *  del : remove; APR_NOTFOUND if it was not there. Because removal is atomic,
 *        "get then del == SUCCESS" is a one-time take.
 *  Any other status: the backend failed (the glue answers 503).
 */
#ifndef TPO_CACHE_H
#define TPO_CACHE_H

#include <apr_pools.h>
#include <apr_time.h>
#include <apr_errno.h>
#include <string.h>

#define TPO_CACHE_MAX_KEY 200

typedef struct tpo_cache tpo_cache;

typedef struct tpo_cache_ops {
    const char *name;
    apr_status_t (*get)(tpo_cache *c, const char *key, apr_pool_t *p, char **val, apr_size_t *vlen);
    apr_status_t (*set)(tpo_cache *c, const char *key, const void *val, apr_size_t vlen,
                        apr_time_t expiry);
    apr_status_t (*add)(tpo_cache *c, const char *key, const void *val, apr_size_t vlen,
                        apr_time_t expiry);
    apr_status_t (*del)(tpo_cache *c, const char *key);
} tpo_cache_ops;

struct tpo_cache {
    const tpo_cache_ops *ops;
    void *impl;
};

/* 1 and *klen when key is a usable key (1..TPO_CACHE_MAX_KEY bytes). */
static inline int tpo_cache_key_ok(const char *key, apr_size_t *klen)
{
    apr_size_t n;

    if (key == NULL) {
        return 0;
    }
    n = strnlen(key, TPO_CACHE_MAX_KEY + 1);
    if (n == 0 || n > TPO_CACHE_MAX_KEY) {
        return 0;
    }
    *klen = n;
    return 1;
}

static inline apr_status_t tpo_cache_get(tpo_cache *c, const char *key, apr_pool_t *p, char **val,
                                         apr_size_t *vlen)
{
    return c->ops->get(c, key, p, val, vlen);
}
static inline apr_status_t tpo_cache_set(tpo_cache *c, const char *key, const void *val,
                                         apr_size_t vlen, apr_time_t expiry)
{
    return c->ops->set(c, key, val, vlen, expiry);
}
static inline apr_status_t tpo_cache_add(tpo_cache *c, const char *key, const void *val,
                                         apr_size_t vlen, apr_time_t expiry)
{
    return c->ops->add(c, key, val, vlen, expiry);
}
static inline apr_status_t tpo_cache_del(tpo_cache *c, const char *key)
{
    return c->ops->del(c, key);
}

#endif
