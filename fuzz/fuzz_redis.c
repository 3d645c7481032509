/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Redis RESP replies (tpo_cache_redis.c) from a hostile server, with and
 * without AUTH on connect, through a socket-free connection layer
 * (fake_netconn.c). */
#include "fuzz_common.h"
#include "fake_netconn.h"
#include "tpo_cache_redis.h"

#include "fuzz_cache_remote.inc"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    fuzz_in in = {data, size, 0};
    tpo_cache *c = NULL;
    const char *err = NULL;
    int auth = (int)(fuzz_byte(&in) & 1);

    CHECK(tpo_redis_cache_create(p, "127.0.0.1:6379", auth ? "s3cret-password" : NULL,
                                 apr_time_from_sec(1), &c, &err) == APR_SUCCESS);
    run_ops(p, c, &in);
    apr_pool_destroy(p);
    return 0;
}
