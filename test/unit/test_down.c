/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The shared "provider down" record and the login decision (tpo_down.c). */
#include <string.h>
#include <apr_strings.h>
#include "tpo_test.h"
#include "tpo_down.h"

#define S(x) apr_time_from_sec(x)

static int dec(const char *v, tpo_down *d)
{
    return tpo_down_decode(v, strlen(v), d);
}

START_TEST(record_round_trip)
{
    tpo_down d = {0, 0, 0}, e;
    apr_size_t len;
    char *v;

    tpo_down_fail(&d, S(1000));
    ck_assert_int_eq(d.since, S(1000));
    ck_assert_int_eq(d.failures, 1);
    tpo_down_fail(&d, S(1003));
    ck_assert_int_eq(d.since, S(1000));
    ck_assert_int_eq(d.last_failure, S(1003));
    ck_assert_int_eq(d.failures, 2);
    /* an older failure (another server's clock) does not move last back */
    tpo_down_fail(&d, S(1001));
    ck_assert_int_eq(d.last_failure, S(1003));
    v = tpo_down_encode(tpo_test_pool, &d, &len);
    ck_assert_uint_eq(len, strlen(v));
    ck_assert_int_eq(tpo_down_decode(v, len, &e), 1);
    ck_assert_int_eq(e.since, d.since);
    ck_assert_int_eq(e.last_failure, d.last_failure);
    ck_assert_int_eq(e.failures, 3);
    /* a cut record is not a record */
    ck_assert_int_eq(tpo_down_decode(v, len - 1, &e), 0);
    ck_assert_int_eq(tpo_down_decode(v, 5, &e), 0);
}
END_TEST

START_TEST(record_hostile)
{
    tpo_down d;

    ck_assert_int_eq(dec("d1 1 2 3", &d), 1);
    ck_assert_int_eq(dec("d1 0 2 3", &d), 0); /* no start */
    ck_assert_int_eq(dec("d1 5 2 3", &d), 0); /* last before since */
    ck_assert_int_eq(dec("d2 1 2 3", &d), 0);
    ck_assert_int_eq(dec("d1 1 2", &d), 0);
    ck_assert_int_eq(dec("d1 1 2 3 ", &d), 0);
    ck_assert_int_eq(dec("d1  1 2 3", &d), 0);
    ck_assert_int_eq(dec("d1 1 2 -3", &d), 0);
    ck_assert_int_eq(dec("d1 1 2 x", &d), 0);
    ck_assert_int_eq(dec("d1 1 99999999999999999999 3", &d), 0);
    ck_assert_int_eq(dec("d1 1 9999999999999999999 3", &d), 0); /* > INT64_MAX */
    ck_assert_int_eq(dec("d1 1 2 99999999999", &d), 0);
    ck_assert_int_eq(dec("", &d), 0);
    ck_assert_int_eq(tpo_down_decode(NULL, 0, &d), 0);
    ck_assert_int_eq(tpo_down_decode("d1 1 2 3\0junk", 13, &d), 0);
    ck_assert_int_eq(d.since, 0); /* a refused record leaves nothing behind */
}
END_TEST

START_TEST(decisions)
{
    tpo_down d = {0, 0, 0};
    apr_interval_time_t iv = S(5), limit = S(10);

    ck_assert_int_eq(tpo_down_decide(NULL, S(100), iv), TPO_DOWN_GO);
    ck_assert_int_eq(tpo_down_decide(&d, S(100), iv), TPO_DOWN_GO);
    tpo_down_fail(&d, S(100));
    ck_assert_int_eq(tpo_down_decide(&d, S(100), iv), TPO_DOWN_REFUSE);
    ck_assert_int_eq(tpo_down_retry_after(&d, S(100), iv, limit), 5);
    ck_assert_int_eq(tpo_down_decide(&d, S(104) + 1, iv), TPO_DOWN_REFUSE);
    ck_assert_int_eq(tpo_down_retry_after(&d, S(104) + 1, iv, limit), 1);
    ck_assert_int_eq(tpo_down_decide(&d, S(105), iv), TPO_DOWN_PROBE);
    /* a probe is running elsewhere: come back when it has had its time */
    ck_assert_int_eq(tpo_down_retry_after(&d, S(105), iv, limit), 10);
    ck_assert_int_eq(tpo_down_retry_after(&d, S(105), iv, 1500000), 2);
    /* a failed probe starts the interval again */
    tpo_down_fail(&d, S(106));
    ck_assert_int_eq(tpo_down_decide(&d, S(107), iv), TPO_DOWN_REFUSE);
    ck_assert_int_eq(tpo_down_retry_after(&d, S(107), iv, limit), 4);
    /* a last failure in the future (another server's clock) counts as now */
    ck_assert_int_eq(tpo_down_decide(&d, S(50), iv), TPO_DOWN_REFUSE);
    ck_assert_int_eq(tpo_down_retry_after(&d, S(50), iv, limit), 5);
    ck_assert_int_eq(tpo_down_retry_after(NULL, S(50), iv, limit), 1);
    ck_assert_int_eq(tpo_down_retry_after(&d, S(200), iv, 0), 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("down");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, tpo_test_setup, tpo_test_teardown);
    tcase_add_test(tc, record_round_trip);
    tcase_add_test(tc, record_hostile);
    tcase_add_test(tc, decisions);
    suite_add_tcase(s, tc);
    return tpo_test_run(s);
}
