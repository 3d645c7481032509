/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The local tier (tpo_cache_local.c) over a counting "remote" cache (a
 * shared-memory cache standing in for memcached/Redis): copies served
 * without the remote, invalidation by stripe, the generation (subscription
 * lost/regained), bypass while down, an invalidation racing with a fill,
 * writes remote first, lifetime, and only the prefixed keys kept. */
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include "tpo_test.h"
#include "tpo_cache_local.h"
#include "tpo_cache_shm.h"

typedef struct {
    tpo_cache pub;
    tpo_cache *inner;
    int gets, sets, dels, fail_writes;
    tpo_local_shared *race_sh; /* when set: invalidate race_name during the next get */
    const char *race_name;
} counting;

static apr_status_t c_get(tpo_cache *tc, const char *k, apr_pool_t *p, char **v, apr_size_t *l)
{
    counting *c = tc->impl;
    c->gets++;
    if (c->race_sh) {
        tpo_local_invalidate(c->race_sh, c->race_name, strlen(c->race_name));
        c->race_sh = NULL;
    }
    return tpo_cache_get(c->inner, k, p, v, l);
}
static apr_status_t c_set(tpo_cache *tc, const char *k, const void *v, apr_size_t l, apr_time_t e)
{
    counting *c = tc->impl;
    c->sets++;
    return c->fail_writes ? APR_ECONNREFUSED : tpo_cache_set(c->inner, k, v, l, e);
}
static apr_status_t c_add(tpo_cache *tc, const char *k, const void *v, apr_size_t l, apr_time_t e)
{
    counting *c = tc->impl;
    c->sets++;
    return c->fail_writes ? APR_ECONNREFUSED : tpo_cache_add(c->inner, k, v, l, e);
}
static apr_status_t c_del(tpo_cache *tc, const char *k)
{
    counting *c = tc->impl;
    c->dels++;
    return tpo_cache_del(c->inner, k);
}
static const tpo_cache_ops c_ops = {"counting", c_get, c_set, c_add, c_del};

/* the remote name of a key: "R:" + key (and "P:" + key as a previous key) */
static int names(void *baton, const char *key, apr_size_t klen, char out[2][TPO_LOCAL_NAME_MAX],
                 int *n)
{
    int two = baton != NULL;
    if (klen + 3 > TPO_LOCAL_NAME_MAX)
        return 0;
    apr_snprintf(out[0], TPO_LOCAL_NAME_MAX, "R:%.*s", (int)klen, key);
    apr_snprintf(out[1], TPO_LOCAL_NAME_MAX, "P:%.*s", (int)klen, key);
    *n = two ? 2 : 1;
    return 1;
}

static counting remote;
static tpo_local_shared *sh;
static tpo_cache *tier;

/* the subscriber: a thread that holds the tier's `alive` lock until told
 * to end (and then ends holding it, like a killed process) */
static pthread_t holder;
static int holder_running;
static pthread_mutex_t hmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hcv = PTHREAD_COND_INITIALIZER;
static int holder_state; /* 0 starting, 1 holding, 2 told to end */

static void *hold(void *arg)
{
    int ok = tpo_local_subscriber_claim(arg);
    pthread_mutex_lock(&hmu);
    holder_state = ok ? 1 : -1;
    pthread_cond_broadcast(&hcv);
    while (holder_state != 2)
        pthread_cond_wait(&hcv, &hmu);
    pthread_mutex_unlock(&hmu);
    return NULL; /* ends holding the lock */
}

static void holder_start(void)
{
    holder_state = 0;
    ck_assert_int_eq(pthread_create(&holder, NULL, hold, sh), 0);
    holder_running = 1;
    pthread_mutex_lock(&hmu);
    while (holder_state == 0)
        pthread_cond_wait(&hcv, &hmu);
    pthread_mutex_unlock(&hmu);
    ck_assert_int_eq(holder_state, 1);
}

static void holder_die(void)
{
    if (!holder_running)
        return;
    pthread_mutex_lock(&hmu);
    holder_state = 2;
    pthread_cond_broadcast(&hcv);
    pthread_mutex_unlock(&hmu);
    pthread_join(holder, NULL);
    holder_running = 0;
}

static void teardown(void)
{
    holder_die();
    tpo_test_teardown();
}

static void make(int need_up, apr_interval_time_t lifetime, int two_names)
{
    tpo_cache *store, *inner;
    const char *err = NULL;
    tpo_local_conf conf = {"s:", lifetime, need_up, names, two_names ? (void *)1 : NULL};

    ck_assert_int_eq(tpo_shm_cache_create(tpo_test_pool, 1 << 20, 0, &store, &err), APR_SUCCESS);
    ck_assert_int_eq(tpo_shm_cache_create(tpo_test_pool, 1 << 20, 0, &inner, &err), APR_SUCCESS);
    memset(&remote, 0, sizeof(remote));
    remote.pub.ops = &c_ops;
    remote.pub.impl = &remote;
    remote.inner = inner;
    sh = apr_pcalloc(tpo_test_pool, sizeof(*sh));
    tpo_local_shared_init(sh);
    if (need_up) {
        holder_start();
        tpo_local_set_up(sh, 1);
    }
    ck_assert_int_eq(tpo_local_cache_create(tpo_test_pool, store, &remote.pub, sh, &conf, &tier),
                     APR_SUCCESS);
}

static const char *get(const char *k)
{
    char *v;
    apr_size_t n;
    apr_status_t rv = tpo_cache_get(tier, k, tpo_test_pool, &v, &n);
    if (rv == APR_NOTFOUND)
        return NULL;
    ck_assert_int_eq(rv, APR_SUCCESS);
    ck_assert_uint_eq(strlen(v), n);
    return v;
}

static void put_remote(const char *k, const char *v)
{
    ck_assert_int_eq(tpo_cache_set(remote.inner, k, v, strlen(v), apr_time_now() + 3600000000LL),
                     APR_SUCCESS);
}

static apr_time_t later(void)
{
    return apr_time_now() + apr_time_from_sec(3600);
}

START_TEST(copies_served_locally)
{
    make(1, apr_time_from_sec(300), 0);
    put_remote("s:one", "v1");
    ck_assert_str_eq(get("s:one"), "v1");
    ck_assert_int_eq(remote.gets, 1);
    ck_assert_str_eq(get("s:one"), "v1");
    ck_assert_str_eq(get("s:one"), "v1");
    ck_assert_int_eq(remote.gets, 1); /* no network */
    /* another key prefix: never kept */
    put_remote("rl:one", "1");
    ck_assert_str_eq(get("rl:one"), "1");
    ck_assert_str_eq(get("rl:one"), "1");
    ck_assert_int_eq(remote.gets, 3);
    /* absent: asked every time, nothing kept */
    ck_assert_ptr_null(get("s:none"));
    ck_assert_ptr_null(get("s:none"));
    ck_assert_int_eq(remote.gets, 5);
}
END_TEST

START_TEST(invalidation_by_name)
{
    make(1, apr_time_from_sec(300), 0);
    put_remote("s:a", "va");
    put_remote("s:b", "vb");
    get("s:a");
    get("s:b");
    ck_assert_int_eq(remote.gets, 2);
    /* written elsewhere: the subscriber reports the remote name */
    put_remote("s:a", "va2");
    tpo_local_invalidate(sh, "R:s:a", 5);
    ck_assert_str_eq(get("s:a"), "va2");
    ck_assert_int_eq(remote.gets, 3);
    ck_assert_str_eq(get("s:a"), "va2");
    ck_assert_int_eq(remote.gets, 3);
    /* the outer key itself means nothing to the tier (unless the stripe collides) */
    if (tpo_local_stripe_of("s:b", 3) != tpo_local_stripe_of("R:s:b", 5)) {
        tpo_local_invalidate(sh, "s:b", 3);
        get("s:b");
        ck_assert_int_eq(remote.gets, 3);
    }
    /* removed elsewhere */
    tpo_cache_del(remote.inner, "s:b");
    tpo_local_invalidate(sh, "R:s:b", 5);
    ck_assert_ptr_null(get("s:b"));
}
END_TEST

START_TEST(previous_key_name_counts_too)
{
    make(1, apr_time_from_sec(300), 1);
    put_remote("s:a", "va");
    get("s:a");
    tpo_local_invalidate(sh, "P:s:a", 5);
    put_remote("s:a", "vb");
    ck_assert_str_eq(get("s:a"), "vb");
}
END_TEST

START_TEST(generation_and_bypass)
{
    make(1, apr_time_from_sec(300), 0);
    put_remote("s:a", "va");
    get("s:a");
    get("s:a");
    ck_assert_int_eq(remote.gets, 1);
    /* the subscription is lost: every read goes to the remote, nothing is kept */
    tpo_local_set_up(sh, 0);
    put_remote("s:a", "vb"); /* a write nobody reported */
    ck_assert_str_eq(get("s:a"), "vb");
    ck_assert_str_eq(get("s:a"), "vb");
    ck_assert_int_eq(remote.gets, 3);
    /* back: the old copy is never served again */
    tpo_local_set_up(sh, 1);
    ck_assert_str_eq(get("s:a"), "vb");
    ck_assert_int_eq(remote.gets, 4);
    ck_assert_str_eq(get("s:a"), "vb");
    ck_assert_int_eq(remote.gets, 4);
    /* a flush */
    tpo_local_invalidate_all(sh);
    get("s:a");
    ck_assert_int_eq(remote.gets, 5);
}
END_TEST

START_TEST(subscriber_death_seen_at_once)
{
    make(1, apr_time_from_sec(300), 0);
    put_remote("s:a", "va");
    get("s:a");
    get("s:a");
    ck_assert_int_eq(remote.gets, 1);
    /* the subscriber dies without a word (SIGKILL): `up` still says 1 */
    holder_die();
    ck_assert_uint_eq(apr_atomic_read32(&sh->up), 1);
    put_remote("s:a", "vb");
    ck_assert_str_eq(get("s:a"), "vb");
    ck_assert_int_eq(remote.gets, 2);
    ck_assert_uint_eq(apr_atomic_read32(&sh->up), 0); /* noticed by the reader */
    get("s:a");
    ck_assert_int_eq(remote.gets, 3); /* bypassed */
    /* a new subscriber takes over the dead one's lock */
    holder_start();
    tpo_local_set_up(sh, 1);
    get("s:a");
    get("s:a");
    ck_assert_int_eq(remote.gets, 4);
}
END_TEST

START_TEST(no_subscriber_no_tier)
{
    make(1, apr_time_from_sec(300), 0);
    holder_die();
    put_remote("s:a", "va");
    get("s:a");
    get("s:a");
    ck_assert_int_eq(remote.gets, 2);
}
END_TEST

START_TEST(invalidation_racing_with_fill)
{
    make(1, apr_time_from_sec(300), 0);
    put_remote("s:a", "old");
    /* the remote answers "old", and the write that replaced it is reported
     * while the answer is on its way: the copy must not be served */
    remote.race_sh = sh;
    remote.race_name = "R:s:a";
    ck_assert_str_eq(get("s:a"), "old");
    put_remote("s:a", "new");
    ck_assert_str_eq(get("s:a"), "new");
    ck_assert_int_eq(remote.gets, 2);
    ck_assert_str_eq(get("s:a"), "new");
    ck_assert_int_eq(remote.gets, 2);
}
END_TEST

START_TEST(writes_go_remote_first)
{
    make(1, apr_time_from_sec(300), 0);
    ck_assert_int_eq(tpo_cache_add(tier, "s:a", "v1", 2, later()), APR_SUCCESS);
    ck_assert_int_eq(remote.sets, 1);
    ck_assert_str_eq(get("s:a"), "v1");
    ck_assert_int_eq(remote.gets, 0); /* kept by the write */
    ck_assert_int_eq(tpo_cache_add(tier, "s:a", "v2", 2, later()), APR_EEXIST);
    ck_assert_str_eq(get("s:a"), "v1");
    ck_assert_int_eq(tpo_cache_set(tier, "s:a", "v3", 2, later()), APR_SUCCESS);
    ck_assert_str_eq(get("s:a"), "v3");
    ck_assert_int_eq(remote.gets, 0);
    /* a failed write leaves no copy: the next read asks the remote */
    remote.fail_writes = 1;
    ck_assert_int_eq(tpo_cache_set(tier, "s:a", "v4", 2, later()), APR_ECONNREFUSED);
    remote.fail_writes = 0;
    ck_assert_str_eq(get("s:a"), "v3");
    ck_assert_int_eq(remote.gets, 1);
    /* delete: remote and local */
    ck_assert_int_eq(tpo_cache_del(tier, "s:a"), APR_SUCCESS);
    ck_assert_int_eq(remote.dels, 1);
    ck_assert_ptr_null(get("s:a"));
    ck_assert_int_eq(remote.gets, 2);
    /* an expiry in the past keeps nothing */
    ck_assert_int_eq(tpo_cache_set(tier, "s:b", "x", 1, apr_time_now() - 1), APR_SUCCESS);
    get("s:b");
    ck_assert_int_eq(remote.gets, 3);
}
END_TEST

START_TEST(memcache_lifetime)
{
    /* no subscription (need_up 0, no names): only the lifetime bounds a copy */
    make(0, apr_time_from_msec(300), 0);
    put_remote("s:a", "v1");
    get("s:a");
    put_remote("s:a", "v2"); /* written elsewhere, nobody tells */
    ck_assert_str_eq(get("s:a"), "v1");
    ck_assert_int_eq(remote.gets, 1);
    usleep(1100000); /* the shared-memory cache's clock has one-second steps */
    ck_assert_str_eq(get("s:a"), "v2");
    ck_assert_int_eq(remote.gets, 2);
}
END_TEST

START_TEST(stripes_spread)
{
    /* 43-character names spread over the stripes (no clustering) */
    static unsigned char seen[TPO_LOCAL_STRIPES / 8];
    int i, distinct = 0;
    memset(seen, 0, sizeof(seen));
    for (i = 0; i < 10000; i++) {
        char name[64];
        apr_uint32_t s;
        apr_snprintf(name, sizeof(name), "Zm9vYmFyYmF6cXV4%027d", i);
        s = tpo_local_stripe_of(name, strlen(name));
        ck_assert_uint_lt(s, TPO_LOCAL_STRIPES);
        if (!(seen[s / 8] & (1u << (s % 8)))) {
            seen[s / 8] |= (unsigned char)(1u << (s % 8));
            distinct++;
        }
    }
    ck_assert_int_gt(distinct, 9000);
}
END_TEST

START_TEST(bad_conf_refused)
{
    tpo_cache *store, *out;
    const char *err = NULL;
    tpo_local_shared *s2 = apr_pcalloc(tpo_test_pool, sizeof(*s2));
    tpo_local_conf conf = {"s:", apr_time_from_sec(1), 0, NULL, NULL};
    ck_assert_int_eq(tpo_shm_cache_create(tpo_test_pool, 1 << 20, 0, &store, &err), APR_SUCCESS);
    /* not initialised */
    ck_assert_int_eq(tpo_local_cache_create(tpo_test_pool, store, store, s2, &conf, &out),
                     APR_EINVAL);
    tpo_local_shared_init(s2);
    conf.lifetime = 0;
    ck_assert_int_eq(tpo_local_cache_create(tpo_test_pool, store, store, s2, &conf, &out),
                     APR_EINVAL);
    conf.lifetime = 1;
    conf.prefix = "";
    ck_assert_int_eq(tpo_local_cache_create(tpo_test_pool, store, store, s2, &conf, &out),
                     APR_EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cache_local");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 20);
    tcase_add_checked_fixture(tc, tpo_test_setup, teardown);
    tcase_add_test(tc, copies_served_locally);
    tcase_add_test(tc, invalidation_by_name);
    tcase_add_test(tc, previous_key_name_counts_too);
    tcase_add_test(tc, generation_and_bypass);
    tcase_add_test(tc, subscriber_death_seen_at_once);
    tcase_add_test(tc, no_subscriber_no_tier);
    tcase_add_test(tc, invalidation_racing_with_fill);
    tcase_add_test(tc, writes_go_remote_first);
    tcase_add_test(tc, memcache_lifetime);
    tcase_add_test(tc, stripes_spread);
    tcase_add_test(tc, bad_conf_refused);
    suite_add_tcase(s, tc);
    return tpo_test_run(s);
}
