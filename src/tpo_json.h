/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* jansson values owned by an APR pool. */
#ifndef TPO_JSON_H
#define TPO_JSON_H

#include <apr_pools.h>
#include <jansson.h>

/* A pool cleanup that drops a jansson reference:
 * apr_pool_cleanup_register(p, j, tpo_json_cleanup, apr_pool_cleanup_null). */
static inline apr_status_t tpo_json_cleanup(void *j)
{
    json_decref(j);
    return APR_SUCCESS;
}

#endif
