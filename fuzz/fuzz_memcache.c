/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* memcached text-protocol replies (tpo_cache_memcache.c) from a hostile
 * server, through a socket-free connection layer (fake_netconn.c). */
#include "fuzz_common.h"
#include "fake_netconn.h"
#include "tpo_cache_memcache.h"

#include "fuzz_cache_remote.inc"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    fuzz_in in = {data, size, 0};
    tpo_cache *c = NULL;
    const char *err = NULL;

    CHECK(tpo_memcache_cache_create(p, "127.0.0.1:11211", apr_time_from_sec(1), &c, &err) ==
          APR_SUCCESS);
    run_ops(p, c, &in);
    apr_pool_destroy(p);
    return 0;
}
