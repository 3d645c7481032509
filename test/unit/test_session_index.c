/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The session index on the shared-memory cache: every session of a user is
 * found, stale entries are pruned, the record is bounded, the lock is
 * per-record, and ending one user's sessions among 10,000 ends exactly theirs. */
#include <stdio.h>
#include <string.h>
#include <apr_strings.h>
#include "tpo_test.h"
#include "tpo_cache_shm.h"
#include "tpo_session_index.h"

#define HOUR apr_time_from_sec(3600)

static tpo_sidx make(apr_size_t mb, apr_size_t entries, int max)
{
    tpo_sidx x;
    const char *err = NULL;

    memset(&x, 0, sizeof(x));
    ck_assert_int_eq(tpo_shm_cache_create(tpo_test_pool, mb * 1024 * 1024, entries, &x.cache, &err),
                     APR_SUCCESS);
    x.session_prefix = "s:";
    x.max_entries = max;
    x.lease = apr_time_from_msec(300);
    return x;
}

static void open_session(const tpo_sidx *x, const char *ikey, const char *id, apr_time_t created)
{
    const char *dropped = "unset";

    ck_assert_int_eq(tpo_cache_set(x->cache, apr_pstrcat(tpo_test_pool, "s:", id, NULL), "rec", 3,
                                   apr_time_now() + HOUR),
                     APR_SUCCESS);
    ck_assert_int_eq(tpo_sidx_add(x, tpo_test_pool, ikey, id, created, apr_time_now() + HOUR,
                                  apr_time_now(), &dropped),
                     APR_SUCCESS);
    ck_assert_ptr_null(dropped);
}

static int has(const apr_array_header_t *a, const char *id)
{
    int i;

    for (i = 0; i < a->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(a, i, tpo_sidx_entry).id, id)) {
            return 1;
        }
    }
    return 0;
}

START_TEST(keys)
{
    const char *a = tpo_sidx_key(tpo_test_pool, TPO_SIDX_SUB, "idp", "alice");
    const char *b = tpo_sidx_key(tpo_test_pool, TPO_SIDX_SID, "idp", "alice");
    const char *c = tpo_sidx_key(tpo_test_pool, TPO_SIDX_SUB, "idp2", "alice");
    const char *d = tpo_sidx_key(tpo_test_pool, TPO_SIDX_SUB, "id", "palice");
    apr_size_t n;

    ck_assert_ptr_nonnull(a);
    ck_assert_str_ne(a, b);
    ck_assert_str_ne(a, c);
    ck_assert_str_ne(a, d);
    ck_assert_str_eq(a, tpo_sidx_key(tpo_test_pool, TPO_SIDX_SUB, "idp", "alice"));
    ck_assert(tpo_cache_key_ok(a, &n));
    ck_assert_ptr_null(strstr(a, "alice"));
    ck_assert_ptr_null(tpo_sidx_key(tpo_test_pool, TPO_SIDX_SUB, "idp", ""));
    ck_assert_ptr_null(tpo_sidx_key(tpo_test_pool, TPO_SIDX_SUB, "idp", NULL));
}
END_TEST

START_TEST(codec)
{
    apr_array_header_t *in = apr_array_make(tpo_test_pool, 2, sizeof(tpo_sidx_entry)), *out;
    tpo_sidx_entry *e = apr_array_push(in);
    apr_size_t len;
    char *buf;

    e->id = "session-one";
    e->created = 17;
    e->expires = 99;
    e = apr_array_push(in);
    e->id = "session-two";
    e->created = 18;
    e->expires = 100;
    buf = tpo_sidx_encode(tpo_test_pool, in, &len);
    ck_assert_int_eq(tpo_sidx_decode(tpo_test_pool, buf, len, &out), APR_SUCCESS);
    ck_assert_int_eq(out->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(out, 1, tpo_sidx_entry).id, "session-two");
    ck_assert(APR_ARRAY_IDX(out, 1, tpo_sidx_entry).expires == 100);
    ck_assert(APR_ARRAY_IDX(out, 0, tpo_sidx_entry).created == 17);
    /* truncations and a bad magic are refused */
    for (apr_size_t n = 1; n < len; n++) {
        if (n == 4 || n == 4 + 5 + 16 + 12) {
            continue; /* whole records */
        }
        ck_assert_int_eq(tpo_sidx_decode(tpo_test_pool, buf, n, &out), APR_EINVAL);
    }
    buf[0] = 'X';
    ck_assert_int_eq(tpo_sidx_decode(tpo_test_pool, buf, len, &out), APR_EINVAL);
}
END_TEST

START_TEST(several_browsers_listed_and_taken)
{
    tpo_sidx x = make(1, 64, 16);
    const char *k = tpo_sidx_key(tpo_test_pool, TPO_SIDX_SUB, "idp", "alice");
    const char *kb = tpo_sidx_key(tpo_test_pool, TPO_SIDX_SUB, "idp", "bob");
    apr_array_header_t *l;

    open_session(&x, k, "a1", 1);
    open_session(&x, k, "a2", 2);
    open_session(&x, kb, "b1", 3);
    open_session(&x, k, "a3", 4);
    ck_assert_int_eq(tpo_sidx_list(&x, tpo_test_pool, k, apr_time_now(), &l), APR_SUCCESS);
    ck_assert_int_eq(l->nelts, 3);
    ck_assert(has(l, "a1") && has(l, "a2") && has(l, "a3") && !has(l, "b1"));
    ck_assert_int_eq(tpo_sidx_take(&x, tpo_test_pool, k, &l), APR_SUCCESS);
    ck_assert_int_eq(l->nelts, 3);
    ck_assert_int_eq(tpo_sidx_list(&x, tpo_test_pool, k, apr_time_now(), &l), APR_SUCCESS);
    ck_assert_int_eq(l->nelts, 0);
    ck_assert_int_eq(tpo_sidx_list(&x, tpo_test_pool, kb, apr_time_now(), &l), APR_SUCCESS);
    ck_assert_int_eq(l->nelts, 1);
    /* the lock is released: adds go on */
    open_session(&x, k, "a4", 5);
    ck_assert_int_eq(tpo_sidx_remove(&x, tpo_test_pool, k, "a4"), APR_SUCCESS);
    ck_assert_int_eq(tpo_sidx_list(&x, tpo_test_pool, k, apr_time_now(), &l), APR_SUCCESS);
    ck_assert_int_eq(l->nelts, 0);
}
END_TEST

START_TEST(stale_entries_pruned)
{
    tpo_sidx x = make(1, 64, 3);
    const char *k = tpo_sidx_key(tpo_test_pool, TPO_SIDX_SUB, "idp", "alice");
    const char *dropped;
    apr_array_header_t *l;

    open_session(&x, k, "a1", 1);
    open_session(&x, k, "a2", 2);
    open_session(&x, k, "a3", 3);
    /* a2 ended elsewhere (logout, inactivity, eviction): its entry is stale */
    ck_assert_int_eq(tpo_cache_del(x.cache, "s:a2"), APR_SUCCESS);
    ck_assert_int_eq(tpo_sidx_list(&x, tpo_test_pool, k, apr_time_now(), &l), APR_SUCCESS);
    ck_assert_int_eq(l->nelts, 2);
    ck_assert(!has(l, "a2"));
    /* a full record makes room by pruning gone sessions before dropping a live one */
    ck_assert_int_eq(tpo_cache_del(x.cache, "s:a1"), APR_SUCCESS);
    open_session(&x, k, "a4", 4);
    open_session(&x, k, "a5", 5);
    ck_assert_int_eq(tpo_sidx_take(&x, tpo_test_pool, k, &l), APR_SUCCESS);
    ck_assert_int_eq(l->nelts, 3);
    ck_assert(has(l, "a3") && has(l, "a4") && has(l, "a5"));
    /* expired entries go at the next update */
    ck_assert_int_eq(tpo_sidx_add(&x, tpo_test_pool, k, "old", 1, apr_time_now() - 1,
                                  apr_time_now() - 2, &dropped),
                     APR_SUCCESS);
    open_session(&x, k, "b1", 6);
    ck_assert_int_eq(tpo_sidx_take(&x, tpo_test_pool, k, &l), APR_SUCCESS);
    ck_assert_int_eq(l->nelts, 1);
    ck_assert(has(l, "b1"));
}
END_TEST

START_TEST(bounded_oldest_dropped)
{
    tpo_sidx x = make(1, 64, 3);
    const char *k = tpo_sidx_key(tpo_test_pool, TPO_SIDX_SUB, "idp", "alice");
    const char *dropped = NULL;
    apr_array_header_t *l;

    open_session(&x, k, "a1", 30);
    open_session(&x, k, "a2", 10); /* the oldest */
    open_session(&x, k, "a3", 20);
    tpo_cache_set(x.cache, "s:a4", "rec", 3, apr_time_now() + HOUR);
    ck_assert_int_eq(tpo_sidx_add(&x, tpo_test_pool, k, "a4", 40, apr_time_now() + HOUR,
                                  apr_time_now(), &dropped),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(dropped);
    ck_assert_str_eq(dropped, "a2");
    ck_assert_int_eq(tpo_sidx_list(&x, tpo_test_pool, k, apr_time_now(), &l), APR_SUCCESS);
    ck_assert_int_eq(l->nelts, 3);
    ck_assert(!has(l, "a2") && has(l, "a4"));
    /* the same id again replaces its entry (no duplicate) */
    ck_assert_int_eq(tpo_sidx_add(&x, tpo_test_pool, k, "a4", 40, apr_time_now() + HOUR,
                                  apr_time_now(), &dropped),
                     APR_SUCCESS);
    ck_assert_ptr_null(dropped);
    ck_assert_int_eq(tpo_sidx_list(&x, tpo_test_pool, k, apr_time_now(), &l), APR_SUCCESS);
    ck_assert_int_eq(l->nelts, 3);
    /* ids that cannot be keys are refused */
    ck_assert_int_eq(
        tpo_sidx_add(&x, tpo_test_pool, k, "", 1, apr_time_now() + HOUR, apr_time_now(), &dropped),
        APR_EINVAL);
}
END_TEST

START_TEST(busy_lock_times_out_then_lease_expires)
{
    tpo_sidx x = make(1, 64, 8);
    const char *k = tpo_sidx_key(tpo_test_pool, TPO_SIDX_SUB, "idp", "alice");
    const char *k2 = tpo_sidx_key(tpo_test_pool, TPO_SIDX_SUB, "idp", "bob");
    const char *dropped;
    apr_time_t t0;

    /* another process holds alice's lock and never lets go (it died) */
    ck_assert_int_eq(tpo_cache_add(x.cache, apr_pstrcat(tpo_test_pool, "l", k, NULL), "1", 1,
                                   apr_time_now() + apr_time_from_sec(10)),
                     APR_SUCCESS);
    /* bob is not held up by it: no global lock */
    t0 = apr_time_now();
    open_session(&x, k2, "b1", 1);
    ck_assert(apr_time_now() - t0 < apr_time_from_msec(100));
    t0 = apr_time_now();
    ck_assert_int_eq(tpo_sidx_add(&x, tpo_test_pool, k, "a1", 1, apr_time_now() + HOUR,
                                  apr_time_now(), &dropped),
                     APR_TIMEUP);
    ck_assert(apr_time_now() - t0 >= x.lease);
    ck_assert(apr_time_now() - t0 < apr_time_from_sec(2));
    /* a lock within its lease of a holder that died: taken once the lease is over */
    ck_assert_int_eq(tpo_cache_del(x.cache, apr_pstrcat(tpo_test_pool, "l", k, NULL)), APR_SUCCESS);
    ck_assert_int_eq(tpo_cache_add(x.cache, apr_pstrcat(tpo_test_pool, "l", k, NULL), "1", 1,
                                   apr_time_now() + x.lease / 2),
                     APR_SUCCESS);
    ck_assert_int_eq(tpo_sidx_add(&x, tpo_test_pool, k, "a1", 1, apr_time_now() + HOUR,
                                  apr_time_now(), &dropped),
                     APR_SUCCESS);
}
END_TEST

START_TEST(ensure_heals_a_lost_record)
{
    tpo_sidx x = make(1, 64, 8);
    const char *k = tpo_sidx_key(tpo_test_pool, TPO_SIDX_SUB, "idp", "alice");
    const char *dropped;
    apr_array_header_t *l;

    open_session(&x, k, "a1", 1);
    open_session(&x, k, "a2", 2);
    ck_assert_int_eq(tpo_sidx_ensure(&x, tpo_test_pool, k, "a1", 1, apr_time_now() + HOUR,
                                     apr_time_now(), &dropped),
                     APR_SUCCESS);
    ck_assert_int_eq(tpo_sidx_list(&x, tpo_test_pool, k, apr_time_now(), &l), APR_SUCCESS);
    ck_assert_int_eq(l->nelts, 2);
    /* the record is evicted: the next activity mark of each session brings it back */
    ck_assert_int_eq(tpo_cache_del(x.cache, k), APR_SUCCESS);
    ck_assert_int_eq(tpo_sidx_ensure(&x, tpo_test_pool, k, "a1", 1, apr_time_now() + HOUR,
                                     apr_time_now(), &dropped),
                     APR_SUCCESS);
    ck_assert_int_eq(tpo_sidx_ensure(&x, tpo_test_pool, k, "a2", 2, apr_time_now() + HOUR,
                                     apr_time_now(), &dropped),
                     APR_SUCCESS);
    ck_assert_int_eq(tpo_sidx_take(&x, tpo_test_pool, k, &l), APR_SUCCESS);
    ck_assert_int_eq(l->nelts, 2);
    ck_assert(has(l, "a1") && has(l, "a2"));
}
END_TEST

/* 10,000 sessions of 1,000 users: taking one user's index and ending what it
 * names ends exactly that user's sessions, in well under a second. */
START_TEST(ten_thousand_sessions)
{
    tpo_sidx x = make(64, 32768, 64);
    const int users = 1000, per_user = 10;
    const char *victim = tpo_sidx_key(tpo_test_pool, TPO_SIDX_SUB, "idp", "user-417");
    apr_array_header_t *l;
    apr_time_t t0, took;
    int u, i, alive = 0;

    for (u = 0; u < users; u++) {
        apr_pool_t *sp;
        apr_pool_create(&sp, tpo_test_pool);
        const char *k = tpo_sidx_key(sp, TPO_SIDX_SUB, "idp", apr_psprintf(sp, "user-%d", u));
        for (i = 0; i < per_user; i++) {
            const char *id = apr_psprintf(sp, "sess-%04d-%02d", u, i);
            const char *dropped;
            ck_assert_int_eq(tpo_cache_set(x.cache, apr_pstrcat(sp, "s:", id, NULL), "rec", 3,
                                           apr_time_now() + HOUR),
                             APR_SUCCESS);
            ck_assert_int_eq(
                tpo_sidx_add(&x, sp, k, id, i, apr_time_now() + HOUR, apr_time_now(), &dropped),
                APR_SUCCESS);
        }
        apr_pool_destroy(sp);
    }
    t0 = apr_time_now();
    ck_assert_int_eq(tpo_sidx_take(&x, tpo_test_pool, victim, &l), APR_SUCCESS);
    for (i = 0; i < l->nelts; i++) {
        tpo_cache_del(x.cache, apr_pstrcat(tpo_test_pool,
                                           "s:", APR_ARRAY_IDX(l, i, tpo_sidx_entry).id, NULL));
    }
    took = apr_time_now() - t0;
    fprintf(stderr,
            "ten_thousand_sessions: ended %d sessions of one user in %" APR_TIME_T_FMT " us\n",
            l->nelts, took);
    ck_assert_int_eq(l->nelts, per_user);
    ck_assert(took < apr_time_from_msec(100));
    for (u = 0; u < users; u++) {
        for (i = 0; i < per_user; i++) {
            char key[64];
            char *v;
            apr_size_t vl;
            snprintf(key, sizeof(key), "s:sess-%04d-%02d", u, i);
            if (tpo_cache_get(x.cache, key, tpo_test_pool, &v, &vl) == APR_SUCCESS) {
                alive++;
                ck_assert_int_ne(u, 417);
            }
            else {
                ck_assert_int_eq(u, 417);
            }
        }
    }
    ck_assert_int_eq(alive, users * per_user - per_user);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("session_index");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, tpo_test_setup, tpo_test_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, keys);
    tcase_add_test(tc, codec);
    tcase_add_test(tc, several_browsers_listed_and_taken);
    tcase_add_test(tc, stale_entries_pruned);
    tcase_add_test(tc, bounded_oldest_dropped);
    tcase_add_test(tc, busy_lock_times_out_then_lease_expires);
    tcase_add_test(tc, ensure_heals_a_lost_record);
    tcase_add_test(tc, ten_thousand_sessions);
    suite_add_tcase(s, tc);
    return tpo_test_run(s);
}
