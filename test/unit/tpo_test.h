/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Shared bits for the Check unit tests. */
#ifndef TPO_TEST_H
#define TPO_TEST_H

#include <check.h>
#include <stdlib.h>
#include <apr_general.h>
#include <apr_pools.h>

static apr_pool_t *tpo_test_pool;

static inline void tpo_test_setup(void)
{
    apr_pool_create(&tpo_test_pool, NULL);
}

static inline void tpo_test_teardown(void)
{
    apr_pool_destroy(tpo_test_pool);
    tpo_test_pool = NULL;
}

/* Run one suite, return the process exit code. */
static inline int tpo_test_run(Suite *s)
{
    int failed;
    SRunner *sr;

    apr_initialize();
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    apr_terminate();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
