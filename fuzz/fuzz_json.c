/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The fast JSON parser of the login path (tpo_json_load.c) against jansson:
 * whatever the fast path accepts, json_loadb accepts too and gives the same
 * value with the same key order; with JSON_REJECT_DUPLICATES (first byte
 * odd) as with flags 0. And tpo_json_dump_compact writes json_dumps's
 * JSON_COMPACT text for every value jansson parsed. */
#include "fuzz_common.h"
#include "tpo_json_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t flags;
    json_error_t err;
    json_t *fast, *ref;

    if (size < 1) {
        return 0;
    }
    flags = (data[0] & 1) ? JSON_REJECT_DUPLICATES : 0;
    data++;
    size--;
    fast = tpo_json_fast_loadb((const char *)data, size, flags);
    ref = json_loadb((const char *)data, size, flags, &err);
    if (ref) {
        /* the compact writer: json_dumps's text */
        apr_pool_t *p = fuzz_pool();
        char *a = tpo_json_dump_compact(p, ref), *b = json_dumps(ref, JSON_COMPACT);
        CHECK((a == NULL) == (b == NULL));
        CHECK(!a || strcmp(a, b) == 0);
        free(b);
        apr_pool_destroy(p);
    }
    if (fast) {
        char *a, *b;
        CHECK(ref != NULL);
        CHECK(json_equal(fast, ref));
        a = json_dumps(fast, JSON_COMPACT | JSON_ENCODE_ANY);
        b = json_dumps(ref, JSON_COMPACT | JSON_ENCODE_ANY);
        CHECK(a && b && strcmp(a, b) == 0);
        free(a);
        free(b);
    }
    json_decref(fast);
    json_decref(ref);
    return 0;
}
