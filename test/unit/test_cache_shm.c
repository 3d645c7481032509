/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The shared-memory cache backend: semantics, eviction, expiry, and
 * many processes (and threads) at once, including processes that die while
 * holding its locks. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <apr_strings.h>
#include "tpo_test.h"
#include "tpo_cache_shm.h"

#define FAR_FUTURE (apr_time_now() + apr_time_from_sec(3600))
#define BS 256

static tpo_cache *mk(apr_size_t bytes, apr_size_t entries)
{
    tpo_cache *c = NULL;
    const char *err = NULL;

    ck_assert_int_eq(tpo_shm_cache_create(tpo_test_pool, bytes, entries, &c, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_null(err);
    return c;
}

static tpo_shm_cache_stats stats(tpo_cache *c)
{
    tpo_shm_cache_stats st;

    tpo_shm_cache_get_stats(c, &st);
    return st;
}

static apr_status_t put(tpo_cache *c, const char *k, const char *v)
{
    return tpo_cache_set(c, k, v, strlen(v), FAR_FUTURE);
}

/* The value for k, or NULL when get says NOTFOUND (any other status fails). */
static const char *getv(tpo_cache *c, const char *k)
{
    char *v = NULL;
    apr_size_t n = 0;
    apr_status_t rv = tpo_cache_get(c, k, tpo_test_pool, &v, &n);

    if (rv == APR_NOTFOUND)
        return NULL;
    ck_assert_int_eq(rv, APR_SUCCESS);
    ck_assert_uint_eq(strlen(v), n);
    return v;
}

static char *filled(apr_size_t n, char ch)
{
    char *s = apr_palloc(tpo_test_pool, n + 1);

    memset(s, ch, n);
    s[n] = '\0';
    return s;
}

static apr_size_t blocks_for(apr_size_t n)
{
    return n == 0 ? 1 : (n + BS - 1) / BS;
}

/* ------------------------------------------------------------ semantics */

START_TEST(create_geometry)
{
    tpo_cache *c = mk(1024 * 1024, 0), *small;
    tpo_shm_cache_stats st = stats(c);

    ck_assert_str_eq(c->ops->name, "shm");
    ck_assert_uint_le(st.bytes, 1024 * 1024);
    ck_assert_uint_ge(st.bytes, 1000 * 1024);
    ck_assert_uint_eq(st.max_entries, 2048);
    ck_assert_uint_eq(st.block_size, BS);
    ck_assert_uint_gt(st.blocks_total, 3000);
    ck_assert_uint_eq(st.blocks_free, st.blocks_total);
    ck_assert_uint_eq(st.entries, 0);
    ck_assert(st.evictions == 0 && st.expired == 0 && st.refused == 0);
    ck_assert_uint_ge(tpo_shm_cache_max_value(c), 64 * 1024);
    ck_assert_uint_lt(tpo_shm_cache_max_value(c), st.blocks_total * BS);
    ck_assert(tpo_shm_cache_repairs(c) == 0);

    /* too small: grows to a usable minimum instead of failing */
    small = mk(1000, 3);
    st = stats(small);
    ck_assert_uint_ge(st.max_entries, 16);
    ck_assert_uint_ge(st.blocks_total, 16);
    ck_assert_uint_gt(tpo_shm_cache_max_value(small), 1000);
    ck_assert_int_eq(put(small, "k", "v"), APR_SUCCESS);
    ck_assert_str_eq(getv(small, "k"), "v");

    /* explicit entry count */
    st = stats(mk(1024 * 1024, 100));
    ck_assert_uint_eq(st.max_entries, 100);
}
END_TEST

START_TEST(set_get_del_add)
{
    tpo_cache *c = mk(1024 * 1024, 0);
    char *v = (char *)"x";
    apr_size_t n = 99;

    ck_assert_int_eq(tpo_cache_get(c, "a", tpo_test_pool, &v, &n), APR_NOTFOUND);
    ck_assert_int_eq(put(c, "a", "alpha"), APR_SUCCESS);
    ck_assert_int_eq(tpo_cache_get(c, "a", tpo_test_pool, &v, &n), APR_SUCCESS);
    ck_assert_uint_eq(n, 5);
    ck_assert_str_eq(v, "alpha"); /* NUL-terminated copy */
    ck_assert_int_eq(put(c, "ab", "prefix-differs"), APR_SUCCESS);
    ck_assert_int_eq(put(c, "a", "ALPHA2"), APR_SUCCESS);
    ck_assert_str_eq(getv(c, "a"), "ALPHA2");
    ck_assert_str_eq(getv(c, "ab"), "prefix-differs");
    ck_assert_ptr_null(getv(c, "b"));

    /* add: only when absent */
    ck_assert_int_eq(tpo_cache_add(c, "a", "other", 5, FAR_FUTURE), APR_EEXIST);
    ck_assert_str_eq(getv(c, "a"), "ALPHA2");
    ck_assert_int_eq(tpo_cache_add(c, "b", "beta", 4, FAR_FUTURE), APR_SUCCESS);
    ck_assert_str_eq(getv(c, "b"), "beta");
    ck_assert_int_eq(tpo_cache_add(c, "b", "beta2", 5, FAR_FUTURE), APR_EEXIST);

    /* del */
    ck_assert_int_eq(tpo_cache_del(c, "a"), APR_SUCCESS);
    ck_assert_int_eq(tpo_cache_del(c, "a"), APR_NOTFOUND);
    ck_assert_ptr_null(getv(c, "a"));
    ck_assert_str_eq(getv(c, "ab"), "prefix-differs");
    ck_assert_int_eq(tpo_cache_add(c, "a", "again", 5, FAR_FUTURE), APR_SUCCESS);
    ck_assert_str_eq(getv(c, "a"), "again");
    ck_assert_uint_eq(stats(c).entries, 3);

    /* the returned copy is the caller's: changing it changes nothing */
    v = (char *)getv(c, "b");
    v[0] = 'X';
    ck_assert_str_eq(getv(c, "b"), "beta");
}
END_TEST

START_TEST(replace_bigger_smaller_frees_blocks)
{
    tpo_cache *c = mk(1024 * 1024, 0);
    tpo_shm_cache_stats st0 = stats(c);
    char *big = filled(10000, 'B'), key[32];
    int i;

    ck_assert_int_eq(put(c, "k", filled(100, 's')), APR_SUCCESS);
    ck_assert_uint_eq(stats(c).blocks_free, st0.blocks_free - blocks_for(1 + 100));
    ck_assert_int_eq(put(c, "k", big), APR_SUCCESS);
    ck_assert_str_eq(getv(c, "k"), big);
    ck_assert_uint_eq(stats(c).blocks_free, st0.blocks_free - blocks_for(1 + 10000));
    ck_assert_int_eq(put(c, "k", "tiny"), APR_SUCCESS);
    ck_assert_str_eq(getv(c, "k"), "tiny");
    ck_assert_uint_eq(stats(c).blocks_free, st0.blocks_free - 1);
    ck_assert_uint_eq(stats(c).entries, 1);

    for (i = 0; i < 200; i++) {
        apr_snprintf(key, sizeof(key), "key-%d", i);
        ck_assert_int_eq(put(c, key, filled((apr_size_t)(i * 37) % 3000, 'a' + i % 26)),
                         APR_SUCCESS);
    }
    for (i = 0; i < 200; i += 3) { /* replace a third, alternately */
        apr_snprintf(key, sizeof(key), "key-%d", i);
        ck_assert_int_eq(put(c, key, filled(i % 2 ? 5000 : 10, 'r')), APR_SUCCESS);
    }
    for (i = 0; i < 200; i++) {
        apr_snprintf(key, sizeof(key), "key-%d", i);
        ck_assert_int_eq(tpo_cache_del(c, key), APR_SUCCESS);
    }
    ck_assert_int_eq(tpo_cache_del(c, "k"), APR_SUCCESS);
    st0 = stats(c);
    ck_assert_uint_eq(st0.blocks_free, st0.blocks_total);
    ck_assert_uint_eq(st0.entries, 0);
    ck_assert(st0.evictions == 0);
}
END_TEST

START_TEST(keys_near_max)
{
    tpo_cache *c = mk(1024 * 1024, 0);
    char *k1 = filled(TPO_CACHE_MAX_KEY, 'k'), *k2 = filled(TPO_CACHE_MAX_KEY, 'k');
    char *k3 = filled(TPO_CACHE_MAX_KEY - 1, 'k'), *toolong = filled(TPO_CACHE_MAX_KEY + 1, 'k');
    char *v = NULL;
    apr_size_t n;

    k2[TPO_CACHE_MAX_KEY - 1] = 'z'; /* differs only in the last byte */
    ck_assert_int_eq(put(c, k1, "one"), APR_SUCCESS);
    ck_assert_int_eq(put(c, k2, "two"), APR_SUCCESS);
    ck_assert_int_eq(put(c, k3, filled(BS * 3, '3')), APR_SUCCESS);
    ck_assert_str_eq(getv(c, k1), "one");
    ck_assert_str_eq(getv(c, k2), "two");
    ck_assert_str_eq(getv(c, k3), filled(BS * 3, '3'));
    ck_assert_int_eq(tpo_cache_add(c, k1, "x", 1, FAR_FUTURE), APR_EEXIST);
    ck_assert_uint_eq(stats(c).blocks_total - stats(c).blocks_free,
                      blocks_for(TPO_CACHE_MAX_KEY + 3) * 2 +
                          blocks_for(TPO_CACHE_MAX_KEY - 1 + BS * 3));

    ck_assert_int_eq(put(c, toolong, "no"), APR_EINVAL);
    ck_assert_int_eq(tpo_cache_add(c, toolong, "no", 2, FAR_FUTURE), APR_EINVAL);
    ck_assert_int_eq(tpo_cache_get(c, toolong, tpo_test_pool, &v, &n), APR_NOTFOUND);
    ck_assert_int_eq(tpo_cache_del(c, toolong), APR_NOTFOUND);

    ck_assert_int_eq(put(c, "", "empty key"), APR_SUCCESS);
    ck_assert_str_eq(getv(c, ""), "empty key");
    ck_assert_int_eq(tpo_cache_del(c, k1), APR_SUCCESS);
    ck_assert_ptr_null(getv(c, k1));
    ck_assert_str_eq(getv(c, k2), "two");
}
END_TEST

START_TEST(empty_and_binary_values)
{
    tpo_cache *c = mk(1024 * 1024, 0);
    unsigned char bin[1000];
    char *v = NULL;
    apr_size_t n = 99;
    int i;

    ck_assert_int_eq(tpo_cache_set(c, "empty", "", 0, FAR_FUTURE), APR_SUCCESS);
    ck_assert_int_eq(tpo_cache_get(c, "empty", tpo_test_pool, &v, &n), APR_SUCCESS);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(v, "");
    ck_assert_int_eq(tpo_cache_add(c, "empty", "", 0, FAR_FUTURE), APR_EEXIST);

    for (i = 0; i < (int)sizeof(bin); i++)
        bin[i] = (unsigned char)(i % 7 == 0 ? 0 : i * 13);
    ck_assert_int_eq(tpo_cache_set(c, "bin", bin, sizeof(bin), FAR_FUTURE), APR_SUCCESS);
    ck_assert_int_eq(tpo_cache_get(c, "bin", tpo_test_pool, &v, &n), APR_SUCCESS);
    ck_assert_uint_eq(n, sizeof(bin));
    ck_assert(memcmp(v, bin, sizeof(bin)) == 0);
    ck_assert_int_eq(v[n], 0);
    /* a value that is exactly the rest of one block, and one byte more */
    ck_assert_int_eq(tpo_cache_set(c, "b1", bin, BS - 2, FAR_FUTURE), APR_SUCCESS);
    ck_assert_int_eq(tpo_cache_set(c, "b2", bin, BS - 1, FAR_FUTURE), APR_SUCCESS);
    ck_assert_int_eq(tpo_cache_get(c, "b1", tpo_test_pool, &v, &n), APR_SUCCESS);
    ck_assert(n == BS - 2 && memcmp(v, bin, n) == 0);
    ck_assert_int_eq(tpo_cache_get(c, "b2", tpo_test_pool, &v, &n), APR_SUCCESS);
    ck_assert(n == BS - 1 && memcmp(v, bin, n) == 0);
    ck_assert_uint_eq(stats(c).blocks_total - stats(c).blocks_free,
                      1 + blocks_for(3 + sizeof(bin)) + 1 + 2);
}
END_TEST

/* ------------------------------------------------------------- eviction */

START_TEST(lru_by_entries)
{
    tpo_cache *c = mk(4 * 1024 * 1024, 64);
    char key[32];
    int i;

    ck_assert_uint_eq(stats(c).max_entries, 64);
    for (i = 0; i < 64; i++) {
        apr_snprintf(key, sizeof(key), "k%d", i);
        ck_assert_int_eq(put(c, key, key), APR_SUCCESS);
    }
    ck_assert(stats(c).evictions == 0);
    ck_assert_uint_eq(stats(c).entries, 64);
    ck_assert_str_eq(getv(c, "k0"), "k0"); /* read: must survive */
    ck_assert_str_eq(getv(c, "k10"), "k10");
    for (i = 0; i < 20; i++) {
        apr_snprintf(key, sizeof(key), "n%d", i);
        ck_assert_int_eq(put(c, key, key), APR_SUCCESS);
    }
    ck_assert(stats(c).evictions == 20);
    ck_assert_uint_eq(stats(c).entries, 64);
    ck_assert_str_eq(getv(c, "k0"), "k0");
    ck_assert_str_eq(getv(c, "k10"), "k10");
    for (i = 1; i < 64; i++) {
        apr_snprintf(key, sizeof(key), "k%d", i);
        if (i == 10)
            continue;
        if (i <= 21)
            ck_assert_msg(getv(c, key) == NULL, "%s should be evicted", key);
        else
            ck_assert_msg(getv(c, key) != NULL, "%s should survive", key);
    }
    for (i = 0; i < 20; i++) {
        apr_snprintf(key, sizeof(key), "n%d", i);
        ck_assert_str_eq(getv(c, key), key);
    }
}
END_TEST

START_TEST(lru_by_bytes)
{
    tpo_cache *c = mk(128 * 1024, 1024);
    tpo_shm_cache_stats st = stats(c);
    int cap = (int)(st.blocks_total / 8), i;
    char key[32], *v;

    ck_assert_int_ge(cap, 20);
    ck_assert_uint_lt((apr_size_t)cap + 10, st.max_entries);
    for (i = 0; i < cap; i++) { /* key + value = 8 blocks exactly */
        apr_snprintf(key, sizeof(key), "b%03d", i);
        ck_assert_int_eq(put(c, key, filled(8 * BS - 4, 'a' + i % 26)), APR_SUCCESS);
    }
    ck_assert(stats(c).evictions == 0);
    ck_assert_ptr_nonnull(getv(c, "b000"));
    for (i = 0; i < 10; i++) {
        apr_snprintf(key, sizeof(key), "c%03d", i);
        ck_assert_int_eq(put(c, key, filled(8 * BS - 4, 'c')), APR_SUCCESS);
    }
    st = stats(c);
    ck_assert(st.evictions == 10);
    ck_assert_uint_eq(st.entries, (apr_size_t)cap);
    ck_assert_ptr_nonnull(getv(c, "b000"));
    for (i = 1; i < cap; i++) {
        apr_snprintf(key, sizeof(key), "b%03d", i);
        v = (char *)getv(c, key);
        if (i <= 10)
            ck_assert_msg(v == NULL, "%s should be evicted", key);
        else
            ck_assert_msg(v && strcmp(v, filled(8 * BS - 4, 'a' + i % 26)) == 0,
                          "%s should survive intact", key);
    }
    /* every b* was just read, the c* were not touched since written: one
     * bigger entry (40 blocks; 5 free) evicts the 5 least recently used */
    ck_assert_int_eq(put(c, "big", filled(40 * BS - 3, 'G')), APR_SUCCESS);
    ck_assert(stats(c).evictions == 15);
    for (i = 0; i < 10; i++) {
        apr_snprintf(key, sizeof(key), "c%03d", i);
        if (i < 5)
            ck_assert_msg(getv(c, key) == NULL, "%s should be evicted", key);
        else
            ck_assert_msg(getv(c, key) != NULL, "%s should survive", key);
    }
    ck_assert_str_eq(getv(c, "big"), filled(40 * BS - 3, 'G'));
    ck_assert_ptr_nonnull(getv(c, "b000"));
    ck_assert_ptr_nonnull(getv(c, "b011"));
}
END_TEST

START_TEST(mixed_sizes)
{
    static const apr_size_t sizes[] = {100, 333, 1000, 2500, 4096, 7777, 12000, 16384};
    tpo_cache *c = mk(2 * 1024 * 1024, 0);
    char key[32];
    apr_size_t used = 0;
    int i;

    for (i = 0; i < 64; i++) {
        apr_size_t n = sizes[i % 8];

        apr_snprintf(key, sizeof(key), "m%02d", i);
        ck_assert_int_eq(put(c, key, filled(n, 'A' + i % 26)), APR_SUCCESS);
        used += blocks_for(strlen(key) + n);
    }
    ck_assert_int_eq(put(c, "huge", filled(65536, 'H')), APR_SUCCESS);
    used += blocks_for(4 + 65536);
    for (i = 0; i < 64; i++) {
        apr_snprintf(key, sizeof(key), "m%02d", i);
        ck_assert_str_eq(getv(c, key), filled(sizes[i % 8], 'A' + i % 26));
    }
    ck_assert_str_eq(getv(c, "huge"), filled(65536, 'H'));
    ck_assert(stats(c).evictions == 0);
    ck_assert_uint_eq(stats(c).blocks_total - stats(c).blocks_free, used);
}
END_TEST

START_TEST(too_large_refused)
{
    tpo_cache *c = mk(256 * 1024, 0);
    apr_size_t max = tpo_shm_cache_max_value(c);
    tpo_shm_cache_stats st0, st;
    char key[16], *kmax = filled(TPO_CACHE_MAX_KEY, 'K');
    int i;

    for (i = 0; i < 20; i++) {
        apr_snprintf(key, sizeof(key), "e%d", i);
        ck_assert_int_eq(put(c, key, "small"), APR_SUCCESS);
    }
    st0 = stats(c);
    ck_assert_int_eq(tpo_cache_set(c, "e0", filled(max + 1, 'x'), max + 1, FAR_FUTURE), APR_ENOSPC);
    ck_assert_int_eq(tpo_cache_add(c, "new", filled(max + 1, 'x'), max + 1, FAR_FUTURE),
                     APR_ENOSPC);
    ck_assert_int_eq(tpo_cache_add(c, "e1", filled(max + 1, 'x'), max + 1, FAR_FUTURE), APR_ENOSPC);
    ck_assert_int_eq(tpo_cache_set(c, "new", filled(st0.bytes, 'x'), st0.bytes, FAR_FUTURE),
                     APR_ENOSPC);
    st = stats(c);
    ck_assert(st.refused == 4);
    ck_assert(st.evictions == 0);
    /* a set that cannot be stored removes the old value (as memcached does):
     * the stale record is never served; a refused add leaves its key alone */
    ck_assert_uint_eq(st.entries, st0.entries - 1);
    ck_assert_ptr_null(getv(c, "e0"));
    ck_assert_str_eq(getv(c, "e1"), "small");

    /* the largest value fits, with the longest key, and leaves the rest usable */
    ck_assert_int_eq(tpo_cache_set(c, kmax, filled(max, 'M'), max, FAR_FUTURE), APR_SUCCESS);
    ck_assert_str_eq(getv(c, kmax), filled(max, 'M'));
    ck_assert(stats(c).evictions == 0);
    ck_assert_int_eq(put(c, "after", "works"), APR_SUCCESS);
    ck_assert_str_eq(getv(c, "after"), "works");
    ck_assert_str_eq(getv(c, "e19"), "small");
}
END_TEST

/* --------------------------------------------------------------- expiry */

START_TEST(expiry)
{
    tpo_cache *c = mk(1024 * 1024, 64);
    apr_time_t past = apr_time_now() - 1;
    char key[16];
    int i;

    ck_assert_int_eq(tpo_cache_set(c, "old", "v", 1, past), APR_SUCCESS);
    ck_assert_uint_eq(stats(c).entries, 1);
    ck_assert_ptr_null(getv(c, "old"));
    ck_assert(stats(c).expired == 1);
    ck_assert_uint_eq(stats(c).entries, 0);
    ck_assert_uint_eq(stats(c).blocks_free, stats(c).blocks_total);

    ck_assert_int_eq(tpo_cache_set(c, "old", "v1", 2, past), APR_SUCCESS);
    ck_assert_int_eq(tpo_cache_add(c, "old", "v2", 2, FAR_FUTURE), APR_SUCCESS);
    ck_assert_str_eq(getv(c, "old"), "v2");
    ck_assert(stats(c).expired == 2);

    ck_assert_int_eq(tpo_cache_set(c, "gone", "v", 1, past), APR_SUCCESS);
    ck_assert_int_eq(tpo_cache_del(c, "gone"), APR_NOTFOUND);
    ck_assert(stats(c).expired == 3);

    ck_assert_int_eq(tpo_cache_set(c, "soon", "v", 1, apr_time_now() + apr_time_from_msec(150)),
                     APR_SUCCESS);
    ck_assert_str_eq(getv(c, "soon"), "v");
    apr_sleep(apr_time_from_msec(200));
    ck_assert_ptr_null(getv(c, "soon"));
    ck_assert_int_eq(tpo_cache_add(c, "soon", "w", 1, FAR_FUTURE), APR_SUCCESS);
    ck_assert(stats(c).expired == 4);

    /* when space is needed, expired entries go before any live one */
    ck_assert_int_eq(tpo_cache_del(c, "old"), APR_SUCCESS);
    for (i = 0; i < 63; i++) {
        apr_snprintf(key, sizeof(key), "x%d", i);
        ck_assert_int_eq(tpo_cache_set(c, key, "x", 1, i % 2 ? past : FAR_FUTURE), APR_SUCCESS);
    }
    ck_assert_uint_eq(stats(c).entries, 64);
    for (i = 0; i < 31; i++) {
        apr_snprintf(key, sizeof(key), "y%d", i);
        ck_assert_int_eq(put(c, key, "y"), APR_SUCCESS);
    }
    ck_assert(stats(c).evictions == 0);
    ck_assert(stats(c).expired == 4 + 31);
    for (i = 0; i < 63; i += 2) {
        apr_snprintf(key, sizeof(key), "x%d", i);
        ck_assert_str_eq(getv(c, key), "x");
    }
    ck_assert_str_eq(getv(c, "soon"), "w");
}
END_TEST

START_TEST(stats_and_many_keys)
{
    tpo_cache *c = mk(8 * 1024 * 1024, 20000);
    tpo_shm_cache_stats st;
    char key[32];
    apr_size_t used = 0;
    int i;

    for (i = 0; i < 20000; i++) {
        apr_snprintf(key, sizeof(key), "sess-%d", i);
        ck_assert_int_eq(put(c, key, filled((apr_size_t)i % 200, 'v')), APR_SUCCESS);
        used += blocks_for(strlen(key) + (apr_size_t)i % 200);
    }
    st = stats(c);
    ck_assert_uint_eq(st.entries, 20000);
    ck_assert_uint_eq(st.blocks_total - st.blocks_free, used);
    ck_assert(st.evictions == 0 && st.expired == 0 && st.refused == 0);
    for (i = 0; i < 20000; i++) {
        apr_snprintf(key, sizeof(key), "sess-%d", i);
        ck_assert_uint_eq(strlen(getv(c, key)), (apr_size_t)i % 200);
    }
    for (i = 0; i < 20000; i += 2) {
        apr_snprintf(key, sizeof(key), "sess-%d", i);
        ck_assert_int_eq(tpo_cache_del(c, key), APR_SUCCESS);
        used -= blocks_for(strlen(key) + (apr_size_t)i % 200);
    }
    st = stats(c);
    ck_assert_uint_eq(st.entries, 10000);
    ck_assert_uint_eq(st.blocks_total - st.blocks_free, used);
    ck_assert_uint_eq(st.max_entries, 20000);
    ck_assert_uint_ge(st.bytes, 8 * 1024 * 1024 - 64 * 1024);
}
END_TEST

/* ---------------------------------------------------- processes, threads */

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

#define VMAGIC 0xC0FFEE11u
#define NKEYS 300

/* A value says which key and version it is; its bytes derive from both, so a
 * torn or mixed-up value cannot pass check_value(). */
static apr_size_t make_value(unsigned char *buf, uint32_t key, uint32_t version, uint32_t len)
{
    uint32_t h[4] = {VMAGIC, key, version, len}, i;
    uint64_t s = ((uint64_t)key << 32 | version) ^ 0x9E3779B97F4A7C15ULL, r = 0;

    memcpy(buf, h, sizeof(h));
    for (i = 0; i < len; i++) {
        if (i % 8 == 0)
            r = rnd(&s);
        buf[16 + i] = (unsigned char)(r >> (8 * (i % 8)));
    }
    return 16 + len;
}

static int check_value(const char *v, apr_size_t n, uint32_t key)
{
    uint32_t h[4];
    unsigned char *ref;
    int ok;

    if (n < 16)
        return 0;
    memcpy(h, v, sizeof(h));
    if (h[0] != VMAGIC || h[1] != key || h[3] != n - 16)
        return 0;
    ref = malloc(n);
    make_value(ref, key, h[2], h[3]);
    ok = memcmp(ref, v, n) == 0;
    free(ref);
    return ok;
}

static void skey(char *buf, apr_size_t sz, uint32_t k)
{
    apr_snprintf(buf, sz, "stress:%u", k);
}

/* Random operations on the shared key space. 0 on success, else a code. */
static int stress(tpo_cache *c, uint64_t seed, int ops)
{
    apr_pool_t *p;
    unsigned char *buf = malloc(16 + 20000);
    int i, bad = 0;

    apr_pool_create(&p, NULL);
    for (i = 0; i < ops && !bad; i++) {
        uint32_t k = (uint32_t)(rnd(&seed) % NKEYS), r = (uint32_t)(rnd(&seed) % 100);
        uint32_t len = rnd(&seed) % 100 == 0 ? 12000 + (uint32_t)(rnd(&seed) % 4000)
                                             : (uint32_t)(rnd(&seed) % 2500);
        char key[32], *v;
        apr_size_t n;
        apr_status_t rv;

        skey(key, sizeof(key), k);
        if (r < 40) {
            rv = tpo_cache_get(c, key, p, &v, &n);
            if (rv == APR_SUCCESS)
                bad = check_value(v, n, k) ? 0 : 10;
            else if (rv != APR_NOTFOUND)
                bad = 11;
        }
        else if (r < 65) {
            n = make_value(buf, k, (uint32_t)rnd(&seed), len);
            rv = tpo_cache_set(c, key, buf, n, FAR_FUTURE);
            if (rv != APR_SUCCESS)
                bad = 12;
        }
        else if (r < 75) {
            n = make_value(buf, k, (uint32_t)rnd(&seed), len);
            rv = tpo_cache_add(c, key, buf, n, r < 70 ? FAR_FUTURE : apr_time_now() + 2000);
            if (rv != APR_SUCCESS && rv != APR_EEXIST)
                bad = 13;
        }
        else if (r < 85) {
            rv = tpo_cache_del(c, key);
            if (rv != APR_SUCCESS && rv != APR_NOTFOUND)
                bad = 14;
        }
        else {
            rv = tpo_cache_get(c, key, p, &v, &n);
            if (rv == APR_SUCCESS) {
                bad = check_value(v, n, k) ? 0 : 15;
                rv = tpo_cache_del(c, key);
                if (rv != APR_SUCCESS && rv != APR_NOTFOUND)
                    bad = 16;
            }
            else if (rv != APR_NOTFOUND)
                bad = 17;
        }
        if (bad)
            fprintf(stderr, "stress: op %d on %s failed (%d, status %d)\n", i, key, bad, rv);
        if (i % 64 == 0)
            apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    free(buf);
    return bad;
}

typedef struct {
    tpo_cache *c;
    uint64_t seed;
    int ops, rc;
} stress_arg;

static void *stress_thread(void *a)
{
    stress_arg *sa = a;

    sa->rc = stress(sa->c, sa->seed, sa->ops);
    return NULL;
}

/* Children: nthreads == 0 runs stress() in the process itself. */
static pid_t spawn_stress(tpo_cache *c, int id, int nthreads, int ops)
{
    pid_t pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        uint64_t seed = 0x1234567ULL * (uint64_t)(id + 1) + (uint64_t)getpid();
        stress_arg sa[8];
        pthread_t th[8];
        int t, rc = 0;

        if (nthreads == 0)
            _exit(stress(c, seed, ops));
        for (t = 0; t < nthreads; t++) {
            sa[t].c = c;
            sa[t].seed = seed * 31 + (uint64_t)t;
            sa[t].ops = ops;
            sa[t].rc = -1;
            if (pthread_create(&th[t], NULL, stress_thread, &sa[t]) != 0)
                _exit(20);
        }
        for (t = 0; t < nthreads; t++) {
            pthread_join(th[t], NULL);
            if (sa[t].rc)
                rc = sa[t].rc;
        }
        _exit(rc);
    }
    return pid;
}

/* Wait (bounded) for children; codes[i] = exit code, or -1 if killed. */
static void wait_all(pid_t *pids, int n, int secs, int *codes)
{
    apr_time_t deadline = apr_time_now() + apr_time_from_sec(secs);
    int left = n, i, st;

    for (i = 0; i < n; i++)
        codes[i] = -2;
    while (left > 0 && apr_time_now() < deadline) {
        for (i = 0; i < n; i++) {
            if (codes[i] != -2)
                continue;
            if (waitpid(pids[i], &st, WNOHANG) == pids[i]) {
                codes[i] = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
                left--;
            }
        }
        if (left)
            usleep(2000);
    }
    for (i = 0; i < n; i++) {
        if (codes[i] == -2) {
            kill(pids[i], SIGKILL);
            waitpid(pids[i], &st, 0);
            codes[i] = -1;
        }
    }
}

/* After the storm: every stored value is intact, and deleting everything
 * gives every block and slot back. */
static void check_all_then_empty(tpo_cache *c)
{
    tpo_shm_cache_stats st;
    char key[32], *v;
    apr_size_t n;
    uint32_t k;

    for (k = 0; k < NKEYS; k++) {
        skey(key, sizeof(key), k);
        if (tpo_cache_get(c, key, tpo_test_pool, &v, &n) == APR_SUCCESS) {
            ck_assert_msg(check_value(v, n, k), "%s is torn", key);
        }
        tpo_cache_del(c, key);
    }
    st = stats(c);
    ck_assert_uint_eq(st.entries, 0);
    ck_assert_uint_eq(st.blocks_free, st.blocks_total);
}

START_TEST(concurrent_processes)
{
    tpo_cache *c = mk(256 * 1024, 128);
    pid_t pids[6];
    int codes[6], i;

    for (i = 0; i < 6; i++)
        pids[i] = spawn_stress(c, i, 0, 60000);
    wait_all(pids, 6, 25, codes);
    for (i = 0; i < 6; i++)
        ck_assert_msg(codes[i] == 0, "child %d: %d", i, codes[i]);
    ck_assert(stats(c).evictions > 0); /* the run did exercise eviction */
    ck_assert(tpo_shm_cache_repairs(c) == 0);
    check_all_then_empty(c);
}
END_TEST

START_TEST(concurrent_processes_and_threads)
{
    tpo_cache *c = mk(256 * 1024, 128);
    pid_t pids[3];
    int codes[3], i;

    for (i = 0; i < 3; i++)
        pids[i] = spawn_stress(c, i, 4, 25000);
    wait_all(pids, 3, 25, codes);
    for (i = 0; i < 3; i++)
        ck_assert_msg(codes[i] == 0, "child %d: %d", i, codes[i]);
    ck_assert(stats(c).evictions > 0);
    check_all_then_empty(c);
}
END_TEST

#define NRACE 8
#define RKEYS 2000

typedef struct {
    int ready, go;
    int wins[RKEYS], winner[RKEYS];
} race_area;

static race_area *race_map(void)
{
    void *m =
        mmap(NULL, sizeof(race_area), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    ck_assert(m != MAP_FAILED);
    memset(m, 0, sizeof(race_area));
    return m;
}

static void race_start(race_area *ra)
{
    __atomic_fetch_add(&ra->ready, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&ra->go, __ATOMIC_SEQ_CST))
        sched_yield();
}

static void race_go(race_area *ra, int n)
{
    apr_time_t deadline = apr_time_now() + apr_time_from_sec(10);

    while (__atomic_load_n(&ra->ready, __ATOMIC_SEQ_CST) < n && apr_time_now() < deadline) {
        usleep(1000);
    }
    __atomic_store_n(&ra->go, 1, __ATOMIC_SEQ_CST);
}

START_TEST(race_add_one_winner)
{
    tpo_cache *c = mk(4 * 1024 * 1024, 0);
    race_area *ra = race_map();
    pid_t pids[NRACE];
    int codes[NRACE], i, k;
    char key[32], val[16];

    for (i = 0; i < NRACE; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            apr_snprintf(val, sizeof(val), "w%d", i);
            race_start(ra);
            for (k = 0; k < RKEYS; k++) {
                apr_status_t rv;

                apr_snprintf(key, sizeof(key), "state:%d", k);
                rv = tpo_cache_add(c, key, val, strlen(val), FAR_FUTURE);
                if (rv == APR_SUCCESS) {
                    __atomic_fetch_add(&ra->wins[k], 1, __ATOMIC_SEQ_CST);
                    ra->winner[k] = i;
                }
                else if (rv != APR_EEXIST)
                    _exit(2);
            }
            _exit(0);
        }
    }
    race_go(ra, NRACE);
    wait_all(pids, NRACE, 20, codes);
    for (i = 0; i < NRACE; i++)
        ck_assert_msg(codes[i] == 0, "child %d: %d", i, codes[i]);
    for (k = 0; k < RKEYS; k++) {
        apr_snprintf(key, sizeof(key), "state:%d", k);
        apr_snprintf(val, sizeof(val), "w%d", ra->winner[k]);
        ck_assert_msg(ra->wins[k] == 1, "%s won %d times", key, ra->wins[k]);
        ck_assert_str_eq(getv(c, key), val);
    }
    ck_assert(stats(c).evictions == 0);
    munmap(ra, sizeof(*ra));
}
END_TEST

START_TEST(race_take_once)
{
    tpo_cache *c = mk(4 * 1024 * 1024, 0);
    race_area *ra = race_map();
    pid_t pids[NRACE];
    int codes[NRACE], i, k;
    char key[32], val[16];

    for (k = 0; k < RKEYS; k++) {
        apr_snprintf(key, sizeof(key), "state:%d", k);
        apr_snprintf(val, sizeof(val), "v%d", k);
        ck_assert_int_eq(put(c, key, val), APR_SUCCESS);
    }
    for (i = 0; i < NRACE; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            apr_pool_t *p;

            apr_pool_create(&p, NULL);
            race_start(ra);
            for (k = 0; k < RKEYS; k++) {
                char *v;
                apr_size_t n;
                apr_status_t rv;

                apr_snprintf(key, sizeof(key), "state:%d", k);
                apr_snprintf(val, sizeof(val), "v%d", k);
                rv = tpo_cache_get(c, key, p, &v, &n);
                if (rv == APR_NOTFOUND)
                    continue;
                if (rv != APR_SUCCESS || strcmp(v, val) != 0)
                    _exit(2);
                rv = tpo_cache_del(c, key);
                if (rv == APR_SUCCESS) {
                    __atomic_fetch_add(&ra->wins[k], 1, __ATOMIC_SEQ_CST);
                }
                else if (rv != APR_NOTFOUND)
                    _exit(3);
            }
            _exit(0);
        }
    }
    race_go(ra, NRACE);
    wait_all(pids, NRACE, 20, codes);
    for (i = 0; i < NRACE; i++)
        ck_assert_msg(codes[i] == 0, "child %d: %d", i, codes[i]);
    for (k = 0; k < RKEYS; k++) {
        ck_assert_msg(ra->wins[k] == 1, "state:%d taken %d times", k, ra->wins[k]);
    }
    ck_assert_uint_eq(stats(c).entries, 0);
    munmap(ra, sizeof(*ra));
}
END_TEST

/* --------------------------------------------------- crash while locked */

static pid_t spawn_crasher(tpo_cache *c, int point, const char *key, apr_size_t vlen)
{
    pid_t pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        apr_pool_t *p;
        char *v;
        apr_size_t n;
        unsigned char *buf = malloc(vlen + 16);

        apr_pool_create(&p, NULL);
        tpo_shm_cache_test_crash_at(point);
        if (point == TPO_SHM_CRASH_HOLDING_STRIPE) {
            tpo_cache_get(c, key, p, &v, &n);
        }
        else {
            memset(buf, 'Z', vlen);
            tpo_cache_set(c, key, buf, vlen, FAR_FUTURE);
        }
        _exit(1); /* the hook should have ended us */
    }
    return pid;
}

static void put_many(tpo_cache *c, int n)
{
    char key[32];
    int i;

    for (i = 0; i < n; i++) {
        apr_snprintf(key, sizeof(key), "keep-%d", i);
        ck_assert_int_eq(put(c, key, filled((apr_size_t)(i * 97) % 5000, 'a' + i % 26)),
                         APR_SUCCESS);
    }
}

static void check_many(tpo_cache *c, int n)
{
    char key[32];
    int i;

    for (i = 0; i < n; i++) {
        apr_snprintf(key, sizeof(key), "keep-%d", i);
        ck_assert_str_eq(getv(c, key), filled((apr_size_t)(i * 97) % 5000, 'a' + i % 26));
    }
}

static void delete_all_no_leak(tpo_cache *c, int n, const char **extra)
{
    tpo_shm_cache_stats st;
    char key[32];
    int i;

    for (i = 0; i < n; i++) {
        apr_snprintf(key, sizeof(key), "keep-%d", i);
        tpo_cache_del(c, key);
    }
    for (; extra && *extra; extra++)
        tpo_cache_del(c, *extra);
    st = stats(c);
    ck_assert_uint_eq(st.entries, 0);
    ck_assert_uint_eq(st.blocks_free, st.blocks_total);
    /* and every slot can be used again */
    for (i = 0; i < (int)st.max_entries; i++) {
        apr_snprintf(key, sizeof(key), "refill-%d", i);
        ck_assert_int_eq(put(c, key, "r"), APR_SUCCESS);
    }
    ck_assert(stats(c).evictions == st.evictions);
}

START_TEST(crash_holding_stripe)
{
    tpo_cache *c = mk(1024 * 1024, 0);
    pid_t pids[4];
    int codes[4], i;
    const char *extra[] = {"victim", NULL};

    put_many(c, 100);
    ck_assert_int_eq(put(c, "victim", "intact"), APR_SUCCESS);
    pids[0] = spawn_crasher(c, TPO_SHM_CRASH_HOLDING_STRIPE, "victim", 0);
    usleep(30000); /* the crasher now holds the stripe for ~0.1 s */
    for (i = 1; i < 4; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) { /* queue up on the lock the crasher holds */
            apr_pool_t *p;
            char *v;
            apr_size_t n;
            int j;

            apr_pool_create(&p, NULL);
            for (j = 0; j < 50; j++) {
                if (tpo_cache_get(c, "victim", p, &v, &n) != APR_SUCCESS ||
                    strcmp(v, "intact") != 0)
                    _exit(2);
                if (tpo_cache_set(c, "victim", "intact", 6, FAR_FUTURE) != APR_SUCCESS)
                    _exit(3);
            }
            _exit(0);
        }
    }
    wait_all(pids, 4, 10, codes);
    ck_assert_int_eq(codes[0], TPO_SHM_CRASH_EXIT);
    for (i = 1; i < 4; i++)
        ck_assert_msg(codes[i] == 0, "waiter %d: %d", i, codes[i]);
    ck_assert(tpo_shm_cache_repairs(c) == 1);
    ck_assert_str_eq(getv(c, "victim"), "intact");
    check_many(c, 100);
    delete_all_no_leak(c, 100, extra);
}
END_TEST

START_TEST(crash_mid_write)
{
    tpo_cache *c = mk(1024 * 1024, 0);
    char *v1 = filled(8000, '1'), *v2 = filled(8000, 'Z');
    const char *got, *extra[] = {"big", NULL};
    pid_t pid;
    int code;

    put_many(c, 50);
    ck_assert_int_eq(put(c, "big", v1), APR_SUCCESS);
    pid = spawn_crasher(c, TPO_SHM_CRASH_MID_WRITE, "big", 8000);
    wait_all(&pid, 1, 10, &code);
    ck_assert_int_eq(code, TPO_SHM_CRASH_EXIT);
    got = getv(c, "big"); /* never a half-written value */
    ck_assert(got == NULL || strcmp(got, v1) == 0 || strcmp(got, v2) == 0);
    ck_assert(tpo_shm_cache_repairs(c) == 1);
    check_many(c, 50);
    ck_assert_int_eq(put(c, "big", v2), APR_SUCCESS);
    ck_assert_str_eq(getv(c, "big"), v2);
    delete_all_no_leak(c, 50, extra);
}
END_TEST

START_TEST(crash_holding_alloc)
{
    tpo_cache *c = mk(1024 * 1024, 0);
    const char *extra[] = {"fresh", "after", NULL};
    pid_t pid;
    int code;

    put_many(c, 80);
    pid = spawn_crasher(c, TPO_SHM_CRASH_HOLDING_ALLOC, "fresh", 3000);
    wait_all(&pid, 1, 10, &code);
    ck_assert_int_eq(code, TPO_SHM_CRASH_EXIT);
    ck_assert_int_eq(put(c, "after", "works"), APR_SUCCESS); /* needs the allocator */
    ck_assert(tpo_shm_cache_repairs(c) == 1);
    ck_assert_str_eq(getv(c, "after"), "works");
    ck_assert_ptr_null(getv(c, "fresh"));
    check_many(c, 80);
    delete_all_no_leak(c, 80, extra);
}
END_TEST

START_TEST(crash_under_load)
{
    tpo_cache *c = mk(256 * 1024, 128);
    pid_t pids[4], cp;
    int codes[4], i, code;
    char key[32];

    for (i = 0; i < 4; i++)
        pids[i] = spawn_stress(c, 10 + i, 0, 100000);
    for (i = 0; i < 6; i++) {
        skey(key, sizeof(key), (uint32_t)(i * 41) % NKEYS);
        cp = spawn_crasher(c, 1 + i % 3, key, 6000);
        wait_all(&cp, 1, 10, &code);
        ck_assert_int_eq(code, TPO_SHM_CRASH_EXIT);
    }
    wait_all(pids, 4, 25, codes);
    for (i = 0; i < 4; i++)
        ck_assert_msg(codes[i] == 0, "child %d: %d", i, codes[i]);
    ck_assert(tpo_shm_cache_repairs(c) >= 1);
    /* the crashers' MID_WRITE values are not in the stress format: all gone */
    check_all_then_empty(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cache_shm");
    TCase *tc = tcase_create("core");
    TCase *tm = tcase_create("concurrency");

    tcase_add_checked_fixture(tc, tpo_test_setup, tpo_test_teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, create_geometry);
    tcase_add_test(tc, set_get_del_add);
    tcase_add_test(tc, replace_bigger_smaller_frees_blocks);
    tcase_add_test(tc, keys_near_max);
    tcase_add_test(tc, empty_and_binary_values);
    tcase_add_test(tc, lru_by_entries);
    tcase_add_test(tc, lru_by_bytes);
    tcase_add_test(tc, mixed_sizes);
    tcase_add_test(tc, too_large_refused);
    tcase_add_test(tc, expiry);
    tcase_add_test(tc, stats_and_many_keys);
    suite_add_tcase(s, tc);

    tcase_add_checked_fixture(tm, tpo_test_setup, tpo_test_teardown);
    tcase_set_timeout(tm, 30);
    tcase_add_test(tm, concurrent_processes);
    tcase_add_test(tm, concurrent_processes_and_threads);
    tcase_add_test(tm, race_add_one_winner);
    tcase_add_test(tm, race_take_once);
    tcase_add_test(tm, crash_holding_stripe);
    tcase_add_test(tm, crash_mid_write);
    tcase_add_test(tm, crash_holding_alloc);
    tcase_add_test(tm, crash_under_load);
    suite_add_tcase(s, tm);
    return tpo_test_run(s);
}
