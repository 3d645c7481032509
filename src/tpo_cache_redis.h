/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Redis backend of the cache contract, with a small RESP client of its own
 * (GET, SET PX, SET NX PX, DEL, AUTH; APR sockets, a per-process connection
 * pool guarded by a mutex). Create it per process (child_init). When the
 * server is down, operations return an error status (not APR_NOTFOUND); the
 * pool reconnects on the next operation once it is back. */
#ifndef TPO_CACHE_REDIS_H
#define TPO_CACHE_REDIS_H

#include "tpo_cache.h"

/* servers: "host:port" (the first of a comma-separated list is used; the
 * others are fail-over candidates tried in order). password: for AUTH, or
 * NULL. timeout: per operation (connect and I/O). */
apr_status_t tpo_redis_cache_create(apr_pool_t *p, const char *servers, const char *password,
                                    apr_interval_time_t timeout, tpo_cache **out, const char **err);

#endif
