/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The invalidation messages of Redis's client-side caching
 * (tpo_redis_track.c), as the local tier's subscriber reads them, from a
 * hostile server through the socket-free connection layer
 * (fake_netconn.c). Oracles: every key reported lies in a buffer of its
 * stated length and is NUL-terminated there, at most RS_MAX_BULK bytes; a
 * message reports at most RS_MAX_ELEMS keys; reading ends (the feed runs
 * out) with an error, never in a loop; a message that broke the
 * connection reported nothing after the break. */
#include <string.h>
#include "fuzz_common.h"
#include "fake_netconn.h"
#include "tpo_redis_track.h"

typedef struct {
    unsigned keys, flushes, subs, pongs;
} counts;

static void on_sub(void *b)
{
    ((counts *)b)->subs++;
}
static void on_pong(void *b)
{
    ((counts *)b)->pongs++;
}
static void on_key(void *b, const char *name, apr_size_t len)
{
    CHECK(name != NULL);
    CHECK(len <= RS_MAX_BULK);
    CHECK(name[len] == '\0');
    ((counts *)b)->keys++;
}
static void on_flush(void *b)
{
    ((counts *)b)->flushes++;
}

typedef struct {
    apr_pool_t *scratch;
    int messages;
} run_state;

static apr_status_t loop(tpo_netconn *conn, void *baton)
{
    run_state *st = baton;
    apr_status_t rv = APR_SUCCESS;

    while (rv == APR_SUCCESS) {
        counts c = {0, 0, 0, 0};
        tpo_redis_push_cb cb = {on_sub, on_pong, on_key, on_flush, &c};
        unsigned before = fake_netconn_broken();
        apr_pool_clear(st->scratch);
        rv = tpo_redis_push_read(conn, st->scratch, &cb);
        CHECK(c.keys <= RS_MAX_ELEMS);
        CHECK(c.subs + c.pongs + c.flushes <= 1);
        if (rv == APR_SUCCESS) {
            CHECK(fake_netconn_broken() == before);
            st->messages++;
            CHECK(st->messages < 1000000);
        }
    }
    return rv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    tpo_netpool_conf conf = {
        "redis", "protocol error", 6379, apr_time_from_sec(1), NULL, NULL, NULL, NULL};
    tpo_netpool *np = NULL;
    const char *err = NULL;
    run_state st = {NULL, 0};
    apr_status_t rv;

    CHECK(tpo_netpool_create(p, "127.0.0.1:6379", &conf, &np, &err) == APR_SUCCESS);
    CHECK(apr_pool_create(&st.scratch, p) == APR_SUCCESS);
    fake_netconn_feed(data, size);
    rv = tpo_netpool_run(np, 0, loop, &st);
    CHECK(rv != APR_SUCCESS); /* the feed always runs out */
    apr_pool_destroy(p);
    return 0;
}
