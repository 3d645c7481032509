/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Counters, histogram buckets, the Prometheus text and the counting cache
 * wrapper (tpo_metrics.c). */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include "tpo_test.h"
#include "tpo_cache_shm.h"
#include "tpo_metrics.h"

/* The value of the sample line that starts with `series ` in text, or -1. */
static long long sample(const char *text, const char *series)
{
    const char *p = text;
    size_t n = strlen(series);

    while ((p = strstr(p, series)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ') {
            return atoll(p + n + 1);
        }
        p += n;
    }
    return -1;
}

static tpo_metrics *fresh(void)
{
    void *mem = apr_palloc(tpo_test_pool, sizeof(tpo_metrics));
    memset(mem, 0xa5, sizeof(tpo_metrics)); /* garbage: init must zero it */
    return tpo_metrics_init(mem);
}

START_TEST(init_zeroes_then_keeps)
{
    tpo_metrics *m = fresh();

    ck_assert_uint_eq(tpo_metrics_get(m, TPO_M_LOGIN_STARTED), 0);
    tpo_metrics_add(m, TPO_M_LOGIN_STARTED);
    tpo_metrics_add(m, TPO_M_LOGIN_STARTED);
    /* a graceful restart finds the same memory: the counts stay */
    ck_assert_ptr_eq(tpo_metrics_init(m), m);
    ck_assert_uint_eq(tpo_metrics_get(m, TPO_M_LOGIN_STARTED), 2);
    tpo_metrics_add(NULL, TPO_M_LOGIN_STARTED); /* no counters: a no-op */
}
END_TEST

START_TEST(render_counts_and_help)
{
    tpo_metrics *m = fresh();
    tpo_metrics_gauges g = {1, 7, 4096, 8192, 3};
    char *t;

    tpo_metrics_add(m, TPO_M_LOGIN_STARTED);
    tpo_metrics_add(m, TPO_M_LOGIN_STARTED);
    tpo_metrics_add(m, TPO_M_LOGIN_STARTED);
    tpo_metrics_add(m, TPO_M_LOGIN_STARTED);
    tpo_metrics_add(m, TPO_M_LOGIN_TAKEN);
    tpo_metrics_add(m, TPO_M_LOGIN_COMPLETED);
    tpo_metrics_add(m, TPO_M_LOGIN_TAKEN);
    tpo_metrics_add(m, (tpo_metric)(TPO_M_LOGIN_FAILED + TPO_LF_ACCESS_DENIED));
    /* a forged callback: failed, but it took no started login */
    tpo_metrics_add(m, (tpo_metric)(TPO_M_LOGIN_FAILED + TPO_LF_BAD_CALLBACK));
    tpo_metrics_add(m, (tpo_metric)(TPO_M_REFRESH_FAILED + TPO_RF_TIMEOUT));
    tpo_metrics_add(m, (tpo_metric)(TPO_M_CACHE_ERRORS + TPO_CB_REDIS));
    tpo_metrics_add(m, (tpo_metric)(TPO_M_FETCH_OK + TPO_EP_JWKS));
    t = tpo_metrics_render(tpo_test_pool, m, &g);
    ck_assert_int_eq(sample(t, "tpo_oauth_logins_started_total"), 4);
    ck_assert_int_eq(sample(t, "tpo_oauth_logins_completed_total"), 1);
    ck_assert_int_eq(sample(t, "tpo_oauth_logins_failed_total{cause=\"access_denied\"}"), 1);
    ck_assert_int_eq(sample(t, "tpo_oauth_logins_failed_total{cause=\"bad_callback\"}"), 1);
    ck_assert_int_eq(sample(t, "tpo_oauth_logins_failed_total{cause=\"token\"}"), 0);
    ck_assert_int_eq(sample(t, "tpo_oauth_logins_pending"), 2);
    ck_assert_int_eq(sample(t, "tpo_oauth_refreshes_failed_total{cause=\"timeout\"}"), 1);
    ck_assert_int_eq(sample(t, "tpo_oauth_cache_errors_total{backend=\"redis\"}"), 1);
    ck_assert_int_eq(sample(t, "tpo_oauth_cache_errors_total{backend=\"shm\"}"), 0);
    ck_assert_int_eq(sample(t, "tpo_oauth_metadata_fetches_total{kind=\"jwks\",result=\"ok\"}"), 1);
    ck_assert_int_eq(sample(t, "tpo_oauth_sessions"), 7);
    ck_assert_int_eq(sample(t, "tpo_oauth_cache_bytes{state=\"free\"}"), 8192);
    ck_assert_int_eq(sample(t, "tpo_oauth_cache_evictions_total"), 3);
    ck_assert_ptr_nonnull(strstr(t, "# TYPE tpo_oauth_logins_started_total counter\n"));
    ck_assert_ptr_nonnull(strstr(t, "# HELP tpo_oauth_logins_started_total "));
    ck_assert_ptr_nonnull(strstr(t, "# TYPE tpo_oauth_logins_pending gauge\n"));
    ck_assert_ptr_nonnull(strstr(t, "# TYPE tpo_oauth_provider_call_duration_seconds histogram\n"));
    /* without the shared-memory cache there are no cache gauges */
    g.has_cache = 0;
    t = tpo_metrics_render(tpo_test_pool, m, &g);
    ck_assert_int_eq(sample(t, "tpo_oauth_sessions"), -1);
    /* every line is a comment or "name[{labels}] value" */
    {
        char *last, *line;
        for (line = apr_strtok(t, "\n", &last); line; line = apr_strtok(NULL, "\n", &last)) {
            ck_assert(line[0] == '#' || strncmp(line, "tpo_oauth_", 10) == 0);
            ck_assert_ptr_nonnull(strchr(line, ' '));
        }
    }
}
END_TEST

START_TEST(histogram_buckets)
{
    tpo_metrics *m = fresh();
    char *t;

    tpo_metrics_call(m, TPO_EP_TOKEN, apr_time_from_msec(3), 0);     /* <= 5 ms */
    tpo_metrics_call(m, TPO_EP_TOKEN, apr_time_from_msec(5), 0);     /* <= 5 ms (inclusive) */
    tpo_metrics_call(m, TPO_EP_TOKEN, apr_time_from_msec(300), 1);   /* <= 0.5 s, failed */
    tpo_metrics_call(m, TPO_EP_TOKEN, apr_time_from_sec(60), 1);     /* +Inf */
    tpo_metrics_call(m, TPO_EP_USERINFO, -5, 0);                     /* clock step: 0 */
    tpo_metrics_call(m, (tpo_endpoint)99, apr_time_from_msec(1), 0); /* ignored */
    tpo_metrics_call(NULL, TPO_EP_TOKEN, 1, 0);
    t = tpo_metrics_render(tpo_test_pool, m, NULL);
#define B(le) "tpo_oauth_provider_call_duration_seconds_bucket{endpoint=\"token\",le=\"" le "\"}"
    ck_assert_int_eq(sample(t, B("0.005")), 2);
    ck_assert_int_eq(sample(t, B("0.250")), 2);
    ck_assert_int_eq(sample(t, B("0.500")), 3);
    ck_assert_int_eq(sample(t, B("10.000")), 3);
    ck_assert_int_eq(sample(t, B("+Inf")), 4);
#undef B
    ck_assert_int_eq(
        sample(t, "tpo_oauth_provider_call_duration_seconds_count{endpoint=\"token\"}"), 4);
    ck_assert_ptr_nonnull(
        strstr(t, "tpo_oauth_provider_call_duration_seconds_sum{endpoint=\"token\"} 60.308000\n"));
    ck_assert_int_eq(
        sample(t, "tpo_oauth_provider_call_duration_seconds_count{endpoint=\"userinfo\"}"), 1);
    ck_assert_int_eq(sample(t, "tpo_oauth_provider_calls_failed_total{endpoint=\"token\"}"), 2);
}
END_TEST

/* Children add to counters in an anonymous shared segment: the sum is
 * exact (atomic adds, no lost update). */
START_TEST(shared_across_processes)
{
    apr_shm_t *shm;
    tpo_metrics *m;
    int i, k, status;
    pid_t pids[4];

    ck_assert_int_eq(apr_shm_create(&shm, sizeof(tpo_metrics), NULL, tpo_test_pool), APR_SUCCESS);
    m = tpo_metrics_init(apr_shm_baseaddr_get(shm));
    for (i = 0; i < 4; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            for (k = 0; k < 100000; k++) {
                tpo_metrics_add(m, TPO_M_REFRESH_OK);
                tpo_metrics_call(m, TPO_EP_JWKS, 1000, 0);
            }
            _exit(0);
        }
    }
    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
        ck_assert_int_eq(WEXITSTATUS(status), 0);
    }
    ck_assert_uint_eq(tpo_metrics_get(m, TPO_M_REFRESH_OK), 400000);
    ck_assert_uint_eq(atomic_load(&m->call_bucket[TPO_EP_JWKS][0]), 400000);
}
END_TEST

/* A backend that fails every other operation with a connection error. */
static int flaky_n;
static apr_status_t fl_get(tpo_cache *c, const char *k, apr_pool_t *p, char **v, apr_size_t *l)
{
    return ++flaky_n % 2 ? APR_ECONNREFUSED : APR_NOTFOUND;
}
static apr_status_t fl_set(tpo_cache *c, const char *k, const void *v, apr_size_t l, apr_time_t e)
{
    return ++flaky_n % 2 ? APR_TIMEUP : APR_EEXIST;
}
static apr_status_t fl_del(tpo_cache *c, const char *k)
{
    return ++flaky_n % 2 ? APR_EOF : APR_SUCCESS;
}
static const tpo_cache_ops flaky_ops = {"flaky", fl_get, fl_set, fl_set, fl_del};

START_TEST(cache_wrapper_counts_failures)
{
    tpo_metrics *m = fresh();
    tpo_cache inner = {&flaky_ops, NULL}, *w;
    char *v;
    apr_size_t l;

    w = tpo_metrics_cache_wrap(tpo_test_pool, &inner, m, TPO_CB_MEMCACHE);
    ck_assert_str_eq(w->ops->name, "flaky");
    ck_assert_int_eq(tpo_cache_get(w, "k", tpo_test_pool, &v, &l), APR_ECONNREFUSED);
    ck_assert_int_eq(tpo_cache_get(w, "k", tpo_test_pool, &v, &l), APR_NOTFOUND);
    ck_assert_int_eq(tpo_cache_set(w, "k", "v", 1, 0), APR_TIMEUP);
    ck_assert_int_eq(tpo_cache_add(w, "k", "v", 1, 0), APR_EEXIST);
    ck_assert_int_eq(tpo_cache_del(w, "k"), APR_EOF);
    ck_assert_int_eq(tpo_cache_del(w, "k"), APR_SUCCESS);
    ck_assert_uint_eq(tpo_metrics_get(m, (tpo_metric)(TPO_M_CACHE_ERRORS + TPO_CB_MEMCACHE)), 3);
    ck_assert_uint_eq(tpo_metrics_get(m, (tpo_metric)(TPO_M_CACHE_ERRORS + TPO_CB_REDIS)), 0);
    /* without counters the cache is used as it is */
    ck_assert_ptr_eq(tpo_metrics_cache_wrap(tpo_test_pool, &inner, NULL, TPO_CB_SHM), &inner);
}
END_TEST

START_TEST(label_names)
{
    ck_assert_str_eq(tpo_login_fail_name(TPO_LF_ACCESS_DENIED), "access_denied");
    ck_assert_str_eq(tpo_login_fail_name((tpo_login_fail)77), "other");
    ck_assert_str_eq(tpo_refresh_fail_name(TPO_RF_STORE), "store");
    ck_assert_str_eq(tpo_endpoint_name(TPO_EP_REVOCATION), "revocation");
    ck_assert_str_eq(tpo_endpoint_name(TPO_EP_PAR), "par");
    ck_assert_str_eq(tpo_cache_backend_name(TPO_CB_REDIS), "redis");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, tpo_test_setup, tpo_test_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, init_zeroes_then_keeps);
    tcase_add_test(tc, render_counts_and_help);
    tcase_add_test(tc, histogram_buckets);
    tcase_add_test(tc, shared_across_processes);
    tcase_add_test(tc, cache_wrapper_counts_failures);
    tcase_add_test(tc, label_names);
    suite_add_tcase(s, tc);
    return tpo_test_run(s);
}
