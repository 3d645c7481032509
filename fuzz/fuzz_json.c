/* SPDX-License-Identifier: Apache-2.0
 * Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The fast JSON parser of the login path (tpo_json_load.c) against jansson:
 * whatever the fast path accepts, json_loadb accepts too and gives the same
 * value with the same key order; with JSON_REJECT_DUPLICATES (first byte
 * odd) as with flags 0. */
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
