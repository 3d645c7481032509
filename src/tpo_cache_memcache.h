/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* memcached backend of the cache contract, with a small client of its own for
 * memcached's text protocol (get, set, add, delete): APR-util's apr_memcache
 * has no I/O timeout (a stopped server blocks it forever) and reports "all
 * servers down" as "not found". Create it per process (child_init):
 * connections are not shared across fork. Thread-safe. When every server is down, operations
 * return an error status (not APR_NOTFOUND) so the glue answers 503; the
 * client reconnects by itself when a server comes back. */
#ifndef TPO_CACHE_MEMCACHE_H
#define TPO_CACHE_MEMCACHE_H

#include "tpo_cache.h"

/* servers: "host:port[,host:port...]" (IPv6 as [::1]:11211).
 * timeout: per operation (connect and I/O). */
apr_status_t tpo_memcache_cache_create(apr_pool_t *p, const char *servers,
                                       apr_interval_time_t timeout, tpo_cache **out,
                                       const char **err);

#endif
